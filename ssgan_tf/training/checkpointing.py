"""The checkpoints of one training run: restore the newest readable one, save each step once and
only finite weights, and keep the z seed that non-finite recovery changes.

A checkpoint holds the networks, both optimizers, the trick state (`runs.checkpoint_parts`) and
`z_seed_offset`: `train.nan_policy='restore'` draws other z after a non-finite loss (seed +
1,000,003 per retry), and a later resume must draw the same z as the run it continues.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ssgan_tf import runs
from ssgan_tf.runs.checkpoint_files import remove_temp_dirs, repair_state
from ssgan_tf.training import faults

SEED_STRIDE = 1_000_003  # z seed step per non-finite retry (far from any seed a user picks)


class RunCheckpoints:
    """Restore / save for a `model` trained in `model_dir`. `write_dir` is where this process
    saves: the model_dir on the chief, a scratch directory on other workers (saving may need
    collectives, so every worker saves; only the chief's copy is kept)."""

    def __init__(self, model, model_dir: str, write_dir: str, keep: int, seed: int,
                 chief: bool, print_fn=print):
        self.model, self.model_dir, self.chief, self.print_fn = model, model_dir, chief, print_fn
        self.write_dir, self.keep, self.seed = write_dir, keep, seed
        self.seed_offset = tf.Variable(0, dtype=tf.int64, trainable=False, name="z_seed_offset")
        self.networks = runs.make_checkpoint(model)
        self.saved = tf.train.Checkpoint(**runs.checkpoint_parts(model),
                                         z_seed_offset=self.seed_offset)
        self.manager: tf.train.CheckpointManager | None = None
        self.last_saved_step: int | None = None
        self.last_good: str | None = None

    def restore(self) -> str | None:
        """Restores the newest readable checkpoint of model_dir (None: starts fresh), then opens
        the manager this process saves with."""
        directory = runs.checkpoint_dir(self.model_dir)
        restored = runs.restore_with_fallback(
            self.networks, directory, self.print_fn,
            base_checkpoint=runs.make_checkpoint(self.model, with_extras=False),
            reset_extras=getattr(self.model, "reset_trick_state", None))
        if restored:
            # Absent from checkpoints written before it existed: the offset stays 0 then.
            tf.train.Checkpoint(z_seed_offset=self.seed_offset).restore(restored).expect_partial()
            self.last_saved_step, self.last_good = self.model.current_step(), restored
            if self.chief and repair_state(directory, restored):
                self.print_fn(f"Rewrote {directory}/checkpoint to name {os.path.basename(restored)}"
                              " as the latest checkpoint.")
        self._apply_seed()
        self.manager = tf.train.CheckpointManager(
            self.saved, runs.checkpoint_dir(self.write_dir), max_to_keep=self.keep)
        self._remove_temp_dirs()
        return restored

    def save(self, step: int) -> None:
        """Saves `step` unless it is already saved; refuses non-finite weights (the last good
        checkpoint stays the latest); removes what a killed save left behind."""
        if step == self.last_saved_step:
            return
        model = self.model
        if not faults.all_finite(model.generator.weights + model.discriminator.weights
                                 + model.inference_generator().weights):
            raise FloatingPointError(
                f"Weights became non-finite by step {step}; not saving. The last good "
                f"checkpoint ({self.last_good}) is untouched.")
        self._remove_temp_dirs()
        self.last_good = faults.save_checkpoint(self.manager, self.saved, step)
        self.last_saved_step = step

    def restore_last_good(self) -> int:
        """Reloads the last good checkpoint for another try with other z (`nan_policy=
        'restore'`); returns its step. The offset counts every retry of this process."""
        self.networks.restore(self.last_good).expect_partial().assert_existing_objects_matched()
        self.seed_offset.assign_add(1)
        self._apply_seed()
        return self.model.current_step()

    def _remove_temp_dirs(self) -> None:
        """`ckpt-N_temp*` of a save that was killed halfway: this process holds the model_dir
        (lock.RunLock), so no save of another is in flight there."""
        for name in remove_temp_dirs(self.manager.directory):
            self.print_fn(f"Removed {name}, left by a save that was interrupted.")

    def _apply_seed(self) -> None:
        self.model.seed = self.seed + SEED_STRIDE * int(self.seed_offset.numpy())
