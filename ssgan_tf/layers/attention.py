"""Self-attention (non-local) block of SAGAN / BigGAN, as compare_gan's `arch_ops.non_local_block`.

    theta = conv1x1(x, C/8)                 [B, HW, C/8]
    phi   = maxpool2(conv1x1(x, C/8))        [B, HW/4, C/8]
    g     = maxpool2(conv1x1(x, C/2))        [B, HW/4, C/2]
    A     = softmax(theta phi^T)             over the HW/4 keys
    out   = x + sigma * conv1x1(A g, C)      sigma: a scalar initialised to 0

No biases; spectral norm on the four convolutions per flag. Parameters: 2*C*C/8 + 2*C*C/2 + 1.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.spectral_norm import Conv2D


class NonLocalBlock(Configurable, keras.layers.Layer):
    def __init__(self, spectral_norm: bool = False, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.spectral_norm = spectral_norm
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels < 8:
            raise ValueError(f"{self.name}: self-attention needs at least 8 channels, got "
                             f"{channels}.")

        def conv(filters, name):
            return Conv2D(filters, 1, use_bias=False, spectral_norm=self.spectral_norm,
                          kernel_initializer=self.kernel_initializer, name=name,
                          dtype=self.dtype_policy)

        self.theta = conv(channels // 8, "theta")
        self.phi = conv(channels // 8, "phi")
        self.g = conv(channels // 2, "g")
        self.attn_out = conv(channels, "attn_out")
        self.sigma = self.add_weight(name="sigma", shape=(), initializer="zeros")

    def call(self, x, training=False):
        b, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        channels = x.shape[-1]

        def flatten(t):
            return tf.reshape(t, [b, -1, t.shape[-1]])

        theta = flatten(self.theta(x, training=training))
        phi = flatten(tf.nn.max_pool2d(self.phi(x, training=training), 2, 2, "VALID"))
        g = flatten(tf.nn.max_pool2d(self.g(x, training=training), 2, 2, "VALID"))
        attn = tf.nn.softmax(tf.matmul(theta, phi, transpose_b=True), axis=-1)
        attn_g = tf.reshape(tf.matmul(attn, g), [b, h, w, channels // 2])
        out = self.attn_out(attn_g, training=training)
        return x + tf.cast(self.sigma, x.dtype) * out
