"""DatasetSpec: what a model needs to know about a dataset, and how to read each split of it.

Every split yields dicts {"images": float32 [H, W, C] in [0, 1], "labels": int32}. A source with
random training crops stores larger images (`load`) and crops them in training (`augment`, after
the pipeline's cache, so every epoch draws new crops); `spec(split)` gives the deterministic
center view that evaluation uses (`finish`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class DatasetSpec:
    """A dataset: its shape, classes, splits and readers."""

    name: str
    image_shape: tuple
    num_classes: int
    load: Callable[[str], tf.data.Dataset]
    splits: tuple = ("train", "test")
    size: dict | None = None  # examples per split, when known
    in_memory: bool = True    # arrays in RAM (exact resume by replay) vs a streaming source
    cacheable: bool = True    # decoded images fit in RAM (False: ImageNet, LSUN, CelebA(-HQ))
    # Labels of a split without decoding any image (None: read them from `load`).
    read_labels: Callable[[str], np.ndarray] | None = None
    # `load(split)` with the labels replaced by `labels[i]` for the i-th source example (None:
    # matched by position in `load`'s stream, which is deterministic).
    relabel: Callable[[str, np.ndarray], tf.data.Dataset] | None = None
    # Random training crops: `augment(example, seed)` maps a `load` example to image_shape;
    # `finish(example)` is the deterministic (center) counterpart for evaluation.
    augment: Callable[[dict, tf.Tensor], dict] | None = None
    finish: Callable[[dict], dict] | None = None
    class_names: tuple | None = None  # label i is class_names[i] (e.g. folder names)
    notes: tuple = ()                 # what a user should know (skipped files, cache, classes)

    def source(self, split: str = "train") -> tf.data.Dataset:
        """The stored examples of a split (training caches these, then applies `augment`)."""
        if split not in self.splits:
            raise ValueError(f"Dataset {self.name!r} has splits {self.splits}, not {split!r}.")
        return self.load(split)

    def __call__(self, split: str = "train") -> tf.data.Dataset:
        """The examples of a split at `image_shape` (center view: evaluation, probes, FID)."""
        ds = self.source(split)
        if self.finish is not None:
            ds = ds.map(self.finish, num_parallel_calls=tf.data.AUTOTUNE)
        return ds

    def arrays(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """(images float32 [N, H, W, C] in [0, 1], labels int64 [N]) of a split, in memory: for
        `GAN.fit` and NumPy users (the center view, as `__call__`)."""
        images, labels = [], []
        for batch in self(split).batch(1024).as_numpy_iterator():
            images.append(batch["images"])
            labels.append(batch["labels"])
        if not images:
            raise ValueError(f"Dataset {self.name!r} has no examples in split {split!r}.")
        return np.concatenate(images), np.concatenate(labels).astype(np.int64)

    def labels_of(self, split: str) -> np.ndarray:
        """All labels of a split in stream order, as int64 (no image is decoded when the source
        can read labels alone)."""
        if split not in self.splits:
            raise ValueError(f"Dataset {self.name!r} has splits {self.splits}, not {split!r}.")
        if self.read_labels is not None:
            return np.asarray(self.read_labels(split), np.int64)
        ds = self.load(split).map(lambda ex: ex["labels"], num_parallel_calls=tf.data.AUTOTUNE)
        return np.fromiter(ds.batch(4096).unbatch().as_numpy_iterator(), np.int64)
