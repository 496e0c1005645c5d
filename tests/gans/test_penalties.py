"""D penalties (wgangp, dragan, r1, l2) and historical averaging against numpy.

D is `tanh(flatten(x) W) -> fc`, whose input gradient is analytic:
d logit / d x = W (w_fc * (1 - f^2))."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import GAN, RotationTask, penalties
from ssgan_tf.gans.tricks import HistoricalAverage
from tests.helpers import tiny_gan
from tests.helpers.toy_models import B, C, LinearDiscriminator, S, TinyGenerator

KEY = tf.constant([11, 22], tf.int64)


def linear_d(seed=3):
    d = LinearDiscriminator()
    d(tf.zeros([1, S, S, C]))
    rng = np.random.RandomState(seed)
    for var in d.trainable_variables:
        var.assign(rng.normal(0, 0.5, var.shape).astype(np.float32))
    return d


def np_input_grad(d, x):
    w_e = d.embed.kernel.numpy().astype(np.float64)
    w = d.final_fc.kernel.numpy()[:, 0].astype(np.float64)
    f = np.tanh(x.reshape(len(x), -1).astype(np.float64) @ w_e)
    return ((w * (1 - f ** 2)) @ w_e.T).reshape(x.shape)


def np_slopes(grad):
    return np.sqrt(1e-4 + np.sum(grad.reshape(len(grad), -1) ** 2, axis=1))


def batches(seed=0):
    rng = np.random.RandomState(seed)
    return (rng.uniform(size=(B, S, S, C)).astype(np.float32),
            rng.uniform(size=(B, S, S, C)).astype(np.float32))


def test_wgangp_interpolates_per_example():
    real, fake = batches()
    x_hat, alpha = penalties.wgangp_interpolates(real, fake, KEY)
    alpha = alpha.numpy()
    assert alpha.shape == (B,) and (alpha >= 0).all() and (alpha < 1).all()
    assert len(set(np.round(alpha, 6))) == B  # one alpha per example
    np.testing.assert_allclose(x_hat.numpy(), real + alpha[:, None, None, None] * (fake - real),
                               rtol=1e-6, atol=1e-6)
    # The global batch's draw, sliced: replica 1 of 2 gets the second half of the 2B draw.
    _, global_alpha = penalties.wgangp_interpolates(np.concatenate([real, real]),
                                                    np.concatenate([fake, fake]), KEY)
    _, second = penalties.wgangp_interpolates(real, fake, KEY, replica_id=1, num_replicas=2)
    np.testing.assert_array_equal(second.numpy(), global_alpha.numpy()[B:])


def test_wgangp_matches_numpy():
    d = linear_d()
    real, fake = batches()
    x_hat, _ = penalties.wgangp_interpolates(real, fake, KEY)
    want = (np_slopes(np_input_grad(d, x_hat.numpy())) - 1.0) ** 2
    got = penalties.wgangp(d, real, fake, key=KEY)
    assert got.shape == (B,)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4)


def test_dragan_perturbation_and_penalty_match_numpy():
    d = linear_d()
    real, _ = batches(1)
    x_tilde, std = penalties.dragan_perturbed(real, KEY)
    np.testing.assert_allclose(float(std), np.std(real.astype(np.float64)), rtol=1e-5)
    x_tilde = x_tilde.numpy()
    noise = x_tilde - real
    unclipped = (x_tilde > 0) & (x_tilde < 1)
    # Noise is std * (U[0,1) - 0.5), then clipped to [0, 1].
    assert np.all(np.abs(noise[unclipped]) <= 0.5 * float(std) + 1e-6)
    assert x_tilde.min() >= 0.0 and x_tilde.max() <= 1.0
    assert np.std(noise[unclipped]) > 0.2 * float(std)  # uniform on a width-std interval
    want = (np_slopes(np_input_grad(d, x_tilde)) - 1.0) ** 2
    np.testing.assert_allclose(penalties.dragan(d, real, key=KEY).numpy(), want, rtol=1e-4)


def test_r1_matches_numpy():
    d = linear_d()
    real, fake = batches(2)
    want = 0.5 * np.sum(np_input_grad(d, real).reshape(B, -1) ** 2, axis=1)
    np.testing.assert_allclose(penalties.r1(d, real, fake).numpy(), want, rtol=1e-4)


def test_l2_is_the_mean_l2_loss_of_the_kernels():
    model = tiny_gan(batch=2)
    d = model.discriminator
    kernels = penalties.kernel_variables(d)
    # 7 convs + final_fc + rotation head; no biases, no spectral-norm u.
    assert len(kernels) == 9 and all(v.path.endswith("/kernel") for v in kernels)
    want = np.mean([np.sum(k.numpy().astype(np.float64) ** 2) / 2 for k in kernels])
    got = penalties.l2(d)
    assert got.shape == ()
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_penalty_gradient_reaches_d_weights():
    """The input gradient is taken inside D's tape: L_D's gradient includes the penalty's
    second-order term (checked against a finite difference)."""
    d = linear_d()
    real, fake = batches(3)
    var = d.final_fc.kernel
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(penalties.wgangp(d, real, fake, key=KEY))
    grad = tape.gradient(value, var).numpy()
    assert np.abs(grad).max() > 0
    base = var.numpy()
    eps = 1e-2
    numeric = []
    for i in range(3):
        for sign in (1, -1):
            bumped = base.copy()
            bumped[i, 0] += sign * eps
            var.assign(bumped)
            numeric.append(float(tf.reduce_mean(penalties.wgangp(d, real, fake, key=KEY))))
        var.assign(base)
    numeric = [(numeric[2 * i] - numeric[2 * i + 1]) / (2 * eps) for i in range(3)]
    np.testing.assert_allclose(grad[:3, 0], numeric, rtol=2e-2, atol=1e-4)


def make_model(penalty_fn, weight, mode="rotation_gan"):
    d = linear_d()
    return GAN(TinyGenerator(), d, penalty_fn=penalty_fn, penalty_weight=weight,
               self_supervision=RotationTask(mode=mode, rotated_batch_size=8))


@pytest.mark.parametrize("mode", ["rotation_gan", "rotation_only"])
def test_penalty_enters_d_loss_with_its_weight(mode):
    """L_D = GAN + rotation + lambda * mean(P) (x 0 in rotation_only, as the reference); P sees
    only the un-rotated batch."""
    real, fake = batches(4)
    plain = make_model(None, 0.0, mode)
    plain.d_optimizer.build(plain.discriminator.trainable_variables)
    base = float(plain.discriminator_step(tf.constant(real), tf.constant(fake))["d_loss"])
    model = make_model(penalties.wgangp, 10.0, mode)
    model.d_optimizer.build(model.discriminator.trainable_variables)
    expected_p = float(np.mean(penalties.wgangp(model.discriminator, real, fake,
                                                key=model._key(104729)).numpy()))
    logs = model.discriminator_step(tf.constant(real), tf.constant(fake))
    np.testing.assert_allclose(float(logs["d_penalty"]), expected_p, rtol=1e-5)
    weight = 0.0 if mode == "rotation_only" else 10.0
    np.testing.assert_allclose(float(logs["d_loss"]), base + weight * expected_p, rtol=1e-5)
    assert "d_penalty" in model.log_keys() and "d_penalty" not in plain.log_keys()


def test_scalar_penalty_is_not_averaged_over_the_batch():
    model = make_model(penalties.l2, 2.0)
    model.d_optimizer.build(model.discriminator.trainable_variables)
    want = float(penalties.l2(model.discriminator))
    real, fake = batches(5)
    np.testing.assert_allclose(float(model.penalty(real, fake)), want, rtol=1e-6)


def test_penalty_by_name_and_bad_settings():
    assert make_model("r1", 1.0).penalty_fn is penalties.r1
    with pytest.raises(ValueError, match="penalty_fn='nope'"):
        make_model("nope", 1.0)
    with pytest.raises(ValueError, match="penalty_weight=-1"):
        make_model(penalties.r1, -1.0)


# ---------------------------------------------------------------------- historical averaging
def test_historical_average_running_mean_and_penalty():
    v = keras.Variable([1.0, -2.0])
    history = HistoricalAverage([v])
    trajectory = [np.array([1.0, -2.0])]
    for count, value in enumerate([[3.0, 0.0], [2.0, 2.0], [-1.0, 4.0]], start=2):
        v.assign(value)
        trajectory.append(np.array(value))
        want_penalty = np.sum((np.array(value) - np.mean(trajectory[:-1], axis=0)) ** 2)
        np.testing.assert_allclose(float(history.penalty()), want_penalty, rtol=1e-6)
        history.update(count)
        np.testing.assert_allclose(list(history.averages.values())[0].numpy(),
                                   np.mean(trajectory, axis=0), rtol=1e-6)


def test_historical_average_exponential():
    v = keras.Variable([0.0])
    history = HistoricalAverage([v], decay=0.9)
    avg = 0.0
    for value in (1.0, 5.0, -3.0):
        v.assign([value])
        history.update(count=123)  # ignored with a decay
        avg = 0.9 * avg + 0.1 * value
        np.testing.assert_allclose(list(history.averages.values())[0].numpy(), [avg],
                                   rtol=1e-6)
    with pytest.raises(ValueError, match="historical_decay=1.0"):
        HistoricalAverage([v], decay=1.0)


def test_historical_averaging_in_the_train_step():
    """With historical_weight_d/g the averages are the mean of every value D's and G's weights
    took (the initial ones included), and lambda * ||w - avg||^2 enters L_D / L_G."""
    d = linear_d()
    model = GAN(TinyGenerator(), d, self_supervision=RotationTask(rotated_batch_size=8),
                historical_weight_d=0.5, historical_weight_g=0.25)
    model.build_all(B)
    assert {"d_historical", "g_historical"} <= set(model.log_keys())
    d_traj = [[v.numpy() for v in d.trainable_variables]]
    g_traj = [[v.numpy() for v in model.generator.trainable_variables]]
    rng = np.random.RandomState(0)
    for _ in range(3):
        d_before, g_before = d_traj[-1], g_traj[-1]
        d_avg = [np.mean([t[i] for t in d_traj], axis=0) for i in range(len(d_before))]
        g_avg = [np.mean([t[i] for t in g_traj], axis=0) for i in range(len(g_before))]
        logs = model.train_step({"images": tf.constant(rng.uniform(size=(B, S, S, C)),
                                                       tf.float32)})
        for key, before, avg in (("d_historical", d_before, d_avg),
                                 ("g_historical", g_before, g_avg)):
            np.testing.assert_allclose(float(logs[key]),
                                       sum(np.sum((w - a) ** 2) for w, a in zip(before, avg)),
                                       rtol=1e-4, atol=1e-9)
        d_traj.append([v.numpy() for v in d.trainable_variables])
        g_traj.append([v.numpy() for v in model.generator.trainable_variables])
    for history, traj, net in ((model.d_history, d_traj, d), (model.g_history, g_traj,
                                                             model.generator)):
        for i, avg in enumerate(history.averages.values()):
            np.testing.assert_allclose(avg.numpy(), np.mean([t[i] for t in traj], axis=0),
                                       rtol=1e-5, atol=1e-7)
    assert float(logs["g_historical"]) > 0
