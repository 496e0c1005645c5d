"""The training loop: artifacts in model_dir, and resume continuing the same run."""

import json
import os

import gin
import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.training.trainer import train
from tests.helpers.training import TINY, checkpoint_values, run


def test_training_writes_everything_a_user_looks_at(tmp_path):
    summary, lines = run(tmp_path, 4)
    assert summary["step"] == 4 and summary["img_per_s"] > 0
    for name in ("samples/step_000000.png", "samples/step_000002.png", "samples/step_000004.png",
                 "checkpoints/checkpoint", "operative_config.gin", "config.gin",
                 "summary.json"):
        assert (tmp_path / name).exists(), name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "train"))
    assert "RotationTask.rotated_batch_size = 16" in (tmp_path / "operative_config.gin").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 4
    progress = [line for line in lines if line.startswith("step ")]
    # The first line comes after the first step (not at log_every) and gives its trace time
    # apart; the next ones give the steady rate.
    assert progress[0].startswith("step 1/4 | d_loss") and "first step" in progress[0]
    assert "img/s" not in progress[0] and summary["first_step_s"] > 0
    assert [line.split(" |")[0] for line in progress] == ["step 1/4", "step 2/4", "step 4/4"]
    assert all("img/s" in line and "rot " in line for line in progress[1:])
    assert lines[-1].startswith("done: step 4")
    png = tf.io.decode_png(tf.io.read_file(str(tmp_path / "samples/step_000004.png")))
    assert png.shape[0] > 16 * 7 and png.shape[-1] == 3
    # Loss curves: GAN and rotation parts are separate TensorBoard tags.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tmp_path / "train"))
    events.Reload()
    tags = events.Tags()["tensors"]
    assert {"losses/d_loss_real", "losses/d_rotation_loss", "losses/g_rotation_loss",
            "accuracy/d_rotation_accuracy"} <= set(tags)


def test_resume_continues_the_same_run(tmp_path):
    straight, _ = run(tmp_path / "straight", 6)
    run(tmp_path / "resumed", 2)
    again, lines = run(tmp_path / "resumed", 6)
    assert any("Resumed from" in line and "at step 2" in line for line in lines)
    assert again["steps_this_run"] == 4 and again["step"] == 6
    expected = checkpoint_values(tmp_path / "straight")
    actual = checkpoint_values(tmp_path / "resumed")
    assert expected.keys() == actual.keys() and len(expected) > 10
    # Non-trainable state is saved too (BN moving statistics, spectral-norm u), and the
    # trainable weights (under the optimizers' paths) are part of the comparison.
    assert any("moving_mean" in k for k in expected) and any("sn_u" in k for k in expected)
    assert any("_trainable_variables" in k for k in expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(again[key], straight[key], rtol=1e-4)


def test_finished_run_does_nothing_more(tmp_path):
    run(tmp_path, 2)
    summary, lines = run(tmp_path, 2)
    assert summary["steps_this_run"] == 0 and summary["step"] == 2


class _RecordingHook:
    """A hook that records when it ran and returns the step (what the loop must log)."""

    def __init__(self, every):
        self.every = every
        self.calls = []

    def __call__(self, step, context):
        assert context.model.current_step() == step and context.chief
        self.calls.append(step)
        return {"recorded_step": float(step)}


def test_hooks_run_every_k_steps_and_at_the_end(tmp_path):
    gin.clear_config()
    keras.backend.clear_session(free_memory=False)
    parse_gin([], TINY + ["train.num_steps = 7", "train.steps_per_loop = 5",
                             "train.log_every = 100", "train.sample_every = 100",
                             "train.save_every = 100"])
    hook = _RecordingHook(every=3)
    summary = train(str(tmp_path), hooks=[hook], print_fn=lambda _: None)
    assert hook.calls == [3, 6, 7]  # the loop stops at hook boundaries, and runs all at the end
    assert summary["hooks"] == {"recorded_step": 7.0}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tmp_path / "train"))
    events.Reload()
    assert [e.step for e in events.Tensors("hooks/recorded_step")] == [3, 6, 7]
