"""Training data handed to `train()` directly: NumPy arrays or a `tf.data.Dataset`, as a
`DatasetSpec` the input pipeline reads like a registry dataset.

- Arrays: images uint8 [N, H, W(, C)] or float in [0, 1], C = 1 or 3; optionally labels [N]
  (non-negative integers). Held in memory: shuffled by `train.seed` and, on resume, replayed and
  skipped exactly as the built-in datasets (resumed == uninterrupted).
- A `tf.data.Dataset` of images, of (images, labels) or of {"images", "labels"} dicts, batched
  or not, uint8 or float in [0, 1]. It is read as a stream: repeated, shuffled in a 10,000-image
  buffer, split across workers. It cannot be replayed: on resume it starts again from its first
  element with a shuffle seeded by the step, so the images after a resume differ from an
  uninterrupted run's (weights, optimizers and z continue exactly). Pass arrays where that
  matters.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data import DatasetSpec

EXPECTED = ("a tf.data.Dataset of images (+ labels), an images array (uint8, or float in "
            "[0, 1]) of shape [N, H, W] or [N, H, W, 1|3], or a tuple (images, labels)")


def data_spec(data, conditional: bool = False) -> DatasetSpec:
    """The DatasetSpec of user data (see the module docstring); a clear error for anything else.
    `conditional` needs labels (their count of classes is read once from a Dataset)."""
    if isinstance(data, tf.data.Dataset):
        return _dataset_spec(data, conditional)
    if isinstance(data, dict) and "images" in data:
        data = (data["images"], data.get("labels"))
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _array_spec(*data)
    if isinstance(data, np.ndarray):
        return _array_spec(data, None)
    raise SsganError(f"train(data=...) got a {type(data).__name__}; expected {EXPECTED}.")


def _check_images(images: np.ndarray) -> np.ndarray:
    if images.dtype.kind not in "uif" or images.ndim not in (3, 4):
        raise SsganError(f"train(data=...) got images of shape {images.shape} and dtype "
                         f"{images.dtype}; expected {EXPECTED}.")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise SsganError(f"train(data=...): images of shape {images.shape}; expected "
                         "[N, H, W] or [N, H, W, 1|3] with N > 0.")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise SsganError(f"train(data=...): images of dtype {images.dtype}; expected uint8 or "
                         "float in [0, 1].")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise SsganError(f"train(data=...): float images span [{low:g}, {high:g}]; expected "
                         "[0, 1] (divide uint8-range floats by 255, or pass uint8).")
    return images.astype(np.float32)


def _check_labels(labels, count: int) -> np.ndarray:
    if labels is None:
        return np.zeros(count, np.int32)
    labels = np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise SsganError(f"train(data=...): labels of shape {labels.shape} and dtype "
                         f"{labels.dtype}; expected {count} integers, one per image.")
    if count and labels.min() < 0:
        raise SsganError(f"train(data=...): labels must be >= 0 (found {labels.min()}).")
    return labels.astype(np.int32)


def _array_spec(images, labels) -> DatasetSpec:
    images = _check_images(np.asarray(images))
    has_labels = labels is not None
    labels = _check_labels(labels, len(images))
    scale = 255.0 if images.dtype == np.uint8 else 1.0

    def load(split: str) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        return ds.map(lambda x, y: {"images": tf.cast(x, tf.float32) / scale, "labels": y},
                      num_parallel_calls=tf.data.AUTOTUNE)

    return DatasetSpec("arrays", tuple(images.shape[1:]),
                       int(labels.max()) + 1 if has_labels else 0, load, splits=("train",),
                       size={"train": len(images)})


def _as_dict(element) -> dict:
    """images / (images, labels) / {"images", "labels"} -> {"images", "labels"?}."""
    if isinstance(element, dict):
        if "images" not in element:
            raise SsganError(f"train(data=Dataset): dict elements with keys {sorted(element)}; "
                             "expected 'images' (and 'labels').")
        return {k: element[k] for k in ("images", "labels") if k in element}
    if isinstance(element, tuple):
        return {"images": element[0], "labels": element[1]} if len(element) == 2 else {}
    return {"images": element}


def _dataset_spec(dataset: tf.data.Dataset, conditional: bool) -> DatasetSpec:
    spec = _as_dict(dataset.element_spec)
    image_spec = spec.get("images")
    if not isinstance(image_spec, tf.TensorSpec):
        raise SsganError(f"train(data=Dataset): elements {dataset.element_spec}; expected "
                         f"{EXPECTED}.")
    shape = image_spec.shape
    batched = shape.rank == 4 or (shape.rank == 3 and shape[-1] not in (1, 3))
    per_image = shape[1:] if batched else shape
    if per_image.rank == 2:
        per_image = per_image.concatenate([1])
    if per_image.rank != 3 or not per_image.is_fully_defined() or per_image[-1] not in (1, 3):
        raise SsganError(f"train(data=Dataset): images of shape {shape}; expected a known "
                         "[H, W, 1|3] per image (batched or not; e.g. add "
                         "`.map(lambda x: tf.ensure_shape(x, [H, W, C]))`).")
    scale = 255.0 if image_spec.dtype == tf.uint8 else 1.0

    def convert(*element):
        parts = _as_dict(element[0] if len(element) == 1 else element)
        images = tf.reshape(tf.cast(parts["images"], tf.float32) / scale, per_image)
        labels = tf.cast(parts["labels"], tf.int32) if "labels" in parts else tf.constant(0)
        return {"images": images, "labels": labels}

    stream = dataset.unbatch() if batched else dataset
    stream = stream.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    _check_first_image(stream)
    num_classes = _count_classes(stream) if conditional and "labels" in spec else 0
    return DatasetSpec("tf.data.Dataset", tuple(per_image.as_list()), num_classes,
                       lambda split: stream, splits=("train",), in_memory=False,
                       cacheable=False)


def _check_first_image(stream: tf.data.Dataset) -> None:
    """A float Dataset in [0, 255] would train on saturated images: refuse on its first one."""
    for element in stream.take(1):
        high = float(tf.reduce_max(element["images"]))
        if high > 1.0 or float(tf.reduce_min(element["images"])) < 0.0:
            raise SsganError(f"train(data=Dataset): the first image spans up to {high:g}; "
                             "expected float images in [0, 1] (or uint8).")
        return
    raise SsganError("train(data=Dataset): the Dataset is empty.")


def _count_classes(stream: tf.data.Dataset) -> int:
    """max(label) + 1 over one pass of the data (a conditional model needs the class count)."""
    low, high = stream.map(lambda e: e["labels"]).reduce(
        (tf.constant(2**31 - 1), tf.constant(-1)),
        lambda acc, y: (tf.minimum(acc[0], y), tf.maximum(acc[1], y)))
    if int(low) < 0:
        raise SsganError(f"train(data=Dataset): labels must be >= 0 (found {int(low)}).")
    return int(high) + 1
