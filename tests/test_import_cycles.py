"""No import cycle between pirender's packages, counting imports inside functions (which hide cycles
from Python but not from a reader); only `if TYPE_CHECKING:` blocks, which never run, are left out."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pirender

ROOT = Path(pirender.__file__).resolve().parent


def _node(module: str) -> str:
    """pirender.models.renderer -> "models"; pirender.errors -> "errors"; pirender -> "pirender"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pirender"


def _imports(tree: ast.AST):
    """Import statements of a module, skipping `if TYPE_CHECKING:` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def package_graph() -> dict[str, dict[str, set[str]]]:
    """{package: {package it imports: files that do}} over src/pirender."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        parts = ["pirender", *path.relative_to(ROOT).with_suffix("").parts]
        package = parts[:-1] if parts[-1] == "__init__" else parts
        here = _node(".".join(package))
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level:  # relative: from the module's package, up level - 1
                base = (package if parts[-1] == "__init__" else parts[:-1])[: len(parts) - node.level]
                targets = [".".join(base + ([node.module] if node.module else []))]
            elif node.module == "pirender":  # from pirender import errors / load_renderer
                targets = [
                    f"pirender.{a.name}"
                    if (ROOT / a.name).is_dir() or (ROOT / f"{a.name}.py").is_file()
                    else "pirender"
                    for a in node.names
                ]
            else:
                targets = [node.module or ""]
            for target in targets:
                if target.split(".")[0] == "pirender" and _node(target) != here:
                    graph[here][_node(target)].add(str(path.relative_to(ROOT)))
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = [stack.pop()]
            while component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_package_import_cycle() -> None:
    graph = package_graph()
    found = cycles(graph)
    detail = [
        f"{a} -> {b} ({', '.join(sorted(graph[a][b]))})"
        for c in found
        for a in c
        for b in c
        if b in graph.get(a, {})
    ]
    assert not found, f"import cycles {found}:\n" + "\n".join(detail)


def test_the_walk_sees_imports_inside_functions() -> None:
    """The walk finds the lazy imports (or the test above could not fail): pipelines import the audio
    model inside functions only, and the cycle detector finds a planted cycle."""
    graph = package_graph()
    assert "audio" in graph["pipelines"] and "models" in graph["pipelines"] and "weights" in graph["models"]
    assert cycles({"a": {"b": set()}, "b": {"c": set()}, "c": {"a": set()}}) == [["a", "b", "c"]]
