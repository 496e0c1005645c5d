"""SNDCGAN (Miyato et al. 2018; compare_gan `sndcgan.py`), parametrized by resolution and width.

G: fc (s/8)^2*8ch -> BN ReLU -> deconv4/2 4ch -> BN ReLU -> deconv4/2 2ch -> BN ReLU -> deconv4/2 ch
   -> BN ReLU -> deconv3/1 C -> (tanh+1)/2. No spectral norm.
D: 2x-1; conv3/1 ch, conv4/2 2ch, conv3/1 2ch, conv4/2 4ch, conv3/1 4ch, conv4/2 8ch, conv3/1 8ch,
   each leaky ReLU 0.1; flatten -> fc. Spectral norm on every layer (and on the heads).
Blocks for linear evaluation: the four stages ending at conv0, conv2, conv4, conv6.
With ch=64 (the reference) the channels are 64/128/256/512.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.base import _check_image_shape
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Conv2DTranspose, Dense


@gin.configurable("Generator", module="ssgan_tf.architectures.sndcgan")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 64,
                 norm: str = "batch_norm", cross_replica_bn: bool = False, **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, channels = _check_image_shape(image_shape, "sndcgan", 8)
        self.seed_size = size // 8
        self.ch = ch
        self.fc = Dense(self.seed_size * self.seed_size * 8 * ch, name="fc")
        self.norms = [BatchNorm(norm, cross_replica=cross_replica_bn, name=f"bn{i}")
                      for i in range(4)]
        self.deconvs = [Conv2DTranspose(c * ch, 4, 2, name=f"deconv{i + 1}")
                        for i, c in enumerate((4, 2, 1))]
        self.to_rgb = Conv2DTranspose(channels, 3, 1, name="deconv4")

    def generate(self, z, y, training):
        h = self.fc(z, training=training)
        h = tf.reshape(h, [-1, self.seed_size, self.seed_size, 8 * self.ch])
        for norm, deconv in zip(self.norms, self.deconvs):
            h = deconv(tf.nn.relu(norm(h, z=z, y=y, training=training)), training=training)
        h = tf.nn.relu(self.norms[3](h, z=z, y=y, training=training))
        return (tf.tanh(self.to_rgb(h, training=training)) + 1.0) / 2.0


@gin.configurable("Discriminator", module="ssgan_tf.architectures.sndcgan")
class Discriminator(_Discriminator):
    LAYERS = ((3, 1, 1), (4, 2, 2), (3, 1, 2), (4, 2, 4), (3, 1, 4), (4, 2, 8), (3, 1, 8))
    BLOCK_ENDS = {0: "block1", 2: "block2", 4: "block3", 6: "block4"}

    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = False, ch: int = 64, **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        size = _check_image_shape(image_shape, "sndcgan", 8)[0]
        self.convs = [Conv2D(mult * ch, k, s, spectral_norm=spectral_norm, name=f"conv{i}")
                      for i, (k, s, mult) in enumerate(self.LAYERS)]
        self._make_heads((size // 8) ** 2 * 8 * ch)

    def trunk(self, x, training):
        h = x * 2.0 - 1.0
        blocks = {}
        for i, conv in enumerate(self.convs):
            h = tf.nn.leaky_relu(conv(h, training=training), 0.1)
            if i in self.BLOCK_ENDS:
                blocks[self.BLOCK_ENDS[i]] = tf.reduce_mean(h, axis=[1, 2])
        return tf.reshape(h, [tf.shape(h)[0], -1]), blocks
