"""DESIGN.md's data flow, checked on the source: every import of the project's own modules is parsed
(top level and inside functions) and the graph must keep the rules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOPS = ("liverseg", "data_prep", "experiments")


def _modules() -> dict[str, Path]:
    mods = {}
    for top in TOPS:
        for path in (REPO / top).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every module named by an import statement in `module` (resolved to the project's modules,
    or kept as is for outside packages such as tensorflow)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            out.add(_resolve(name) or name)
    out.discard(module)
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _edges(source_prefix: str, target_prefix: str) -> list[str]:
    return sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if m == source_prefix or m.startswith(source_prefix + ".")
                  for t in targets if t == target_prefix or t.startswith(target_prefix + "."))


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (package __init__ re-exports aside)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in MODULES:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if sum(MODULES[m].name != "__init__.py" for m in comp) > 1:
                found.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert _cycles() == []


@pytest.mark.parametrize("library", ["liverseg", "data_prep"])
def test_the_library_never_imports_the_papers(library):
    assert _edges(library, "experiments") == []


@pytest.mark.parametrize("source, target", [
    ("liverseg.data", "liverseg.infer"),
    ("liverseg.infer", "liverseg.train"),
    ("liverseg.nn", "liverseg.train"),
    ("liverseg.io", "liverseg.data"),
    ("liverseg.train", "liverseg.runner"),
    ("liverseg.evaluation", "liverseg.train"),
    ("liverseg.io", "liverseg.runner"),
    ("liverseg.infer", "liverseg.runner"),
    ("liverseg.evaluation", "liverseg.runner"),
    ("liverseg.report", "liverseg.runner"),
    ("liverseg.runner", "liverseg.compare"),
])
def test_no_import_against_the_data_flow(source, target):
    assert _edges(source, target) == []


@pytest.mark.parametrize("package", ["liverseg.nn", "liverseg.infer", "liverseg.evaluation"])
def test_backend_independent_packages_import_no_tensorflow(package):
    assert _edges(package, "tensorflow") == []


def test_the_checker_sees_a_planted_violation():
    """The graph is real: known edges are found (a checker that finds nothing would pass every rule)."""
    assert "liverseg.infer.cascade" in GRAPH["experiments.gong.predict"]
    assert _edges("liverseg.data.datasets", "tensorflow") or _edges("liverseg.data.pipeline", "tensorflow")


def test_nothing_below_the_command_line_imports_it():
    # the library and the data readers never reach up into `liverseg.cli` (only `python -m liverseg`
    # and the paper packages' entry modules may)
    allowed = {"liverseg.__main__"}
    offenders = [(m, i) for m in MODULES if m.startswith(("liverseg", "data_prep")) and not m.startswith("liverseg.cli")
                 and m not in allowed for i in _imports(m) if i.startswith("liverseg.cli")]
    assert offenders == []
