"""The SSGAN paper's task-switching forgetting experiment (Chen et al. 2019, Fig. 2 left).

A classifier with the discriminator's architecture is trained on a sequence of one-vs-all tasks
("is it class t?"), switching task every `iterations_per_task` iterations, once without and once
with the rotation loss (the rotation head on the same features, every image of the batch rotated
by 0/90/180/270). Every `eval_every` iterations it records the test accuracy on the current task
and on the first task. Without self-supervision the accuracy drops at each switch; the paper's
claim is that the rotation loss keeps features that transfer, so the drops are smaller.

    python -m ssgan_tf.experiments.forgetting --dataset=digits --output_dir=runs/forgetting

Writes forgetting.json (curves and per-switch drops) and forgetting.png next to it.
"""

from __future__ import annotations

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.common import cli
from ssgan_tf.data import get_dataset
from ssgan_tf.gans.losses import rotation_cross_entropy
from ssgan_tf.gans.ssgan import rotation_labels, with_rotations
from ssgan_tf.training.precision import set_precision


def load_arrays(dataset: str):
    """(x_train, y_train, x_test, y_test) as float32 [0, 1] NHWC arrays from the registry."""

    spec = get_dataset(dataset)
    arrays = []
    for split in ("train", "test"):
        xs, ys = [], []
        for batch in spec(split).batch(1024):
            xs.append(batch["images"].numpy())
            ys.append(batch["labels"].numpy())
        arrays += [np.concatenate(xs), np.concatenate(ys)]
    return spec.image_shape, arrays


def balanced_batch(rng, x, y, task: int, batch: int):
    """Half images of class `task` (label 1), half of the others (label 0)."""
    pos = np.flatnonzero(y == task)
    neg = np.flatnonzero(y != task)
    idx = np.concatenate([rng.choice(pos, batch // 2), rng.choice(neg, batch - batch // 2)])
    return x[idx], (y[idx] == task).astype(np.float32)


def run_sequence(image_shape, data, rotation: bool, num_tasks: int, iterations_per_task: int,
                 eval_every: int, batch: int, architecture: str, ch: int, lr: float,
                 seed: int, print_fn=print, precision: str = "float32") -> dict:
    """Trains one classifier through the task sequence; returns its accuracy curves."""



    set_precision(precision)  # bf16 on CPUs with AMX / AVX-512 BF16 when "auto"
    keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = data
    _, discriminator_cls = get_architecture(architecture)
    model = discriminator_cls(image_shape, ch=ch, spectral_norm=False)
    model(tf.zeros([1, *image_shape]))
    optimizer = keras.optimizers.Adam(lr, 0.5, 0.999)
    optimizer.build(model.trainable_variables)
    n = batch

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            x = with_rotations(images, n) if rotation else images
            out = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels, tf.cast(out["logits"][:n], tf.float32)))
            if rotation:
                loss += tf.reduce_mean(rotation_cross_entropy(out["rotation_logits"],
                                                              rotation_labels(n)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    predict = tf.function(lambda images: tf.cast(model(images, training=False)["logits"],
                                                 tf.float32))
    test_sets = {}

    def accuracy(task: int) -> float:
        if task not in test_sets:
            test_sets[task] = balanced_batch(np.random.RandomState(task), x_test, y_test, task,
                                             min(1000, 2 * int(np.sum(y_test == task))))
        images, labels = test_sets[task]
        logits = np.concatenate([predict(images[i:i + 500]).numpy()
                                 for i in range(0, len(images), 500)])
        return float(np.mean((logits > 0) == (labels > 0.5)))

    rng = np.random.RandomState(seed)
    curve = {"iteration": [], "task": [], "current_task_accuracy": [],
             "first_task_accuracy": []}
    for task in range(num_tasks):
        for i in range(iterations_per_task):
            images, labels = balanced_batch(rng, x_train, y_train, task, batch)
            step(tf.constant(images), tf.constant(labels))
            it = task * iterations_per_task + i + 1
            if it % eval_every == 0:
                curve["iteration"].append(it)
                curve["task"].append(task)
                curve["current_task_accuracy"].append(accuracy(task))
                curve["first_task_accuracy"].append(accuracy(0))
        print_fn(f"{'rotation' if rotation else 'plain'}: task {task} done, accuracy "
                 f"{curve['current_task_accuracy'][-1]:.3f} (first task "
                 f"{curve['first_task_accuracy'][-1]:.3f})")
    return curve


def switch_drops(curve: dict) -> list[float]:
    """Accuracy just before a task switch minus the first accuracy after it (per switch)."""
    drops = []
    tasks, acc = curve["task"], curve["current_task_accuracy"]
    for i in range(1, len(tasks)):
        if tasks[i] != tasks[i - 1]:
            drops.append(acc[i - 1] - acc[i])
    return drops


def plot(curves: dict, path: str, iterations_per_task: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, key, title in ((axes[0], "current_task_accuracy", "current task"),
                           (axes[1], "first_task_accuracy", "first task (class 0 vs all)")):
        for name, curve in curves.items():
            ax.plot(curve["iteration"], curve[key], label=name)
        last = max(c["iteration"][-1] for c in curves.values())
        for x in range(iterations_per_task, last, iterations_per_task):
            ax.axvline(x, color="grey", lw=0.5, ls="--")
        ax.set_title(f"test accuracy, {title}")
        ax.set_xlabel("iteration")
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(dataset: str, output_dir: str, num_tasks: int = 10, iterations_per_task: int = 1000,
        eval_every: int = 100, batch: int = 64, architecture: str = "sndcgan", ch: int = 32,
        lr: float = 2e-4, seed: int = 0, print_fn=print, precision: str = "float32") -> dict:
    """Both task sequences (without / with rotation loss); writes forgetting.json and .png."""

    start = time.time()
    image_shape, data = load_arrays(dataset)
    classes = int(max(data[1].max(), data[3].max()) + 1)
    if num_tasks > classes:
        raise ValueError(f"--num_tasks={num_tasks} but {dataset!r} has {classes} classes.")
    modes = {"without rotation loss": ("plain", False), "with rotation loss": ("rotation", True)}
    curves = {name: run_sequence(image_shape, data, rotation, num_tasks, iterations_per_task,
                                 eval_every, batch, architecture, ch, lr, seed, print_fn,
                                 precision)
              for name, (_, rotation) in modes.items()}
    os.makedirs(output_dir, exist_ok=True)
    result = {"dataset": dataset, "architecture": architecture, "ch": ch, "batch": batch,
              "num_tasks": num_tasks, "iterations_per_task": iterations_per_task, "seed": seed,
              "eval_every": eval_every, "lr": lr, "precision": precision,
              "wall_time_s": round(time.time() - start, 1), "curves": curves}
    for name, curve in curves.items():
        key = modes[name][0]
        drops = switch_drops(curve)
        result[f"{key}_mean_switch_drop"] = float(np.mean(drops)) if drops else 0.0
        result[f"{key}_mean_accuracy"] = float(np.mean(curve["current_task_accuracy"]))
    with open(os.path.join(output_dir, "forgetting.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(curves, os.path.join(output_dir, "forgetting.png"), iterations_per_task)
    print_fn(f"mean accuracy drop at a task switch: plain {result['plain_mean_switch_drop']:.3f},"
             f" rotation {result['rotation_mean_switch_drop']:.3f}; "
             f"{os.path.join(output_dir, 'forgetting.png')}")
    return result


def build_parser() -> cli.Parser:
    p = cli.Parser("ssgan_tf.experiments.forgetting", __doc__)
    p.add_argument("--dataset", default="digits", help="Dataset name (registry), e.g. digits, "
                   "npz:PATH (CIFAR-10 subset), cifar10.")
    p.add_argument("--output_dir", default="runs/forgetting", help="Where JSON and PNG go.")
    p.add_argument("--num_tasks", type=int, default=10,
                   help="One-vs-all tasks (classes 0..num_tasks-1).")
    p.add_argument("--iterations_per_task", type=int, default=1000,
                   help="Iterations before switching task.")
    p.add_argument("--eval_every", type=int, default=100,
                   help="Iterations between test evaluations.")
    p.add_argument("--batch", type=int, default=64, help="Batch size.")
    p.add_argument("--architecture", default="sndcgan", help="Discriminator family.")
    p.add_argument("--ch", type=int, default=32, help="Discriminator width.")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate.")
    p.add_argument("--seed", type=int, default=0, help="Seed.")
    p.add_argument("--precision", default="auto", help="float32 | mixed_bfloat16 | auto (bf16 "
                   "on CPUs with AMX / AVX-512 BF16).")
    return p


def run_from_args(args) -> None:
    run(args.dataset, args.output_dir, args.num_tasks, args.iterations_per_task,
        args.eval_every, args.batch, args.architecture, args.ch, args.lr, args.seed,
        precision=args.precision)


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
