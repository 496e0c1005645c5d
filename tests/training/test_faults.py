"""Fault injection: a failed or abused run loses nothing. Bad config / data / model_dirs fail
before writing with one `error:` paragraph; broken checkpoints and state files fall back to the
newest readable checkpoint and are replaced; NaN never reaches a checkpoint and its retry z is
checkpointed; one training per model_dir; SIGTERM saves; kill -9 (even mid-save) resumes the same
run; a full disk is a clear message. docs/faults.md names each test here."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

import ssgan_tf.training.trainer as train_module
from ssgan_tf import train as train_cli
from ssgan_tf.common.errors import SsganError
from ssgan_tf.runs import load_gan
from ssgan_tf.training import faults
from ssgan_tf.training.lock import ModelDirLocked
from tests.helpers.training import REPO, checkpoint_values, cli, run, snapshot


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 4-step run (checkpoints 2 and 4); tests break copies of it."""
    path = tmp_path_factory.mktemp("finished") / "run"
    run(path, 4)
    return path


@pytest.fixture
def copy(finished, tmp_path):
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


def ckpt(model_dir, step):
    return str(model_dir / "checkpoints" / f"ckpt-{step}")


def truncate_data(model_dir, step):
    data = next(p for p in os.listdir(model_dir / "checkpoints")
                if p.startswith(f"ckpt-{step}.data"))
    with open(model_dir / "checkpoints" / data, "r+b") as f:
        f.truncate(100)


# ------------------------------------------------------------------ bad input, nothing written
def test_other_model_in_model_dir_is_refused_and_untouched(copy):
    before = snapshot(copy)
    with pytest.raises(ValueError, match="holds a different model.*architecture"):
        run(copy, 6, extra=["train.architecture = 'resnet_cifar'",
                            "resnet_cifar.Generator.ch = 8", "resnet_cifar.Discriminator.ch = 8"])
    assert snapshot(copy) == before


def test_other_discriminator_width_says_what_differs_and_writes_nothing(copy):
    before = snapshot(copy)
    with pytest.raises(SsganError, match=r"discriminator/conv0/kernel: \[3, 3, 3, 8\] in the "
                                         r"checkpoint, \[3, 3, 3, 16\] now.*Nothing was written"):
        run(copy, 6, extra=["sndcgan.Discriminator.ch = 16"])
    assert snapshot(copy) == before


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


def cli_in_process(capsys, *args):
    """`python -m ssgan_tf.train ARGS` in this process: (exit code, stderr)."""
    gin.clear_config()
    code = train_cli.main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("param,message", [
    ("train.batch_size = 'x'", "error: train.batch_size='x': expected a positive integer.\n"),
    ("train.num_steps = 3.5", "error: train.num_steps=3.5: expected a positive integer.\n"),
    ("train.num_steps = 0", "error: train.num_steps=0: expected a positive integer.\n"),
    ("train.num_steps = -3", "error: train.num_steps=-3: expected a positive integer.\n"),
])
def test_wrong_train_bindings_are_one_paragraph_errors_and_write_nothing(
        tmp_path, capsys, param, message):
    code, err = cli_in_process(capsys, "--gin_file=gin/quickstart.gin", f"--gin_param={param}",
                               f"--model_dir={tmp_path / 'run'}")
    assert code == 1 and err == message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text,where", [
    ("train.num_steps = 10\ntrain.batch_size = (8\n", "syntax error at line 3"),
    ("train.num_steps = 10\ntrain.batch_size 8\n", "syntax error at line 2"),
])
def test_gin_syntax_errors_name_the_file_and_line(tmp_path, capsys, text, where):
    path = tmp_path / "bad.gin"
    path.write_text(text)
    code, err = cli_in_process(capsys, f"--gin_file={path}", f"--model_dir={tmp_path / 'run'}")
    assert code == 1 and err.startswith(f"error: --gin_file={path}: {where}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_model_dir_that_is_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    code, err = cli_in_process(capsys, "--gin_file=gin/quickstart.gin",
                               "--gin_param=train.num_steps = 2", f"--model_dir={path}")
    assert code == 1 and err == (f"error: --model_dir={path} is a file; expected a directory "
                                 "(a new one, or a run to resume). Nothing was written.\n")
    assert path.read_text() == "mine" and os.listdir(tmp_path) == ["notes.txt"]


# ---------------------------------------------------------------- checkpoints and state file
def test_corrupted_state_file_resumes_from_the_newest_checkpoint_on_disk(copy):
    (copy / "checkpoints" / "checkpoint").write_text("garbage {{{")
    kept = {step: os.path.getmtime(ckpt(copy, step) + ".index") for step in (2, 4)}
    summary, lines = run(copy, 4)
    assert any("checkpoint is unreadable" in line and "found on disk (ckpt-2, ckpt-4)" in line
               for line in lines), lines
    assert f"Resumed from {ckpt(copy, 4)} at step 4." in lines
    assert summary["steps_this_run"] == 0  # not a restart from step 0 ...
    for step, mtime in kept.items():  # ... over the run's own checkpoints
        assert os.path.getmtime(ckpt(copy, step) + ".index") == mtime
    assert tf.train.latest_checkpoint(str(copy / "checkpoints")) == ckpt(copy, 4)  # repaired


@pytest.mark.slow  # trains 2 steps: ~15 s on 2 shared cores
def test_after_a_fallback_the_next_save_replaces_the_broken_checkpoint(copy):
    truncate_data(copy, 4)
    summary, lines = run(copy, 4)
    assert any("ckpt-4 is unreadable" in line and "falling back" in line for line in lines)
    assert f"Resumed from {ckpt(copy, 2)} at step 2." in lines
    assert summary["steps_this_run"] == 2
    messages = []
    model, info = load_gan(str(copy), print_fn=messages.append)
    assert info["step"] == 4 and info["checkpoint"] == ckpt(copy, 4) and messages == []


@pytest.mark.parametrize("damage", ["truncated data", "deleted index"])
def test_load_gan_falls_back_past_a_broken_latest_checkpoint(finished, tmp_path, damage):
    copy = tmp_path / "run"  # only the checkpoints: load_gan reads no samples
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("samples", "train"))
    if damage == "truncated data":
        truncate_data(copy, 4)
    else:
        os.remove(ckpt(copy, 4) + ".index")
    messages = []
    model, info = load_gan(str(copy), print_fn=messages.append)
    assert info["step"] == 2 and info["checkpoint"] == ckpt(copy, 2)
    assert model.current_step() == 2
    assert len(messages) == 1 and "ckpt-4" in messages[0]


def test_leftover_temp_dirs_of_a_killed_save_are_removed_by_the_next_run(copy):
    temp = copy / "checkpoints" / "ckpt-5_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half a checkpoint")
    summary, lines = run(copy, 4)  # removed before any save (none is due here)
    assert summary["step"] == 4 and not temp.exists()
    assert "Removed ckpt-5_temp, left by a save that was interrupted." in lines
    assert sorted(os.listdir(copy / "checkpoints")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
        "ckpt-4.data-00000-of-00001", "ckpt-4.index"]


def test_rerunning_a_finished_run_keeps_its_summary(copy):
    before = (copy / "summary.json").read_text()
    summary, lines = run(copy, 4)
    assert (copy / "summary.json").read_text() == before
    assert summary["steps_this_run"] == 0 and summary["step"] == 4
    assert summary["d_loss"] == json.loads(before)["d_loss"]
    assert any("already reached" in line for line in lines)


def test_full_disk_while_saving_is_a_clear_error_and_keeps_the_last_checkpoint(
        copy, monkeypatch):
    def no_space(manager, checkpoint, step):
        (copy / "checkpoints" / f"ckpt-{step}_temp").mkdir()  # what a real ENOSPC leaves
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{manager.directory}/ckpt-{step}_temp/part-0; No space left on device")

    monkeypatch.setattr(faults, "save_checkpoint", no_space)
    with pytest.raises(SsganError, match=r"No space left on device while writing in "
                                         rf"--model_dir={copy}\. The last good checkpoint "
                                         rf"\({ckpt(copy, 4)}\) is untouched"):
        run(copy, 6)
    assert tf.train.latest_checkpoint(str(copy / "checkpoints")) == ckpt(copy, 4)
    assert not (copy / ".lock").exists()


# ------------------------------------------------------------------ one training per model_dir
def test_a_second_training_on_the_same_model_dir_is_refused_until_the_first_is_gone(copy):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (copy / ".lock").write_text(json.dumps({"host": socket.gethostname(),
                                                "pid": other.pid, "since": "earlier"}))
        before = snapshot(copy)
        with pytest.raises(ModelDirLocked, match=rf"--model_dir={copy} is in use by another "
                                                 rf"training: pid {other.pid} on this host"):
            run(copy, 4)
        assert snapshot(copy) == before
    finally:
        other.kill()
        other.wait()
    summary, lines = run(copy, 4)  # like a kill -9'd run: the lock is stale now
    assert any("stale lock" in line and f"pid {other.pid}" in line for line in lines)
    assert summary["step"] == 4 and not (copy / ".lock").exists()


@pytest.mark.slow  # two CLI processes: ~40 s on 2 shared cores
def test_two_trainings_started_on_one_model_dir(tmp_path):
    first = cli(tmp_path, 10_000, wait=False)
    try:
        for line in first.stdout:
            if line.startswith("step 1/"):
                break
        second = cli(tmp_path, 10_000)
        assert second.returncode == 1
        assert "is in use by another training" in second.stderr, second.stderr
        assert f"pid {first.pid} on this host" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        out = first.communicate(timeout=240)[0]
    assert first.returncode == 128 + signal.SIGTERM, out
    assert not (tmp_path / ".lock").exists()


# ------------------------------------------------------------------------ non-finite losses
def poison_at(call: int, monkeypatch):
    """Make the `call`-th chunk of training start from a NaN discriminator weight (the first
    chunk of a process is one step, then chunks of 2: call 3 runs steps 2-4)."""
    made = train_module.make_train_loop
    counter = {"n": 0}

    def make(model, strategy, **kwargs):
        run_steps = made(model, strategy, **kwargs)

        def poisoned(iterator, n):
            counter["n"] += 1
            if counter["n"] == call:
                var = model.discriminator.trainable_variables[0]
                var.assign(np.full(var.shape, np.nan, np.float32))
            return run_steps(iterator, n)

        return poisoned

    monkeypatch.setattr(train_module, "make_train_loop", make)


def test_nan_stops_without_touching_the_last_good_checkpoint(tmp_path, monkeypatch):
    poison_at(3, monkeypatch)
    with pytest.raises(FloatingPointError, match="Non-finite loss by step 4.*ckpt-2"):
        run(tmp_path, 6)
    assert open(tmp_path / "checkpoints" / "checkpoint").read().count("ckpt-2") >= 1
    assert not any(p.startswith("ckpt-4") for p in os.listdir(tmp_path / "checkpoints"))
    assert all(np.all(np.isfinite(v)) for v in checkpoint_values(tmp_path).values())


def test_nan_restore_policy_recovers(tmp_path, monkeypatch):
    poison_at(3, monkeypatch)
    summary, lines = run(tmp_path, 6, extra=["train.nan_policy = 'restore'"])
    assert any(line.startswith("WARNING: non-finite loss") for line in lines)
    assert summary["step"] == 6 and np.isfinite(summary["d_loss"])
    assert all(np.all(np.isfinite(v)) for v in checkpoint_values(tmp_path).values())


@pytest.mark.slow  # three trainings: ~40 s on 2 shared cores
def test_nan_restore_z_seed_is_checkpointed_so_resume_equals_uninterrupted(tmp_path,
                                                                          monkeypatch):
    policy = ["train.nan_policy = 'restore'"]
    poison_at(3, monkeypatch)  # steps 2-4 fail once, are retried with other z
    run(tmp_path / "straight", 6, extra=policy)
    poison_at(3, monkeypatch)
    run(tmp_path / "resumed", 4, extra=policy)
    monkeypatch.undo()
    _, lines = run(tmp_path / "resumed", 6, extra=policy)  # steps 4-6 need the retry's z
    assert any("at step 4." in line for line in lines if line.startswith("Resumed"))
    expected = checkpoint_values(tmp_path / "straight")
    actual = checkpoint_values(tmp_path / "resumed")
    offset = "z_seed_offset/.ATTRIBUTES/VARIABLE_VALUE"
    for name in sorted(set(expected) - {offset}):  # weights: steps 4-6 drew the same z
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert int(expected[offset]) == int(actual[offset]) == 1


# ----------------------------------------------------------------- in a live process, at the end
def test_load_gan_keeps_the_callers_gin_config_and_dtype_policy(finished):
    gin.clear_config()
    gin.parse_config("train.num_steps = 123\nRotationTask.weight_g = 0.7")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model, info = load_gan(str(finished))
    assert gin.query_parameter("train.num_steps") == 123
    assert gin.query_parameter("RotationTask.weight_g") == 0.7
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert model.generator.weights[0].dtype == "float32" and info["step"] == 4


@pytest.mark.slow  # writes two SavedModels: ~15 s
def test_export_at_end_ignores_a_leftover_tf_config_on_a_single_process(copy, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": ["localhost:1", "localhost:2"]},
        "task": {"type": "worker", "index": 1}}))  # a non-chief worker's, left in the shell
    _, lines = run(copy, 4, extra=["train.export_at_end = True"])
    assert (copy / "export" / "generator" / "saved_model.pb").exists()
    assert any(line.startswith("exported ") for line in lines)


# ----------------------------------------------------------------------- signals and kill -9
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
    assert "at step 2" in resumed.stdout  # the uncommitted ckpt-4 is not trusted
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
    assert not (tmp_path / ".lock").exists()


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


def test_enabling_a_trick_on_resume_starts_its_state_from_the_networks(copy):
    summary, lines = run(copy, 6, extra=["GAN.g_ema_decay = 0.999"])
    assert any("has no state for the training tricks" in line for line in lines)
    assert not any("unreadable" in line for line in lines)
    assert summary["step"] == 6


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
    resumed = cli(tmp_path / "killed", 8)  # the dead run's lock does not block it
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "at step 4" in resumed.stdout and "stale lock" in resumed.stdout
    expected, actual = checkpoint_values(tmp_path / "straight"), checkpoint_values(
        tmp_path / "killed")
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


# --------------------------------------------------------- real file systems (tmpfs mounts)
UNSHARE = shutil.which("unshare")


def run_in_mount_namespace(script: str) -> subprocess.CompletedProcess:
    """`script` (sh) in a private user + mount namespace: its tmpfs mounts vanish with it."""
    return subprocess.run([UNSHARE, "-rm", "sh", "-ec", script], cwd=REPO, capture_output=True,
                          text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def _can_mount(tmp_path) -> bool:
    if UNSHARE is None:
        return False
    probe = run_in_mount_namespace(f"mount -t tmpfs -o size=64k tmpfs {tmp_path}")
    return probe.returncode == 0


@pytest.mark.slow  # two CLI processes in a mount namespace: ~30 s
def test_read_only_and_full_file_systems_are_clear_errors(tmp_path):
    if not _can_mount(tmp_path):
        pytest.skip("needs `unshare -rm` and tmpfs mounts (user namespaces)")
    train = (f"{sys.executable} -m ssgan_tf.train --gin_file=gin/quickstart.gin "
             "--gin_param='train.num_steps = 4' --gin_param='train.dataset = \"synthetic\"' "
             "--gin_param='train.resolution = 16' --gin_param='train.batch_size = 8' "
             "--gin_param='RotationTask.rotated_batch_size = 8' "
             "--gin_param='train.precision = \"float32\"' --gin_param='train.save_every = 2'")
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    result = run_in_mount_namespace(
        f"mount -t tmpfs -o ro tmpfs {ro}; mount -t tmpfs -o size=96k tmpfs {full}; "
        f"{train} --model_dir={ro}/run 2>{tmp_path}/ro.err && exit 10 || echo ro=$?; "
        f"{train} --model_dir={full}/run 2>{tmp_path}/full.err && exit 11 || echo full=$?; "
        f"ls -A {ro}; echo ---; ls -A {full}/run/checkpoints")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ro=1" in result.stdout and "full=1" in result.stdout
    ro_err = (tmp_path / "ro.err").read_text().strip().splitlines()[-1]
    assert ro_err == (f"error: --model_dir={ro}/run: cannot create it (Read-only file system). "
                      "Use a directory on a writable file system with free space. Nothing "
                      "was written.")
    full_err = (tmp_path / "full.err").read_text().strip().splitlines()[-1]
    assert full_err.startswith(f"error: No space left on device while writing in --model_dir="
                               f"{full}/run."), full_err
    lines = result.stdout.splitlines()
    assert lines[lines.index("full=1") + 1:lines.index("---")] == []  # nothing on the ro mount
