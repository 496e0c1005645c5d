"""Image batches in [0, 255] from an exported generator module or a training checkpoint, for
`evaluate`: seeded z (the model's own distribution for a checkpoint, U[-1, 1] for a module) and
uniform labels for conditional models; quantized to uint8 like saved images unless asked not to."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Optional

import numpy as np
import tensorflow as tf

from ssgan_tf.evaluation.images import EvaluationError
from ssgan_tf.runs.restore import load_gan


def _scalar_attr(module: Any, name: str) -> Optional[int]:
    value = getattr(module, name, None)
    if value is None:
        return None
    return int(value.numpy()) if hasattr(value, "numpy") else int(value)


def _to_pixels(images: np.ndarray, quantize: bool) -> np.ndarray:
    images = np.clip(np.asarray(images, np.float32) * 255.0, 0.0, 255.0)
    return np.rint(images).astype(np.uint8) if quantize else images


def _batched(num_samples: int, batch_size: int,
             draw: Callable[[int], np.ndarray]) -> Iterator[np.ndarray]:
    remaining = num_samples
    while remaining > 0:
        b = min(batch_size, remaining)
        yield draw(b)
        remaining -= b


def _load_signature(path: str):
    if not os.path.isdir(path):
        raise EvaluationError(f"generator module directory not found: '{path}' (expected an "
                              "exported SavedModel)")
    try:
        module = tf.saved_model.load(path)
    except Exception as exc:  # noqa: BLE001 - TF raises several types for a broken SavedModel
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise EvaluationError(f"cannot load the SavedModel at '{path}' "
                              f"({exc.__class__.__name__}: {first})") from None
    signature = getattr(module, "signatures", {}).get("serving_default")
    if signature is None:
        raise EvaluationError(f"the SavedModel at '{path}' has no 'serving_default' signature")
    return module, signature


def module_sampler(path: str, num_samples: int, batch_size: int, seed: int,
                   quantize: bool) -> Iterator[np.ndarray]:
    """Validates an exported generator SavedModel; returns an iterator of image batches."""
    module, signature = _load_signature(path)
    inputs = signature.structured_input_signature[1]
    if "z" not in inputs:
        raise EvaluationError(f"the generator signature at '{path}' takes {sorted(inputs)}, "
                              "not 'z'")
    z_dim = _scalar_attr(module, "z_dim") or inputs["z"].shape[-1]
    num_classes = _scalar_attr(module, "num_classes") or 0
    if not z_dim:
        raise EvaluationError(f"cannot tell z_dim of the generator at '{path}'")
    if num_classes > 0 and "labels" not in inputs:
        raise EvaluationError(f"generator at '{path}' has num_classes={num_classes} but no "
                              "'labels' input")
    if num_samples < 1:
        raise EvaluationError(f"--num_samples must be >= 1, got {num_samples}")
    rng = np.random.default_rng(seed)

    def draw(b: int) -> np.ndarray:
        kwargs = {"z": tf.constant(rng.uniform(-1.0, 1.0, (b, z_dim)).astype(np.float32))}
        if num_classes > 0:
            kwargs["labels"] = tf.constant(rng.integers(0, num_classes, b).astype(np.int32))
        out = signature(**kwargs)
        if "images" not in out:
            raise EvaluationError(f"generator signature returned {sorted(out)}, expected key "
                                  "'images'")
        images = out["images"].numpy()
        if images.ndim != 4 or images.shape[0] != b or images.shape[-1] not in (1, 3):
            raise EvaluationError(f"generator returned images of shape {images.shape}; "
                                  f"expected [{b},H,W,3] or [{b},H,W,1] in [0,1]")
        return _to_pixels(images, quantize)

    return _batched(num_samples, batch_size, draw)


def checkpoint_sampler(model_dir: str, num_samples: int, batch_size: int, seed: int,
                       quantize: bool) -> Iterator[np.ndarray]:
    """Samples the latest checkpoint of a model_dir (the EMA generator when the model has
    one), with the model's own z distribution and uniform labels."""
    if num_samples < 1:
        raise EvaluationError(f"--num_samples must be >= 1, got {num_samples}")
    try:
        model, _ = load_gan(model_dir)
    except FileNotFoundError as exc:
        raise EvaluationError(str(exc)) from None
    generator = model.inference_generator()
    sample = tf.function(lambda z, y: generator(z, y, training=False))
    rng = np.random.default_rng(seed)

    def draw(b: int) -> np.ndarray:
        if model.z_distribution == "uniform":
            z = rng.uniform(-1.0, 1.0, (b, model.z_dim))
        else:
            z = rng.normal(size=(b, model.z_dim))
        y = (tf.constant(rng.integers(0, model.num_classes, b).astype(np.int32))
             if model.num_classes else None)
        return _to_pixels(sample(tf.constant(z.astype(np.float32)), y).numpy(), quantize)

    return _batched(num_samples, batch_size, draw)
