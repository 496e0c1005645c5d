"""Training data handed to `train()` directly: NumPy arrays, a `tf.data.Dataset` or a ready
`DatasetSpec`, as the `DatasetSpec` the input pipeline reads.

- Arrays (`data.from_arrays`): images uint8 or float in [0, 1], [N, H, W(, C)], C = 1 or 3, of
  any size (fitted to `train.resolution`); optionally `(images, labels)` with integer labels.
  Held in memory: shuffled by `train.seed` and, on resume, replayed and skipped exactly as the
  built-in datasets (resumed == uninterrupted).
- A `tf.data.Dataset` of images, of (images, labels) or of {"images", "labels"} dicts, batched
  or not, uint8 or float in [0, 1], at the model's resolution. It is read as a stream: repeated,
  shuffled in a 10,000-image buffer, split across workers. It cannot be replayed: on resume it
  starts again from its first element with a shuffle seeded by the step, so the images after a
  resume differ from an uninterrupted run's (weights, optimizers and z continue exactly). Pass
  arrays where that matters.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data import DatasetSpec, from_arrays, get_dataset

EXPECTED = ("a tf.data.Dataset of images (+ labels), an images array (uint8, or float in "
            "[0, 1]) of shape [N, H, W] or [N, H, W, 1|3], a tuple (images, labels) or a "
            "DatasetSpec")


def data_spec(data, conditional: bool = False, resolution: int | None = None) -> DatasetSpec:
    """The DatasetSpec of user data (see the module docstring); a clear error for anything else.
    `conditional` needs labels (their count of classes is read once from a Dataset)."""
    if isinstance(data, DatasetSpec):
        return get_dataset(data, resolution=resolution)
    if isinstance(data, tf.data.Dataset):
        spec = _dataset_spec(data, conditional)
        if resolution and tuple(spec.image_shape[:2]) != (resolution, resolution):
            raise SsganError(f"train(data=Dataset): images of {spec.image_shape[0]}x"
                             f"{spec.image_shape[1]} but train.resolution = {resolution}: resize "
                             "them in the Dataset (or leave train.resolution unset).")
        return spec
    if isinstance(data, dict) and "images" in data:
        data = (data["images"], data.get("labels"))
    if isinstance(data, (tuple, list)) and len(data) == 2 and _numeric(data[0]):
        return from_arrays(np.asarray(data[0]), data[1], resolution=resolution)
    if isinstance(data, np.ndarray) and _numeric(data):
        return from_arrays(data, None, resolution=resolution)
    what = (f"an array of {data.dtype}" if isinstance(data, np.ndarray)
            else f"a {type(data).__name__}")
    raise SsganError(f"train(data=...) got {what}; expected {EXPECTED}.")


def _numeric(array) -> bool:
    return np.asarray(array).dtype.kind in "uif"


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
