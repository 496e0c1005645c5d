"""Architecture contract: shapes, ranges, per-block features, resolution checks, training smoke."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import ARCHITECTURES, get_architecture
from ssgan_tf.gans import RotationTask
from ssgan_tf.layers.resampling import unpool
from tests.helpers import random_images, tiny_gan


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("size,channels", [(16, 3), (32, 1)])
def test_generator_and_discriminator_contract(name, size, channels):
    generator_cls, discriminator_cls = get_architecture(name)
    g = generator_cls((size, size, channels), z_dim=16, ch=8)
    d = discriminator_cls((size, size, channels), ch=8)
    images = g(tf.random.uniform([3, 16], -1, 1), training=True)
    assert images.shape == (3, size, size, channels) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    out = d(images, training=True)
    assert out["logits"].shape == (3,)
    assert out["rotation_logits"].shape == (3, 4)
    assert out["features"].shape[0] == 3
    blocks = sorted((k for k in out if k.startswith("block")), key=lambda k: int(k[5:]))
    assert len(blocks) >= 3 and blocks == [f"block{i + 1}" for i in range(len(blocks))]
    # Heads are D variables (trained by the D optimizer, exported with D).
    names = [v.path for v in d.trainable_variables]
    assert any("rotation_head" in n for n in names) and any("final_fc" in n for n in names)


def test_sndcgan_feature_width_matches_reference():
    _, discriminator_cls = get_architecture("sndcgan")
    d = discriminator_cls((32, 32, 3))  # ch=64: flattened conv7 map (32/8)^2 * 512 = 8192
    assert d(tf.zeros([1, 32, 32, 3]))["features"].shape == (1, 8192)


@pytest.mark.parametrize("name,size", [("sndcgan", 20), ("resnet_cifar", 24), ("sndcgan", 4)])
def test_unsupported_resolution_is_a_clear_error(name, size):
    generator_cls, _ = get_architecture(name)
    with pytest.raises(ValueError, match=f"{name}: resolution {size}|{name}"):
        generator_cls((size, size, 3))


def test_unknown_architecture():
    with pytest.raises(ValueError, match="Unknown architecture 'dcgan2'.*train.architecture"):
        get_architecture("dcgan2")


def test_unpool_is_zero_insertion():
    x = tf.constant(np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1))
    out = unpool(x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [0, 0, 0, 0], [2, 0, 3, 0], [0, 0, 0, 0]])


# The BigGAN steps (10-30 s to trace on 2 cores) run in the slow suite; their forward contract
# is checked above, their parameter counts in test_architectures_paper.py, and a resnet_biggan
# step in the fast suite by test_gin_configs (imagenet_ssgan.gin) and the conditional BigGAN test.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n.startswith("resnet_biggan") else n for n in ARCHITECTURES])
def test_three_training_steps(name):
    model = tiny_gan(name, rotation=RotationTask(rotated_batch_size=16), disc_iters=2)
    step = tf.function(model.train_step)
    before = [v.numpy().copy() for v in model.generator.trainable_variables]
    for i in range(3):
        logs = step({"images": random_images(16, seed=i)})
    assert int(model.step) == 3 and int(model.d_optimizer.iterations) == 6
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert set(logs) == set(model.log_keys())
    after = model.generator.trainable_variables
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, after))
