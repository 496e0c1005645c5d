"""Checkpoints of a GAN: every variable of G and D by its Keras path, plus both optimizers.

`tf.train.Checkpoint(generator=keras_model)` is not enough with Keras 3: layers kept in Python
lists are not reachable through the TF object graph, so their non-trainable state (batch-norm
moving statistics, spectral-norm `u`) would silently be dropped. We save an explicit map
{variable path: variable} instead.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.common.variables import variables_by_key
from ssgan_tf.runs.checkpoint_files import restore_candidates, saved_shapes

CHECKPOINT_SUBDIR = "checkpoints"


class VariableMap(tf.Module):
    """A trackable {name: variable} map of a Keras model's weights, keyed by their paths inside
    the model (`common.variables.variable_key`: without the model's own name, so a renamed model
    still restores)."""

    def __init__(self, model):
        super().__init__(name=None)
        self.variables_by_path = variables_by_key(model.weights, model.name)


def checkpoint_parts(model, with_optimizers: bool = True, with_extras: bool = True) -> dict:
    """The named parts of a GAN's checkpoint: G, D, (both optimizers) and (`with_extras`) the
    state of the enabled training tricks: the EMA generator (`ema_generator`), the
    checkpoint-swapping snapshot, the replay buffer, the historical averages and ADA's
    augmentation probability (`GAN.checkpoint_extras()`, keyed like the networks; call after
    `build_all`)."""
    parts = {"generator": VariableMap(model.generator),
             "discriminator": VariableMap(model.discriminator)}
    if with_optimizers:
        parts.update(g_optimizer=model.g_optimizer, d_optimizer=model.d_optimizer)
    extras = getattr(model, "checkpoint_extras", None)
    if with_extras and extras is not None:
        parts.update(extras())
    return parts


def make_checkpoint(model, with_optimizers: bool = True,
                    with_extras: bool = True) -> tf.train.Checkpoint:
    """A `tf.train.Checkpoint` of `checkpoint_parts`. A checkpoint written before a trick was
    enabled lacks its state: restore it with `with_extras=False`, then
    `model.reset_trick_state()`."""
    return tf.train.Checkpoint(**checkpoint_parts(model, with_optimizers, with_extras))


def checkpoint_dir(model_dir: str) -> str:
    return os.path.join(model_dir, CHECKPOINT_SUBDIR)


def latest_checkpoint(model_dir: str) -> str | None:
    """The newest committed checkpoint (see `restore_candidates`; None: none). It may still be
    unreadable: `restore_with_fallback` is what finds the newest readable one."""
    found = restore_candidates(checkpoint_dir(model_dir), print_fn=lambda _: None)
    return found[0] if found else None


def shape_differences(path: str, checkpoint: tf.train.Checkpoint) -> list[str]:
    """"discriminator/conv1/kernel: [3, 3, 3, 8] in the checkpoint, [3, 3, 3, 16] now" for each
    network variable whose shape differs ([] when they match or `path` cannot be read)."""
    networks = {name: getattr(checkpoint, name) for name in ("generator", "discriminator")
                if isinstance(getattr(checkpoint, name, None), VariableMap)}
    try:
        saved = saved_shapes(path, networks)
    except Exception:  # noqa: BLE001 - an unreadable file: not a shape question
        return []
    differences = []
    for part, variables in networks.items():
        for key, variable in variables.variables_by_path.items():
            name = f"{part}/{key.replace('.', '/')}"
            now = list(variable.shape)
            if name in saved and saved[name] != now:
                differences.append(f"{name}: {saved[name]} in the checkpoint, {now} now")
    return differences


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""


def _restore(checkpoint: tf.train.Checkpoint, path: str) -> None:
    # expect_partial: the file may hold more than `checkpoint` (the trainer's own state).
    checkpoint.restore(path).expect_partial().assert_existing_objects_matched()


def restore_with_fallback(checkpoint: tf.train.Checkpoint, directory: str, print_fn=print,
                          base_checkpoint: tf.train.Checkpoint | None = None,
                          reset_extras=None) -> str | None:
    """Restores the newest checkpoint in `directory` that reads back whole; returns its path
    (None: there is none). Candidates are the `ckpt-N` files on disk, newest step first, not
    only those a (possibly corrupted) state file lists; each unreadable one is reported and
    the next older one tried.

    `base_checkpoint` (networks + optimizers only) covers a checkpoint written before a training
    trick was turned on: it restores what is there and `reset_extras()` starts the trick state
    (EMA, replay buffer, ...) from the restored networks. A checkpoint of networks of other
    shapes raises `SsganError` naming the variables that differ.
    """
    candidates = restore_candidates(directory, print_fn)
    for i, path in enumerate(candidates):
        try:
            _restore(checkpoint, path)
            return path
        except Exception as e:  # noqa: BLE001 - a broken file raises OpError, IndexError, ...
            error = e
        differences = shape_differences(path, checkpoint)
        if differences:
            shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more"
                                                  if len(differences) > 3 else "")
            raise SsganError(
                f"{path} holds networks of other shapes than the configured ones ({shown}). "
                "Use the bindings that trained it (e.g. the same <arch>.Generator.ch / "
                "<arch>.Discriminator.ch) to resume, or a new --model_dir. Nothing was written.")
        if base_checkpoint is not None and _restores(base_checkpoint, path):
            print_fn(f"WARNING: {path} has no state for the training tricks enabled now "
                     "(EMA, replay, swapping, historical averaging, ADA's p); starting them "
                     "from the restored networks (ADA's p from 0).")
            if reset_extras is not None:
                reset_extras()
            return path
        print_fn(f"WARNING: checkpoint {path} is unreadable ({type(error).__name__}: "
                 f"{_first_line(error)}); "
                 + ("falling back to the previous one." if i + 1 < len(candidates)
                    else "no older checkpoint is left."))
    if candidates:
        raise SsganError(f"No readable checkpoint in {directory} (tried {len(candidates)}). "
                         "Move the directory aside to start over.")
    return None


def _restores(checkpoint: tf.train.Checkpoint, path: str) -> bool:
    try:
        _restore(checkpoint, path)
    except Exception:  # noqa: BLE001
        return False
    return True
