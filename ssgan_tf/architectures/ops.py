"""Building blocks shared by the ResNet families (compare_gan `resnet_ops`)."""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D


def resnet_generator_body(generator, h, z, y, training):
    """The ResNet generators' common body (compare_gan resnet_cifar/resnet_stl/resnet5): the
    up-blocks, then BN -> ReLU -> conv3 -> sigmoid. `generator` has `blocks`, `final_bn`,
    `to_rgb`."""
    for block in generator.blocks:
        h = block(h, z=z, y=y, training=training)
    h = tf.nn.relu(generator.final_bn(h, z=z, y=y, training=training))
    return tf.sigmoid(generator.to_rgb(h, training=training))


class ResNetBlock(Configurable, keras.layers.Layer):
    """Pre-activation residual block: (BN) ReLU conv3 (BN) ReLU conv3 + conv3 shortcut.

    `resample` is "up" (unpool before conv1 and the shortcut conv), "down" (avg-pool after conv2
    and the shortcut conv) or "none". Generator blocks pass a normalization kind; discriminator
    blocks use none. The shortcut is always a 3x3 convolution with bias, as in the reference.
    """

    def __init__(self, out_channels: int, resample: str = "none", norm: str = "none",
                 spectral_norm: bool = False, cross_replica_bn: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.resample = resample
        self.bn1 = BatchNorm(norm, cross_replica=cross_replica_bn, spectral_norm=spectral_norm,
                             name="bn1", dtype=self.dtype_policy)
        self.bn2 = BatchNorm(norm, cross_replica=cross_replica_bn, spectral_norm=spectral_norm,
                             name="bn2", dtype=self.dtype_policy)
        self.conv1 = Conv2D(out_channels, 3, spectral_norm=spectral_norm, name="conv1",
                            dtype=self.dtype_policy)
        self.conv2 = Conv2D(out_channels, 3, spectral_norm=spectral_norm, name="conv2",
                            dtype=self.dtype_policy)
        self.shortcut = Conv2D(out_channels, 3, spectral_norm=spectral_norm, name="shortcut",
                               dtype=self.dtype_policy)

    def call(self, x, z=None, y=None, training=False):
        h = tf.nn.relu(self.bn1(x, z=z, y=y, training=training))
        # conv(unpool(.)) without the zeros / avg_pool(conv(.)) as one strided conv (Conv2D)
        up, down = self.resample == "up", self.resample == "down"
        h = self.conv1(h, training=training, unpooled=up)
        h = tf.nn.relu(self.bn2(h, z=z, y=y, training=training))
        h = self.conv2(h, training=training, pooled=down)
        s = self.shortcut(x, training=training, unpooled=up, pooled=down)
        return h + s
