"""Linear probes of frozen discriminator features (reusable by `linear_eval` and callbacks).

Features: D's outputs under their exported names (`ssgan_tf.export`): `block1`..`blockN` are each
block's output feature map global-average pooled over H and W (the D output contract in
architectures/base.py), `final` is the input of D's last linear layer (flattened for SNDCGAN,
pooled for the ResNets). They come either from an exported discriminator module
(`ModuleEncoder`) or from a live discriminator (`DiscriminatorEncoder`), streamed in batches
under a tf.distribute strategy (`extract_features`); only the pooled features are kept in memory.

Classifier: multinomial logistic regression (scikit-learn `LogisticRegression`, L-BFGS) on
standardized features. L-BFGS solves this convex problem to convergence, so the accuracy does not
depend on a learning rate or step budget as a few hundred Adam steps would. The L2 strength is
chosen from `L2_GRID` on a validation split held out from the training features; the classifier
is then refit on all training features and scored once on the test features.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Callable

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

# lambda of the objective mean(cross-entropy) + lambda / 2 * ||W||^2 (sklearn C = 1 / (lambda n)).
L2_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
MAX_ITER = 1000


class ProbeError(ValueError):
    """Bad input to a probe (a module that is not a discriminator encoder, ...)."""


def probe_keys(names) -> list[str]:
    """`block1`..`blockN` in numeric order, then `final`: the features a probe uses."""
    blocks = sorted((n for n in names if re.fullmatch(r"block\d+", n)), key=lambda n: int(n[5:]))
    return blocks + (["final"] if "final" in names else [])


# ----------------------------------------------------------------------------- encoders
class ModuleEncoder:
    """An exported discriminator module (`E/discriminator`) as images -> {name: features}.

    Load it inside `strategy.scope()` to run under that strategy. For a class-projection D the
    signature also takes labels; features do not depend on them, so zeros are passed.
    """

    def __init__(self, path: str):
        if not os.path.isdir(path):
            raise ProbeError(f"--module={path!r} does not exist; expected an exported "
                             "discriminator module directory (`python -m ssgan_tf.export "
                             "--model_dir=D --export_dir=E` writes E/discriminator).")
        if not tf.saved_model.contains_saved_model(path):
            raise ProbeError(f"--module={path!r} is not a SavedModel directory (no "
                             "saved_model.pb); pass E/discriminator of an export.")
        self.path = path
        self.module = tf.saved_model.load(path)
        signature = self.module.signatures.get("serving_default")
        outputs = set(signature.structured_outputs) if signature is not None else set()
        if "final" not in outputs or not probe_keys(outputs)[:-1]:
            hint = (" It looks like a generator module: pass the sibling `discriminator` "
                    "directory." if "images" in outputs else "")
            raise ProbeError(f"--module={path!r} is not an ssgan_tf discriminator module (its "
                             f"serving_default outputs are {sorted(outputs)}, expected "
                             f"block1..N and final).{hint}")
        self.signature = signature
        self.keys = probe_keys(outputs)
        self.needs_labels = "labels" in signature.structured_input_signature[1]
        shape = getattr(self.module, "image_shape", None)
        self.image_shape = (tuple(int(d) for d in shape.numpy()) if shape is not None else None)
        step = getattr(self.module, "step", None)
        self.step = int(step.numpy()) if step is not None else None

    def __call__(self, images):
        kwargs = {"images": images}
        if self.needs_labels:
            kwargs["labels"] = tf.zeros(tf.shape(images)[:1], tf.int32)
        out = self.signature(**kwargs)
        return {k: out[k] for k in self.keys}


class DiscriminatorEncoder:
    """A live discriminator (e.g. from `runs.load_gan`) as images -> {name: features}, in
    inference mode, with the exported module's output names."""

    def __init__(self, discriminator, step: int | None = None):
        self.discriminator = discriminator
        self.image_shape = tuple(discriminator.image_shape)
        self.step = step
        dummy = discriminator.encode(tf.zeros([1, *self.image_shape]),
                                     self._labels(tf.zeros([1, *self.image_shape])))
        self.keys = probe_keys(dummy)

    def _labels(self, images):
        if getattr(self.discriminator, "project_y", False):
            return tf.zeros(tf.shape(images)[:1], tf.int32)
        return None

    def __call__(self, images):
        out = self.discriminator.encode(images, self._labels(images), training=False)
        return {k: out[k] for k in self.keys}


# ----------------------------------------------------------------------------- features
def _padded_batches(dataset: tf.data.Dataset, global_batch: int) -> tf.data.Dataset:
    """Global batches padded to the full size, with a `valid` mask for the padding."""
    def pad(batch):
        n = tf.shape(batch["labels"])[0]
        missing = global_batch - n
        images = tf.concat([batch["images"], tf.zeros(
            tf.concat([[missing], tf.shape(batch["images"])[1:]], 0), batch["images"].dtype)], 0)
        labels = tf.concat([tf.cast(batch["labels"], tf.int64), tf.zeros([missing], tf.int64)], 0)
        return {"images": images, "labels": labels,
                "valid": tf.cast(tf.range(global_batch) < n, tf.int32)}

    return dataset.batch(global_batch).map(pad).prefetch(tf.data.AUTOTUNE)


def _distributed_step(encoder, strategy: tf.distribute.Strategy):
    """(step(batch) -> (features, labels, valid) per replica, to_numpy(value) -> ndarray).

    Multi-host strategies all-gather every replica's outputs (each host holds only its shard).
    Single-host ones read the local replicas' results on the host instead: no collective ops,
    whose instance keys can collide between MirroredStrategy objects of one process."""
    all_gather = isinstance(strategy, (tf.distribute.MultiWorkerMirroredStrategy,
                                       tf.distribute.TPUStrategy))

    def replica_fn(batch):
        return encoder(batch["images"]), batch["labels"], batch["valid"]

    @tf.function(reduce_retracing=True)
    def step(batch):
        outputs = strategy.run(replica_fn, args=(batch,))
        if all_gather:
            return tf.nest.map_structure(lambda x: strategy.gather(x, axis=0), outputs)
        return outputs

    def to_numpy(value):
        if all_gather:
            return value.numpy()
        return np.concatenate([v.numpy() for v in strategy.experimental_local_results(value)])

    return step, to_numpy


def extract_features(encoder, dataset: tf.data.Dataset, batch_size: int = 256,
                     max_examples: int | None = None,
                     strategy: tf.distribute.Strategy | None = None,
                     on_batch: Callable[[int], None] | None = None):
    """Streams `dataset` (unbatched {"images", "labels"}) through `encoder` in global batches of
    `batch_size` (rounded up to a multiple of the replicas) under `strategy`; returns
    ({name: float32 [N, F]}, int labels [N]) in dataset order. Only the features are
    accumulated, never the images. `on_batch(n)` is called after each batch of n examples (a
    progress bar).

    The last batch is padded to the full size (and the padding dropped afterwards) so that no
    replica ever gets an empty batch: TF's CPU conv2d returns a wrongly shaped result for an
    empty batch.
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    global_batch = -(-batch_size // replicas) * replicas
    if max_examples:
        dataset = dataset.take(max_examples)
    distributed = strategy.experimental_distribute_dataset(_padded_batches(dataset, global_batch))
    step, to_numpy = _distributed_step(encoder, strategy)
    chunks: dict[str, list] = {}
    label_chunks = []
    for batch in distributed:
        features, labels, valid = tf.nest.map_structure(to_numpy, step(batch))
        valid = valid.astype(bool)
        for k, v in features.items():
            chunks.setdefault(k, []).append(v[valid])
        label_chunks.append(labels[valid])
        if on_batch is not None:
            on_batch(int(valid.sum()))
    if not label_chunks:
        raise ProbeError("The dataset split is empty: no features to probe.")
    return ({k: np.concatenate(v) for k, v in chunks.items()},
            np.concatenate(label_chunks).astype(np.int64))


# ----------------------------------------------------------------------------- classifier
def _standardize(train: np.ndarray, *others: np.ndarray):
    """Zero mean, unit variance per column. Only (numerically) constant columns are left
    unscaled; the threshold is relative to the widest column, because the deep blocks of a
    spectrally normalized D at initialization have activations ~1e-9 that still separate."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std <= 1e-6 * std.max(initial=0.0)] = np.inf if std.max(initial=0.0) > 0 else 1.0
    return [np.nan_to_num((x - mean) / std) for x in (train, *others)]


def _classifier(l2: float, n: int, warm_start: bool = False, max_iter: int | None = None):

    return LogisticRegression(C=1.0 / (l2 * n), max_iter=max_iter or MAX_ITER,
                              warm_start=warm_start)


def _fit(clf, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the weakest l2 on separable data
        clf.fit(x, y)
    return clf


def _fit_predict(x_fit, y_fit, x_eval, l2: float, max_iter: int | None = None) -> np.ndarray:
    x_fit, x_eval = _standardize(x_fit.astype(np.float64), x_eval.astype(np.float64))
    classes = np.unique(y_fit)
    if len(classes) < 2:
        return np.full(len(x_eval), classes[0])
    return _fit(_classifier(l2, len(x_fit), max_iter=max_iter), x_fit, y_fit).predict(x_eval)


def validation_split(n: int, val_fraction: float = 0.2, seed: int = 0):
    """(fit indices, validation indices): a seeded random split of n training examples."""
    if not 0.0 < val_fraction < 1.0:
        raise ProbeError(f"val_fraction={val_fraction} must be in (0, 1).")
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n - n_val < 2:
        raise ProbeError(f"{n} training examples are too few to hold out a validation split "
                         f"(val_fraction={val_fraction}).")
    order = np.random.RandomState(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def choose_l2(features, labels, l2_grid=L2_GRID, val_fraction: float = 0.2, seed: int = 0,
              max_iter: int | None = None):
    """(l2, validation accuracy): the grid value with the best accuracy on a held-out part of the
    training features (ties go to the stronger regularization). The grid is walked from strong
    to weak regularization, each fit starting from the previous solution (same optimum, fewer
    L-BFGS iterations)."""
    fit, val = validation_split(len(labels), val_fraction, seed)
    x_fit, x_val = _standardize(np.asarray(features[fit], np.float64),
                                np.asarray(features[val], np.float64))
    y_fit, y_val = np.asarray(labels)[fit], np.asarray(labels)[val]
    if len(np.unique(y_fit)) < 2:
        return max(l2_grid), float(np.mean(y_val == y_fit[0]))
    clf = None
    best = None
    for l2 in sorted(l2_grid, reverse=True):
        if clf is None:
            clf = _classifier(l2, len(fit), warm_start=True, max_iter=max_iter)
        else:
            clf.set_params(C=1.0 / (l2 * len(fit)))
        acc = float(np.mean(_fit(clf, x_fit, y_fit).predict(x_val) == y_val))
        if best is None or acc > best[1]:
            best = (l2, acc)
    return best


def fit_linear_probe(train_feats, train_labels, test_feats, test_labels, l2_grid=L2_GRID,
                     val_fraction: float = 0.2, seed: int = 0) -> tuple[float, float]:
    """(top-1 test accuracy, chosen l2): L2 picked on a validation split of the training
    features, then a classifier refit on all of them and scored on the test features."""
    train_feats = np.asarray(train_feats).reshape(len(train_labels), -1)
    test_feats = np.asarray(test_feats).reshape(len(test_labels), -1)
    l2, _ = choose_l2(train_feats, np.asarray(train_labels), l2_grid, val_fraction, seed)
    predictions = _fit_predict(train_feats, np.asarray(train_labels), test_feats, l2)
    return float(np.mean(predictions == np.asarray(test_labels))), l2


def probe_all(train: dict, train_labels, test: dict, test_labels, keys=None,
              l2_grid=L2_GRID, val_fraction: float = 0.2, seed: int = 0,
              max_iter: int | None = None, on_key: Callable[[str], None] | None = None) -> dict:
    """Per feature name: {"accuracy", "l2", "val_accuracy", "dim"}. `max_iter` caps L-BFGS
    (default MAX_ITER; the training hook uses fewer). `on_key(name)` is called before each
    feature's probe (a progress bar)."""
    results = {}
    for key in keys or probe_keys(train):
        if on_key is not None:
            on_key(key)
        l2, val_acc = choose_l2(train[key], train_labels, l2_grid, val_fraction, seed, max_iter)
        predictions = _fit_predict(train[key], train_labels, test[key], l2, max_iter)
        results[key] = {"accuracy": float(np.mean(predictions == test_labels)), "l2": l2,
                        "val_accuracy": val_acc, "dim": int(train[key].shape[1])}
    return results
