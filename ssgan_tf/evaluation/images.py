"""Image files handed to `evaluate`: reading them, and their pixel range, never guessed silently.

The Inception network reads RGB values in [0, 255]. The project's own images are floats in
[0, 1] (generator outputs, the data pipeline), and a [0, 1] set read as [0, 255] is a nearly
black set: FID 600+ for two identical sets. So the range is detected on the whole array:

- uint8 (or another integer type with values in [0, 255]): used as is;
- float with values in [0, 1]: scaled by 255, and the note says so;
- float with values in [0, 255] and a maximum of at least 2: used as is;
- anything else (negative values such as [-1, 1] images, a maximum above 255, non-finite values,
  a float maximum between 1 and 2 that fits neither convention): refused with the range found.
"""

from __future__ import annotations

import os
import zipfile
from typing import Iterator, Optional, Tuple

import numpy as np

from ssgan_tf.common.errors import SsganError

IMAGE_KEYS: Tuple[str, ...] = ("images", "x_train", "x_test")
# Float sets whose maximum lies in (1 + UNIT_SLACK, FLOAT_255_MIN) fit neither convention.
UNIT_SLACK = 1e-3
FLOAT_255_MIN = 2.0


class EvaluationError(SsganError):
    """Bad user input to `evaluate`; reported as a single paragraph by the CLI."""


def open_npz(path: str, role: str) -> np.lib.npyio.NpzFile:
    if not path:
        raise EvaluationError(f"--{role} is required")
    if not os.path.isfile(path):
        raise EvaluationError(f"{role} file not found: '{path}'")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise EvaluationError(f"cannot read {role} file '{path}' as .npz ({exc})") from None


def check_shape(array: np.ndarray, path: str, key: str) -> None:
    shape = array.shape
    if not ((array.ndim == 3) or (array.ndim == 4 and shape[-1] in (1, 3))) or shape[0] < 1:
        raise EvaluationError(f"'{path}' key '{key}' has shape {shape}; expected images "
                              "[N,H,W,3] (RGB), [N,H,W,1] or [N,H,W] (grayscale) with N >= 1")


def to_pixels_255(array: np.ndarray, where: str) -> Tuple[np.ndarray, str]:
    """(images in [0, 255], a note on the range found and what was done); `where` names the
    file and key in errors. uint8 stays uint8; [0, 1] floats become float32 x 255."""
    if array.dtype == np.uint8:
        return array, "uint8 [0, 255]"
    is_int = np.issubdtype(array.dtype, np.integer)
    if array.dtype == np.bool_ or not (is_int or np.issubdtype(array.dtype, np.floating)):
        raise EvaluationError(f"{where} has dtype {array.dtype}; expected uint8 images, or "
                              "floats in [0, 1] or [0, 255]")
    if not is_int and not np.isfinite(array).all():
        raise EvaluationError(f"{where} holds non-finite values (NaN or inf)")
    low, high = float(array.min()), float(array.max())
    found = f"{where} has {array.dtype} values in [{low:g}, {high:g}]"
    if low < 0:
        raise EvaluationError(f"{found}: negative pixels. Expected uint8, or floats in [0, 1] "
                              "or [0, 255] ([-1, 1] images: save (x + 1) / 2).")
    if high > 255:
        raise EvaluationError(f"{found}: above 255. Expected uint8, or floats in [0, 1] or "
                              "[0, 255].")
    if is_int:
        return array.astype(np.uint8), f"{array.dtype} [0, 255]"
    if high <= 1.0 + UNIT_SLACK:
        scaled = np.clip(array.astype(np.float32), 0.0, 1.0) * np.float32(255.0)
        return scaled, f"{array.dtype} [0, 1], scaled by 255"
    if high < FLOAT_255_MIN:
        raise EvaluationError(f"{found}: this fits neither [0, 1] (the maximum is above 1) nor "
                              "[0, 255] (nearly black). Save uint8 images, or floats clipped to "
                              "[0, 1].")
    return array, f"{array.dtype} [0, 255]"


def load_image_npz(path: str, role: str, split: Optional[str] = None
                   ) -> Tuple[np.ndarray, str, str]:
    """(images in [0, 255], split name, pixel note). ``split`` picks ``x_<split>`` when
    present; the pixel range is detected as the module docstring says."""
    with open_npz(path, role) as data:
        keys = list(data.files)
        order = ([f"x_{split}"] if split else []) + list(IMAGE_KEYS)
        key = next((k for k in order if k in keys), None)
        if key is None:
            raise EvaluationError(f"'{path}' has no image array: expected key 'images', "
                                  f"'x_train' or 'x_test' (found: {', '.join(keys) or 'none'})")
        array = data[key]
    check_shape(array, path, key)
    images, note = to_pixels_255(array, f"'{path}' key '{key}'")
    name = split or (key[2:] if key.startswith("x_") else "train")
    return images, name, note


def is_stats_file(path: str) -> bool:
    with open_npz(path, "reference") as data:
        return "mu" in data.files and "sigma" in data.files


def batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, images.shape[0], batch_size):
        yield images[start:start + batch_size]
