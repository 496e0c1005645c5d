"""Toy networks whose outputs numpy recomputes exactly (shared by the loss, penalty and trick
tests): a linear discriminator and a sigmoid-linear generator."""

import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator
from ssgan_tf.layers import Dense

B, S, C, F = 8, 4, 1, 6


class LinearDiscriminator(Discriminator):
    """features = tanh(flatten(x) W): simple enough to recompute in numpy."""

    def __init__(self):
        super().__init__((S, S, C), spectral_norm=False)
        self.embed = Dense(F, use_bias=False)
        self._make_heads(F)

    def trunk(self, x, training):
        f = tf.tanh(self.embed(tf.reshape(x, [tf.shape(x)[0], -1])))
        return f, {"block1": f}


class TinyGenerator(keras.Model):
    """images = sigmoid(z W) as S x S x C: a differentiable generator simple enough for numpy."""

    def __init__(self):
        super().__init__()
        self.z_dim, self.num_classes, self.image_shape = 16, 0, (S, S, C)
        self.fc = Dense(S * S * C)

    def call(self, z, y=None, training=False):
        return tf.reshape(tf.sigmoid(self.fc(z)), [-1, S, S, C])


def np_softplus(x):
    return np.logaddexp(0.0, x)


def np_d_outputs(weights, x):
    w_embed, w_fc, b_fc, w_rot, b_rot = weights
    f = np.tanh(x.reshape(len(x), -1) @ w_embed)
    return f @ w_fc[:, 0] + b_fc[0], f @ w_rot + b_rot


def np_with_rotations(x, n):
    rotated = [np.rot90(x[i], k, axes=(0, 1)) for k in (1, 2, 3) for i in range(len(x) - n, len(x))]
    return np.concatenate([x, np.stack(rotated)]) if n else x


def np_rotation_ce(logits, n):
    labels = np.repeat(np.arange(4), n)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return np.mean(-np.log(p[np.arange(4 * n), labels] + 1e-10))


def d_weights(d):
    return [d.embed.kernel.numpy(), d.final_fc.kernel.numpy(), d.final_fc.bias.numpy(),
            d.rotation_head.kernel.numpy(), d.rotation_head.bias.numpy()]
