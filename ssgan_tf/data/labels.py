"""Partial and pseudo labels for S3GAN / S2GAN (Lucic et al., ICML 2019).

- `labelled_mask`: which examples keep their label: exactly `round(fraction * N)` of them,
  stratified per class, chosen by a seeded permutation, so the same examples are labelled in
  every run and on every worker.
- `with_partial_labels`: a DatasetSpec whose hidden labels are replaced by -1 before anything
  reads them (the reference's convention: one_hot(-1) is an all-zero row, "not available").
- `with_pseudo_labels`: a DatasetSpec whose labels are cluster ids (S2GAN).
- `check_labels`: every label in [0, num_classes) for a conditional model.
Labels are read without decoding images (`DatasetSpec.labels_of`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data.spec import DatasetSpec

UNLABELLED = -1


class LabelError(SsganError):
    """Labels that do not fit the model (which dataset, split, example and value)."""


def labelled_mask(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean [N]: `round(fraction * n_c)` examples of every class c, chosen by a seeded draw."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"labelled fraction must be in [0, 1], got {fraction}.")
    labels = np.asarray(labels)
    mask = np.zeros(len(labels), bool)
    rng = np.random.RandomState(seed)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        keep = int(round(fraction * len(members)))
        mask[rng.permutation(members)[:keep]] = True
    return mask


def _with_labels(spec: DatasetSpec, name: str, new_labels: dict) -> DatasetSpec:
    """A copy of `spec` whose `split` examples get labels from {split: int array [N]}, matched
    to the source examples (by the source's own relabelling, else by position); other splits
    keep theirs. Only labels are read: no image is decoded to build it."""
    new_labels = {s: np.asarray(v, np.int64) for s, v in new_labels.items()}

    def relabel(split: str, labels: np.ndarray) -> tf.data.Dataset:
        if spec.relabel is not None:
            return spec.relabel(split, labels)
        table = tf.constant(labels, tf.int32)
        return spec.load(split).enumerate().map(
            lambda i, ex: {**ex, "labels": tf.gather(table, i)},
            num_parallel_calls=tf.data.AUTOTUNE)

    def load(split: str) -> tf.data.Dataset:
        return relabel(split, new_labels[split]) if split in new_labels else spec.load(split)

    def read_labels(split: str) -> np.ndarray:
        return new_labels[split] if split in new_labels else spec.labels_of(split)

    return dataclasses.replace(spec, name=name, load=load, read_labels=read_labels,
                               relabel=relabel)


def with_partial_labels(spec: DatasetSpec, fraction: float, seed: int = 0,
                        split: str = "train") -> tuple[DatasetSpec, np.ndarray]:
    """Keeps the labels of `fraction` of the `split` examples (others -1); returns the mask.
    Reads the labels only (tfds: partial decoding), never the images."""
    labels = spec.labels_of(split)
    mask = labelled_mask(labels, fraction, seed)
    partial = np.where(mask, labels, UNLABELLED)
    return _with_labels(spec, f"{spec.name}[{fraction:g} labelled]", {split: partial}), mask


def check_labels(spec: DatasetSpec, num_classes: int, splits: tuple[str, ...] = ("train",)
                 ) -> None:
    """Raises `LabelError` when a label of an in-memory dataset's training split is negative or
    >= num_classes (what a conditional model needs); tfds class labels are in range by
    construction. Only the splits a GAN trains on: S2GAN's pseudo labels replace the train
    labels only, and the test split keeps the true classes for probes."""
    if not spec.in_memory:
        return
    for split in (s for s in splits if s in spec.splits):
        labels = spec.labels_of(split)
        bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
        if len(bad):
            i, value = int(bad[0]), int(labels[bad[0]])
            raise LabelError(
                f"Dataset {spec.name!r}: label {value} of {split} example {i} (and "
                f"{len(bad) - 1} more) is outside [0, {num_classes}); a conditional model with "
                f"{num_classes} classes needs every label in that range. To train on partly "
                "labelled data give the true labels and set train.labelled_fraction (it marks "
                "the hidden ones -1 itself).")


def with_pseudo_labels(spec: DatasetSpec, cluster_ids: np.ndarray, num_clusters: int,
                       split: str = "train") -> DatasetSpec:
    """Replaces the `split` labels by cluster ids (S2GAN); other splits keep theirs."""
    n = int(spec.size[split]) if spec.size and spec.size.get(split) else None
    if n is not None and len(cluster_ids) != n:
        raise ValueError(f"{len(cluster_ids)} cluster ids for the {n} {split!r} examples of "
                         f"{spec.name!r}: the pseudo-labels were made for another dataset.")
    replaced = _with_labels(spec, f"{spec.name}[{num_clusters} clusters]",
                            {split: np.asarray(cluster_ids)})
    return dataclasses.replace(replaced, num_classes=num_clusters)


def save_pseudo_labels(path: str, cluster_ids: np.ndarray, num_clusters: int, **extra) -> None:
    """Writes the .npz that `train.pseudo_labels` reads (`cluster_ids`, `num_clusters`, extras)."""
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, cluster_ids=np.asarray(cluster_ids, np.int64), num_clusters=int(num_clusters),
             **extra)
    os.replace(tmp, path)


def load_pseudo_labels(path: str) -> tuple[np.ndarray, int]:
    """(cluster_ids [N_train], num_clusters) of a `save_pseudo_labels` file, validated."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train.pseudo_labels={path!r} does not exist; `python -m "
                                "ssgan_tf.s2gan` writes it (MODEL_DIR/clusters.npz).")
    with np.load(path) as data:
        if "cluster_ids" not in data or "num_clusters" not in data:
            raise ValueError(f"train.pseudo_labels={path!r} needs arrays `cluster_ids` and "
                             f"`num_clusters`; it has {sorted(data.keys())}.")
        ids, k = data["cluster_ids"].astype(np.int64), int(data["num_clusters"])
    if ids.ndim != 1 or k < 1 or ids.min() < 0 or ids.max() >= k:
        raise ValueError(f"train.pseudo_labels={path!r}: cluster_ids must be a vector of ids in "
                         f"[0, {k}), got shape {ids.shape} and range [{ids.min()}, {ids.max()}].")
    return ids, k
