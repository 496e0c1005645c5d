"""`python -m ssgan_tf.train` as a user runs it: success, and clear errors on bad input."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = ["--gin_param=train.num_steps = 2", "--gin_param=train.batch_size = 8",
        "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
        "--gin_param=RotationTask.rotated_batch_size = 8", "--gin_param=train.z_dim = 8",
        "--gin_param=train.precision = 'float32'"]


def run_train(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "ssgan_tf.train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_quickstart_command_runs(tmp_path):
    result = run_train("--gin_file=gin/quickstart.gin", *TINY, f"--model_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "done: step 2" in result.stdout
    assert (tmp_path / "checkpoints" / "checkpoint").exists()


def test_bad_input_exits_nonzero_with_a_clear_message(tmp_path):
    missing = run_train("--gin_file=gin/nope.gin", f"--model_dir={tmp_path}")
    assert missing.returncode != 0 and "gin/nope.gin" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_rotation = run_train("--gin_file=gin/quickstart.gin", *TINY,
                             "--gin_param=RotationTask.rotated_batch_size = 6",
                             f"--model_dir={tmp_path}")
    assert bad_rotation.returncode != 0
    assert "rotated_batch_size=6 must be a multiple of 4" in bad_rotation.stderr
    no_dir = run_train("--gin_file=gin/quickstart.gin")
    assert no_dir.returncode != 0 and "--model_dir" in no_dir.stderr
