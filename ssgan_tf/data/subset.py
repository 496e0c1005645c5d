"""A small-data regime from any dataset: train on the first N training examples and keep the rest
of the training split as a `heldout` split, never seen in training.

Why: small datasets are where GAN discriminators overfit, and measuring that needs real images
from the same distribution D never trained on (`MetricsHook`'s D logit gap). The first N examples
in the source's stored order (deterministic for every source) make the subset reproducible and
resumable without an index file.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ssgan_tf.data.spec import DatasetSpec

HELDOUT = "heldout"


def first_examples(spec: DatasetSpec, n: int) -> DatasetSpec:
    """`spec` whose "train" split is its first `n` training examples; the others (if any) become
    the split "heldout". Raises ValueError when `n` is not a positive integer or the training
    split has fewer than `n` examples (when its size is known)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"train.max_train_examples={n!r}: expected a positive integer or None.")
    if "train" not in spec.splits:
        raise ValueError(f"Dataset {spec.name!r} has no train split to take examples from.")
    if HELDOUT in spec.splits:
        raise ValueError(f"Dataset {spec.name!r} already has a {HELDOUT!r} split.")
    total = (spec.size or {}).get("train")
    if total is not None and total < n:
        raise ValueError(f"train.max_train_examples={n}: dataset {spec.name!r} has only {total} "
                         "training examples.")
    rest = None if total is None else total - n
    splits = spec.splits + ((HELDOUT,) if rest != 0 else ())

    def base(split: str) -> str:
        return "train" if split == HELDOUT else split

    def cut(split: str, ds):
        if split == "train":
            return ds.take(n)
        return ds.skip(n) if split == HELDOUT else ds

    def load(split: str):
        return cut(split, spec.load(base(split)))

    read_labels = None
    if spec.read_labels is not None:
        def read_labels(split: str) -> np.ndarray:
            labels = np.asarray(spec.read_labels(base(split)))
            return labels[:n] if split == "train" else labels[n:] if split == HELDOUT else labels

    relabel = None
    if spec.relabel is not None:
        def relabel(split: str, labels: np.ndarray):
            if split not in ("train", HELDOUT):
                return spec.relabel(split, labels)
            full = spec.labels_of("train").copy()
            if split == "train":
                full[:len(labels)] = labels
            else:
                full[n:n + len(labels)] = labels
            return cut(split, spec.relabel("train", full))

    size = dict(spec.size) if spec.size is not None else None
    if size is not None:
        size["train"] = n
        if rest:
            size[HELDOUT] = rest
    note = (f"data: the first {n} training examples of {spec.name!r}"
            + (f"; the other {rest} are the split {HELDOUT!r}" if rest else "")
            + " (train.max_train_examples)")
    # The name stays the dataset's: model.json, export and evaluation refer to the dataset itself
    # (e.g. a full linear evaluation of D); the run's config records the cut.
    return dataclasses.replace(spec, load=load, splits=splits,
                               size=size, read_labels=read_labels, relabel=relabel,
                               notes=spec.notes + (note,))


__all__ = ["HELDOUT", "first_examples"]
