"""The training loop (`python -m ssgan_tf.train` is its command line).

`train(...)` is gin-configurable: data, strategy, precision, model and the loop. `num_steps` counts
generator updates (as the reference). Re-running on the same model_dir resumes from the latest
checkpoint (weights, both optimizers, step counter; z is keyed by the step, so it continues the
same stream).
"""

from __future__ import annotations

import inspect
import os
import signal
import time

import gin
import keras
import numpy as np
import tensorflow as tf
from absl import logging

from ssgan_tf import runs
from ssgan_tf.architectures import DEFAULT_RESOLUTION
from ssgan_tf.common import distribute
from ssgan_tf.common.files import write_json
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.data import labels as labels_lib
from ssgan_tf.export import api as export
from ssgan_tf.gans import GAN
from ssgan_tf.runs.checkpoints import checkpoint_dir, make_checkpoint
from ssgan_tf.training import callbacks, faults, preemption

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")


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
    native_bf16 = bool(tf.config.list_physical_devices("GPU")) or cpu_supports_bf16()
    if precision == "auto":
        precision = "mixed_bfloat16" if native_bf16 else "float32"
    elif precision == "mixed_bfloat16" and not native_bf16:
        logging.warning(
            "train.precision='mixed_bfloat16' on a CPU without AVX-512 BF16 / AMX: oneDNN has no "
            "bf16 kernels there and TensorFlow falls back to Eigen's, which ran the ResNet-CIFAR "
            "step >15x slower than float32. Use train.precision='auto' or 'float32'.")
    keras.mixed_precision.set_global_policy(precision)
    return precision


def build_model(spec, architecture: str, z_dim: int, conditional: bool, seed: int,
                precision: str = "float32") -> tuple[GAN, dict]:
    """G, D and the GAN for a dataset spec (call inside `strategy.scope()`), and model.json."""
    num_classes = spec.num_classes if conditional else 0
    if conditional and not num_classes:
        raise ValueError(f"train.conditional=True but dataset {spec.name!r} has no labels.")
    info = runs.model_info(spec, architecture, z_dim, num_classes, precision, "uniform")
    generator, discriminator = runs.build_networks(info)
    model = GAN(generator, discriminator, seed=seed)
    info["z_distribution"] = model.z_distribution
    return model, info


def make_train_loop(model: GAN, strategy: tf.distribute.Strategy, jit_compile: bool = False):
    """A tf.function running `n` train steps per host call (tf.range loop, simclr-tf2 style);
    returns the mean of each metric over those steps (each step's logs are already global: the
    same on every replica). `jit_compile` compiles the step with XLA
    (measured, not assumed: it was slower on CPU in a first probe)."""
    keys = model.log_keys()
    step_fn = (tf.function(model.train_step, jit_compile=True) if jit_compile
               else model.train_step)

    @tf.function(reduce_retracing=True)  # n is a tensor: one trace for every chunk length
    def run_steps(iterator, n):
        sums = {k: tf.constant(0.0) for k in keys}
        for _ in tf.range(n):
            per_replica = strategy.run(step_fn, args=(next(iterator),))
            sums = {k: sums[k] + strategy.reduce("MEAN", per_replica[k], axis=None)
                    for k in keys}
        return {k: v / tf.cast(n, tf.float32) for k, v in sums.items()}

    return run_steps


def apply_label_options(spec, conditional: bool, labelled_fraction: float | None,
                        label_seed: int, pseudo_labels: str | None, print_fn=print):
    """The dataset with S2GAN pseudo-labels and/or S3GAN partial labels applied."""
    if (labelled_fraction is not None or pseudo_labels) and not conditional:
        raise ValueError("train.labelled_fraction / train.pseudo_labels only make sense for a "
                         "conditional model: set train.conditional = True.")
    if pseudo_labels:
        spec = labels_lib.with_pseudo_labels(spec, *labels_lib.load_pseudo_labels(pseudo_labels))
        print_fn(f"labels: {spec.num_classes} k-means clusters of {pseudo_labels}")
    if conditional and spec.num_classes:
        labels_lib.check_labels(spec, spec.num_classes)
    if labelled_fraction is not None:
        spec, mask = labels_lib.with_partial_labels(spec, labelled_fraction, seed=label_seed)
        print_fn(f"labels: {int(mask.sum())} of {len(mask)} training images labelled "
                 f"(train.labelled_fraction={labelled_fraction:g}, label_seed={label_seed}); "
                 "the others are -1")
    return spec


NAN_POLICIES = ("stop", "restore")


def weights_fingerprint(model: GAN) -> float:
    """Sum of |w| over G and D (float64): equal on every worker of a synchronous run."""
    return float(sum(np.abs(v.numpy().astype(np.float64)).sum()
                     for v in model.generator.weights + model.discriminator.weights
                     if tf.as_dtype(v.dtype).is_floating))


@gin.configurable(denylist=["model_dir"])
def train(model_dir: str, num_steps: int = gin.REQUIRED, dataset: str = "digits",
          data_dir: str | None = None, resolution: int | None = None,
          architecture: str = "sndcgan", batch_size: int = 64, z_dim: int = 128,
          conditional: bool = False, labelled_fraction: float | None = None,
          label_seed: int = 0, pseudo_labels: str | None = None,
          strategy: str = "default", tpu: str | None = None,
          precision: str = "float32", steps_per_loop: int = 25, log_every: int = 100,
          sample_every: int = 500, save_every: int = 500, keep_checkpoints: int = 3,
          seed: int = 0, deterministic: bool = False, nan_policy: str = "stop",
          max_nan_restores: int = 3, export_at_end: bool = False, hooks=(),
          jit_compile: bool = False, print_fn=print) -> dict:
    """Trains (or resumes) a GAN in `model_dir`; returns the final summary dict.

    `batch_size` is global (all replicas) and counts the real images of one D step.
    `deterministic` turns on TF op determinism (bit-reproducible CPU runs for a seed).
    S3GAN / S2GAN (conditional models): `labelled_fraction` keeps the labels of that fraction of
    the training images (stratified, chosen by `label_seed`; the others get -1);
    `pseudo_labels` is an .npz (`cluster_ids` [N_train], `num_clusters`) of `ssgan_tf.s2gan`
    whose cluster ids replace the training labels.
    `nan_policy`: on a non-finite loss, `stop` (exit, the last good checkpoint untouched) or
    `restore` (reload the last good checkpoint, draw other z, go on; give up after
    `max_nan_restores` consecutive failures). No checkpoint is written while any weight is
    non-finite. `export_at_end` writes `model_dir/export/{generator,discriminator}` (chief only).
    `hooks`: periodic evaluations (`callbacks.TrainHook`, e.g. `[@LinearProbeHook()]`), run every
    `hook.every` steps and at the last step; their scalars go to TensorBoard and summary.json.
    `jit_compile` compiles the per-replica step with XLA (required on TPU; measured on CPU/GPU).
    SIGTERM/SIGINT: the current chunk finishes, a checkpoint is saved, the summary says
    `stopped_by_signal`. With `strategy='multi_worker'` a signal to any one worker stops every
    worker at the same step after a common save (`preemption.ClusterPreemption`).
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"train.nan_policy={nan_policy!r}; expected one of {NAN_POLICIES}.")
    precision = set_precision(precision)
    keras.utils.set_random_seed(seed)  # python, numpy, TF and Keras initializers
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    spec = get_dataset(dataset, data_dir=data_dir, resolution=resolution,
                       default_resolution=DEFAULT_RESOLUTION.get(architecture))
    for note in spec.notes:
        print_fn(note)
    if spec.size is not None and not spec.size.get("train"):
        raise ValueError(f"Dataset {spec.name!r} has no training examples.")
    spec = apply_label_options(spec, conditional, labelled_fraction, label_seed, pseudo_labels,
                               print_fn)
    strategy_obj = distribute.make_strategy(strategy, tpu=tpu)
    replicas = strategy_obj.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"train.batch_size={batch_size} must be divisible by the number of "
                         f"replicas ({replicas}).")
    per_replica = batch_size // replicas
    with strategy_obj.scope():
        model, info = build_model(spec, architecture, z_dim, conditional, seed, precision)
        info.update({"class_names": list(spec.class_names)} if spec.class_names else {})
        model.rotation.images_per_replica(batch_size, replicas)  # fail before any work
        model.build_all()
    runs.check_same_model(model_dir, info)  # before anything is written
    chief = distribute.is_chief(strategy_obj)
    print_fn(f"ssgan_tf: {architecture} on {spec.name} {spec.image_shape}, {replicas} "
             f"replica(s) on {distribute.num_workers(strategy_obj)} worker(s), global batch "
             f"{batch_size} ({per_replica} per replica), disc_iters {model.disc_iters}, "
             f"rotation {model.rotation.mode}, {precision}, G {model.generator.count_params():,}"
             f" / D {model.discriminator.count_params():,} params")

    # Every worker saves (saving may need collectives); only the chief's copy is kept.
    write_dir = model_dir if chief else distribute.worker_scratch_dir(model_dir, strategy_obj)
    os.makedirs(write_dir, exist_ok=True)
    checkpoint = make_checkpoint(model)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir(write_dir),
                                         max_to_keep=keep_checkpoints)
    read_manager = (manager if chief else tf.train.CheckpointManager(
        checkpoint, checkpoint_dir(model_dir), max_to_keep=keep_checkpoints))
    restored = runs.restore_with_fallback(
        checkpoint, read_manager, print_fn,
        base_checkpoint=make_checkpoint(model, with_extras=False),
        reset_extras=getattr(model, "reset_trick_state", None))
    if restored:
        print_fn(f"Resumed from {restored} at step {model.current_step()}.")
    if chief:
        config_name = "config.gin" if not restored else f"config_resume_{model.current_step()}.gin"
        with open(os.path.join(model_dir, config_name), "w") as f:
            f.write(gin.config_str())
        runs.write_model_info(model_dir, info)

    images_per_step = batch_size * model.disc_iters
    run_steps = make_train_loop(model, strategy_obj, jit_compile=jit_compile)

    def make_iterator(first_step: int):
        def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
            return train_dataset(spec, batch_size, model.disc_iters, seed=seed,
                                 input_context=ctx, start_step=first_step)
        return iter(strategy_obj.distribute_datasets_from_function(dataset_fn))

    start_step = step = model.current_step()
    iterator = make_iterator(start_step)
    writer = (tf.summary.create_file_writer(os.path.join(model_dir, "train")) if chief
              else tf.summary.create_noop_writer())
    sampler = callbacks.SampleWriter(model, model_dir, writer)
    progress = callbacks.ProgressLogger(num_steps, images_per_step, print_fn)
    hook_context = callbacks.HookContext(model, model_dir, writer, strategy_obj, chief, spec,
                                         print_fn)
    hook_results: dict = {}
    start_time = time.time()
    logs: dict = {}
    nan_restores = 0
    if step == 0 and chief:
        sampler(0)
    progress(step, logs)

    def save(at_step: int) -> None:
        if not faults.all_finite(model.generator.weights + model.discriminator.weights
                                 + model.inference_generator().weights):
            raise FloatingPointError(
                f"Weights became non-finite by step {at_step}; not saving. The last good "
                f"checkpoint ({manager.latest_checkpoint}) is untouched.")
        if manager.latest_checkpoint != os.path.join(manager.directory, f"ckpt-{at_step}"):
            faults.save_checkpoint(manager, checkpoint, at_step)

    with faults.StopSignals() as stop:
        # Several workers must stop together (a lone worker would leave the others blocked in
        # a collective): TF's PreemptionCheckpointHandler agrees on the step. One process
        # (default / mirrored / tpu) just stops at the end of the current chunk.
        cluster = (preemption.ClusterPreemption(strategy_obj, write_dir,
                                                lambda: save(model.current_step()), stop)
                   if distribute.num_workers(strategy_obj) > 1 else None)
        if cluster is not None and not cluster.active:
            print_fn("WARNING: TF's PreemptionCheckpointHandler does not watch SIGTERM on this "
                     "platform (on GCP it watches maintenance events on GPU VMs and does nothing "
                     "on CPU VMs): a preempted run resumes from the last periodic checkpoint "
                     "(train.save_every).")
        while step < num_steps and (stop.received is None or cluster is not None):
            everies = [log_every, sample_every, save_every] + [h.every for h in hooks if h.every]
            boundaries = [num_steps] + [(step // every + 1) * every for every in everies]
            n = min(min(boundaries) - step, steps_per_loop)
            logs = {k: float(v) for k, v in run_steps(iterator, tf.constant(n, tf.int64)).items()}
            step = model.current_step()
            faults.maybe_inject_signal(step)
            if not all(np.isfinite(v) for v in logs.values()):
                nan_restores += 1
                last_good = read_manager.latest_checkpoint or manager.latest_checkpoint
                detail = ", ".join(f"{k}={v:.4g}" for k, v in logs.items())
                if nan_policy == "stop" or nan_restores > max_nan_restores or not last_good:
                    raise FloatingPointError(
                        f"Non-finite loss by step {step} ({detail}). The last good checkpoint "
                        f"({last_good}) is untouched; lower the learning rate, check the data, "
                        "or set train.nan_policy='restore'.")
                checkpoint.restore(last_good).assert_existing_objects_matched()
                step = model.current_step()
                print_fn(f"WARNING: non-finite loss ({detail}); restored {last_good} (step "
                         f"{step}), retry {nan_restores}/{max_nan_restores} with other z.")
                model.seed += 1_000_003  # other z for the retried steps
                run_steps = make_train_loop(model, strategy_obj, jit_compile=jit_compile)
                iterator = make_iterator(step)
                continue
            nan_restores = 0
            if chief:
                callbacks.write_scalars(writer, step, logs)
                if step == n + start_step:
                    with open(os.path.join(model_dir, "operative_config.gin"), "w") as f:
                        f.write(gin.operative_config_str())
            if step % log_every == 0 or step == num_steps:
                rate = progress(step, logs)
                if chief and np.isfinite(rate):
                    callbacks.write_scalars(writer, step, {"img_per_s": rate})
            if chief and (step % sample_every == 0 or step == num_steps):
                sampler(step)
            if hooks:
                hook_results.update(callbacks.run_hooks(hooks, step, hook_context,
                                                        force=step == num_steps))
            if (step % save_every == 0 or step == num_steps
                    or (stop.received is not None and cluster is None)):
                save(step)
            if cluster is not None and step < num_steps and cluster.save_if_preempted():
                stop.received = stop.received or signal.SIGTERM  # a peer was preempted
                break

    elapsed = time.time() - start_time
    summary = {"step": step, "num_steps": num_steps, "steps_this_run": step - start_step,
               "wall_time_s": round(elapsed, 2),
               "img_per_s": round((step - start_step) * images_per_step / max(elapsed, 1e-9), 2),
               "precision": precision, "replicas": replicas, "global_batch_size": batch_size,
               "stopped_by_signal": stop.received or 0,
               "weights_fingerprint": weights_fingerprint(model),
               **({"hooks": hook_results} if hook_results else {}),
               **{k: round(v, 5) for k, v in logs.items()}}
    if not chief:
        distribute.remove_worker_scratch_dir(write_dir)
        print_fn(f"worker done: step {step}, weights fingerprint "
                 f"{summary['weights_fingerprint']!r}")
        return summary
    write_json(os.path.join(model_dir, "summary.json"), summary)
    if stop.received is not None:
        print_fn(f"stopped by signal {stop.received} at step {step}; checkpoint saved in "
                 f"{manager.directory}. Re-run the same command to resume.")
        return summary
    last_png = os.path.join(model_dir, "samples", f"step_{step:06d}.png")
    print_fn(f"done: step {step} in {elapsed / 60:.1f} min ({summary['img_per_s']} img/s)"
             + (f", d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}" if logs else "")
             + (f", rotation accuracy {logs['d_rotation_accuracy']:.2f}"
                if "d_rotation_accuracy" in logs else "")
             + f"; samples {last_png}; checkpoints {manager.directory}")
    if export_at_end and (paths := export.maybe_export_at_end(model, info, model_dir)):
        print_fn(f"exported {paths['generator']} and {paths['discriminator']}")
    return summary


def train_setting(name: str):
    """`train.<name>` as the parsed gin config binds it, else `train()`'s own default (for tools
    that build what training would build: benchmark, s2gan, the study)."""
    try:
        return gin.query_parameter(f"train.{name}")
    except ValueError:
        return inspect.signature(train).parameters[name].default
