"""Every layer with state has get_config / from_config (registered for `.keras` loading): a layer
rebuilt from its config, given the same weights, computes the same function."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures.ops import ResNetBlock
from ssgan_tf.architectures.resnet_biggan import DBlock, GBlock
from ssgan_tf.architectures.resnet_biggan_deep import DeepBlock
from ssgan_tf.layers.attention import NonLocalBlock
from ssgan_tf.layers.minibatch import MinibatchDiscrimination, MinibatchStddev
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Conv2DTranspose, Dense

MAP = tf.random.stateless_uniform([4, 8, 8, 8], [1, 2])
VECTOR = tf.random.stateless_uniform([4, 6], [3, 4])
Z = tf.random.stateless_uniform([4, 5], [5, 6])

CASES = {
    "conv_sn": (lambda: Conv2D(4, 3, spectral_norm=True,
                               kernel_initializer=keras.initializers.Orthogonal()), {"x": MAP}),
    "deconv_sn": (lambda: Conv2DTranspose(4, 4, 2, spectral_norm=True), {"x": MAP}),
    "dense_sn": (lambda: Dense(3, spectral_norm=True), {"x": VECTOR}),
    "batch_norm": (lambda: BatchNorm("batch_norm", momentum=0.5), {"x": MAP}),
    "conditional_bn": (lambda: BatchNorm("conditional_batch_norm", cbn_gain_offset=1.0,
                                         spectral_norm=True), {"x": MAP, "y": VECTOR}),
    "self_modulated_bn": (lambda: BatchNorm("self_modulated_batch_norm", sbn_hidden=4),
                          {"x": MAP, "z": Z}),
    "layer_norm": (lambda: BatchNorm("layer_norm"), {"x": MAP}),
    "minibatch_discrimination": (lambda: MinibatchDiscrimination(3, 2), {"features": VECTOR}),
    "minibatch_stddev": (lambda: MinibatchStddev(group_size=2), {"features": VECTOR}),
    "attention": (lambda: NonLocalBlock(spectral_norm=True), {"x": MAP}),
    "resnet_block": (lambda: ResNetBlock(4, "up", "batch_norm", spectral_norm=True), {"x": MAP}),
    "biggan_g_block": (lambda: GBlock(4, "self_modulated_batch_norm", True, False,
                                      keras.initializers.Orthogonal()),
                       {"x": MAP, "z": Z, "y": Z}),
    "biggan_d_block": (lambda: DBlock(8, 8, True, "none", True, keras.initializers.Orthogonal(),
                                      skip_when_same_channels=True), {"x": MAP}),
    "biggan_deep_block": (lambda: DeepBlock(8, 16, "down", "none", True, False,
                                            keras.initializers.Orthogonal()), {"x": MAP}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_rebuilt_from_its_config_computes_the_same(name):
    make, inputs = CASES[name]
    layer = make()
    layer(**inputs, training=True)  # one training call: BN statistics and SN u move
    config = keras.saving.serialize_keras_object(layer)
    json.dumps(config)  # what a .keras file stores
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(**inputs, training=False)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(**inputs, training=False).numpy(),
                                  layer(**inputs, training=False).numpy())
