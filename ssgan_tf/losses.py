"""GAN losses (compare_gan `loss_lib`), returned per example so the train step can average them
over the global batch with `tf.nn.compute_average_loss`.

Each loss maps real and fake logits [B] to `GanLossTerms(d_real, d_fake, g)`, per-example tensors
with L_D = mean(d_real) + mean(d_fake) and L_G = mean(g). `label_smoothing` is one-sided
(Salimans et al. 2016): the real target becomes 1 - label_smoothing, fakes stay 0; it applies to the
cross-entropy losses only.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import gin
import tensorflow as tf


class GanLossTerms(NamedTuple):
    d_real: tf.Tensor
    d_fake: tf.Tensor
    g: tf.Tensor


def _real_cross_entropy(real_logits, label_smoothing):
    target = 1.0 - label_smoothing
    return target * tf.nn.softplus(-real_logits) + (1.0 - target) * tf.nn.softplus(real_logits)


@gin.configurable(module="ssgan_tf.losses")
def non_saturating(real_logits, fake_logits, label_smoothing: float = 0.0) -> GanLossTerms:
    """D: -log sigmoid(r) - log(1 - sigmoid(f)); G: -log sigmoid(f) (the default)."""
    return GanLossTerms(_real_cross_entropy(real_logits, label_smoothing),
                        tf.nn.softplus(fake_logits), tf.nn.softplus(-fake_logits))


@gin.configurable(module="ssgan_tf.losses")
def minimax(real_logits, fake_logits, label_smoothing: float = 0.0) -> GanLossTerms:
    """The original saturating game: G minimizes log(1 - sigmoid(f))."""
    return GanLossTerms(_real_cross_entropy(real_logits, label_smoothing),
                        tf.nn.softplus(fake_logits), -tf.nn.softplus(fake_logits))


@gin.configurable(module="ssgan_tf.losses")
def hinge(real_logits, fake_logits) -> GanLossTerms:
    """D: relu(1 - r) + relu(1 + f); G: -f."""
    return GanLossTerms(tf.nn.relu(1.0 - real_logits), tf.nn.relu(1.0 + fake_logits),
                        -fake_logits)


@gin.configurable(module="ssgan_tf.losses")
def wasserstein(real_logits, fake_logits) -> GanLossTerms:
    """D: -r + f; G: -f."""
    return GanLossTerms(-real_logits, fake_logits, -fake_logits)


@gin.configurable(module="ssgan_tf.losses")
def least_squares(real_logits, fake_logits) -> GanLossTerms:
    """D: 0.5 (sigmoid(r) - 1)^2 + 0.5 sigmoid(f)^2; G: 0.5 (sigmoid(f) - 1)^2."""
    real, fake = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
    return GanLossTerms(0.5 * tf.square(real - 1.0), 0.5 * tf.square(fake),
                        0.5 * tf.square(fake - 1.0))


LossFn = Callable[[tf.Tensor, tf.Tensor], GanLossTerms]
LOSSES = {f.__name__: f for f in (non_saturating, minimax, hinge, wasserstein, least_squares)}


def rotation_cross_entropy(logits, labels) -> tf.Tensor:
    """Per-example CE with the reference's form: -sum onehot * log(softmax + 1e-10)."""
    probs = tf.nn.softmax(tf.cast(logits, tf.float32))
    onehot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=tf.float32)
    return -tf.reduce_sum(onehot * tf.math.log(probs + 1e-10), axis=-1)
