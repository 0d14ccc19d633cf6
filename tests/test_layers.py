"""The layers of both packages, from their source: no import loop and no import from a lower layer
to an upper one, counting imports inside functions and typing-only ones (parsed with `ast`, relative
imports resolved). The one allowed late import is named in `REGISTRY_LOADERS`."""

from __future__ import annotations

import ast
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"meshpose_mobile": ROOT / "meshpose_mobile", "meshpose_export": ROOT / "export"}

# Lowest first; a module may import its own layer and the ones before it. A module's layer is its
# longest matching prefix; the core is named module by module so that a new top-level module of
# meshpose_export must be given a layer here.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("model core", ("meshpose_mobile",)),
    (
        "export core",
        (
            "meshpose_export",  # the package itself (its __init__ only)
            "meshpose_export.artifact",
            "meshpose_export.sidecar",
            "meshpose_export.reference",
            "meshpose_export.litert",
            "meshpose_export.formats",
        ),
    ),
    ("targets", ("meshpose_export.targets",)),
    ("runtime", ("meshpose_export.runtime",)),
    ("convert", ("meshpose_export.convert",)),
    ("bench", ("meshpose_export.bench",)),
    ("golden", ("meshpose_export.golden",)),
    ("cli", ("meshpose_export.cli",)),
]
# The one late import allowed: the target registry loading its built-in targets, which import the
# registry to register themselves. (module, function) whose imports are left out of the graph.
REGISTRY_LOADERS = {("meshpose_export.targets.base", "_import_builtin")}

Edge = tuple[str, str, int]  # importer, imported, line


def find_modules(packages: dict[str, Path]) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    mods = {}
    for pkg, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [pkg, *path.relative_to(folder).with_suffix("").parts]
            is_pkg = parts[-1] == "__init__"
            mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


def _imported_names(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            mod = f"{base}.{node.module}" if node.module else base
        else:
            mod = node.module or ""
        # `from pkg import sub` names a submodule; `from mod import func` resolves to mod below.
        return [f"{mod}.{a.name}" for a in node.names]
    return []


def _skipped_nodes(tree: ast.Module, module: str, loaders: set[tuple[str, str]]) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (module, node.name) in loaders:
            skipped |= {id(n) for n in ast.walk(node)}
    return skipped


def import_graph(
    packages: dict[str, Path], loaders: set[tuple[str, str]] = frozenset()
) -> tuple[dict[str, tuple[Path, bool]], list[Edge]]:
    """Every import of a project module by a project module, wherever it is in the file."""
    mods = find_modules(packages)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: list[Edge] = []
    for module, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = module if is_pkg else module.rpartition(".")[0]
        skipped = _skipped_nodes(tree, module, loaders)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            for name in _imported_names(node, package):
                target = resolve(name)
                if target is not None and (target != module or name == module):
                    edges.append((module, target, node.lineno))
    return mods, edges


def cycles(modules: list[str], edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module, and modules that import themselves."""
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b, _ in edges:
        succ[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graphs here are a few hundred modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in succ[v]:
                found.append(sorted(comp))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int | None:
    best, rank = -1, None
    for i, (_name, prefixes) in enumerate(layers):
        for p in prefixes:
            exact_only = p == "meshpose_export"  # the package, not everything under it
            if (module == p or (not exact_only and module.startswith(p + "."))) and len(p) > best:
                best, rank = len(p), i
    return rank


def upward_imports(edges: list[Edge], layers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    bad = []
    for a, b, line in edges:
        la, lb = layer_of(a, layers), layer_of(b, layers)
        if la is not None and lb is not None and lb > la:
            bad.append(f"{a}:{line} imports {b} ({layers[la][0]} -> {layers[lb][0]})")
    return bad


# --------------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, tuple[Path, bool]], list[Edge]]:
    return import_graph(PACKAGES, REGISTRY_LOADERS)


def test_no_import_loop_in_either_package(project):
    mods, edges = project
    assert len(mods) > 100 and len(edges) > 300  # the parse found the project, not an empty folder
    assert cycles(list(mods), edges) == []


def test_no_lower_layer_imports_an_upper_one(project):
    _mods, edges = project
    assert upward_imports(edges, LAYERS) == []
    assert not [e for e in edges if e[0].startswith("meshpose_mobile") and e[1].startswith("meshpose_export")]


def test_every_module_has_a_layer(project):
    mods, _ = project
    assert [m for m in mods if layer_of(m, LAYERS) is None] == []


def test_every_sub_package_says_what_it_owns_and_may_import(project):
    mods, _ = project
    subpackages = [m for m, (_p, is_pkg) in mods.items() if is_pkg and m.startswith("meshpose_export.")]
    assert {"meshpose_export.targets", "meshpose_export.runtime", "meshpose_export.bench"} <= set(subpackages)
    for m in subpackages:
        doc = ast.get_docstring(ast.parse(mods[m][0].read_text(encoding="utf-8"))) or ""
        assert "may import" in doc.lower(), f"{m}'s docstring must say what it may import"


def test_the_registry_exception_is_only_the_built_in_targets():
    """Without the exception the registry and its targets form one loop; with it, nothing else is left out."""
    mods, all_edges = import_graph(PACKAGES)
    _, edges = import_graph(PACKAGES, REGISTRY_LOADERS)
    left_out = {(a, b) for a, b, _ in all_edges} - {(a, b) for a, b, _ in edges}
    assert left_out, "the registry no longer loads its targets late: drop REGISTRY_LOADERS"
    assert {a for a, _ in left_out} == {"meshpose_export.targets.base"}
    assert all(b.startswith("meshpose_export.targets.") for _, b in left_out)
    assert any("meshpose_export.targets.base" in c for c in cycles(list(mods), all_edges))


# --------------------------------------------------------------------------- the checker itself


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / "planted"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return {"planted": root}


def test_a_loop_held_by_an_import_inside_a_function_is_caught(tmp_path):
    pkgs = _package(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "def f():\n    from ..high import b\n",  # relative, inside a function
            "high/__init__.py": "",
            "high/b.py": "from planted.low.a import f\n",
            "ok.py": "import planted.low.a\n",
        },
    )
    mods, edges = import_graph(pkgs)
    assert cycles(list(mods), edges) == [["planted.high.b", "planted.low.a"]]
    layers = [("low", ("planted.low",)), ("high", ("planted.high",))]
    assert upward_imports(edges, layers) == ["planted.low.a:2 imports planted.high.b (low -> high)"]
    # The named exception removes exactly that edge, and the loop with it.
    mods, edges = import_graph(pkgs, {("planted.low.a", "f")})
    assert cycles(list(mods), edges) == [] and upward_imports(edges, layers) == []


def test_typing_only_imports_and_self_imports_count(tmp_path):
    pkgs = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted.b import B\n",
            "b.py": "from . import a\n",
            "c.py": "import planted.c\n",
        },
    )
    mods, edges = import_graph(pkgs)
    assert cycles(list(mods), edges) == [["planted.a", "planted.b"], ["planted.c"]]
