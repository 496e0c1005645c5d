"""ResNet for STL-10 at 48x48 (compare_gan `resnet_stl.py`, SNGAN Table 5), parametrized by width.

G: z -> fc (s/8)^2*8ch -> up-blocks 8ch->4ch->2ch->ch -> BN ReLU -> conv3 -> sigmoid
   (ch=64: fc 6*6*512, blocks 512->256->128->64 at 48 px).
D: block1 C->ch down, block2 ch->2ch down, block3 ->4ch down, block4 ->8ch down, block5 ->16ch
   (no resampling) -> ReLU -> mean pool -> fc. Features 16ch (1024).
Blocks are the shared pre-activation ResNet block with a 3x3 conv shortcut (ops.ResNetBlock).
With `spectral_norm`, G uses it only inside the blocks and their batch norms (not on fc and the
final conv), as the reference. The resolution must be a multiple of 8 (48 is the reference's).
"""

from __future__ import annotations

import gin
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.base import _check_image_shape
from ssgan_tf.architectures.common import D_NORMALIZATIONS, check_norm, d_batch_dependent, mean_pool
from ssgan_tf.architectures.ops import ResNetBlock, resnet_generator_body
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Dense


@gin.configurable("Generator", module="ssgan_tf.architectures.resnet_stl")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 64,
                 norm: str = "batch_norm", spectral_norm: bool = False,
                 cross_replica_bn: bool = False, **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, channels = _check_image_shape(image_shape, "resnet_stl", 8, min_size=16)
        check_norm(norm, "resnet_stl")
        self.ch = ch
        self.seed_size = size // 8
        self.fc = Dense(self.seed_size ** 2 * 8 * ch, name="fc")
        self.blocks = [ResNetBlock(mult * ch, "up", norm, spectral_norm, cross_replica_bn,
                                   name=f"block{i + 1}") for i, mult in enumerate((4, 2, 1))]
        self.final_bn = BatchNorm(norm, cross_replica=cross_replica_bn,
                                  spectral_norm=spectral_norm, name="final_bn")
        self.to_rgb = Conv2D(channels, 3, name="final_conv")

    def generate(self, z, y, training):
        h = tf.reshape(self.fc(z, training=training),
                       [-1, self.seed_size, self.seed_size, 8 * self.ch])
        return resnet_generator_body(self, h, z, y, training)


@gin.configurable("Discriminator", module="ssgan_tf.architectures.resnet_stl")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = False, ch: int = 64, norm: str = "none", **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        _check_image_shape(image_shape, "resnet_stl", 8, min_size=16)
        check_norm(norm, "resnet_stl discriminator", D_NORMALIZATIONS)
        self.batch_dependent = d_batch_dependent(norm)
        layout = ((1, "down"), (2, "down"), (4, "down"), (8, "down"), (16, "none"))
        self.blocks = [ResNetBlock(mult * ch, resample, norm=norm, spectral_norm=spectral_norm,
                                   name=f"block{i + 1}")
                       for i, (mult, resample) in enumerate(layout)]
        self._make_heads(16 * ch)

    def trunk(self, x, training):
        h = x
        blocks = {}
        for block in self.blocks:
            h = block(h, training=training)
            blocks[block.name] = mean_pool(h)
        return mean_pool(tf.nn.relu(h)), blocks
