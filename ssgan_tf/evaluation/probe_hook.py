r"""A training hook that runs a small linear probe of the live discriminator every K steps.

    python -m ssgan_tf.train --gin_file=gin/quickstart.gin \
        --gin_param='import ssgan_tf.evaluation.probe_hook' \
        --gin_param='train.hooks = [@LinearProbeHook()]' \
        --gin_param='LinearProbeHook.every = 250' ...

(the `gin/results_*.gin` files import this module themselves). Why: the SSGAN paper's
"accuracy over training" figure asks whether D's features keep improving (with the rotation loss)
or rise then fall (plain GAN, "discriminator forgetting"). A full `linear_eval` is too slow to run
inside training, so the hook probes small fixed subsets of the *training* dataset (the registry
spec the loop trains on): the first `num_train` examples of `split` and `num_test` examples of
`test_split` (when the dataset has no such split, the `num_test` examples after the first
`num_train` of `split`, so the two never overlap). Features are each block's global-average
pooled output (`probe.DiscriminatorEncoder`, inference mode, streamed under the training
strategy); the classifier is `probe.fit`'s multinomial logistic regression with L2 chosen on a
validation part of the training subset. Accuracies are relative: a small probe set and the
live model's compute precision (bf16 under mixed precision) make them lower and noisier than a
full `linear_eval` of a checkpoint.

Returns `{"probe/block1": acc, ...}` (the loop logs them to TensorBoard under `hooks/`); the chief
also keeps `model_dir/probe/probe_curve.json` (one record per step; a resumed run replaces the
records of steps it repeats) and redraws `model_dir/probe/probe_curve.png`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Sequence

import gin
import keras
import tensorflow as tf
from threadpoolctl import threadpool_limits

from ssgan_tf import runs
from ssgan_tf.evaluation import probe as probe_lib

# Fewer L2 values than probe.L2_GRID: the hook runs many times per training run.
HOOK_L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)


# ------------------------------------------------------------------------ curve files
def read_curve(path: str) -> list[dict]:
    """The records of a curve JSON (`{"records": [...]}`), or [] when it does not exist."""
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)["records"]


def append_record(path: str, record: dict, settings: dict | None = None) -> list[dict]:
    """Adds `record` (which has a "step") to the curve JSON at `path`, replacing a record of the
    same step (a resumed run repeats the steps after its last checkpoint); atomic write.
    Returns the records sorted by step."""
    records = [r for r in read_curve(path) if r["step"] != record["step"]]
    records = sorted(records + [record], key=lambda r: r["step"])
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"records": records, "settings": settings or {}}, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return records


def plot_curves(records: list[dict], keys: Sequence[str], path: str, title: str,
                ylabel: str) -> None:
    """One line per key, value vs step (matplotlib Agg, small PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for key in keys:
        points = [(r["step"], r[key]) for r in records if key in r]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", ms=3, label=key)
    ax.set_xlabel("generator step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


class _Float32Encoder(probe_lib.DiscriminatorEncoder):
    """Live D features cast to float32 (under mixed precision D computes in bf16)."""

    def __call__(self, images):
        return {k: tf.cast(v, tf.float32) for k, v in super().__call__(images).items()}


# ------------------------------------------------------------------------------ hook
@gin.configurable
class LinearProbeHook:
    """Every `every` G steps: linear-probe accuracy of each D block on fixed data subsets.

    `keys`: which features to probe (default: every `blockN`; add "final" for the input of D's
    last linear layer, which is wide and slow to fit). `l2_grid`, `val_fraction`, `seed`: the
    probe's L2 search (see `ssgan_tf.evaluation.probe`); `max_iter` caps L-BFGS (the hook runs often)."""

    def __init__(self, every: int = 500, num_train: int = 1000, num_test: int = 500,
                 split: str = "train", test_split: str = "test",
                 keys: Sequence[str] | None = None, batch_size: int = 250,
                 l2_grid: Sequence[float] = HOOK_L2_GRID, val_fraction: float = 0.2,
                 seed: int = 0, max_iter: int = 100, plot: bool = True):
        if every < 1:
            raise ValueError(f"LinearProbeHook.every={every} must be >= 1.")
        if num_train < 10 or num_test < 1:
            raise ValueError(f"LinearProbeHook needs num_train >= 10 and num_test >= 1 (got "
                             f"{num_train}, {num_test}).")
        self.every = every
        self.num_train, self.num_test = num_train, num_test
        self.split, self.test_split = split, test_split
        self.keys = list(keys) if keys else None
        self.batch_size = batch_size
        self.l2_grid = tuple(l2_grid)
        self.val_fraction, self.seed = val_fraction, seed
        self.max_iter = max_iter
        self.plot = plot
        self.seconds = 0.0  # time spent in this hook in this process (for throughput figures)
        self._encoder = None

    def datasets(self, spec) -> tuple[tf.data.Dataset, tf.data.Dataset, str]:
        """(train subset, test subset, description) of a registry dataset spec."""
        if spec.num_classes < 2:
            raise ValueError(f"LinearProbeHook: dataset {spec.name!r} has no class labels; a "
                             "linear probe needs a labelled dataset (digits, npz with y_train, "
                             "cifar10, ...).")
        if self.split not in spec.splits:
            raise ValueError(f"LinearProbeHook.split={self.split!r}: dataset {spec.name!r} has "
                             f"splits {spec.splits}.")
        train = spec(self.split).take(self.num_train)
        if self.test_split in spec.splits and self.test_split != self.split:
            return (train, spec(self.test_split).take(self.num_test),
                    f"{self.split}[:{self.num_train}] / {self.test_split}[:{self.num_test}]")
        test = spec(self.split).skip(self.num_train).take(self.num_test)
        return (train, test, f"{self.split}[:{self.num_train}] / "
                             f"{self.split}[{self.num_train}:{self.num_train + self.num_test}]")

    def probe(self, discriminator, spec, strategy=None, step: int | None = None) -> dict:
        """{"blockN": {"accuracy", "l2", "val_accuracy", "dim"}} for `discriminator` now."""
        if self._encoder is None or self._encoder.discriminator is not discriminator:
            self._encoder = _Float32Encoder(discriminator, step=step)
        train, test, self.description = self.datasets(spec)
        train_feats, train_labels = probe_lib.extract_features(
            self._encoder, train, self.batch_size, strategy=strategy)
        test_feats, test_labels = probe_lib.extract_features(
            self._encoder, test, self.batch_size, strategy=strategy)
        keys = self.keys or [k for k in probe_lib.probe_keys(train_feats) if k != "final"]
        missing = sorted(set(keys) - set(train_feats))
        if missing:
            raise ValueError(f"LinearProbeHook.keys: {missing} are not D features "
                             f"(available: {probe_lib.probe_keys(train_feats)}).")
        # One BLAS / OpenMP thread: next to a training process (and on a shared CPU) the fits'
        # multi-threaded busy-waiting made a probe 10-50x slower than single-threaded.

        with threadpool_limits(limits=1):
            return probe_lib.probe_all(train_feats, train_labels, test_feats, test_labels, keys,
                                       self.l2_grid, self.val_fraction, self.seed,
                                       self.max_iter)

    def __call__(self, step: int, context) -> dict[str, float]:
        start = time.time()
        results = self.probe(context.model.discriminator, context.spec, context.strategy, step)
        scalars = {f"probe/{k}": r["accuracy"] for k, r in results.items()}
        if context.chief:
            directory = os.path.join(context.model_dir, "probe")
            record = {"step": int(step), **{k: r["accuracy"] for k, r in results.items()},
                      "l2": {k: r["l2"] for k, r in results.items()},
                      "val_accuracy": {k: r["val_accuracy"] for k, r in results.items()},
                      "seconds": round(time.time() - start, 2)}
            settings = {"dataset": context.spec.name, "subsets": self.description,
                        "l2_grid": list(self.l2_grid), "val_fraction": self.val_fraction,
                        "max_iter": self.max_iter,
                        "pooling": "global average over H and W of each block's output",
                        "classifier": "multinomial logistic regression (scikit-learn L-BFGS) "
                                      "on standardized features"}
            records = append_record(os.path.join(directory, "probe_curve.json"), record,
                                    settings)
            if self.plot:
                plot_curves(records, list(results), os.path.join(directory, "probe_curve.png"),
                            f"linear probe of D features ({context.spec.name})",
                            "top-1 test accuracy")
            context.print_fn(f"probe at step {step}: " + ", ".join(
                f"{k} {r['accuracy']:.3f}" for k, r in results.items())
                + f" ({time.time() - start:.1f} s)")
        self.seconds += time.time() - start
        return scalars


def random_init_discriminator(spec, architecture: str, seed: int,
                              precision: str = "float32") -> keras.Model:
    """A randomly initialized discriminator (the paper's baseline), built as `train()` builds it
    with the currently parsed gin bindings and `seed`."""
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(seed)
    info = runs.model_info(spec, architecture, 128, 0, precision, "uniform")
    _, discriminator = runs.build_networks(info)
    discriminator(tf.zeros([1, *spec.image_shape]), None, training=False)
    return discriminator


def random_init_probe(spec, architecture: str, seed: int, hook: LinearProbeHook | None = None,
                      precision: str = "float32") -> dict[str, Any]:
    """Probe accuracies of `random_init_discriminator`."""
    discriminator = random_init_discriminator(spec, architecture, seed, precision)
    hook = hook or LinearProbeHook()
    results = hook.probe(discriminator, spec)
    return {k: float(r["accuracy"]) for k, r in results.items()}


def probe_accuracies(record: dict) -> dict[str, float]:
    """The per-block accuracies of a probe_curve.json record."""
    return {k: float(v) for k, v in record.items() if k.startswith("block") or k == "final"}


__all__ = ["LinearProbeHook", "append_record", "plot_curves", "probe_accuracies",
           "random_init_discriminator", "random_init_probe", "read_curve"]

