"""The training loop (`python -m ssgan_tf.train` is its command line; `train()` the Python API).

`Trainer.run()` reads top to bottom: set up (precision, data, strategy, model: every check before
anything is written), open the model_dir (one training at a time: `lock.RunLock`), restore the
newest readable checkpoint, then chunks of steps (`run_chunk`), each followed by `after_chunk`
(scalars, progress, samples, hooks, save) or by `recover` (a non-finite loss), and `finish`
(summary, export). Re-running on the same model_dir resumes: weights, both optimizers, step
counter and z seed come from the checkpoint, and z is keyed by the step, so a resumed run
continues the same stream as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import gin
import keras
import numpy as np
import tensorflow as tf

from ssgan_tf import runs
from ssgan_tf.common import distribute
from ssgan_tf.common.errors import ConfigError, SsganError
from ssgan_tf.common.files import read_json, write_json
from ssgan_tf.common.progress import Progress
from ssgan_tf.data import train_dataset
from ssgan_tf.export import api as export_api
from ssgan_tf.training import callbacks, faults, preemption
from ssgan_tf.training.builders import build_model, training_data
from ssgan_tf.training.checkpointing import RunCheckpoints
from ssgan_tf.training.config import TrainConfig, make_config
from ssgan_tf.training.lock import RunLock
from ssgan_tf.training.loop import chunk_length, make_train_loop
from ssgan_tf.training.precision import set_precision


def weights_fingerprint(model) -> float:
    """Sum of |w| over G and D (float64): equal on every worker of a synchronous run."""
    return float(sum(np.abs(v.numpy().astype(np.float64)).sum()
                     for v in model.generator.weights + model.discriminator.weights
                     if tf.as_dtype(v.dtype).is_floating))


def check_model_dir(model_dir: str) -> None:
    if not model_dir:
        raise ConfigError("model_dir is required (where checkpoints, samples and logs go).")
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ConfigError(f"--model_dir={model_dir} is a file; expected a directory (a new one, "
                          "or a run to resume). Nothing was written.")


class Trainer:
    """Trains (or resumes) a GAN in `model_dir` as `config` says; `run()` returns the summary.

    `data`: the user's arrays or tf.data.Dataset instead of `config.dataset` (see
    `user_data`). SIGTERM / SIGINT: the current chunk finishes, a checkpoint is saved, the
    summary says `stopped_by_signal`; with `strategy='multi_worker'` a signal to any one worker
    stops every worker at the same step after a common save (`preemption.ClusterPreemption`).
    """

    def __init__(self, model_dir: str, config: TrainConfig, data=None, print_fn=print):
        self.model_dir, self.config, self.data, self.print_fn = model_dir, config, data, print_fn
        self.bar: Progress | None = None
        self.checkpoints: RunCheckpoints | None = None
        self.logs: dict = {}
        self.hook_results: dict = {}
        self.nan_restores = 0
        self.first_step_s = float("nan")

    def say(self, line: str) -> None:
        """A log line (above the progress bar when there is one)."""
        if self.bar is not None:
            self.bar.write(line, print_fn=self.print_fn)
        else:
            self.print_fn(line)

    # ------------------------------------------------------------------------------ the run
    def run(self) -> dict:
        """Set up, open the model_dir (held by a lock on the chief), restore, train, finish; a
        full disk anywhere becomes one message naming the last good checkpoint."""
        check_model_dir(self.model_dir)
        try:
            self.set_up()
            self.open_model_dir()
            with contextlib.ExitStack() as stack:
                if self.chief:
                    stack.enter_context(RunLock(self.model_dir, self.say))
                stack.callback(self._close_bar)
                self.restore()
                self.write_run_files()
                with faults.StopSignals() as self.stop:
                    self.start_loop()
                    self.loop()
                return self.finish()
        except (OSError, tf.errors.OpError) as e:
            if faults.is_disk_full(e):
                last_good = self.checkpoints.last_good if self.checkpoints else None
                raise faults.disk_full_error(e, self.model_dir, last_good) from e
            raise

    def set_up(self) -> None:
        """Precision, seeds, data, strategy and model: every check before anything is written."""
        c = self.config
        self.precision = set_precision(c.precision)
        keras.utils.set_random_seed(c.seed)  # python, numpy, TF and Keras initializers
        if c.deterministic:
            tf.config.experimental.enable_op_determinism()
        self.spec = training_data(c, self.data, self.print_fn)
        self.strategy = distribute.make_strategy(c.strategy, tpu=c.tpu)
        self.replicas = self.strategy.num_replicas_in_sync
        if c.batch_size % self.replicas:
            raise ConfigError(f"train.batch_size={c.batch_size} must be divisible by the number "
                              f"of replicas ({self.replicas}).")
        with self.strategy.scope():
            self.model, self.info = build_model(self.spec, c.architecture, c.z_dim,
                                                c.conditional, c.seed, self.precision)
            self.model.rotation.images_per_replica(c.batch_size, self.replicas)
            self.model.build_all()
        runs.check_same_model(self.model_dir, self.info)
        self.chief = distribute.is_chief(self.strategy)
        self.images_per_step = c.batch_size * self.model.disc_iters
        model = self.model
        self.say(f"ssgan_tf: {c.architecture} on {self.spec.name} {self.spec.image_shape}, "
                 f"{self.replicas} replica(s) on {distribute.num_workers(self.strategy)} "
                 f"worker(s), global batch {c.batch_size} ({c.batch_size // self.replicas} per "
                 f"replica), disc_iters {model.disc_iters}, rotation {model.rotation.mode}, "
                 f"{self.precision}, G {model.generator.count_params():,} / D "
                 f"{model.discriminator.count_params():,} params")

    def open_model_dir(self) -> None:
        """Creates this process's write directory (other workers write a scratch copy)."""
        self.write_dir = (self.model_dir if self.chief
                          else distribute.worker_scratch_dir(self.model_dir, self.strategy))
        try:
            os.makedirs(self.write_dir, exist_ok=True)
        except OSError as e:
            raise SsganError(f"--model_dir={self.model_dir}: cannot create it ({e.strerror}). "
                             "Use a directory on a writable file system with free space. "
                             "Nothing was written.") from e

    def restore(self) -> None:
        c = self.config
        self.checkpoints = RunCheckpoints(self.model, self.model_dir, self.write_dir,
                                          c.keep_checkpoints, c.seed, self.chief, self.say)
        self.restored = self.checkpoints.restore()
        self.start_step = self.step = self.model.current_step()
        if self.restored:
            self.say(f"Resumed from {self.restored} at step {self.step}.")

    def write_run_files(self) -> None:
        """config.gin (config_resume_N.gin on a resume) and model.json, on the chief."""
        if not self.chief:
            return
        name = f"config_resume_{self.step}.gin" if self.restored else "config.gin"
        with open(os.path.join(self.model_dir, name), "w") as f:
            f.write(gin.config_str())
        runs.write_model_info(self.model_dir, self.info)

    def make_iterator(self, first_step: int):
        c, model, spec = self.config, self.model, self.spec

        def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
            return train_dataset(spec, c.batch_size, model.disc_iters, seed=c.seed,
                                 input_context=ctx, start_step=first_step)
        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def start_loop(self) -> None:
        """The compiled loop, the input iterator and what runs between chunks."""
        c, chief = self.config, self.chief
        self.run_steps = make_train_loop(self.model, self.strategy, jit_compile=c.jit_compile)
        self.iterator = self.make_iterator(self.step)
        self.writer = (tf.summary.create_file_writer(os.path.join(self.model_dir, "train"))
                       if chief else tf.summary.create_noop_writer())
        self.sampler = callbacks.SampleWriter(self.model, self.model_dir, self.writer)
        self.progress = callbacks.ProgressLogger(c.num_steps, self.images_per_step, self.say)
        self.hook_context = callbacks.HookContext(self.model, self.model_dir, self.writer,
                                                  self.strategy, chief, self.spec, self.say)
        self.cluster = self._cluster_preemption()
        if self.step == 0 and chief:
            self.sampler(0)
        if chief and self.step < c.num_steps:
            self.bar = Progress(c.num_steps, "training", unit="step", initial=self.step)
        self.bar_step = self.step
        self.first_chunk = True
        self.start_time = time.time()
        self.progress.start(self.step)

    def _cluster_preemption(self) -> preemption.ClusterPreemption | None:
        """Several workers must stop together (a lone worker would leave the others blocked in
        a collective): TF's PreemptionCheckpointHandler agrees on the step. One process
        (default / mirrored / tpu) just stops at the end of the current chunk."""
        if distribute.num_workers(self.strategy) <= 1:
            return None
        cluster = preemption.ClusterPreemption(
            self.strategy, self.write_dir,
            lambda: self.checkpoints.save(self.model.current_step()), self.stop)
        if not cluster.active:
            self.say("WARNING: TF's PreemptionCheckpointHandler does not watch SIGTERM on this "
                     "platform (on GCP it watches maintenance events on GPU VMs and does nothing "
                     "on CPU VMs): a preempted run resumes from the last periodic checkpoint "
                     "(train.save_every).")
        return cluster

    def loop(self) -> None:
        while self.step < self.config.num_steps and (self.stop.received is None
                                                     or self.cluster is not None):
            logs = self.run_chunk()
            if not all(np.isfinite(v) for v in logs.values()):
                self.recover(logs)
                continue
            if self.after_chunk(logs):
                break

    # --------------------------------------------------------------------------- a chunk
    def run_chunk(self) -> dict:
        """Runs the steps up to the next boundary (log, sample, save, hook, steps_per_loop)."""
        c = self.config
        everies = [c.log_every, c.sample_every, c.save_every] + [h.every for h in c.hooks]
        # A new run's first chunk is one step (the first line comes at once); a resumed run's
        # is not, so its chunks, and the means they log, are the uninterrupted run's.
        first = self.first_chunk and self.step == 0
        n = chunk_length(self.step, c.num_steps, c.steps_per_loop, everies, first)
        logs = self.run_steps(self.iterator, tf.constant(n, tf.int64))
        logs = {k: float(v) for k, v in logs.items()}
        self.step = self.model.current_step()
        faults.maybe_inject_signal(self.step)
        return logs

    def after_chunk(self, logs: dict) -> bool:
        """Scalars, progress, samples, hooks and the save due at this step; True when a peer
        worker was preempted and every worker must stop now."""
        c, step, chief = self.config, self.step, self.chief
        self.nan_restores, self.logs = 0, logs
        if chief:
            callbacks.write_scalars(self.writer, step, logs)
            if self.first_chunk:
                with open(os.path.join(self.model_dir, "operative_config.gin"), "w") as f:
                    f.write(gin.operative_config_str())
        self.report_progress(logs)
        if chief and (step % c.sample_every == 0 or step == c.num_steps):
            self.sampler(step)
        if c.hooks:
            self.hook_results.update(callbacks.run_hooks(c.hooks, step, self.hook_context,
                                                         force=step == c.num_steps))
        if (step % c.save_every == 0 or step == c.num_steps
                or (self.stop.received is not None and self.cluster is None)):
            self.checkpoints.save(step)
        if self.cluster is not None and step < c.num_steps and self.cluster.save_if_preempted():
            self.stop.received = self.stop.received or signal.SIGTERM  # a peer was preempted
            return True
        return False

    def report_progress(self, logs: dict) -> None:
        """The first line after the first chunk, then one line per `log_every`; the bar."""
        c, step = self.config, self.step
        if self.first_chunk:
            self.first_step_s = self.progress.first(step, logs)
            self.first_chunk = False
        elif step % c.log_every == 0 or step == c.num_steps:
            rate = self.progress(step, logs)
            if self.chief and np.isfinite(rate):
                callbacks.write_scalars(self.writer, step, {"img_per_s": rate})
        if self.bar is not None and step > self.bar_step:
            self.bar.update(step - self.bar_step, d_loss=f"{logs['d_loss']:.3f}",
                            g_loss=f"{logs['g_loss']:.3f}")
            self.bar_step = step

    def recover(self, logs: dict) -> None:
        """A non-finite loss: stop (policy `stop`, too many retries, nothing saved yet), or
        reload the last good checkpoint and go on with other z (policy `restore`)."""
        c = self.config
        self.nan_restores += 1
        last_good = self.checkpoints.last_good
        detail = ", ".join(f"{k}={v:.4g}" for k, v in logs.items())
        if c.nan_policy == "stop" or self.nan_restores > c.max_nan_restores or not last_good:
            raise FloatingPointError(
                f"Non-finite loss by step {self.step} ({detail}). The last good checkpoint "
                f"({last_good}) is untouched; lower the learning rate, check the data, or set "
                "train.nan_policy='restore'.")
        self.step = self.checkpoints.restore_last_good()
        self.say(f"WARNING: non-finite loss ({detail}); restored {last_good} (step {self.step}),"
                 f" retry {self.nan_restores}/{c.max_nan_restores} with other z.")
        self.run_steps = make_train_loop(self.model, self.strategy, jit_compile=c.jit_compile)
        self.iterator = self.make_iterator(self.step)

    # ---------------------------------------------------------------------------- the end
    def summary(self) -> dict:
        c, steps = self.config, self.step - self.start_step
        elapsed = time.time() - self.start_time
        return {"step": self.step, "num_steps": c.num_steps, "steps_this_run": steps,
                "wall_time_s": round(elapsed, 2),
                "img_per_s": round(steps * self.images_per_step / max(elapsed, 1e-9), 2),
                "first_step_s": round(self.first_step_s, 2) if steps else 0.0,
                "precision": self.precision, "replicas": self.replicas,
                "global_batch_size": c.batch_size, "stopped_by_signal": self.stop.received or 0,
                "weights_fingerprint": weights_fingerprint(self.model),
                **({"hooks": self.hook_results} if self.hook_results else {}),
                **{k: round(v, 5) for k, v in self.logs.items()}}

    def finish(self) -> dict:
        """summary.json, the closing line and the export, after the loop (chief only)."""
        summary = self.summary()
        self._close_bar()
        if not self.chief:
            distribute.remove_worker_scratch_dir(self.write_dir)
            self.say(f"worker done: step {self.step}, weights fingerprint "
                     f"{summary['weights_fingerprint']!r}")
            return summary
        path = os.path.join(self.model_dir, "summary.json")
        if summary["steps_this_run"] == 0 and os.path.isfile(path):
            # Nothing trained (a finished run re-run): keep the summary of the steps that were.
            summary = {**read_json(path), "steps_this_run": 0,
                       "stopped_by_signal": self.stop.received or 0}
            self.say(f"done: step {self.step} already reached (train.num_steps="
                     f"{self.config.num_steps}); nothing to train. Raise train.num_steps to "
                     "train longer.")
        else:
            write_json(path, summary)
            if self.stop.received is None:
                self.say(self._done_line(summary))
        if self.stop.received is not None:
            self.say(f"stopped by signal {self.stop.received} at step {self.step}; checkpoint "
                     f"saved in {self.checkpoints.manager.directory}. Re-run the same command "
                     "to resume.")
        elif self.config.export_at_end:
            self.export()
        return summary

    def _done_line(self, summary: dict) -> str:
        logs = self.logs
        last_png = os.path.join(self.model_dir, "samples", f"step_{self.step:06d}.png")
        return (f"done: step {self.step} in {summary['wall_time_s'] / 60:.1f} min "
                f"({summary['img_per_s']} img/s)"
                + (f", d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}" if logs else "")
                + (f", rotation accuracy {logs['d_rotation_accuracy']:.2f}"
                   if "d_rotation_accuracy" in logs else "")
                + f"; samples {last_png}; checkpoints {self.checkpoints.manager.directory}")

    def export(self) -> None:
        """`model_dir/export/{generator,discriminator}` of the final weights (the chief)."""
        info = {**self.info, "step": self.step, "checkpoint": self.checkpoints.last_good}
        paths = export_api.export_model(self.model, info, os.path.join(self.model_dir, "export"),
                                        model_dir=self.model_dir, overwrite=True)
        self.say(f"exported {paths['generator']} and {paths['discriminator']}")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def train(model_dir: str, data=None, *, print_fn=print, **overrides) -> dict:
    """Trains (or resumes) a GAN in `model_dir`; returns the final summary dict.

    Settings are the `train.*` gin bindings (`TrainConfig`); keyword `overrides` win over them,
    e.g. `train("runs/a", num_steps=200, batch_size=32)`. `data`: NumPy arrays (images uint8 or
    float in [0, 1], optionally `(images, labels)`) or a `tf.data.Dataset` of images (+ labels)
    instead of `train.dataset` (see `ssgan_tf.training.user_data` for what resume does then).
    """
    config = make_config(**overrides)
    return Trainer(model_dir, config, data, print_fn).run()
