"""The TPU path as far as it goes without a TPU: the quickstart step compiles with XLA
(`jit_compile=True`, what TPUStrategy requires: static shapes, no host-only ops, no Python-side
randomness) and gives the same losses and weights as the plain step; `train.strategy='tpu'`
without a TPU fails with an actionable message instead of a resolver stack trace or a hang."""

import socket

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common import distribute
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.training.builders import build_model
from ssgan_tf.training.loop import make_train_loop

QUICKSTART_TINY = ["train.dataset = 'synthetic'", "train.resolution = 16",
                   "sndcgan.Generator.ch = 4", "sndcgan.Discriminator.ch = 4",
                   "RotationTask.rotated_batch_size = 8",  # rotation_gan, as the quickstart
                   # Adam's first steps are ~lr * sign(g): float noise on a near-zero gradient
                   # would flip them. With lr = eps = 1 the update g / (|g| + 1) is continuous
                   # in g, so XLA's different rounding only shows at float tolerance.
                   "GAN.g_lr = 1.0", "GAN.adam_epsilon = 1.0"]
BATCH = 8


def quickstart_model(spec):
    keras.utils.set_random_seed(0)
    model, _ = build_model(spec, "sndcgan", z_dim=8, conditional=False, seed=0)
    model.build_all(BATCH)
    return model


@pytest.mark.slow  # two compilations of the step, one by XLA: ~20-40 s on 2 shared cores
def test_quickstart_step_compiles_with_xla_and_matches_the_plain_step():
    parse_gin(["gin/quickstart.gin"], QUICKSTART_TINY)
    spec = get_dataset("synthetic", resolution=16)
    strategy = distribute.make_strategy("default")
    results = {}
    for jit in (False, True):
        model = quickstart_model(spec)
        assert model.rotation.mode == "rotation_gan"
        # z fed in: the stateless draw itself differs under XLA (see the xfail test below).
        z = tf.random.stateless_uniform([2, BATCH * model.disc_iters, 8], [3, 4], -1.0, 1.0)
        images = train_dataset(spec, BATCH, model.disc_iters, seed=0)
        data = iter(tf.data.Dataset.zip(images, tf.data.Dataset.from_tensor_slices(z)).map(
            lambda batch, z: {**batch, "z": z}))
        logs = make_train_loop(model, strategy, jit_compile=jit)(data, tf.constant(2, tf.int64))
        results[jit] = ({k: float(v) for k, v in logs.items()},
                        [w.numpy() for w in model.generator.weights + model.discriminator.weights])
        assert model.current_step() == 2
    (plain_logs, plain_weights), (xla_logs, xla_weights) = results[False], results[True]
    assert plain_logs.keys() == xla_logs.keys() and "d_rotation_loss" in xla_logs
    for key in plain_logs:
        np.testing.assert_allclose(xla_logs[key], plain_logs[key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)
    for a, b in zip(xla_weights, plain_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_tpu_strategy_without_a_tpu_says_what_to_set():
    with pytest.raises(ValueError, match=r"no TPU found for train.tpu=.*auto-detect.*--tpu=NAME"):
        distribute.make_strategy("tpu")


def test_unreachable_tpu_address_fails_fast_with_the_address():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"grpc://127.0.0.1:{port}"
    with pytest.raises(ValueError, match=f"cannot reach the TPU at train.tpu='{address}'.*--tpu"):
        distribute.make_strategy("tpu", tpu=address)


def test_z_stream_is_the_same_with_and_without_xla():
    """z (and fake labels) use Philox: the same draw with and without XLA, so a TPU run of a
    seed trains on the z of a CPU/GPU run (the default algorithm differs under XLA)."""
    parse_gin(["gin/quickstart.gin"], QUICKSTART_TINY)
    model = quickstart_model(get_dataset("synthetic", resolution=16))
    draw = lambda: model.sample_z(BATCH, step=3)  # noqa: E731
    np.testing.assert_array_equal(tf.function(draw, jit_compile=True)().numpy(),
                                  draw().numpy())
