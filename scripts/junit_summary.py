"""Summarise JUnit XML reports (Maven surefire) as CI reads pytest: a count and "N passed, N failed".

    python scripts/junit_summary.py android_demo/core/target/surefire-reports [--label "Android core"]

Exit status 1 when a test failed or errored, or when no test ran at all (an empty or missing
report folder must not pass as green).
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def summarise(folder: Path) -> tuple[int, int, int]:
    """(tests, failed (failures + errors), skipped) over every TEST-*.xml in `folder`."""
    tests = failed = skipped = 0
    for path in sorted(folder.glob("TEST-*.xml")):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            print(f"error: unreadable JUnit report {path}; rerun the tests", file=sys.stderr)
            failed += 1
            continue
        suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
        for suite in suites:
            tests += int(suite.get("tests", 0))
            failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    return tests, failed, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--label", default="JUnit")
    args = parser.parse_args(argv)
    tests, failed, skipped = summarise(args.folder)
    passed = tests - failed - skipped
    print(f"{args.label}: {tests} tests run ({skipped} skipped)")
    print(f"{passed} passed, {failed} failed")
    if tests == 0:
        print(f"error: no {args.label} test ran (no reports in {args.folder}); CI must not pass on zero tests")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
