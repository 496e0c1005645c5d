"""Checkpoints of a GAN: every variable of G and D by its Keras path, plus both optimizers.

`tf.train.Checkpoint(generator=keras_model)` is not enough with Keras 3: layers kept in Python
lists are not reachable through the TF object graph, so their non-trainable state (batch-norm
moving statistics, spectral-norm `u`) would silently be dropped. We save an explicit map
{variable path: variable} instead.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ssgan_tf.common.variables import variables_by_key

CHECKPOINT_SUBDIR = "checkpoints"


class VariableMap(tf.Module):
    """A trackable {name: variable} map of a Keras model's weights, keyed by their paths inside
    the model (`common.variables.variable_key`: without the model's own name, so a renamed model
    still restores)."""

    def __init__(self, model):
        super().__init__(name=None)
        self.variables_by_path = variables_by_key(model.weights, model.name)


def make_checkpoint(model, with_optimizers: bool = True,
                    with_extras: bool = True) -> tf.train.Checkpoint:
    """G, D, (both optimizers) and (`with_extras`) the state of the enabled training tricks: the
    EMA generator (`ema_generator`), the checkpoint-swapping snapshot, the replay buffer and the
    historical averages (`GAN.checkpoint_extras()`, keyed like the networks; call after
    `build_all`). A checkpoint written before a trick was enabled lacks its state: restore it with
    `with_extras=False`, then `model.reset_trick_state()`."""
    parts = {"generator": VariableMap(model.generator),
             "discriminator": VariableMap(model.discriminator)}
    if with_optimizers:
        parts.update(g_optimizer=model.g_optimizer, d_optimizer=model.d_optimizer)
    extras = getattr(model, "checkpoint_extras", None)
    if with_extras and extras is not None:
        parts.update(extras())
    return tf.train.Checkpoint(**parts)


def checkpoint_dir(model_dir: str) -> str:
    return os.path.join(model_dir, CHECKPOINT_SUBDIR)


def latest_checkpoint(model_dir: str) -> str | None:
    return tf.train.latest_checkpoint(checkpoint_dir(model_dir))


def restore_with_fallback(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager,
                          print_fn=print, base_checkpoint: tf.train.Checkpoint | None = None,
                          reset_extras=None) -> str | None:
    """Restores the newest checkpoint that reads back whole; returns its path (None: none).

    `base_checkpoint` (networks + optimizers only) covers a checkpoint written before a training
    trick was turned on: it restores what is there and `reset_extras()` starts the trick state
    (EMA, replay buffer, ...) from the restored networks.
    """
    candidates = list(reversed(manager.checkpoints))
    for i, path in enumerate(candidates):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as e:  # noqa: BLE001 - a broken file raises OpError, IndexError, ...
            error = e
        if base_checkpoint is not None:
            try:
                base_checkpoint.restore(path).assert_existing_objects_matched()
            except Exception:  # noqa: BLE001
                pass
            else:
                print_fn(f"WARNING: {path} has no state for the training tricks enabled now "
                         "(EMA, replay, swapping, historical averaging); starting them from the "
                         "restored networks.")
                if reset_extras is not None:
                    reset_extras()
                return path
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        print_fn(f"WARNING: checkpoint {path} is unreadable ({type(error).__name__}: {reason}); "
                 + ("falling back to the previous one." if i + 1 < len(candidates)
                    else "no older checkpoint is left."))
    if candidates:
        raise ValueError(f"No readable checkpoint in {manager.directory} (tried "
                         f"{len(candidates)}). Move the directory aside to start over.")
    return None
