"""What `GAN.train_step` and `GAN.fit` accept as data.

A train-step batch (per replica) holds `disc_iters` consecutive batches of B images, float in
[0, 1], NHWC, in one of these forms:
- a dict `{"images": x, "labels": y}` (labels optional; `z` [disc_iters x B, z_dim] optional,
  to fix the latents, e.g. in tests) - what the project's data pipeline yields;
- a tuple `(x,)` or `(x, y)` (Keras' convention: y are the labels), or x alone;
- a tuple whose first element is such a dict.
Labels are int class ids (-1 = unlabelled, S3GAN); an unconditional GAN ignores them.

`GAN.fit(x, y=None, batch_size=...)` takes a `tf.data.Dataset` of such batches (batched with a
static batch size: `.batch(n, drop_remainder=True)`), or arrays: images [N, H, W, C] float in
[0, 1] as `x` (with labels [N] as `y`), as a dict `{"images": ..., "labels": ...}` or as a
tuple `(images, labels)`; arrays are shuffled (seeded) and batched with `batch_size` (default
32) images per G step, incomplete batches dropped. `batch_size` counts the images of one train
step: every D step of it sees batch_size / disc_iters of them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError


def unpack_batch(data) -> tuple:
    """(images, labels or None, z or None) of a train-step batch in any accepted form."""
    if isinstance(data, (tuple, list)):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(tuple(data))
        if isinstance(x, dict):
            return unpack_batch({"labels": y, **x} if y is not None else x)
        return tf.convert_to_tensor(x), y, None
    if isinstance(data, dict):
        if "images" not in data:
            raise SsganError(f"A GAN batch dict needs an 'images' entry; got keys {sorted(data)}.")
        return tf.convert_to_tensor(data["images"]), data.get("labels"), data.get("z")
    return tf.convert_to_tensor(data), None, None


def _arrays(x, y) -> dict:
    """{"images": ..., "labels"?: ...} from the array forms `fit` accepts."""
    if isinstance(x, dict):
        arrays = dict(x)
        if y is not None:
            arrays.setdefault("labels", y)
    elif isinstance(x, (tuple, list)):
        arrays = {"images": x[0]}
        if len(x) > 1 and x[1] is not None:
            arrays["labels"] = x[1]
    else:
        arrays = {"images": x}
        if y is not None:
            arrays["labels"] = y
    if "images" not in arrays:
        raise SsganError(f"GAN.fit: a dict of arrays needs 'images'; got keys {sorted(arrays)}.")
    return arrays


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise SsganError(f"GAN.fit: images must be [N, H, W, C]; got shape {images.shape}.")
    if not np.issubdtype(images.dtype, np.floating):
        raise SsganError(f"GAN.fit: images must be floats in [0, 1]; got {images.dtype} (for "
                         "uint8 pixels pass images / 255).")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise SsganError(f"GAN.fit: images must be in [0, 1]; got values in [{low:g}, {high:g}].")
    return images.astype(np.float32)


def training_dataset(x, y=None, batch_size: int | None = None, shuffle: bool = True,
                     seed: int = 0, multiple: int = 1) -> tf.data.Dataset:
    """`x` as a dataset of train-step batches (see the module docstring). `multiple`: the batch
    size must divide into disc_iters x replicas."""
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise SsganError("GAN.fit: pass labels inside the dataset, not as y.")
        element = x.element_spec
        first = element if isinstance(element, tf.TensorSpec) else tf.nest.flatten(element)[0]
        if first.shape.rank is None or first.shape[0] is None:
            raise SsganError("GAN.fit: the dataset's batch size must be static: batch it with "
                             "`.batch(n, drop_remainder=True)`.")
        return x
    arrays = _arrays(x, y)
    arrays["images"] = _check_images(arrays["images"])
    if "labels" in arrays:
        arrays["labels"] = np.asarray(arrays["labels"]).astype(np.int32)
    n = len(arrays["images"])
    batch_size = int(batch_size or 32)
    if batch_size % multiple or batch_size > n:
        raise SsganError(f"GAN.fit: batch_size={batch_size} must be a multiple of disc_iters x "
                         f"replicas ({multiple}) and at most the number of images ({n}).")
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True)
