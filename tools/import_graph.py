"""The import graph of the repository's Python files, read from their source (nothing is
imported): which modules of ssgan_tf (and tests/) each file imports, every import counted, also
those inside functions, and the circles in that graph.

Used by tools/structure_report.py, tools/build_targets.py and tests/test_import_graph.py.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ssgan_tf", "tests")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(packages=PACKAGES) -> dict[str, Path]:
    """{dotted module name: path} of every Python file of `packages`."""
    return {module_name(p): p for package in packages
            for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return None


def _imported_modules(node: ast.AST, module: str, is_package: bool,
                      modules: dict[str, Path]) -> set[str]:
    """Our modules an import statement loads (`from pkg import sub` counts `pkg.sub` when it is
    a module, else `pkg`)."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            found.add(_resolve(alias.name, modules))
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            full = f"{base}.{alias.name}"
            found.add(full if full in modules else _resolve(base, modules))
    return {m for m in found if m}


def import_graph(packages=PACKAGES,
                 include_function_level: bool = True) -> dict[str, set[str]]:
    """{module: {ssgan_tf modules it imports}}. A submodule's import loads its parent packages
    first; that alone is no edge (only names taken from a package's `__init__` are)."""
    modules = package_modules(packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        nodes = ast.walk(tree) if include_function_level else tree.body
        deps: set[str] = set()
        for node in nodes:
            deps |= _imported_modules(node, name, path.name == "__init__.py", modules)
        graph[name] = deps - {name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles
