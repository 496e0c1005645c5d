"""Mixed precision: bf16 trains, float16 uses dynamic loss scaling (and checkpoints it)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.training import precision as precision_lib
from tests.helpers.training import checkpoint_values, run


def test_float16_training_uses_loss_scaling_and_resumes(tmp_path):
    summary, _ = run(tmp_path, 2, extra=["train.precision = 'mixed_float16'"])
    assert summary["precision"] == "mixed_float16"
    assert all(np.isfinite(summary[k]) for k in ("d_loss", "g_loss"))
    values = checkpoint_values(tmp_path)
    scales = [k for k in values if "dynamic_scale" in k]
    assert len(scales) == 2  # one per optimizer, saved with the run
    assert all(0 < float(values[k]) <= 2.0 ** 15 for k in scales)
    again, lines = run(tmp_path, 4, extra=["train.precision = 'mixed_float16'"])
    assert again["step"] == 4 and any("Resumed from" in line for line in lines)


def test_float16_skips_a_step_with_non_finite_gradients():
    """LossScaleOptimizer: an overflowing update is skipped (step unchanged) and the scale halves."""
    import keras

    from tests.helpers import random_images, tiny_gan

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_gan()
        scale = float(model.d_optimizer.dynamic_scale.numpy())
        variables = model.discriminator.trainable_variables
        before = [v.numpy().copy() for v in variables]
        model.d_optimizer.apply_gradients(
            [(tf.fill(v.shape, float("inf")), v) for v in variables])
        assert float(model.d_optimizer.dynamic_scale.numpy()) == scale / 2
        assert int(model.d_optimizer.iterations.numpy()) == 0
        for b, v in zip(before, variables):
            np.testing.assert_array_equal(b, v.numpy())
        logs = model.train_step({"images": random_images(8)})
        assert all(np.isfinite(float(v)) for v in logs.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_bfloat16_run_learns_the_rotation_task(tmp_path):
    """A toy problem in bf16 (digits, rotation-only, every image rotated): losses stay finite and D's
    rotation accuracy on reals rises from chance (0.25) well above it."""
    summary, lines = run(tmp_path, 60, extra=["train.precision = 'mixed_bfloat16'",
                                              "RotationTask.mode = 'rotation_only'",
                                              "train.dataset = 'digits'",
                                              "train.resolution = 32",
                                              "RotationTask.rotated_batch_size = 32",
                                              "train.steps_per_loop = 10",
                                              "train.log_every = 10", "GAN.disc_iters = 1",
                                              "train.sample_every = 100",
                                              "train.save_every = 100"])
    assert summary["precision"] == "mixed_bfloat16"
    accuracies = [float(line.split("rot_acc real ")[1].split()[0]) for line in lines
                  if line.startswith("step ")]
    assert np.isfinite(summary["d_loss"]) and np.isfinite(summary["g_loss"])
    assert accuracies[0] < 0.4 and max(accuracies[-2:]) >= 0.6, accuracies


@pytest.mark.parametrize("native_bf16, expected_auto, warns", [(True, "mixed_bfloat16", False),
                                                               (False, "float32", True)])
def test_auto_precision_and_the_slow_bf16_warning(monkeypatch, native_bf16, expected_auto, warns):
    """`auto` picks bf16 only where the CPU has native bf16; forcing bf16 elsewhere warns."""
    monkeypatch.setattr(precision_lib, "cpu_supports_bf16", lambda: native_bf16)
    monkeypatch.setattr(precision_lib.tf.config, "list_physical_devices", lambda kind=None: [])
    messages = []
    monkeypatch.setattr(precision_lib.logging, "warning", lambda msg, *a: messages.append(msg))
    try:
        assert precision_lib.set_precision("auto") == expected_auto
        assert messages == []
        assert precision_lib.set_precision("mixed_bfloat16") == "mixed_bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        assert bool(messages) == warns
        if warns:
            assert "float32" in messages[0] and "AVX-512" in messages[0]
    finally:
        keras.mixed_precision.set_global_policy("float32")
