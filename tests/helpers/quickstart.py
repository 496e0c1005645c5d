"""A tiny run of README's quickstart command (digits 32x32x1, SNDCGAN ch 4, z_dim 128, 4 steps)
and its export, built once per test process (in-process) for the report, progress-bar and export-snippet
tests.

Cached on disk under a directory named in the environment (with this process's id): test files
in different directories import this module under different names, whose in-memory caches would
not be shared."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import gin
import keras

from ssgan_tf.export.__main__ import main as export_main
from ssgan_tf.train import main as train_main

REPO = Path(__file__).resolve().parents[2]
CACHE_ENV = "SSGAN_TF_TEST_QUICKSTART_CACHE"
TINY = ["--gin_param=train.num_steps = 4", "--gin_param=train.batch_size = 8",
        "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
        "--gin_param=RotationTask.rotated_batch_size = 8",
        "--gin_param=train.precision = 'float32'", "--gin_param=train.log_every = 2",
        "--gin_param=train.sample_every = 2", "--gin_param=train.save_every = 2"]


def _in_process(main, args: list[str]) -> None:
    """Runs a CLI's `main` in this process (a subprocess would cost a TensorFlow import; the
    CLIs themselves are run as subprocesses in tests/training/test_cli.py), leaving gin and
    Keras as the calling test had them."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(cwd)
        gin.clear_config()
        keras.mixed_precision.set_global_policy("float32")
    assert code == 0, (out.getvalue() + err.getvalue())[-3000:]


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
        _in_process(train_main, ["--gin_file=gin/quickstart.gin", *TINY,
                                 f"--model_dir={model_dir}"])
        Path(done).write_text(json.dumps(model_dir))
    return model_dir


def quickstart_export() -> str:
    """export_dir of `python -m ssgan_tf.export` of the quickstart run (export/quickstart)."""
    model_dir = quickstart_run()
    export_dir = os.path.join(os.path.dirname(os.path.dirname(model_dir)), "export",
                              "quickstart")
    if not os.path.isdir(export_dir):
        _in_process(export_main, [f"--model_dir={model_dir}", f"--export_dir={export_dir}"])
    return export_dir
