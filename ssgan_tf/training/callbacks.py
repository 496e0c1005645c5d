"""What the training loop does between chunks of steps: logs, TensorBoard, sample grids,
checkpoints. Each hook is called on the host with the mean metrics of the last chunk."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Protocol

import tensorflow as tf

from ssgan_tf.common.files import image_grid, save_png
from ssgan_tf.gans.sampling import fixed_z, grid_labels


class SampleWriter:
    """Renders a fixed batch of z (the same every time, so grids are comparable) as PNG grids in
    `model_dir/samples/step_XXXXXX.png` and as a TensorBoard image."""

    def __init__(self, model, model_dir: str, writer, num_images: int = 64, seed: int = 1234):
        self.model = model
        self.directory = os.path.join(model_dir, "samples")
        self.writer = writer
        self.z = fixed_z(num_images, model.z_dim, model.z_distribution, seed)
        self.labels = grid_labels(num_images, model.num_classes)

    def __call__(self, step: int) -> str:
        images = self.model.inference_generator()(self.z, self.labels, training=False).numpy()
        grid = image_grid(images)
        path = os.path.join(self.directory, f"step_{step:06d}.png")
        save_png(grid, path)
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=step)
        return path


def loss_parts(logs: dict) -> list[str]:
    """The losses of a log line: D and G (GAN and rotation parts), class head, rotation
    accuracy, ADA's augmentation probability."""
    parts = [f"d_loss {logs['d_loss']:.3f} (real {logs['d_loss_real']:.3f} "
             f"fake {logs['d_loss_fake']:.3f}"
             + (f" rot {logs['d_rotation_loss']:.3f})" if "d_rotation_loss" in logs else ")"),
             f"g_loss {logs['g_loss']:.3f} (gan {logs['g_loss_gan']:.3f}"
             + (f" rot {logs['g_rotation_loss']:.3f})" if "g_rotation_loss" in logs else ")")]
    if "d_class_loss" in logs:
        parts.append(f"class {logs['d_class_loss']:.3f} acc {logs['d_class_accuracy']:.2f}")
    if "d_rotation_accuracy" in logs:
        parts.append(f"rot_acc real {logs['d_rotation_accuracy']:.2f} "
                     f"fake {logs['g_rotation_accuracy']:.2f}")
    if "augment_p" in logs:  # ADA (GAN.augment with Augment.adaptive)
        parts.append(f"augment p {logs['augment_p']:.3f} r_t {logs['augment_rt']:.2f}")
    return parts


class ProgressLogger:
    """One line per interval: step, losses, img/s and ETA since the previous line.

    The first line of a run comes right after its first step and gives the time that step took
    (mostly tracing and compiling it), so the rate of the following lines is the steady one."""

    def __init__(self, num_steps: int, images_per_step: int, print_fn=print):
        self.num_steps = num_steps
        self.images_per_step = images_per_step
        self.print_fn = print_fn
        self.last_step, self.last_time = 0, time.time()

    def start(self, step: int) -> None:
        self.last_step, self.last_time = step, time.time()

    def first(self, step: int, logs: dict) -> float:
        """The line after the first chunk; returns its seconds."""
        now = time.time()
        seconds = now - self.last_time
        self.print_fn(" | ".join([f"step {step}/{self.num_steps}", *loss_parts(logs),
                                  f"first step {seconds:.1f} s (tracing and compiling the step;"
                                  " the next lines give the steady rate)"]))
        self.last_step, self.last_time = step, now
        return seconds

    def __call__(self, step: int, logs: dict) -> float:
        """The line of a log step; returns img/s since the previous line."""
        now = time.time()
        rate = (step - self.last_step) * self.images_per_step / max(now - self.last_time, 1e-9)
        self.last_step, self.last_time = step, now
        eta = (self.num_steps - step) * self.images_per_step / max(rate, 1e-9)
        self.print_fn(" | ".join([f"step {step}/{self.num_steps}", *loss_parts(logs),
                                  f"{rate:.1f} img/s", f"eta {eta / 60:.1f} min"]))
        return rate


def write_scalars(writer, step: int, logs: dict, prefix: str = "") -> None:
    """Each metric under `losses/`, `accuracy/` (or `augment/`, `perf/`) so GAN and rotation
    parts are separate plots."""
    with writer.as_default():
        for key, value in logs.items():
            group = ("accuracy" if "accuracy" in key else "perf" if "img_per_s" in key
                     else "augment" if key.startswith("augment_") else "losses")
            tf.summary.scalar(f"{prefix}{group}/{key}", value, step=step)
    writer.flush()


# ------------------------------------------------------------------------- periodic hooks
@dataclasses.dataclass
class HookContext:
    """What a training hook may use: the live model, where to write, and the strategy.

    Hooks run on every worker (they may need collectives); only the chief's `writer` is real
    and only the chief should write files (`chief`)."""
    model: Any
    model_dir: str
    writer: Any
    strategy: Any
    chief: bool
    spec: Any
    print_fn: Callable[[str], None] = print


class TrainHook(Protocol):
    """A periodic evaluation run by `train()` (gin: `train.hooks = [@SomeHook()]`).

    `every` is in G steps; the loop stops at multiples of it. `__call__` returns scalars, which
    the loop writes to TensorBoard under `hooks/` and into `summary.json`'s `hooks`."""
    every: int

    def __call__(self, step: int, context: HookContext) -> dict[str, float] | None: ...


def run_hooks(hooks, step: int, context: HookContext, force: bool = False) -> dict[str, float]:
    """Calls each hook due at `step` (or all of them when `force`); returns their scalars."""
    results: dict[str, float] = {}
    for hook in hooks:
        if force or (hook.every and step % hook.every == 0):
            results.update(hook(step, context) or {})
    if results and context.chief:
        with context.writer.as_default():
            for key, value in results.items():
                tf.summary.scalar(f"hooks/{key}", value, step=step)
        context.writer.flush()
    return results
