"""Every import in ``src/crosspan`` points down the pipeline (issue #21).

Reads each module's imports with ``ast`` (module-level, function-level and ``TYPE_CHECKING`` ones alike) and
checks two rules: no import cycle between files, and no import from a stage folder to a later one in
:data:`STAGES`. ``cli/`` is the top floor and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "crosspan"

#: The stage folders, bottom floor first: each may import only from itself and the stages before it.
STAGES = ("core", "data", "synth", "models", "preprocess", "transforms", "methods", "runs", "training",
          "inference", "evaluation", "annotate", "report", "bench", "demo", "cli")

#: Known upward arrows still to remove, as (importer, imported) module names, each with the reason it is here.
ALLOWED_UPWARD: set[tuple[str, str]] = set()

#: Known file cycles still to remove (sorted module names), each with the reason it is here.
ALLOWED_CYCLES: list[list[str]] = []


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports anywhere in its body (``from a import b`` counts ``a.b`` if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            subs = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(subs or {target})
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_arrows(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs where the imported module's stage comes after the importer's."""
    bad = set()
    for importer, targets in graph.items():
        src = stage(importer)
        if src is None or src == "cli":
            continue
        for target in targets:
            dst = stage(target)
            if dst is not None and STAGES.index(dst) > STAGES.index(src):
                bad.add((importer, target))
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_folder_is_a_stage() -> None:
    folders = {stage(m) for m in module_files()} - {None}
    assert folders <= set(STAGES), f"folders outside the stage order: {sorted(folders - set(STAGES))}"


def test_no_import_cycle_between_files() -> None:
    found = [c for c in cycles(import_graph()) if c not in ALLOWED_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_allow_lists_hold_only_what_still_exists() -> None:
    graph = import_graph()
    stale = [c for c in ALLOWED_CYCLES if c not in cycles(graph)]
    stale += sorted(ALLOWED_UPWARD - upward_arrows(graph))
    assert not stale, f"fixed, so remove from the allow-list in {Path(__file__).name}: {stale}"


def test_no_upward_arrow_between_stages() -> None:
    bad = upward_arrows(import_graph()) - ALLOWED_UPWARD
    lines = [f"{a} -> {b}  ({stage(a)} may not import {stage(b)})" for a, b in sorted(bad)]
    assert not bad, "imports that point up the pipeline:\n" + "\n".join(lines)


def test_checker_reads_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    for folder in ("methods", "inference", "core"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "methods" / "a.py").write_text("def f():\n    from crosspan.inference import b\n")
    (pkg / "inference" / "b.py").write_text("from ..methods.a import f\nfrom . import c\n")
    (pkg / "inference" / "c.py").write_text("import crosspan.core\n")
    files = module_files(tmp_path)
    graph = {name: imports_of(name, path, set(files)) for name, path in files.items()}
    assert graph["crosspan.methods.a"] == {"crosspan.inference.b"}
    assert graph["crosspan.inference.b"] == {"crosspan.methods.a", "crosspan.inference.c"}
    assert upward_arrows(graph) == {("crosspan.methods.a", "crosspan.inference.b")}
    assert cycles(graph) == [["crosspan.inference.b", "crosspan.methods.a"]]
    assert upward_arrows({"crosspan.cli.x": {"crosspan.inference.b"}, "crosspan.inference.b": set()}) == set()
