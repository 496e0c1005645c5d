"""Shared builders for tests that train: a tiny config, an in-process run, the CLI, and what a
checkpoint holds."""

from __future__ import annotations

import os
import subprocess
import sys

import gin
import keras
import tensorflow as tf

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.training.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["train.dataset = 'synthetic'", "train.resolution = 16", "train.batch_size = 8",
        "train.architecture = 'sndcgan'", "train.precision = 'float32'",
        "sndcgan.Generator.ch = 8", "sndcgan.Discriminator.ch = 8", "train.z_dim = 16",
        "train.steps_per_loop = 2", "train.log_every = 2", "train.sample_every = 2",
        "train.save_every = 2", "RotationTask.rotated_batch_size = 16", "GAN.disc_iters = 1"]
CLI_TINY = ["--gin_param=train.dataset = 'synthetic'", "--gin_param=train.resolution = 16",
            "--gin_param=train.batch_size = 8", "--gin_param=sndcgan.Generator.ch = 4",
            "--gin_param=sndcgan.Discriminator.ch = 4", "--gin_param=train.z_dim = 8",
            "--gin_param=RotationTask.rotated_batch_size = 8",
            "--gin_param=train.precision = 'float32'", "--gin_param=train.steps_per_loop = 1",
            "--gin_param=train.save_every = 2", "--gin_param=train.log_every = 1",
            "--gin_param=train.sample_every = 1000"]


def run(model_dir, num_steps, extra=(), data=None, **overrides):
    """Trains TINY (+ `extra` bindings) in-process; (summary, printed lines)."""
    gin.clear_config()
    keras.backend.clear_session(free_memory=False)
    parse_gin([], TINY + [f"train.num_steps = {num_steps}", *extra])
    lines = []
    summary = train(str(model_dir), data, print_fn=lines.append, **overrides)
    return summary, lines


def cli(model_dir, steps, env=None, wait=True, extra=()):
    """`python -m ssgan_tf.train` on the quickstart shrunk by CLI_TINY, `--seed=0`."""
    args = [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *CLI_TINY,
            f"--gin_param=train.num_steps = {steps}", "--seed=0", f"--model_dir={model_dir}",
            *extra]
    environ = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    if not wait:
        return subprocess.Popen(args, cwd=REPO, env=environ, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(args, cwd=REPO, env=environ, capture_output=True, text=True,
                          timeout=300)


def checkpoint_values(model_dir):
    """Every saved tensor of the latest checkpoint. TF saves each variable once, under the first
    path it finds: trainable weights appear under the optimizers' `_trainable_variables/N`."""
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def snapshot(directory):
    """{file: mtime} under `directory`: equal before and after means nothing was written."""
    return {os.path.relpath(os.path.join(r, p), directory): os.path.getmtime(os.path.join(r, p))
            for r, _, files in os.walk(directory) for p in files}
