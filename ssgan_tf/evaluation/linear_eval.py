"""Linear evaluation of a discriminator's frozen features, block by block.

    python -m ssgan_tf.linear_eval --module=E/discriminator --dataset=digits --output=probe.json
    python -m ssgan_tf.linear_eval --model_dir=D [--checkpoint=C] --dataset=digits ...

Streams the `--split` (default train) and `--test_split` (default test) images of a registry
dataset through the encoder under a tf.distribute strategy, keeps each block's global-average
pooled features (and `final`, the input of D's last linear layer), and for each of them fits a
multinomial logistic regression on standardized features, its L2 strength chosen on a validation
part held out from the training split (`ssgan_tf.evaluation.probe`). Prints a table and writes a flat JSON:
`{"block1": 0.71, ..., "final": ..., "best_block": "block3", "dataset": "digits", ...}` with
top-1 test accuracies. `best_block` is the one with the best *validation* accuracy, so choosing it
does not peek at the test split.

Memory: the pooled features of the used examples, N x (sum of the feature widths) x 4 bytes (the
images are streamed); SNDCGAN's `final` is wide (8192 at 32x32, ch = 64), so cap large datasets
with --max_train_examples.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from ssgan_tf import __version__
from ssgan_tf.common import distribute
from ssgan_tf.common.errors import SsganError
from ssgan_tf.common.progress import Progress
from ssgan_tf.data import get_dataset
from ssgan_tf.evaluation import probe as probe_lib
from ssgan_tf.runs.restore import load_gan

POOLING = ("block<i>: global average over H and W of block i's output; final: input of D's "
           "last linear layer")
CLASSIFIER = ("multinomial logistic regression (scikit-learn, L-BFGS) on standardized "
              "features; l2 chosen on a held-out validation split of the training split")


class LinearEvalError(SsganError):
    """Bad input (reported by the CLI as one paragraph, exit code 1)."""


def _load_encoder(module: str | None, model_dir: str | None, checkpoint: str | None, strategy):
    if bool(module) == bool(model_dir):
        raise LinearEvalError("pass exactly one of --module=E/discriminator (an exported "
                              "discriminator module) or --model_dir=D (a training directory).")
    with strategy.scope():
        if module:
            return probe_lib.ModuleEncoder(module)

        if checkpoint and not tf.io.gfile.exists(checkpoint + ".index"):
            raise LinearEvalError(f"--checkpoint={checkpoint!r} does not exist.")
        try:
            model, info = load_gan(model_dir, checkpoint)
        except FileNotFoundError as e:
            raise LinearEvalError(str(e)) from None
        return probe_lib.DiscriminatorEncoder(model.discriminator, step=info["step"])


def _shape_str(shape) -> str:
    return "x".join(str(d) for d in shape)


def _dataset(dataset: str, data_dir, resolution, split: str, test_split: str):
    spec = get_dataset(dataset, data_dir=data_dir, resolution=resolution)
    if spec.num_classes < 2:
        raise LinearEvalError(f"Dataset {spec.name!r} has no class labels; a linear probe "
                              "needs a labelled dataset (digits, cifar10, stl10, ...).")
    for s in (split, test_split):
        if s not in spec.splits:
            raise LinearEvalError(f"Dataset {spec.name!r} has splits {spec.splits}, not {s!r}.")
    return spec


def _check_shapes(encoder, spec) -> None:
    if encoder.image_shape is not None and tuple(encoder.image_shape) != tuple(spec.image_shape):
        raise LinearEvalError(
            f"The discriminator expects {_shape_str(encoder.image_shape)} images but dataset "
            f"{spec.name!r} gives {_shape_str(spec.image_shape)}. Use the dataset it was trained "
            "on, or pass --resolution=" + str(encoder.image_shape[0]) + " for datasets that can "
            "be resized (synthetic and tfds ones); the channels must match.")


def _features(encoder, spec, split: str, batch_size: int, max_examples: int, strategy):
    """Pooled features of one split, with a progress bar on a terminal."""
    known = (spec.size or {}).get(split)
    total = min(known, max_examples) if known and max_examples else (known or max_examples
                                                                      or None)
    with Progress(total, f"linear_eval: {split} features", unit="img") as bar:
        return probe_lib.extract_features(encoder, spec(split), batch_size, max_examples or None,
                                          strategy, on_batch=bar.update)


def _probe(train, test, val_fraction: float, seed: int) -> dict:
    """probe_all with a bar advancing one step per feature name (block1 ... final)."""
    features, labels = train
    keys = probe_lib.probe_keys(features)
    with Progress(len(keys), "linear_eval: probes", unit="probe") as bar:
        started: list[str] = []

        def on_key(key: str) -> None:
            if started:  # the previous probe is done
                bar.update(1)
            started.append(key)
            bar.describe(f"linear_eval: probing {key}")

        results = probe_lib.probe_all(features, labels, *test, val_fraction=val_fraction,
                                      seed=seed, on_key=on_key)
        bar.update(1)
    return results


def _summary(results: dict, spec, encoder, n: dict, settings: dict) -> dict:
    best = max(results, key=lambda k: results[k]["val_accuracy"])  # ties: the earlier block
    summary = {k: round(r["accuracy"], 5) for k, r in results.items()}
    summary.update({
        "best_block": best, "best_accuracy": round(results[best]["accuracy"], 5),
        "dataset": spec.name, "step": encoder.step, **n,
        "num_classes": int(spec.num_classes), "image_shape": list(spec.image_shape),
        "l2": {k: r["l2"] for k, r in results.items()},
        "val_accuracy": {k: round(r["val_accuracy"], 5) for k, r in results.items()},
        "feature_dim": {k: r["dim"] for k, r in results.items()},
        **settings, "pooling": POOLING, "classifier": CLASSIFIER,
        "ssgan_tf_version": __version__})
    return summary


def _print_table(results: dict, summary: dict, print_fn) -> None:
    print_fn(f"linear probe on {summary['dataset']} ({summary['split']}: {summary['n_fit']} fit "
             f"+ {summary['n_val']} val, {summary['test_split']}: {summary['n_test']}, "
             f"{summary['num_classes']} classes) of {summary['module']}"
             + (f" (step {summary['step']})" if summary["step"] is not None else ""))
    print_fn(f"{'features':<10}{'dim':>7}{'l2':>9}{'val':>8}{'test':>8}")
    for k, r in results.items():
        print_fn(f"{k:<10}{r['dim']:>7}{r['l2']:>9.0e}{r['val_accuracy']:>8.3f}"
                 f"{r['accuracy']:>8.3f}")
    best = summary["best_block"]
    print_fn(f"best by validation accuracy: {best}, top-1 test accuracy "
             f"{results[best]['accuracy']:.3f}")


def linear_eval(module: str | None = None, model_dir: str | None = None,
                checkpoint: str | None = None, dataset: str = "digits",
                data_dir: str | None = None, resolution: int | None = None,
                split: str = "train", test_split: str = "test", batch_size: int = 256,
                max_train_examples: int = 0, max_test_examples: int = 0,
                val_fraction: float = 0.2, seed: int = 0, strategy: str = "default",
                output: str | None = None, print_fn=print) -> dict:
    """Runs the probe; returns (and writes to `output`) the flat result dict."""
    if batch_size < 1:
        raise LinearEvalError(f"--batch_size={batch_size} must be >= 1.")
    strategy_obj = distribute.make_strategy(strategy)
    spec = _dataset(dataset, data_dir, resolution, split, test_split)
    encoder = _load_encoder(module, model_dir, checkpoint, strategy_obj)
    _check_shapes(encoder, spec)
    train = _features(encoder, spec, split, batch_size, max_train_examples, strategy_obj)
    test = _features(encoder, spec, test_split, batch_size, max_test_examples, strategy_obj)
    results = _probe(train, test, val_fraction, seed)
    fit, val = probe_lib.validation_split(len(train[1]), val_fraction, seed)
    counts = {"n_train": int(len(train[1])), "n_fit": int(len(fit)), "n_val": int(len(val)),
              "n_test": int(len(test[1]))}
    settings = {"split": split, "test_split": test_split, "module": module or model_dir,
                "source": "module" if module else "model_dir", "val_fraction": val_fraction,
                "seed": seed, "strategy": strategy,
                "replicas": strategy_obj.num_replicas_in_sync}
    summary = _summary(results, spec, encoder, counts, settings)
    _print_table(results, summary, print_fn)
    if output:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w") as f:
            json.dump(summary, f, indent=2, sort_keys=True)
        print_fn(f"wrote {output}")
    return summary
