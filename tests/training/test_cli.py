"""`python -m ssgan_tf.train` as a user runs it: success, clear errors on bad input, and the
progress bar on a terminal only (a pipe or a log file keeps one line per interval)."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from ssgan_tf.train import main as train_main

REPO = Path(__file__).resolve().parents[2]
TINY = ["--gin_param=train.num_steps = 2", "--gin_param=train.batch_size = 8",
        "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
        "--gin_param=RotationTask.rotated_batch_size = 8", "--gin_param=train.z_dim = 8",
        "--gin_param=train.precision = 'float32'"]
ENV = {k: v for k, v in os.environ.items() if k != "SSGAN_TF_PROGRESS"}


def run_train(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "ssgan_tf.train", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


def test_quickstart_command_runs(tmp_path):
    result = run_train("--gin_file=gin/quickstart.gin", *TINY, f"--model_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done: step 2" in result.stdout
    assert (tmp_path / "checkpoints" / "checkpoint").exists()
    # Not a terminal: no bar, and the log is whole lines, one per interval (log_every = 100:
    # the first step's line and the last step's).
    assert "\r" not in result.stdout + result.stderr and "training:" not in result.stderr
    steps = [line.split(" |")[0] for line in result.stdout.splitlines()
             if line.startswith("step ")]
    assert steps == ["step 1/2", "step 2/2"]


def test_bad_input_exits_nonzero_with_a_clear_message(tmp_path):
    missing = run_train("--gin_file=gin/nope.gin", f"--model_dir={tmp_path}")
    assert missing.returncode == 1 and "gin/nope.gin" in missing.stderr
    assert "\nerror: " in "\n" + missing.stderr and "Traceback" not in missing.stderr


def test_bad_input_in_process_is_one_error_paragraph(tmp_path, capsys, monkeypatch):
    """The same shell as the subprocess above (`cli.run`), without a TensorFlow import each."""
    monkeypatch.chdir(REPO)
    assert train_main(["--gin_file=gin/quickstart.gin", *TINY,
                       "--gin_param=RotationTask.rotated_batch_size = 6",
                       f"--model_dir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "rotated_batch_size=6 must be a multiple of 4" in err
    assert not (tmp_path / "checkpoints").exists()  # stopped before anything was written
    assert train_main(["--gin_file=gin/quickstart.gin"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--model_dir" in err


def run_in_terminal(args) -> tuple[int, str]:
    """Runs `args` with stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 cols
    proc = subprocess.Popen(args, cwd=REPO, env=ENV, stdin=terminal, stdout=terminal,
                            stderr=terminal, close_fds=True)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return proc.wait(timeout=300), shown.decode(errors="replace")


@pytest.mark.slow  # a CLI run in a pseudo-terminal: ~15 s on 2 shared cores
def test_progress_bar_between_log_lines_on_a_terminal(tmp_path):
    code, shown = run_in_terminal(
        [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *TINY,
         "--gin_param=train.num_steps = 4", "--gin_param=train.steps_per_loop = 1",
         "--gin_param=train.log_every = 4", f"--model_dir={tmp_path}"])
    assert code == 0, shown[-2000:]
    bar = shown.replace("\r\n", "\n")
    assert "\rtraining:" in bar and ("step/s" in bar or "s/step" in bar)  # redrawn in place
    lines = [line.split("\r")[-1] for line in bar.split("\n")]  # what stays after the bar
    assert any(line.startswith("step 1/4 |") for line in lines)
    assert any(line.startswith("step 4/4 |") for line in lines)
    assert any(line.startswith("done: step 4") for line in lines)
