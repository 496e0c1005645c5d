"""A tiny run of README's quickstart command (digits 32x32x1, SNDCGAN ch 4, z_dim 128, 4 steps)
and its export, built once per test process for the report, progress-bar and export-snippet
tests.

Cached on disk under a directory named in the environment (with this process's id): test files
in different directories import this module under different names, whose in-memory caches would
not be shared."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE_ENV = "SSGAN_TF_TEST_QUICKSTART_CACHE"
TINY = ["--gin_param=train.num_steps = 4", "--gin_param=train.batch_size = 8",
        "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
        "--gin_param=RotationTask.rotated_batch_size = 8",
        "--gin_param=train.precision = 'float32'", "--gin_param=train.log_every = 2",
        "--gin_param=train.sample_every = 2", "--gin_param=train.save_every = 2"]


def _python(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _root() -> str:
    pid, _, root = os.environ.get(CACHE_ENV, "").partition(":")
    if pid != str(os.getpid()) or not os.path.isdir(root):
        root = tempfile.mkdtemp(prefix="ssgan_tf_test_quickstart-")
        atexit.register(shutil.rmtree, root, True)
        os.environ[CACHE_ENV] = f"{os.getpid()}:{root}"
    return root


def quickstart_run() -> str:
    """model_dir of `python -m ssgan_tf.train --gin_file=gin/quickstart.gin` (tiny bindings)."""
    root = _root()
    model_dir = os.path.join(root, "runs", "quickstart")
    done = os.path.join(root, "run.done")
    if not os.path.exists(done):
        result = _python("-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *TINY,
                         f"--model_dir={model_dir}")
        assert result.returncode == 0, result.stderr[-3000:]
        Path(done).write_text(json.dumps(model_dir))
    return model_dir


def quickstart_export() -> str:
    """export_dir of `python -m ssgan_tf.export` of the quickstart run (export/quickstart)."""
    model_dir = quickstart_run()
    export_dir = os.path.join(os.path.dirname(os.path.dirname(model_dir)), "export",
                              "quickstart")
    if not os.path.isdir(export_dir):
        result = _python("-m", "ssgan_tf.export", f"--model_dir={model_dir}",
                         f"--export_dir={export_dir}")
        assert result.returncode == 0, result.stderr[-3000:]
    return export_dir
