"""Keras callbacks for `GAN.fit` that do what the training loop does between chunks of steps,
with the loop's own code (one implementation each, in `callbacks`):

- `SampleGrid(model_dir, every_steps)`: `callbacks.SampleWriter`, the fixed-z grid of the
  inference generator as `model_dir/samples/step_XXXXXX.png` and the TensorBoard image
  `samples` in `model_dir/train`;
- `HookCallback(hooks, model_dir, data=None)`: training hooks (`callbacks.TrainHook`:
  `MetricsHook`, `LinearProbeHook` or your own) through `callbacks.run_hooks`, each at the
  multiples of its `every` and all of them at the end of `fit`, scalars under `hooks/`;
- `TrainScalars(model_dir, every_steps)`: the step's logs through `callbacks.write_scalars`
  (`losses/d_loss`, `accuracy/d_rotation_accuracy`, `augment/augment_p`, ...), each the mean
  of the steps since the previous write.

Schedules count G steps with the GAN's own step (`GAN.step`, G's optimizer's iterations), not
Keras' batch or epoch index: a second `fit`, or one resumed by `keras.callbacks.
BackupAndRestore`, keeps the schedule. With `compile(steps_per_execution=n)` Keras calls
callbacks every n steps; a callback then fires at the first call at or after each multiple of
its period (at that step). Only the chief writes (as in the loop); hooks run on every worker.

The EMA of G needs no callback: `GAN(g_ema_decay=...)` updates it inside `train_step`, and the
samples and the hooks use `GAN.inference_generator()` (the EMA copy when there is one).
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from ssgan_tf.common import distribute
from ssgan_tf.common.errors import SsganError
from ssgan_tf.data import get_dataset
from ssgan_tf.training.callbacks import HookContext, SampleWriter, run_hooks, write_scalars
from ssgan_tf.training.user_data import data_spec


def crossed(every: int, last: int, step: int) -> bool:
    """True when a multiple of `every` lies in (last, step]."""
    return every > 0 and step // every > last // every


class _StepCallback(keras.callbacks.Callback):
    """Reads the GAN's step at every batch end; the TensorBoard writer of `model_dir/train` (one
    per callback, kept across fits; a noop writer off the chief)."""

    def __init__(self, model_dir: str, writer=None):
        super().__init__()
        if not model_dir:
            raise SsganError(f"{type(self).__name__}: model_dir is required (where its files "
                             "go).")
        self.model_dir = os.fspath(model_dir)
        self.writer = writer
        self.chief = True
        self.begin_step = self.last_step = 0

    def _begin(self) -> int:
        self.chief = distribute.is_chief(self.model.distribute_strategy)
        if self.writer is None:
            self.writer = (tf.summary.create_file_writer(os.path.join(self.model_dir, "train"))
                           if self.chief else tf.summary.create_noop_writer())
        self.begin_step = self.last_step = self.model.current_step()
        return self.begin_step

    def _end_step(self) -> int | None:
        """The step at the end of fit, or None when this fit trained no step."""
        step = self.model.current_step()
        return step if step > self.begin_step else None


class _EveryStepsCallback(_StepCallback):
    """`_write(step)` when the GAN's step crosses a multiple of `every_steps`, and at the end of
    a fit that trained a step."""

    every_steps: int

    def _write(self, step: int) -> None:
        raise NotImplementedError

    def on_train_batch_end(self, batch, logs=None):
        step = self.model.current_step()
        if crossed(self.every_steps, self.last_step, step):
            self._write(step)
        self.last_step = step

    def on_train_end(self, logs=None):
        step = self._end_step()
        if step is not None:
            self._write(step)


class SampleGrid(_EveryStepsCallback):
    """Every `every_steps` G steps, at the start of a fresh model (step 0) and at the end of
    `fit`: the loop's sample grid (`callbacks.SampleWriter`: `num_images` images of a fixed z
    drawn from `seed`, from the EMA generator when there is one) as
    `model_dir/samples/step_XXXXXX.png` and the TensorBoard image `samples` in
    `model_dir/train`. `paths` lists the PNGs written."""

    def __init__(self, model_dir: str, every_steps: int = 500, num_images: int = 64,
                 seed: int = 1234, writer=None):
        super().__init__(model_dir, writer)
        if every_steps < 1 or num_images < 1:
            raise ValueError(f"SampleGrid: every_steps={every_steps} and num_images="
                             f"{num_images} must be >= 1.")
        self.every_steps, self.num_images, self.seed = every_steps, num_images, seed
        self.sampler: SampleWriter | None = None
        self.paths: list[str] = []
        self._written: int | None = None

    def _write(self, step: int) -> None:
        if self.chief and step != self._written:
            self.paths.append(self.sampler(step))
            self.writer.flush()
            self._written = step

    def on_train_begin(self, logs=None):
        step = self._begin()
        if self.sampler is None or self.sampler.model is not self.model:
            self.sampler = SampleWriter(self.model, self.model_dir, self.writer,
                                        self.num_images, self.seed)
        if step == 0:
            self._write(0)


class _NoData:
    """The `spec` of a HookCallback without `data`: a clear error for hooks that read images."""

    def __getattr__(self, name):
        raise SsganError("HookCallback(data=None): this hook reads the training images "
                         "(MetricsHook and LinearProbeHook do); pass them as "
                         "HookCallback(hook, model_dir, data=...): the arrays or Dataset given "
                         "to fit, a DatasetSpec or a train.dataset name.")

    def __call__(self, *args, **kwargs):
        return self.__getattr__("__call__")


class HookCallback(_StepCallback):
    """Training hooks (`callbacks.TrainHook`, the loop's `train.hooks`) during `fit`: each at
    the multiples of its `every` (G steps) and, as the loop does at its last step, every hook
    not yet run at the final step at the end of `fit`. Runs them with `callbacks.run_hooks`, so
    their scalars go to TensorBoard as `hooks/<name>` in `model_dir/train`; `results` holds
    the latest value of each (the loop's `summary.json["hooks"]`).

    `data`: the real images hooks compare with (MetricsHook, LinearProbeHook): anything
    `train(data=...)` takes (arrays, `(images, labels)`, a `tf.data.Dataset`, a
    `DatasetSpec`) or a `train.dataset` name; fitted to the generator's resolution. Hooks write
    their own files (curves) under `model_dir`; `print_fn` receives their log lines."""

    def __init__(self, hooks, model_dir: str, data=None, writer=None, print_fn=print):
        super().__init__(model_dir, writer)
        self.hooks = list(hooks) if isinstance(hooks, (list, tuple)) else [hooks]
        for hook in self.hooks:
            every = getattr(hook, "every", None)
            if not isinstance(every, int) or every < 0:
                raise ValueError(f"HookCallback: {type(hook).__name__} needs an integer "
                                 f"`every` >= 0 (G steps; 0 = only at the end), got {every!r}.")
        self.data, self.print_fn = data, print_fn
        self.spec = None
        self.context: HookContext | None = None
        self.results: dict[str, float] = {}
        self._ran: dict[int, int] = {}

    def _spec(self):
        if self.data is None:
            return _NoData()
        if self.spec is None:
            resolution = int(self.model.generator.image_shape[0])
            self.spec = (get_dataset(self.data, resolution=resolution)
                         if isinstance(self.data, str)
                         else data_spec(self.data, bool(self.model.num_classes), resolution))
        return self.spec

    def _run(self, hooks, step: int) -> None:
        self.results.update(run_hooks(hooks, step, self.context, force=True))
        for hook in hooks:
            self._ran[id(hook)] = step

    def on_train_begin(self, logs=None):
        self._begin()
        self.context = HookContext(self.model, self.model_dir, self.writer,
                                   self.model.distribute_strategy, self.chief, self._spec(),
                                   self.print_fn)

    def on_train_batch_end(self, batch, logs=None):
        step = self.model.current_step()
        due = [h for h in self.hooks if crossed(h.every, self.last_step, step)]
        if due:
            self._run(due, step)
        self.last_step = step

    def on_train_end(self, logs=None):
        step = self._end_step()
        if step is not None:
            due = [h for h in self.hooks if self._ran.get(id(h)) != step]
            if due:
                self._run(due, step)


class TrainScalars(_EveryStepsCallback):
    """Every `every_steps` G steps and at the end of `fit`: the logs of `train_step` (losses,
    accuracies, ADA's p) under the loop's TensorBoard tags (`callbacks.write_scalars`:
    `losses/`, `accuracy/`, `augment/`) in `model_dir/train`, each the mean over the batch ends
    since the previous write (the loop writes the mean of each chunk of steps)."""

    def __init__(self, model_dir: str, every_steps: int = 100, writer=None):
        super().__init__(model_dir, writer)
        if every_steps < 1:
            raise ValueError(f"TrainScalars: every_steps={every_steps} must be >= 1.")
        self.every_steps = every_steps
        self._sums: dict[str, float] = {}
        self._count = 0

    def _write(self, step: int) -> None:
        if self._count and self.chief:
            write_scalars(self.writer, step, {k: v / self._count for k, v in self._sums.items()})
        self._sums, self._count = {}, 0

    def on_train_begin(self, logs=None):
        self._begin()
        self._sums, self._count = {}, 0

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)):
                self._sums[key] = self._sums.get(key, 0.0) + float(value)
        self._count += 1
        super().on_train_batch_end(batch, logs)


__all__ = ["HookCallback", "SampleGrid", "TrainScalars"]
