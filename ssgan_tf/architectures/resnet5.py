"""The 128x128 ResNet of Gulrajani et al. 2017 (compare_gan `resnet5.py`, `resnet5_arch`).

G: z -> fc 4*4*8ch -> 5 blocks with channel multipliers (8, 8, 4, 4, 2, 1) x ch, i.e.
   512->512->256->256->128->64 at ch=64; block i upsamples while i < log2(s/4), so at 128 px all
   five do -> BN ReLU -> conv3 -> sigmoid.
D: block1 C->ch down, then 5 down-blocks with multipliers (1, 2, 4, 4, 8, 8) x ch:
   64->128->256->256->512->512 -> ReLU -> mean pool -> fc. Features 8ch (512).
Blocks are the shared pre-activation ResNet block with a 3x3 conv shortcut (ops.ResNetBlock).
With `spectral_norm`, G uses it only inside the blocks and their batch norms, as the reference.
Resolutions 4 * 2^k for k = 1..5 (8 to 128).
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

SUPPORTED = tuple(4 * 2 ** k for k in range(1, 6))


def _check(image_shape, family="resnet5"):
    shape = _check_image_shape(image_shape, family, 8)
    if shape[0] not in SUPPORTED:
        raise ValueError(f"{family}: resolution {shape[0]} is not supported; expected one of "
                         f"{SUPPORTED}.")
    return shape


@gin.configurable("Generator", module="ssgan_tf.architectures.resnet5")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 64,
                 channels=(8, 8, 4, 4, 2, 1), norm: str = "batch_norm",
                 spectral_norm: bool = False, cross_replica_bn: bool = False, **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, colors = _check(image_shape)
        check_norm(norm, "resnet5")
        if len(channels) != 6:
            raise ValueError(f"resnet5: channels must have 6 multipliers, got {channels}.")
        self.seed_channels = ch * channels[0]
        up_layers = size.bit_length() - 3  # log2(size / 4)
        self.fc = Dense(4 * 4 * self.seed_channels, name="fc")
        self.blocks = [ResNetBlock(ch * channels[i + 1], "up" if i < up_layers else "none",
                                   norm, spectral_norm, cross_replica_bn, name=f"block{i + 1}")
                       for i in range(5)]
        self.final_bn = BatchNorm(norm, cross_replica=cross_replica_bn,
                                  spectral_norm=spectral_norm, name="final_bn")
        self.to_rgb = Conv2D(colors, 3, name="final_conv")

    def generate(self, z, y, training):
        h = tf.reshape(self.fc(z, training=training), [-1, 4, 4, self.seed_channels])
        return resnet_generator_body(self, h, z, y, training)


@gin.configurable("Discriminator", module="ssgan_tf.architectures.resnet5")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = False, ch: int = 64, channels=(1, 2, 4, 4, 8, 8),
                 norm: str = "none", **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        _check(image_shape)
        check_norm(norm, "resnet5 discriminator", D_NORMALIZATIONS)
        if len(channels) != 6:
            raise ValueError(f"resnet5: channels must have 6 multipliers, got {channels}.")
        self.batch_dependent = d_batch_dependent(norm)
        widths = [ch] + [ch * c for c in channels[1:]]
        self.blocks = [ResNetBlock(w, "down", norm=norm, spectral_norm=spectral_norm,
                                   name=f"block{i + 1}") for i, w in enumerate(widths)]
        self._make_heads(widths[-1])

    def trunk(self, x, training):
        h = x
        blocks = {}
        for block in self.blocks:
            h = block(h, training=training)
            blocks[block.name] = mean_pool(h)
        return mean_pool(tf.nn.relu(h)), blocks
