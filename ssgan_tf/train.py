"""Training entry point.

    python -m ssgan_tf.train --gin_file=gin/quickstart.gin [--gin_param='train.num_steps=20' ...]
        --model_dir=runs/quickstart

`train(...)` is gin-configurable: data, strategy, precision, model and the loop. `num_steps` counts
generator updates (as the reference). Re-running on the same model_dir resumes from the latest
checkpoint (weights, both optimizers, step counter; z is keyed by the step, so it continues the
same stream).
"""

from __future__ import annotations

import os
import sys
import time

import gin
import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from ssgan_tf import callbacks, distribute, restore
from ssgan_tf.checkpoints import checkpoint_dir, make_checkpoint
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.gans import GAN

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul/conv (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags_line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags_line or "amx_bf16" in flags_line


def set_precision(precision: str) -> str:
    """Sets the Keras global dtype policy; `auto` picks bf16 on GPUs and bf16-capable CPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r}; expected one of {PRECISIONS}.")
    if precision == "auto":
        precision = ("mixed_bfloat16" if tf.config.list_physical_devices("GPU")
                     or cpu_supports_bf16() else "float32")
    keras.mixed_precision.set_global_policy(precision)
    return precision


def build_model(spec, architecture: str, z_dim: int, conditional: bool, seed: int,
                precision: str = "float32") -> tuple[GAN, dict]:
    """G, D and the GAN for a dataset spec (call inside `strategy.scope()`), and model.json."""
    num_classes = spec.num_classes if conditional else 0
    if conditional and not num_classes:
        raise ValueError(f"train.conditional=True but dataset {spec.name!r} has no labels.")
    info = restore.model_info(spec, architecture, z_dim, num_classes, precision, "uniform")
    generator, discriminator = restore.build_networks(info)
    model = GAN(generator, discriminator, seed=seed)
    info["z_distribution"] = model.z_distribution
    return model, info


def make_train_loop(model: GAN, strategy: tf.distribute.Strategy):
    """A tf.function running `n` train steps per host call (tf.range loop, simclr-tf2 style);
    returns the mean of each metric over those steps."""
    keys = model.log_keys()

    @tf.function
    def run_steps(iterator, n):
        sums = {k: tf.constant(0.0) for k in keys}
        for _ in tf.range(n):
            per_replica = strategy.run(model.train_step, args=(next(iterator),))
            sums = {k: sums[k] + strategy.reduce("SUM", per_replica[k], axis=None)
                    for k in keys}
        return {k: v / tf.cast(n, tf.float32) for k, v in sums.items()}

    return run_steps


@gin.configurable(denylist=["model_dir"])
def train(model_dir: str, num_steps: int = gin.REQUIRED, dataset: str = "digits",
          data_dir: str | None = None, resolution: int | None = None,
          architecture: str = "sndcgan", batch_size: int = 64, z_dim: int = 128,
          conditional: bool = False, strategy: str = "default", tpu: str | None = None,
          precision: str = "float32", steps_per_loop: int = 25, log_every: int = 100,
          sample_every: int = 500, save_every: int = 500, keep_checkpoints: int = 3,
          seed: int = 0, print_fn=print) -> dict:
    """Trains (or resumes) a GAN in `model_dir`; returns the final summary dict.

    `batch_size` is global (all replicas) and counts the real images of one D step.
    """
    precision = set_precision(precision)
    keras.utils.set_random_seed(seed)  # python, numpy, TF and Keras initializers
    spec = get_dataset(dataset, data_dir=data_dir, resolution=resolution)
    strategy_obj = distribute.make_strategy(strategy, tpu=tpu)
    replicas = strategy_obj.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"train.batch_size={batch_size} must be divisible by the number of "
                         f"replicas ({replicas}).")
    per_replica = batch_size // replicas
    with strategy_obj.scope():
        model, info = build_model(spec, architecture, z_dim, conditional, seed, precision)
        model.rotation.images_per_replica(batch_size, replicas)  # fail before any work
        model.build_all()
    print_fn(f"ssgan_tf: {architecture} on {spec.name} {spec.image_shape}, {replicas} "
             f"replica(s), global batch {batch_size} ({per_replica} per replica), "
             f"disc_iters {model.disc_iters}, rotation {model.rotation.mode}, {precision}, "
             f"G {model.generator.count_params():,} / D {model.discriminator.count_params():,} "
             "params")

    os.makedirs(model_dir, exist_ok=True)
    checkpoint = make_checkpoint(model)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir(model_dir),
                                         max_to_keep=keep_checkpoints)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print_fn(f"Resumed from {manager.latest_checkpoint} at step {model.current_step()}.")
    with open(os.path.join(model_dir, "config.gin"), "w") as f:
        f.write(gin.config_str())
    restore.write_model_info(model_dir, info)

    images_per_step = batch_size * model.disc_iters
    start_step = model.current_step()

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        return train_dataset(spec, batch_size, model.disc_iters, seed=seed, input_context=ctx,
                             start_step=start_step)

    dist_ds = strategy_obj.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dist_ds)
    run_steps = make_train_loop(model, strategy_obj)
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
    sampler = callbacks.SampleWriter(model, model_dir, writer)
    progress = callbacks.ProgressLogger(num_steps, images_per_step, print_fn)

    step = start_step
    start_time = time.time()
    logs: dict = {}
    if step == 0:
        sampler(0)
    progress(step, logs)
    while step < num_steps:
        boundaries = [num_steps] + [(step // every + 1) * every
                                    for every in (log_every, sample_every, save_every)]
        n = min(min(boundaries) - step, steps_per_loop)
        logs = {k: float(v) for k, v in run_steps(iterator, tf.constant(n, tf.int64)).items()}
        step = model.current_step()
        if not all(np.isfinite(v) for v in logs.values()):
            raise FloatingPointError(
                f"Non-finite loss at step {step}: {logs}. The last good checkpoint "
                f"({manager.latest_checkpoint}) is untouched; lower the learning rate or check "
                "the data.")
        callbacks.write_scalars(writer, step, logs)
        if step == n + start_step:
            with open(os.path.join(model_dir, "operative_config.gin"), "w") as f:
                f.write(gin.operative_config_str())
        if step % log_every == 0 or step == num_steps:
            rate = progress(step, logs)
            if np.isfinite(rate):
                callbacks.write_scalars(writer, step, {"img_per_s": rate})
        if step % sample_every == 0 or step == num_steps:
            sampler(step)
        if step % save_every == 0 or step == num_steps:
            manager.save(checkpoint_number=step)

    elapsed = time.time() - start_time
    summary = {"step": step, "num_steps": num_steps, "steps_this_run": step - start_step,
               "wall_time_s": round(elapsed, 2),
               "img_per_s": round((step - start_step) * images_per_step / max(elapsed, 1e-9), 2),
               "precision": precision, "replicas": replicas, "global_batch_size": batch_size,
               **{k: round(v, 5) for k, v in logs.items()}}
    callbacks.write_json(os.path.join(model_dir, "summary.json"), summary)
    last_png = os.path.join(model_dir, "samples", f"step_{step:06d}.png")
    print_fn(f"done: step {step} in {elapsed / 60:.1f} min ({summary['img_per_s']} img/s)"
             + (f", d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}" if logs else "")
             + (f", rotation accuracy {logs['d_rotation_accuracy']:.2f}"
                if "d_rotation_accuracy" in logs else "")
             + f"; samples {last_png}; checkpoints {manager.directory}")
    return summary


# ------------------------------------------------------------------------------------- CLI
flags.DEFINE_multi_string("gin_file", [], "Gin config file(s), applied in order.")
flags.DEFINE_multi_string("gin_param", [], "Gin bindings, e.g. 'train.num_steps=20'.")
flags.DEFINE_string("model_dir", None, "Directory for checkpoints, samples and logs.")
flags.DEFINE_integer("seed", None, "Overrides train.seed.")
FLAGS = flags.FLAGS


def resolve_gin_file(path: str) -> str:
    """A gin path as given, or relative to the repository (so `gin/x.gin` works anywhere)."""
    for candidate in (path, os.path.join(REPO_ROOT, path)):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"--gin_file={path!r} does not exist (looked in the current "
                            f"directory and in the ssgan_tf checkout {REPO_ROOT}).")


def parse_config(gin_files: list[str], gin_params: list[str]) -> None:
    gin.parse_config_files_and_bindings([resolve_gin_file(p) for p in gin_files], gin_params)


def main(argv) -> None:
    del argv
    if not FLAGS.model_dir:
        sys.exit("error: --model_dir is required (where checkpoints, samples and logs go).")
    try:
        params = list(FLAGS.gin_param)
        if FLAGS.seed is not None:
            params.append(f"train.seed = {FLAGS.seed}")
        parse_config(FLAGS.gin_file, params)
        train(FLAGS.model_dir)
    except (ValueError, FileNotFoundError, FloatingPointError, TypeError) as e:
        logging.debug("training failed", exc_info=True)
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
