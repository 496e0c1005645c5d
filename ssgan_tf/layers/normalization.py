"""Generator normalization layers: batch norm, cross-replica BN, conditional BN and self-modulated BN.

All follow compare_gan's `arch_ops.standardize_batch` settings used by every reference config
(momentum 0.9, epsilon 1e-5): the batch is standardized without affine parameters, then scaled and
shifted by gamma/beta that are plain trainable vectors (`batch_norm`), linear functions of the
one-hot class (`conditional_batch_norm`, no bias, no "1+") or of z through a 32-unit ReLU layer
(`self_modulated_batch_norm`, the SSGAN paper's sBN; gamma's bias starts at 1).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.spectral_norm import Dense

NORMALIZATIONS = ("batch_norm", "conditional_batch_norm", "self_modulated_batch_norm", "none")


class _Standardize(keras.layers.Layer):
    """Batch standardization with moving averages; `cross_replica` uses global batch moments."""

    def __init__(self, cross_replica: bool = False, momentum: float = 0.9, epsilon: float = 1e-5,
                 **kwargs):
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization(
            center=False, scale=False, momentum=momentum, epsilon=epsilon,
            synchronized=cross_replica, dtype=self.dtype_policy, name="batch_norm")

    def call(self, x, training=False):
        return self.bn(x, training=training)


class BatchNorm(keras.layers.Layer):
    """Normalization of a generator feature map, optionally conditioned on z or a class.

    `kind` is one of NORMALIZATIONS. `call(x, z=None, y=None)` takes the latent z (sBN) and the
    one-hot class y (conditional BN); plain batch norm ignores both.
    """

    def __init__(self, kind: str = "batch_norm", cross_replica: bool = False,
                 momentum: float = 0.9, epsilon: float = 1e-5, sbn_hidden: int = 32,
                 spectral_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        if kind not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {kind!r}; expected one of {NORMALIZATIONS}.")
        self.kind = kind
        self.sbn_hidden = sbn_hidden
        self.spectral_norm = spectral_norm
        self.standardize = (None if kind == "none" else
                            _Standardize(cross_replica, momentum, epsilon, dtype=self.dtype_policy,
                                         name="standardize"))

    def build(self, input_shape):
        channels = int(input_shape[-1])
        sn = self.spectral_norm
        if self.kind == "batch_norm":
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        elif self.kind == "conditional_batch_norm":
            self.gamma_fc = Dense(channels, use_bias=False, spectral_norm=sn, name="gamma")
            self.beta_fc = Dense(channels, use_bias=False, spectral_norm=sn, name="beta")
        elif self.kind == "self_modulated_batch_norm":
            self.hidden_fc = (Dense(self.sbn_hidden, spectral_norm=sn, name="hidden")
                              if self.sbn_hidden else None)
            self.gamma_fc = Dense(channels, spectral_norm=sn, name="gamma")
            self.beta_fc = Dense(channels, spectral_norm=sn, name="beta")

    def _modulation(self, z, y, training):
        if self.kind == "conditional_batch_norm":
            if y is None:
                raise ValueError("conditional_batch_norm needs class labels: set the GAN to "
                                 "conditional (a dataset with labels and num_classes > 0).")
            return self.gamma_fc(y, training=training), self.beta_fc(y, training=training)
        h = z
        if self.hidden_fc is not None:
            h = tf.nn.relu(self.hidden_fc(z, training=training))
        gamma = self.gamma_fc(h, training=training) + 1.0  # == gamma bias initialised to 1
        return gamma, self.beta_fc(h, training=training)

    def call(self, x, z=None, y=None, training=False):
        if self.kind == "none":
            return x
        x = self.standardize(x, training=training)
        if self.kind == "batch_norm":
            return x * tf.cast(self.gamma, x.dtype) + tf.cast(self.beta, x.dtype)
        gamma, beta = self._modulation(z, y, training)
        gamma = tf.cast(gamma, x.dtype)[:, None, None, :]
        beta = tf.cast(beta, x.dtype)[:, None, None, :]
        return x * gamma + beta
