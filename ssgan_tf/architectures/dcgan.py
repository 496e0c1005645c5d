"""DCGAN (Radford et al. 2016; compare_gan `dcgan.py`), parametrized by resolution and width.

G: fc (s/16)^2*8ch -> BN ReLU -> deconv5/2 4ch -> BN ReLU -> deconv5/2 2ch -> BN ReLU
   -> deconv5/2 ch -> BN ReLU -> deconv5/2 C -> 0.5 tanh + 0.5. Never spectral norm (as the
   reference).
D: conv5/2 ch, lReLU 0.2; conv5/2 2ch, conv5/2 4ch, conv5/2 8ch, each [D norm] + lReLU 0.2;
   flatten -> fc. D norm is the reference's `D.batch_norm_fn` (default none); spectral norm off by
   default, as in the reference's `dcgan_celeba64` config.
Features: the flattened conv4 map, (s/16)^2 * 8ch. Blocks for linear evaluation: the four conv
stages (mean-pooled). With ch=64 (the reference) the channels are 64/128/256/512.
The resolution must be a multiple of 16 (the reference's ceil-size deconvolutions at other sizes
are not reproduced).
"""

from __future__ import annotations

import gin
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.base import _check_image_shape
from ssgan_tf.architectures.common import (
    D_NORMALIZATIONS,
    check_norm,
    d_batch_dependent,
    kernel_initializer,
    mean_pool,
)
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Conv2DTranspose, Dense


@gin.configurable("Generator", module="ssgan_tf.architectures.dcgan")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 64,
                 norm: str = "batch_norm", cross_replica_bn: bool = False,
                 initializer: str = "normal", **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, channels = _check_image_shape(image_shape, "dcgan", 16)
        check_norm(norm, "dcgan")
        init = kernel_initializer(initializer)
        self.seed_size = size // 16
        self.ch = ch
        self.fc = Dense(self.seed_size ** 2 * 8 * ch, kernel_initializer=init, name="fc")
        self.norms = [BatchNorm(norm, cross_replica=cross_replica_bn, kernel_initializer=init,
                                name=f"bn{i + 1}") for i in range(4)]
        self.deconvs = [Conv2DTranspose(c * ch, 5, 2, kernel_initializer=init,
                                        name=f"deconv{i + 1}") for i, c in enumerate((4, 2, 1))]
        self.to_rgb = Conv2DTranspose(channels, 5, 2, kernel_initializer=init, name="deconv4")

    def generate(self, z, y, training):
        h = self.fc(z, training=training)
        h = tf.reshape(h, [-1, self.seed_size, self.seed_size, 8 * self.ch])
        for norm, deconv in zip(self.norms, self.deconvs):
            h = deconv(tf.nn.relu(norm(h, z=z, y=y, training=training)), training=training)
        h = tf.nn.relu(self.norms[3](h, z=z, y=y, training=training))
        return 0.5 * tf.tanh(self.to_rgb(h, training=training)) + 0.5


@gin.configurable("Discriminator", module="ssgan_tf.architectures.dcgan")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = False,
                 project_y: bool = False, ch: int = 64, norm: str = "none",
                 initializer: str = "normal", **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        size = _check_image_shape(image_shape, "dcgan", 16)[0]
        check_norm(norm, "dcgan discriminator", D_NORMALIZATIONS)
        self.batch_dependent = d_batch_dependent(norm)
        init = kernel_initializer(initializer)
        self.convs = [Conv2D(mult * ch, 5, 2, spectral_norm=spectral_norm,
                             kernel_initializer=init, name=f"conv{i + 1}")
                      for i, mult in enumerate((1, 2, 4, 8))]
        self.norms = [BatchNorm(norm, name=f"bn{i + 1}") for i in range(3)]
        self._make_heads((size // 16) ** 2 * 8 * ch, kernel_initializer=init)

    def trunk(self, x, training):
        h = tf.nn.leaky_relu(self.convs[0](x, training=training), 0.2)
        blocks = {"block1": mean_pool(h)}
        for i, (conv, norm) in enumerate(zip(self.convs[1:], self.norms)):
            h = tf.nn.leaky_relu(norm(conv(h, training=training), training=training), 0.2)
            blocks[f"block{i + 2}"] = mean_pool(h)
        return tf.reshape(h, [tf.shape(h)[0], -1]), blocks
