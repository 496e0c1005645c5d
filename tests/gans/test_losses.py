"""Every GAN loss and one-sided label smoothing against numpy, on fixed logits."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import GAN, RotationTask, losses
from tests.helpers.toy_models import B, C, LinearDiscriminator, S, TinyGenerator

REAL = np.array([-3.0, -1.2, -0.1, 0.0, 0.4, 1.5, 2.7, 8.0], np.float32)
FAKE = np.array([2.2, -0.7, 0.05, -4.0, 1.1, -1.9, 0.0, -8.5], np.float32)


def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


# (d_real, d_fake, g) per example, written from the papers' definitions with sigmoid/log.
NUMPY = {
    "non_saturating": lambda r, f: (-np.log(sigmoid(r)), -np.log(1 - sigmoid(f)),
                                    -np.log(sigmoid(f))),
    "minimax": lambda r, f: (-np.log(sigmoid(r)), -np.log(1 - sigmoid(f)),
                             np.log(1 - sigmoid(f))),
    "hinge": lambda r, f: (np.maximum(0, 1 - r), np.maximum(0, 1 + f), -f),
    "wasserstein": lambda r, f: (-r, f, -f),
    "least_squares": lambda r, f: (0.5 * (sigmoid(r) - 1) ** 2, 0.5 * sigmoid(f) ** 2,
                                   0.5 * (sigmoid(f) - 1) ** 2),
}


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_loss_terms_match_numpy(name):
    terms = losses.LOSSES[name](tf.constant(REAL), tf.constant(FAKE))
    # +-8 logits: log(sigmoid) in float64 is still accurate there.
    for got, want, part in zip(terms, NUMPY[name](REAL.astype(np.float64),
                                                  FAKE.astype(np.float64)),
                               ("d_real", "d_fake", "g")):
        assert got.dtype == tf.float32 and got.shape == (len(REAL),), part
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=part)


def test_every_loss_is_registered():
    assert set(losses.LOSSES) == set(NUMPY)


@pytest.mark.parametrize("name", ["non_saturating", "minimax"])
def test_one_sided_label_smoothing(name):
    fn = losses.LOSSES[name]
    smoothed = fn(tf.constant(REAL), tf.constant(FAKE), label_smoothing=0.1)
    plain = fn(tf.constant(REAL), tf.constant(FAKE))
    r = REAL.astype(np.float64)
    # Cross-entropy of sigmoid(r) against the target 0.9.
    want = -(0.9 * np.log(sigmoid(r)) + 0.1 * np.log(1 - sigmoid(r)))
    np.testing.assert_allclose(smoothed.d_real.numpy(), want, rtol=1e-5, atol=1e-6)
    # One-sided: the fake term and G's loss do not change.
    np.testing.assert_array_equal(smoothed.d_fake.numpy(), plain.d_fake.numpy())
    np.testing.assert_array_equal(smoothed.g.numpy(), plain.g.numpy())
    # The smoothed real loss is minimized at sigmoid(r) = 0.9, not at r -> inf.
    r_grid = np.linspace(-2, 6, 8001).astype(np.float32)
    best = r_grid[np.argmin(fn(tf.constant(r_grid), tf.constant(r_grid),
                               label_smoothing=0.1).d_real.numpy())]
    assert abs(sigmoid(best) - 0.9) < 1e-3


def test_label_smoothing_out_of_range_is_an_error():
    with pytest.raises(ValueError, match=r"label_smoothing=1.0 must be in \[0, 1\)"):
        losses.non_saturating(tf.constant(REAL), tf.constant(FAKE), label_smoothing=1.0)


def test_losses_are_float32_for_bfloat16_logits():
    terms = losses.hinge(tf.constant(REAL, tf.bfloat16), tf.constant(FAKE, tf.bfloat16))
    assert all(t.dtype == tf.float32 for t in terms)


def test_label_smoothing_through_gin_in_the_d_step():
    """`GAN.loss_fn = @non_saturating` + `non_saturating.label_smoothing = 0.1` (gin files keep
    working) changes exactly L_D's real term."""
    gin.parse_config(["GAN.loss_fn = @non_saturating",
                      "non_saturating.label_smoothing = 0.1"])
    d = LinearDiscriminator()
    d(tf.zeros([1, S, S, C]))
    rng = np.random.RandomState(3)
    for var in d.trainable_variables:
        var.assign(rng.normal(0, 0.5, var.shape).astype(np.float32))
    model = GAN(TinyGenerator(), d, self_supervision=RotationTask(mode="none"))
    real = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    fake = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    f = np.tanh(real.reshape(B, -1) @ d.embed.kernel.numpy())
    r = f @ d.final_fc.kernel.numpy()[:, 0] + d.final_fc.bias.numpy()[0]
    model.d_optimizer.build(d.trainable_variables)
    logs = model.discriminator_step(tf.constant(real), tf.constant(fake))
    want = np.mean(-(0.9 * np.log(sigmoid(r)) + 0.1 * np.log(1 - sigmoid(r))))
    np.testing.assert_allclose(float(logs["d_loss_real"]), want, rtol=1e-5)
    keras.backend.clear_session(free_memory=False)
