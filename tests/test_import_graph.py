"""The package's imports flow one way: no module imports another that (indirectly) imports it,
and each layer imports only the layers below it (docs/architecture.md)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from import_graph import find_cycles, import_graph  # noqa: E402

# Which packages a package may import (besides itself and `common`, which every layer may use).
ALLOWED = {
    "common": set(),
    "layers": set(),
    "architectures": {"layers"},
    "data": set(),
    "gans": {"layers", "architectures"},
    "runs": {"layers", "architectures", "gans"},
    "export": {"layers", "architectures", "gans", "runs"},
    "evaluation": {"layers", "architectures", "gans", "runs", "data"},
    "training": {"layers", "architectures", "gans", "runs", "data", "export"},
    "pipelines": {"layers", "architectures", "gans", "runs", "data", "evaluation", "training"},
    "perf": {"layers", "architectures", "gans", "runs", "data", "evaluation", "training"},
    "experiments": {"layers", "architectures", "gans", "runs", "data", "evaluation", "training",
                    "pipelines", "export"},
}
CLI_MODULES = {"train", "evaluate", "linear_eval", "latent", "benchmark", "s2gan", "report",
               "export.__main__"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or module.endswith("__init__") else parts[-1]


def test_no_import_circles():
    assert find_cycles(import_graph(("ssgan_tf",))) == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer):
    graph = import_graph(("ssgan_tf",))
    wrong = []
    for module, deps in graph.items():
        if not module.startswith(f"ssgan_tf.{layer}.") and module != f"ssgan_tf.{layer}":
            continue
        for dep in deps:
            target = dep.split(".")[1] if dep.count(".") >= 1 else ""
            if dep == "ssgan_tf" or target in ALLOWED[layer] | {layer, "common"}:
                continue
            wrong.append(f"{module} -> {dep}")
    assert wrong == [], f"{layer} may import only {sorted(ALLOWED[layer])} and common"


def test_nothing_imports_a_command_line_module():
    graph = import_graph(("ssgan_tf",))
    clis = {f"ssgan_tf.{name}" for name in CLI_MODULES}
    importers = [f"{m} -> {d}" for m, deps in graph.items() for d in deps & clis]
    assert importers == []
