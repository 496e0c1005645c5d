"""ResNet for CIFAR-10 (compare_gan `resnet_cifar.py`, the SNGAN CIFAR ResNet).

G: z -> fc 4*4*ch -> log2(s/4) up-blocks of ch -> BN ReLU -> conv3 -> sigmoid (ch=256).
D: block1 C->ch down, block2 down, block3, block4 -> ReLU -> mean pool -> fc (ch=128).
Blocks are pre-activation with a 3x3 conv shortcut; D's first block applies ReLU to the image.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.base import _check_image_shape
from ssgan_tf.architectures.ops import ResNetBlock, resnet_generator_body
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Dense


@gin.configurable("Generator", module="ssgan_tf.architectures.resnet_cifar")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 256,
                 norm: str = "batch_norm", spectral_norm: bool = False,
                 cross_replica_bn: bool = False, **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, channels = _check_image_shape(image_shape, "resnet_cifar", 8, min_size=8)
        num_blocks = (size // 4).bit_length() - 1
        if 4 * 2 ** num_blocks != size:
            raise ValueError(f"resnet_cifar: resolution {size} must be 4 * 2^k (e.g. 32).")
        self.ch = ch
        self.fc = Dense(4 * 4 * ch, spectral_norm=spectral_norm, name="fc")
        self.blocks = [ResNetBlock(ch, "up", norm, spectral_norm, cross_replica_bn,
                                   name=f"block{i + 1}") for i in range(num_blocks)]
        self.final_bn = BatchNorm(norm, cross_replica=cross_replica_bn,
                                  spectral_norm=spectral_norm, name="final_bn")
        self.to_rgb = Conv2D(channels, 3, spectral_norm=spectral_norm, name="final_conv")

    def generate(self, z, y, training):
        h = tf.reshape(self.fc(z, training=training), [-1, 4, 4, self.ch])
        return resnet_generator_body(self, h, z, y, training)


@gin.configurable("Discriminator", module="ssgan_tf.architectures.resnet_cifar")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = False, ch: int = 128, **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        _check_image_shape(image_shape, "resnet_cifar", 4, min_size=8)
        self.blocks = [ResNetBlock(ch, resample, spectral_norm=spectral_norm,
                                   name=f"block{i + 1}")
                       for i, resample in enumerate(("down", "down", "none", "none"))]
        self._make_heads(ch)

    def trunk(self, x, training):
        h = x
        blocks = {}
        for block in self.blocks:
            h = block(h, training=training)
            blocks[block.name] = tf.reduce_mean(h, axis=[1, 2])
        return tf.reduce_mean(tf.nn.relu(h), axis=[1, 2]), blocks
