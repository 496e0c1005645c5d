"""SSGAN D and G losses against numpy, for fixed weights and inputs, in every mode."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import GAN, RotationTask, losses
from tests.helpers.toy_models import (
    B,
    C,
    LinearDiscriminator,
    S,
    TinyGenerator,
    d_weights,
    np_d_outputs,
    np_rotation_ce,
    np_softplus,
    np_with_rotations,
)

NP_LOSSES = {
    "non_saturating": (lambda r, f: np.mean(np_softplus(-r)) + np.mean(np_softplus(f)),
                       lambda f: np.mean(np_softplus(-f))),
    "hinge": (lambda r, f: np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)),
              lambda f: -np.mean(f)),
}


def np_reference(weights, real, fake, mode, n, loss_name):
    d_gan, g_gan = NP_LOSSES[loss_name]
    x = np.concatenate([np_with_rotations(real, n), np_with_rotations(fake, n)])
    logits, rot = np_d_outputs(weights, x)
    half = B + 3 * n
    gan_w = 0.0 if mode == "rotation_only" else 1.0
    d_loss = gan_w * d_gan(logits[:B], logits[half:half + B])
    if mode != "none":
        d_loss += 1.0 * np_rotation_ce(rot[half - 4 * n:half], n)
    return d_loss


def np_generator_loss(weights, fake, mode, n, loss_name):
    _, g_gan = NP_LOSSES[loss_name]
    logits, rot = np_d_outputs(weights, np_with_rotations(fake, n))
    g_loss = (0.0 if mode == "rotation_only" else 1.0) * g_gan(logits[:B])
    if mode != "none":
        g_loss += 0.2 * np_rotation_ce(rot[-4 * n:], n)
    return g_loss


def make_model(mode, rotated, loss_name):
    d = LinearDiscriminator()
    d(tf.zeros([1, S, S, C]))
    rng = np.random.RandomState(3)
    for var in d.trainable_variables:
        var.assign(rng.normal(0, 0.5, var.shape).astype(np.float32))
    model = GAN(TinyGenerator(), d, loss_fn=getattr(losses, loss_name),
                self_supervision=RotationTask(mode=mode, rotated_batch_size=rotated))
    return model


@pytest.mark.parametrize("loss_name", ["non_saturating", "hinge"])
@pytest.mark.parametrize("mode", ["rotation_gan", "rotation_only", "none"])
@pytest.mark.parametrize("rotated", [None, 8])  # every image / only the last 2 rotated
def test_d_and_g_losses_match_numpy(mode, rotated, loss_name):
    model = make_model(mode, rotated, loss_name)
    rng = np.random.RandomState(0)
    real = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    fake = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    n = 0 if mode == "none" else (B if rotated is None else rotated // 4)
    weights = d_weights(model.discriminator)
    g_expected = np_generator_loss(weights, fake, mode, n, loss_name)
    g_logs = model.generator_loss(tf.constant(fake))
    np.testing.assert_allclose(float(g_logs["g_loss"]), g_expected, rtol=1e-5, atol=1e-6)

    d_expected = np_reference(weights, real, fake, mode, n, loss_name)
    model.d_optimizer.build(model.discriminator.trainable_variables)
    d_logs = model.discriminator_step(tf.constant(real), tf.constant(fake))
    np.testing.assert_allclose(float(d_logs["d_loss"]), d_expected, rtol=1e-5, atol=1e-6)
    # The D step updated D (and only D's optimizer moved).
    assert int(model.d_optimizer.iterations) == 1
    assert not np.allclose(d_weights(model.discriminator)[0], weights[0])


def test_gan_loss_sees_upright_images_only():
    """Rotated copies must not enter the real/fake logits (a classic SSGAN port bug)."""
    model = make_model("rotation_gan", None, "non_saturating")
    rng = np.random.RandomState(1)
    real = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    fake = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    weights = d_weights(model.discriminator)
    logs = model.discriminator_step(tf.constant(real), tf.constant(fake))
    r, _ = np_d_outputs(weights, real)
    f, _ = np_d_outputs(weights, fake)
    np.testing.assert_allclose(float(logs["d_loss_real"]), np.mean(np_softplus(-r)), rtol=1e-5)
    np.testing.assert_allclose(float(logs["d_loss_fake"]), np.mean(np_softplus(f)), rtol=1e-5)


def test_train_step_uses_updated_d_and_same_fakes_for_g():
    """train_step: D loss on (real, G(z)); then G loss on the same fakes with the updated D."""
    model = make_model("rotation_gan", 8, "non_saturating")
    model.build_all(B)
    rng = np.random.RandomState(2)
    real = rng.uniform(size=(B, S, S, C)).astype(np.float32)
    z = rng.uniform(-1, 1, size=(B, 16)).astype(np.float32)
    fake = model.generator(tf.constant(z), training=True).numpy()
    weights_before = d_weights(model.discriminator)
    logs = model.train_step({"images": tf.constant(real), "z": tf.constant(z)})
    np.testing.assert_allclose(float(logs["d_loss"]),
                               np_reference(weights_before, real, fake, "rotation_gan", 2,
                                            "non_saturating"), rtol=1e-5, atol=1e-6)
    weights_after = d_weights(model.discriminator)
    np.testing.assert_allclose(float(logs["g_loss"]),
                               np_generator_loss(weights_after, fake, "rotation_gan", 2,
                                                 "non_saturating"), rtol=1e-5, atol=1e-6)
    assert int(model.step) == 1
