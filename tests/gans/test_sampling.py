"""The one z sampler: every stream is the one each caller drew before it existed (grids, the
metrics hook, latent tools, the train step), so samples and resumed runs are unchanged."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.evaluation import latent
from ssgan_tf.evaluation.metrics_hook import MetricsHook
from ssgan_tf.gans import GAN, sampling
from ssgan_tf.training.callbacks import SampleWriter
from tests.helpers import tiny_gan


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_fixed_z_is_the_former_grid_stream(distribution):
    key = tf.constant([1234, 0], tf.int64)
    former = (tf.random.stateless_uniform([64, 16], key, -1.0, 1.0)
              if distribution == "uniform" else tf.random.stateless_normal([64, 16], key))
    np.testing.assert_array_equal(sampling.fixed_z(64, 16, distribution, 1234).numpy(),
                                  former.numpy())


def test_train_step_z_and_labels_are_the_former_keyed_draws():
    """z: rows of stateless_uniform([n, z_dim], [seed, 64 step + substep]); labels: salt 7919."""
    g_cls, d_cls = get_architecture("sndcgan")
    model = GAN(g_cls((16, 16, 3), z_dim=16, num_classes=3, ch=4),
                d_cls((16, 16, 3), num_classes=3, ch=4), seed=5)
    z = model.sample_z(4, substep=1, step=7).numpy()
    former = tf.random.stateless_uniform([4, 16], [5, 7 * 64 + 1], -1.0, 1.0, alg="philox")
    np.testing.assert_array_equal(z, former.numpy())
    labels = model.sample_labels(4, substep=1, step=7).numpy()
    former = tf.random.stateless_uniform([4], [5 + 7919, 7 * 64 + 1], 0, 3, dtype=tf.int32,
                                         alg="philox")
    np.testing.assert_array_equal(labels, former.numpy())


def test_every_caller_draws_from_the_sampler(tmp_path):
    model = tiny_gan(batch=4)
    writer = SampleWriter(model, str(tmp_path), tf.summary.create_noop_writer(), num_images=8,
                          seed=3)
    np.testing.assert_array_equal(writer.z.numpy(), sampling.fixed_z(8, 16, "uniform", 3).numpy())
    np.testing.assert_array_equal(latent.sample_latents(8, 16, "uniform", 3),
                                  sampling.fixed_z(8, 16, "uniform", 3).numpy())
    hook = MetricsHook(num_samples=4, seed=9, batch_size=4)
    images = hook.samples(model)
    z = sampling.fixed_z(4, 16, "uniform", seed=9, stream=7)
    want = model.inference_generator()(z, None, training=False).numpy()
    np.testing.assert_array_equal(images, np.rint(np.clip(want, 0, 1) * 255).astype(np.uint8))


def test_grid_labels_cycle_through_the_classes():
    np.testing.assert_array_equal(sampling.grid_labels(7, 3).numpy(), [0, 1, 2, 0, 1, 2, 0])
    assert sampling.grid_labels(7, 0) is None


def test_unknown_distribution_is_a_clear_error():
    with pytest.raises(ValueError, match="z_distribution='cauchy'"):
        sampling.fixed_z(2, 4, "cauchy")
