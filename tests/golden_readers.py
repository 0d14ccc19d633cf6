"""Which platform cores must read each golden file: the table in golden/README.md ("Which core
reads which file"), read here so that the iOS and Android source tests check coverage against one
written statement instead of exempting files one by one."""

from __future__ import annotations

import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CORES = ("ios", "android")
_ROW = re.compile(r"^\|\s*`([a-z0-9_]+\.json)`\s*\|\s*([a-z, ]*?)\s*\|(.*)\|\s*$")


def golden_readers() -> dict[str, set[str]]:
    """{file name: cores that read it}, from golden/README.md; every golden/*.json must have a row."""
    text = (GOLDEN / "README.md").read_text()
    section = text.split("## Which core reads which file", 1)
    assert len(section) == 2, "golden/README.md lost its section 'Which core reads which file'"
    table = section[1].split("\n## ", 1)[0]
    readers: dict[str, set[str]] = {}
    for line in table.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        name, cores, why = m.group(1), {c.strip() for c in m.group(2).split(",") if c.strip()}, m.group(3).strip()
        assert name not in readers, f"golden/README.md lists {name} twice"
        assert cores and cores <= set(CORES), f"golden/README.md: {name} is read by {cores}; cores are {CORES}"
        # A file only one core reads must say why the other does not.
        assert cores == set(CORES) or why, f"golden/README.md: say why {name} has no reader in {set(CORES) - cores}"
        readers[name] = cores
    on_disk = {p.name for p in GOLDEN.glob("*.json")}
    assert on_disk, "golden/ holds no vectors"
    assert set(readers) == on_disk, (
        f"golden/README.md's reader table and golden/ differ: not in the table {sorted(on_disk - set(readers))}, "
        f"not on disk {sorted(set(readers) - on_disk)}"
    )
    return readers
