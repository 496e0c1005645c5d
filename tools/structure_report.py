"""Measures the package's shape: lines per module, long functions, imports inside functions, and
import circles between ssgan_tf modules (every import counts, also those inside functions).

    python tools/structure_report.py            # the report
    python tools/structure_report.py --json     # the same as JSON
"""

from __future__ import annotations

import ast
import json
import statistics
import sys

from import_graph import ROOT, find_cycles, import_graph, package_modules

PACKAGE = "ssgan_tf"
LONG_FUNCTION = 60


def report() -> dict:
    modules = package_modules((PACKAGE,))
    lines = {name: len(path.read_text().splitlines()) for name, path in modules.items()}
    long_functions, inner_imports = [], []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONG_FUNCTION:
                    long_functions.append(f"{name}.{node.name} ({length} lines)")
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and inner is not node:
                        inner_imports.append(f"{name}:{inner.lineno}")
    root_modules = sorted(p.name for p in (ROOT / PACKAGE).iterdir()
                          if p.suffix == ".py" or (p / "__main__.py").exists())
    sizes = sorted(lines.values())
    return {"modules": len(modules), "root_modules": root_modules,
            "lines_max": max(sizes), "lines_median": statistics.median(sizes),
            "largest": sorted(lines.items(), key=lambda kv: -kv[1])[:5],
            "functions_over_60_lines": sorted(long_functions),
            "imports_inside_functions": len(set(inner_imports)),
            "import_circles": find_cycles(import_graph((PACKAGE,)))}


def main(argv: list[str]) -> int:
    result = report()
    if "--json" in argv:
        print(json.dumps(result, indent=2))
        return 0
    print(f"modules: {result['modules']} ({len(result['root_modules'])} at the package root: "
          f"{', '.join(result['root_modules'])})")
    print(f"lines per module: max {result['lines_max']}, median {result['lines_median']}; "
          "largest: " + ", ".join(f"{m} {n}" for m, n in result["largest"]))
    print(f"functions over {LONG_FUNCTION} lines: {len(result['functions_over_60_lines'])}")
    for entry in result["functions_over_60_lines"]:
        print(f"  {entry}")
    print(f"imports inside functions: {result['imports_inside_functions']}")
    print(f"import circles: {len(result['import_circles'])}")
    for cycle in result["import_circles"]:
        print("  " + " <-> ".join(cycle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
