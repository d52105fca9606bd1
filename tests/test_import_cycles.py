"""No import circles between our modules (issue 12 broke llm/loading.py <-> quant_*.py and
completion_scripts.py <-> gen_completions.py). Every import counts, also one inside a function: a lazy import
only hides a circle until someone moves it. Read from the source with ast, nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"stepaudio_cli": "stepaudio_cli", "stepaudio_protos": "protos/stepaudio_protos",
         "stepaudiod": "daemon/stepaudiod", "stepaudio_engine": "daemon/stepaudio_engine",
         "stepaudio_serve": "stepaudio_serve"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in ROOTS.items():
        root = REPO / folder
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, path: Path) -> set[str]:
    """Modules named by the imports in `path`: `from a.b import c` names a.b and (if it is a module) a.b.c."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package (an __init__ is its own package)
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names |= {source} | {f"{source}.{alias.name}" for alias in node.names}
    return names


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_module_imports_itself_through_others() -> None:
    modules = _modules()
    graph = {m: {t for t in _imported(m, p) if t in modules and t != m} for m, p in modules.items()}
    assert sum(map(len, graph.values())) > 200  # the graph was read (our modules import each other a lot)
    assert _cycles(graph) == []


def test_a_circle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
