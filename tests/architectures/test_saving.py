"""Every architecture family is Keras-native: `.keras` save + `keras.models.load_model` (without
custom_objects and without the gin config that built it) gives identical outputs."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import ARCHITECTURES, get_architecture

SHAPE = (16, 16, 3)


def round_trip(model, tmp_path):
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    gin.clear_config()  # loading must not depend on the bindings that built it
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    for a, b in zip(model.weights, loaded.weights):
        assert a.path.split("/", 1)[1] == b.path.split("/", 1)[1]
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    return loaded


def assert_same_outputs(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    else:
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)  # ~15 s
                                  if n.startswith("resnet_biggan") else n for n in ARCHITECTURES])
def test_generator_and_discriminator_round_trip(name, tmp_path):
    g_cls, d_cls = get_architecture(name)
    ch = 4 if name == "resnet5" else 8
    g, d = g_cls(SHAPE, z_dim=16, ch=ch), d_cls(SHAPE, ch=ch)
    z = tf.random.stateless_uniform([3, 16], [1, 2], -1.0, 1.0)
    images = g(z, training=True)  # moves BN statistics and spectral-norm u off their init
    d(images, training=True)
    loaded_g, loaded_d = round_trip(g, tmp_path), round_trip(d, tmp_path)
    assert_same_outputs(g(z, training=False), loaded_g(z, training=False))
    assert_same_outputs(d(images, training=False), loaded_d(images, training=False))


def test_gin_bound_layer_settings_are_saved(tmp_path):
    """What gin gives the layers inside a network (conditional-BN gain offset, minibatch sizes)
    is part of the saved config, not re-read from gin when loading."""
    gin.parse_config("conditional_batch_norm.gain_offset = 1.0\n"
                     "minibatch_features.num_kernels = 3\nminibatch_features.kernel_dim = 2")
    g_cls, d_cls = get_architecture("resnet_biggan")
    g = g_cls(SHAPE, z_dim=16, num_classes=5, ch=8, norm="conditional_batch_norm")
    d = d_cls(SHAPE, num_classes=5, ch=8, minibatch="minibatch_discrimination", class_head=True)
    z, y = tf.random.stateless_uniform([3, 16], [3, 4], -1.0, 1.0), tf.constant([0, 4, -1])
    images = g(z, tf.maximum(y, 0), training=False)
    d(images, y, training=False)
    assert g.get_config()["cbn_gain_offset"] == 1.0
    assert d.get_config()["minibatch"]["config"]["num_kernels"] == 3
    loaded_g, loaded_d = round_trip(g, tmp_path), round_trip(d, tmp_path)
    assert_same_outputs(images, loaded_g(z, tf.maximum(y, 0), training=False))
    assert_same_outputs(d(images, y, training=False), loaded_d(images, y, training=False))
    assert loaded_d.minibatch.num_kernels == 3


def test_virtual_batch_norm_generator_keeps_its_reference_batch(tmp_path):
    g_cls, _ = get_architecture("sndcgan")
    g = g_cls(SHAPE, z_dim=16, ch=4, norm="virtual_batch_norm")
    g.set_reference_batch(tf.random.stateless_uniform([10, 16], [5, 6], -1.0, 1.0))
    z = tf.random.stateless_uniform([2, 16], [7, 8], -1.0, 1.0)
    g(z, training=False)
    loaded = round_trip(g, tmp_path)
    np.testing.assert_array_equal(loaded.vbn_reference_z.numpy(), g.vbn_reference_z.numpy())
    assert_same_outputs(g(z, training=False), loaded(z, training=False))
