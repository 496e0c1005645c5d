"""Old module paths that still import (gin files and scripts written before the package was
grouped by role say e.g. `import ssgan_tf.probe_hook`). Each alias is the new module object
itself, imported on first use; a DeprecationWarning names the new path."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

MOVED = {
    "ssgan_tf.metrics": "ssgan_tf.evaluation.metrics",
    "ssgan_tf.probe": "ssgan_tf.evaluation.probe",
    "ssgan_tf.probe_hook": "ssgan_tf.evaluation.probe_hook",
    "ssgan_tf.metrics_hook": "ssgan_tf.evaluation.metrics_hook",
    "ssgan_tf.restore": "ssgan_tf.runs",
    "ssgan_tf.checkpoints": "ssgan_tf.runs.checkpoints",
    "ssgan_tf.losses": "ssgan_tf.gans.losses",
    "ssgan_tf.penalties": "ssgan_tf.gans.penalties",
    "ssgan_tf.callbacks": "ssgan_tf.training.callbacks",
    "ssgan_tf.distribute": "ssgan_tf.common.distribute",
}


def new_name(old: str) -> str | None:
    """The module an old path now lives at (submodules of a moved package included)."""
    for prefix, target in MOVED.items():
        if old == prefix or old.startswith(prefix + "."):
            return target + old[len(prefix):]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass


class AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        target_name = new_name(fullname)
        if target_name is None:
            return None
        warnings.warn(f"{fullname} moved to {target_name}; the old path still works.",
                      DeprecationWarning, stacklevel=3)
        return importlib.machinery.ModuleSpec(fullname, _Alias(target_name))


def install() -> None:
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())  # before path finders: old files never win
