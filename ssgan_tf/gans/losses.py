"""GAN losses (compare_gan `loss_lib`), returned per example so the train step can average them
over the global batch with `tf.nn.compute_average_loss`.

Each loss maps real and fake logits [B] to `GanLossTerms(d_real, d_fake, g)`, per-example float32
tensors with L_D = mean(d_real) + mean(d_fake) and L_G = mean(g) (sigma = sigmoid, r/f = real/fake
logits):
- `non_saturating` (Goodfellow et al. 2014; the default):
  d_real = softplus(-r), d_fake = softplus(f), g = softplus(-f).
- `minimax` (Goodfellow et al. 2014, the original saturating game):
  d_real = softplus(-r), d_fake = softplus(f), g = -softplus(f) = log(1 - sigma(f)).
- `hinge` (Lim & Ye 2017; Miyato et al. 2018): d_real = relu(1 - r), d_fake = relu(1 + f), g = -f.
- `wasserstein` (Arjovsky et al. 2017): d_real = -r, d_fake = f, g = -f.
- `least_squares` (Mao et al. 2017, compare_gan's form): d_real = 0.5 (sigma(r) - 1)^2,
  d_fake = 0.5 sigma(f)^2, g = 0.5 (sigma(f) - 1)^2.

One-sided label smoothing (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.4)
applies to the two cross-entropy losses: with `label_smoothing = s` the real target becomes 1 - s
(`non_saturating.label_smoothing = 0.1` -> target 0.9), i.e. d_real = (1-s) softplus(-r) +
s softplus(r); fakes keep target 0 and G's loss is unchanged. It is one-sided on purpose:
smoothing the fake target would reward D for keeping fakes near the data (see the paper).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import gin
import tensorflow as tf


class GanLossTerms(NamedTuple):
    d_real: tf.Tensor
    d_fake: tf.Tensor
    g: tf.Tensor


def _float32(*tensors):
    return [tf.cast(t, tf.float32) for t in tensors]


def _real_cross_entropy(real_logits, label_smoothing):
    """Cross-entropy of sigmoid(r) against the (one-sided smoothed) real target 1 - s."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing={label_smoothing} must be in [0, 1): the real target "
                         "is 1 - label_smoothing (0.1 gives the usual 0.9).")
    target = 1.0 - label_smoothing
    loss = tf.nn.softplus(-real_logits)
    if label_smoothing:
        loss = target * loss + (1.0 - target) * tf.nn.softplus(real_logits)
    return loss


@gin.configurable(module="ssgan_tf.gans.losses")
def non_saturating(real_logits, fake_logits, label_smoothing: float = 0.0) -> GanLossTerms:
    """D: -log sigmoid(r) - log(1 - sigmoid(f)); G: -log sigmoid(f) (the default).

    `label_smoothing` s: one-sided, the real target is 1 - s (fakes stay 0)."""
    real_logits, fake_logits = _float32(real_logits, fake_logits)
    return GanLossTerms(_real_cross_entropy(real_logits, label_smoothing),
                        tf.nn.softplus(fake_logits), tf.nn.softplus(-fake_logits))


@gin.configurable(module="ssgan_tf.gans.losses")
def minimax(real_logits, fake_logits, label_smoothing: float = 0.0) -> GanLossTerms:
    """The original saturating game: G minimizes log(1 - sigmoid(f)).

    `label_smoothing` s: one-sided, the real target is 1 - s (fakes stay 0)."""
    real_logits, fake_logits = _float32(real_logits, fake_logits)
    return GanLossTerms(_real_cross_entropy(real_logits, label_smoothing),
                        tf.nn.softplus(fake_logits), -tf.nn.softplus(fake_logits))


@gin.configurable(module="ssgan_tf.gans.losses")
def hinge(real_logits, fake_logits) -> GanLossTerms:
    """D: relu(1 - r) + relu(1 + f); G: -f."""
    real_logits, fake_logits = _float32(real_logits, fake_logits)
    return GanLossTerms(tf.nn.relu(1.0 - real_logits), tf.nn.relu(1.0 + fake_logits),
                        -fake_logits)


@gin.configurable(module="ssgan_tf.gans.losses")
def wasserstein(real_logits, fake_logits) -> GanLossTerms:
    """D: -r + f; G: -f."""
    real_logits, fake_logits = _float32(real_logits, fake_logits)
    return GanLossTerms(-real_logits, fake_logits, -fake_logits)


@gin.configurable(module="ssgan_tf.gans.losses")
def least_squares(real_logits, fake_logits) -> GanLossTerms:
    """D: 0.5 (sigmoid(r) - 1)^2 + 0.5 sigmoid(f)^2; G: 0.5 (sigmoid(f) - 1)^2."""
    real_logits, fake_logits = _float32(real_logits, fake_logits)
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
