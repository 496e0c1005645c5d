"""Where an export may be written, and what it may replace: never a training run.

A model_dir (a directory with `model.json` or `checkpoints/`) holds work that cannot be
recreated; an export can be. So an `--export_dir` that is a model_dir, contains one or lies inside
one is refused, with or without `--overwrite`; the one place inside a model_dir an export may go
is `MODEL_DIR/export` (the default, and where `train.export_at_end` writes). An existing directory
is replaced only when it is recognizably an earlier export (exactly `generator/` and
`discriminator/` SavedModels, nothing else) and `--overwrite` is given; anything else is refused.
"""

from __future__ import annotations

import os
import shutil

from ssgan_tf.common.errors import SsganError

EXPORT_PARTS = ("discriminator", "generator")
# What tf.saved_model.save writes into a SavedModel directory.
SAVED_MODEL_ENTRIES = {"saved_model.pb", "fingerprint.pb", "variables", "assets",
                       "keras_metadata.pb"}
# How deep below an export_dir to look for a training run to name in the error.
SEARCH_DEPTH = 3


class ExportError(SsganError):
    """Bad input to an export (reported by the CLI as one paragraph, exit code 1)."""


def is_model_dir(path: str) -> bool:
    """A training directory: `model.json` or `checkpoints/` in it."""
    return (os.path.isfile(os.path.join(path, "model.json"))
            or os.path.isdir(os.path.join(path, "checkpoints")))


def is_export(path: str) -> bool:
    """Exactly `generator/` and `discriminator/`, each a SavedModel directory and nothing else:
    what this exporter writes (the only kind of directory it ever replaces)."""
    if not os.path.isdir(path) or sorted(os.listdir(path)) != list(EXPORT_PARTS):
        return False
    for part in EXPORT_PARTS:
        directory = os.path.join(path, part)
        if not os.path.isdir(directory):
            return False
        entries = set(os.listdir(directory))
        if "saved_model.pb" not in entries or not entries <= SAVED_MODEL_ENTRIES:
            return False
    return True


def model_dir_around(path: str) -> str | None:
    """The nearest model_dir that is `path` or one of its parents, if any."""
    current = path
    while True:
        if is_model_dir(current):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def model_dir_below(path: str, depth: int = SEARCH_DEPTH) -> str | None:
    """A model_dir inside `path` (up to `depth` levels down), to name in an error."""
    if depth <= 0 or not os.path.isdir(path):
        return None
    try:
        children = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return None
    for entry in children:
        if entry.is_dir(follow_symlinks=False):
            if is_model_dir(entry.path):
                return entry.path
            found = model_dir_below(entry.path, depth - 1)
            if found:
                return found
    return None


def check_destination(export_dir: str, overwrite: bool) -> None:
    """Raises `ExportError` unless writing `export_dir` can lose nothing but an earlier export."""
    flag = f"--export_dir={export_dir!r}"
    real = os.path.realpath(export_dir)
    if os.path.isfile(real):
        raise ExportError(f"{flag} is a file; pass a directory.")
    owner = model_dir_around(real)
    if owner is not None and real != os.path.join(owner, "export"):
        where = ("is a training directory (it has model.json or checkpoints/)" if owner == real
                 else f"lies inside the training directory {owner}")
        raise ExportError(f"{flag} {where}: an export never writes into a training run (it "
                          "could replace its checkpoints, samples or events). Choose a directory "
                          f"outside it, or {os.path.join(owner, 'export')} (the default).")
    if not os.path.isdir(real) or not os.listdir(real):
        return
    inner = model_dir_below(real)
    if inner is not None:
        raise ExportError(f"{flag} contains the training directory {inner}: an export never "
                          "replaces a directory holding a training run, even with --overwrite. "
                          "Choose an empty or new directory.")
    if not is_export(real):
        raise ExportError(f"{flag} exists and holds files that are not an earlier export: only "
                          "a directory with exactly generator/ and discriminator/ SavedModels "
                          "is replaced (with --overwrite). Choose an empty or new directory.")
    if not overwrite:
        raise ExportError(f"{flag} exists and is not empty; pass --overwrite to replace it (it "
                          "holds an earlier export), or choose another directory.")


def move_into_place(staging: str, export_dir: str) -> None:
    """Renames the finished staging directory to export_dir, replacing an earlier export (and
    only an export: anything else was refused by `check_destination` and is refused again)."""
    if not os.path.exists(export_dir):
        os.rename(staging, export_dir)
        return
    if not os.listdir(export_dir):
        os.rmdir(export_dir)
        os.rename(staging, export_dir)
        return
    if not is_export(export_dir):
        raise ExportError(f"--export_dir={export_dir!r} changed during the export and is no "
                          "longer an earlier export; left untouched.")
    old = staging + ".old"
    os.rename(export_dir, old)
    try:
        os.rename(staging, export_dir)
    except OSError:
        os.rename(old, export_dir)
        raise
    if is_export(old):
        shutil.rmtree(old, ignore_errors=True)
