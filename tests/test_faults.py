"""Faults lose nothing: bad config/data fail before writing, broken checkpoints fall back, NaN
never reaches a checkpoint, SIGTERM saves, kill -9 (even mid-save) resumes the same run."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ssgan_tf.training.trainer as train_module
from tests.test_train import checkpoint_values, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI_TINY = ["--gin_param=train.dataset = 'synthetic'", "--gin_param=train.resolution = 16",
            "--gin_param=train.batch_size = 8", "--gin_param=sndcgan.Generator.ch = 4",
            "--gin_param=sndcgan.Discriminator.ch = 4", "--gin_param=train.z_dim = 8",
            "--gin_param=RotationTask.rotated_batch_size = 8",
            "--gin_param=train.precision = 'float32'", "--gin_param=train.steps_per_loop = 1",
            "--gin_param=train.save_every = 2", "--gin_param=train.log_every = 1",
            "--gin_param=train.sample_every = 1000"]


def cli(model_dir, steps, env=None, wait=True):
    args = [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *CLI_TINY,
            f"--gin_param=train.num_steps = {steps}", "--seed=0", f"--model_dir={model_dir}"]
    environ = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    if not wait:
        return subprocess.Popen(args, cwd=REPO, env=environ, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(args, cwd=REPO, env=environ, capture_output=True, text=True,
                          timeout=300)


def snapshot(directory):
    return {p: os.path.getmtime(os.path.join(r, p)) for r, _, files in os.walk(directory)
            for p in files}


def test_other_model_in_model_dir_is_refused_and_untouched(tmp_path):
    run(tmp_path, 2)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="holds a different model.*architecture"):
        run(tmp_path, 4, extra=["train.architecture = 'resnet_cifar'",
                                "resnet_cifar.Generator.ch = 8",
                                "resnet_cifar.Discriminator.ch = 8"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("binding,message", [
    ("train.dataset = 'imagenet3'", "Unknown dataset 'imagenet3'"),
    ("train.resolution = 20", "sndcgan: resolution 20 is not supported"),
    ("GAN.disc_iter = 2", "disc_iter"),
])
def test_bad_config_fails_before_writing(tmp_path, binding, message):
    with pytest.raises(ValueError, match=message):
        run(tmp_path / "run", 2, extra=[binding])
    assert not (tmp_path / "run").exists()


def test_bad_data_is_a_clear_error(tmp_path):
    floats = tmp_path / "floats.npz"
    np.savez(floats, x_train=np.random.rand(10, 16, 16, 3) * 255)  # float in [0, 1] is fine
    with pytest.raises(ValueError, match="must be uint8 \\(0-255\\) or float in \\[0, 1\\]"):
        run(tmp_path / "a", 2, extra=[f"train.dataset = 'npz:{floats}'"])
    empty = tmp_path / "empty.npz"
    np.savez(empty, x_train=np.zeros([0, 16, 16, 3], np.uint8))
    with pytest.raises(ValueError, match="no training examples"):
        run(tmp_path / "b", 2, extra=[f"train.dataset = 'npz:{empty}'"])
    with pytest.raises(ValueError, match="Cannot read dataset file"):
        run(tmp_path / "c", 2, extra=[f"train.dataset = 'npz:{tmp_path / 'missing.npz'}'"])


def test_corrupted_latest_checkpoint_falls_back_with_a_warning(tmp_path):
    run(tmp_path, 4)  # checkpoints at 2 and 4
    data = next(p for p in os.listdir(tmp_path / "checkpoints")
                if p.startswith("ckpt-4.data"))
    with open(tmp_path / "checkpoints" / data, "r+b") as f:
        f.truncate(100)
    summary, lines = run(tmp_path, 6)
    assert any("ckpt-4 is unreadable" in line and "falling back" in line for line in lines)
    assert any("at step 2" in line for line in lines if line.startswith("Resumed"))
    assert summary["step"] == 6 and summary["steps_this_run"] == 4


def poison_after(calls: int, monkeypatch):
    """Make the `calls`-th chunk of training start from a NaN discriminator weight."""
    made = train_module.make_train_loop
    counter = {"n": 0}

    def make(model, strategy, **kwargs):
        run_steps = made(model, strategy, **kwargs)

        def poisoned(iterator, n):
            counter["n"] += 1
            if counter["n"] == calls:
                var = model.discriminator.trainable_variables[0]
                var.assign(np.full(var.shape, np.nan, np.float32))
            return run_steps(iterator, n)

        return poisoned

    monkeypatch.setattr(train_module, "make_train_loop", make)


def test_nan_stops_without_touching_the_last_good_checkpoint(tmp_path, monkeypatch):
    poison_after(2, monkeypatch)  # chunks of 2 steps: checkpoint 2 is good, chunk 2 is NaN
    with pytest.raises(FloatingPointError, match="Non-finite loss by step 4.*ckpt-2"):
        run(tmp_path, 6)
    assert open(tmp_path / "checkpoints" / "checkpoint").read().count("ckpt-2") >= 1
    assert not any(p.startswith("ckpt-4") for p in os.listdir(tmp_path / "checkpoints"))
    assert all(np.all(np.isfinite(v)) for v in checkpoint_values(tmp_path).values())


def test_nan_restore_policy_recovers(tmp_path, monkeypatch):
    poison_after(2, monkeypatch)
    summary, lines = run(tmp_path, 6, extra=["train.nan_policy = 'restore'"])
    assert any(line.startswith("WARNING: non-finite loss") for line in lines)
    assert summary["step"] == 6 and np.isfinite(summary["d_loss"])
    assert all(np.all(np.isfinite(v)) for v in checkpoint_values(tmp_path).values())


@pytest.mark.slow  # subprocess training + kill + resume: ~30 s
def test_kill_during_checkpoint_write_then_resume_matches_uninterrupted(tmp_path):
    straight = cli(tmp_path / "straight", 6)
    assert straight.returncode == 0, straight.stdout + straight.stderr
    killed = cli(tmp_path / "killed", 6, env={"SSGAN_TF_FAULT": "kill_during_save:4"})
    assert killed.returncode == -signal.SIGKILL
    files = os.listdir(tmp_path / "killed" / "checkpoints")
    assert any(f.startswith("ckpt-4.data") for f in files)  # written but never committed
    assert "ckpt-2" in open(tmp_path / "killed" / "checkpoints" / "checkpoint").read()
    resumed = cli(tmp_path / "killed", 6)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "at step 2" in resumed.stdout
    expected, actual = checkpoint_values(tmp_path / "straight"), checkpoint_values(
        tmp_path / "killed")
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    proc = cli(tmp_path, 10_000, wait=False)
    deadline = time.time() + 240
    for line in proc.stdout:
        if line.startswith("step 3/"):
            proc.send_signal(signal.SIGTERM)
            break
        assert time.time() < deadline
    out = proc.communicate(timeout=240)[0]
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "stopped by signal 15" in out and "Re-run the same command" in out
    stopped_at = int(out.split("stopped by signal 15 at step ")[1].split(";")[0])
    latest = open(tmp_path / "checkpoints" / "checkpoint").read().splitlines()[0]
    assert latest.endswith(f'ckpt-{stopped_at}"')


@pytest.mark.slow  # two runs; the fast suite already covers SIGTERM from outside
def test_sigterm_at_a_step_saves_that_step_and_resume_continues(tmp_path, monkeypatch):
    # In-process and deterministic: the fault hook signals right after the chunk ending at 3.
    monkeypatch.setenv("SSGAN_TF_FAULT", "sigterm_at:3")
    chunks = ["train.steps_per_loop = 1", "train.log_every = 1", "train.save_every = 100"]
    summary, lines = run(tmp_path, 6, extra=chunks)
    assert summary["stopped_by_signal"] == signal.SIGTERM and summary["step"] == 3
    assert any(line.startswith("stopped by signal 15 at step 3;") for line in lines)
    latest = open(tmp_path / "checkpoints" / "checkpoint").read().splitlines()[0]
    assert latest.endswith('ckpt-3"')  # not a periodic save step: the signal's save
    monkeypatch.delenv("SSGAN_TF_FAULT")
    summary, lines = run(tmp_path, 6, extra=chunks)
    assert any("at step 3." in line for line in lines if line.startswith("Resumed"))
    assert summary["step"] == 6 and summary["steps_this_run"] == 3
    assert summary["stopped_by_signal"] == 0


def test_enabling_a_trick_on_resume_starts_its_state_from_the_networks(tmp_path):
    run(tmp_path, 2)
    summary, lines = run(tmp_path, 4, extra=["GAN.g_ema_decay = 0.999"])
    assert any("has no state for the training tricks" in line for line in lines)
    assert not any("unreadable" in line for line in lines)
    assert summary["step"] == 4


@pytest.mark.slow  # subprocess training + kill + resume: ~30 s
def test_kill_mid_training_then_resume_matches_uninterrupted(tmp_path):
    straight = cli(tmp_path / "straight", 8)
    assert straight.returncode == 0, straight.stdout + straight.stderr
    proc = cli(tmp_path / "killed", 8, wait=False)
    for line in proc.stdout:
        if line.startswith("step 5/"):  # checkpoints at 2 and 4 exist; step 5 is in flight
            proc.send_signal(signal.SIGKILL)
            break
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    resumed = cli(tmp_path / "killed", 8)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "at step 4" in resumed.stdout
    expected, actual = checkpoint_values(tmp_path / "straight"), checkpoint_values(
        tmp_path / "killed")
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
