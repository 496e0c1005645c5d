"""`model.json`: what a run's networks are (architecture, image shape, classes, z), written by
training and read by everything that rebuilds the networks without the training data."""

from __future__ import annotations

import os

from ssgan_tf import __version__
from ssgan_tf.common.errors import SsganError
from ssgan_tf.common.files import read_json, write_json

MODEL_INFO = "model.json"
IDENTITY_KEYS = ("architecture", "image_shape", "num_classes", "z_dim")


def model_info(spec, architecture: str, z_dim: int, num_classes: int, precision: str,
               z_distribution: str) -> dict:
    return {"architecture": architecture, "image_shape": list(spec.image_shape),
            "num_classes": num_classes, "z_dim": z_dim, "z_distribution": z_distribution,
            "dataset": spec.name, "precision": precision, "ssgan_tf_version": __version__}


def write_model_info(model_dir: str, info: dict) -> None:
    write_json(os.path.join(model_dir, MODEL_INFO), info)


def read_model_info(model_dir: str) -> dict:
    path = os.path.join(model_dir, MODEL_INFO)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: {model_dir!r} is not an ssgan_tf model_dir "
                                "(train one with `python -m ssgan_tf.train ... --model_dir=D`).")
    return read_json(path)


def check_same_model(model_dir: str, info: dict) -> None:
    """Raises if model_dir already holds a model that differs in what the networks are."""
    if not os.path.isfile(os.path.join(model_dir, MODEL_INFO)):
        return
    existing = read_model_info(model_dir)
    diffs = {k: (existing.get(k), info.get(k)) for k in IDENTITY_KEYS
             if existing.get(k) != info.get(k)}
    if diffs:
        detail = ", ".join(f"{k}: {a!r} there vs {b!r} now" for k, (a, b) in diffs.items())
        raise SsganError(f"--model_dir={model_dir} holds a different model ({detail}). Use a "
                         "new --model_dir, or the bindings that trained it to resume. Nothing "
                         "was written.")
