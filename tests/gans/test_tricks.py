"""The stabilization tricks' mechanics against hand-computed values: EMA generator, experience
replay, checkpoint swapping, unrolled D, minibatch discrimination / stddev, TTUR; distribution,
mixed precision and checkpoints. Most tests use the linear D and sigmoid-linear G of
test_ssgan_losses, whose outputs numpy recomputes exactly."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import GAN, RotationTask, penalties
from ssgan_tf.gans.tricks import ReplayBuffer, UnrolledDiscriminator
from ssgan_tf.gans.tricks.replay import INDEX_SALT, MASK_SALT
from ssgan_tf.layers.minibatch import MinibatchDiscrimination, MinibatchStddev
from ssgan_tf.runs.checkpoints import make_checkpoint
from tests.helpers import random_images, set_weights_from, tiny_gan
from tests.helpers.toy_models import (
    B,
    C,
    LinearDiscriminator,
    S,
    TinyGenerator,
    d_weights,
    np_d_outputs,
    np_softplus,
)

Z_DIM = 16


def linear_gan(rotation=None, seed=3, **kwargs) -> GAN:
    d = LinearDiscriminator()
    d(tf.zeros([1, S, S, C]))
    rng = np.random.RandomState(seed)
    for var in d.trainable_variables:
        var.assign(rng.normal(0, 0.5, var.shape).astype(np.float32))
    model = GAN(TinyGenerator(), d, self_supervision=rotation or RotationTask(mode="none"),
                **kwargs)
    model.build_all(B)
    for var in model.generator.trainable_variables:
        var.assign(rng.normal(0, 0.3, var.shape).astype(np.float32))
    if model.ema_generator is not None:
        model.ema_generator.copy_from_source()
    if model.swap_generator is not None:
        model.swap_generator.copy_from_source()
    for history in (model.d_history, model.g_history):
        if history is not None:
            history.reset()
    return model


def g_weights(model):
    return [v.numpy() for v in model.generator.trainable_variables]


def np_generate(weights, z):
    w, b = weights
    return (1.0 / (1.0 + np.exp(-(z @ w + b)))).reshape(-1, S, S, C)


def batch(seed):
    rng = np.random.RandomState(seed)
    return (rng.uniform(size=(B, S, S, C)).astype(np.float32),
            rng.uniform(-1, 1, size=(B, Z_DIM)).astype(np.float32))


def np_d_fake_loss(model_d_weights, fakes):
    logits, _ = np_d_outputs(model_d_weights, fakes)
    return np.mean(np_softplus(logits))


# --------------------------------------------------------------------------------- defaults
def test_every_trick_is_off_by_default():
    model = linear_gan()
    assert model.ema_generator is None and model.swap_generator is None
    assert model.replay is None and model.d_history is None and model.g_history is None
    assert model.penalty_fn is None and list(model.tricks) == []
    assert model.checkpoint_extras() == {}
    assert model.inference_generator() is model.generator
    assert model.log_keys() == ("d_loss", "d_loss_real", "d_loss_fake", "g_loss", "g_loss_gan")
    assert not model.discriminator.batch_dependent


@pytest.mark.parametrize("kwargs, message", [
    (dict(g_ema_decay=1.0), "g_ema_decay=1.0"),
    (dict(replay_buffer_size=8, replay_fraction=0.0), "replay_fraction=0.0"),
    (dict(swap_every=3, swap_duration=3), r"swap_duration=3 must be in \[1, swap_every=3\)"),
    (dict(unrolled_steps=1, unrolled_optimizer="rmsprop"), "unrolled_optimizer='rmsprop'"),
])
def test_bad_trick_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GAN(TinyGenerator(), LinearDiscriminator(), **kwargs)


# ---------------------------------------------------------------------------------------- EMA
def test_ema_tracks_numpy_and_is_the_inference_generator():
    """Before ema_start_step the EMA copies G; after it, ema = d * ema + (1 - d) * w."""
    model = linear_gan(g_ema_decay=0.5, ema_start_step=1)
    assert model.inference_generator() is model.ema_generator
    ema = g_weights(model)
    for step in range(1, 4):
        real, z = batch(step)
        model.train_step({"images": tf.constant(real), "z": tf.constant(z)})
        decay = 0.5 if step > 1 else 0.0
        ema = [decay * e + (1 - decay) * w for e, w in zip(ema, g_weights(model))]
        for want, got in zip(ema, model.ema_generator.shadow_trainable):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ema[0], g_weights(model)[0])
    z = batch(9)[1]
    np.testing.assert_allclose(model.inference_generator()(tf.constant(z)).numpy(),
                               np_generate(ema, z), rtol=1e-5, atol=1e-6)
    assert not model.ema_generator.trainable_variables  # never trained


def test_ema_generator_shares_live_batch_norm_statistics_and_checkpoints(tmp_path):
    """The EMA G uses the live G's BN moving statistics (compare_gan does not average them);
    its weights are saved and restored with the checkpoint."""
    model = tiny_gan(batch=4, g_ema_decay=0.9, ema_start_step=0)
    model.generator.norms[0].standardize.bn.moving_mean.assign(
        tf.fill([model.generator.norms[0].standardize.bn.moving_mean.shape[0]], 0.3))
    z = tf.random.stateless_uniform([4, 16], [1, 2], -1, 1)
    np.testing.assert_allclose(model.ema_generator(z).numpy(),
                               model.generator(z, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert "ema_generator" in model.checkpoint_extras()
    checkpoint = make_checkpoint(model)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    saved = [v.numpy() for v in model.ema_generator.shadow_trainable]
    for v in model.ema_generator.shadow_trainable:
        v.assign(tf.zeros_like(v))
    checkpoint.restore(path).assert_existing_objects_matched()
    for want, v in zip(saved, model.ema_generator.shadow_trainable):
        np.testing.assert_array_equal(v.numpy(), want)


@pytest.mark.slow
def test_training_run_with_ema_restores_ema_weights(tmp_path):
    """A short train() run with EMA: load_gan rebuilds the EMA generator from the checkpoint."""
    from ssgan_tf.runs.restore import load_gan
    from tests.helpers.training import run

    run(tmp_path, 2, extra=["GAN.g_ema_decay = 0.5", "GAN.ema_start_step = 1"])
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints"))
    model, info = load_gan(str(tmp_path))
    assert info["step"] == 2 and model.inference_generator() is model.ema_generator
    shadows = model.ema_generator.shadow_variables()
    assert len(shadows) == len(model.generator.trainable_variables)
    for name, variable in shadows.items():
        key = name.replace(".", "..")  # tf.train escapes "." in object names
        np.testing.assert_array_equal(
            variable.numpy(),
            reader.get_tensor(f"ema_generator/variables_by_path/{key}/.ATTRIBUTES/VARIABLE_VALUE"))
    # Step 2 averaged (decay 0.5 after ema_start_step = 1): the EMA differs from G.
    assert any(not np.allclose(s.numpy(), v.numpy()) for s, v in
               zip(model.ema_generator.shadow_trainable, model.generator.trainable_variables))


def test_old_checkpoint_without_trick_state_restores_with_reset(tmp_path):
    """A checkpoint written before EMA / replay / history were enabled: restore the networks with
    with_extras=False, then reset_trick_state() starts the tricks from them."""
    old = linear_gan()
    path = make_checkpoint(old).save(str(tmp_path / "old"))
    model = linear_gan(seed=7, g_ema_decay=0.9, replay_buffer_size=8, historical_weight_d=1.0)
    model.replay.count.assign(5)
    with pytest.raises(AssertionError):
        make_checkpoint(model).restore(path).assert_existing_objects_matched()
    make_checkpoint(model, with_extras=False).restore(path).assert_existing_objects_matched()
    model.reset_trick_state()
    for shadow, live in zip(model.ema_generator.shadow_trainable, g_weights(old)):
        np.testing.assert_array_equal(shadow.numpy(), live)
    for avg, live in zip(model.d_history.averages.values(), d_weights(old.discriminator)):
        np.testing.assert_array_equal(avg.numpy(), live)
    assert int(model.replay.count.numpy()) == 0


# ------------------------------------------------------------------------------------- replay
def constant_images(values):
    return tf.constant(np.asarray(values, np.float32).reshape(-1, 1, 1, 1))


def test_replay_buffer_contents_ring_and_mixing_ratio():
    buffer = ReplayBuffer(size=6, fraction=0.5, image_shape=(1, 1, 1), conditional=True)
    keys = (tf.constant([1, 2], tf.int64), tf.constant([3, 4], tf.int64))
    fresh, labels = constant_images([1, 2, 3, 4]), tf.constant([11, 12, 13, 14])
    mixed, mixed_y = buffer.mix(fresh, labels, *keys)
    np.testing.assert_array_equal(mixed.numpy(), fresh.numpy())  # empty buffer: no replay
    buffer.insert(fresh, labels)
    np.testing.assert_array_equal(buffer.images.numpy().ravel(), [1, 2, 3, 4, 0, 0])
    np.testing.assert_array_equal(buffer.labels.numpy(), [11, 12, 13, 14, 0, 0])
    assert int(buffer.count.numpy()) == 4

    fresh, labels = constant_images([5, 6, 7, 8]), tf.constant([15, 16, 17, 18])
    mask, indices = buffer.selection(4, *keys)
    mixed, mixed_y = buffer.mix(fresh, labels, *keys)
    mixed = mixed.numpy().ravel()
    mask = mask.numpy()
    assert mask.sum() == 2  # exactly round(0.5 * 4)
    stored = np.array([1, 2, 3, 4])
    np.testing.assert_array_equal(mixed[mask], stored[indices.numpy()[mask]])
    np.testing.assert_array_equal(mixed[~mask], np.array([5, 6, 7, 8])[~mask])
    np.testing.assert_array_equal(mixed_y.numpy(), mixed + 10)  # labels travel with images
    assert (indices.numpy()[mask] < 4).all()  # only filled slots are drawn
    # Deterministic for the keys.
    np.testing.assert_array_equal(buffer.mix(fresh, labels, *keys)[0].numpy().ravel(), mixed)
    # Replica slices of the global selection.
    halves = [buffer.mix(fresh[r * 2:(r + 1) * 2], labels[r * 2:(r + 1) * 2], *keys,
                         replica_id=r, num_replicas=2)[0].numpy().ravel() for r in (0, 1)]
    np.testing.assert_array_equal(np.concatenate(halves), mixed)

    buffer.insert(fresh, labels)  # ring: slots 4, 5, 0, 1
    np.testing.assert_array_equal(buffer.images.numpy().ravel(), [7, 8, 3, 4, 5, 6])
    assert int(buffer.count.numpy()) == 8
    with pytest.raises(ValueError, match="replay_buffer_size=6 must be at least the global"):
        buffer.insert(constant_images(range(8)), None)


@pytest.mark.parametrize("fraction, global_batch", [(0.25, 8), (0.5, 16), (1.0, 8), (0.3, 10)])
def test_replay_fraction_is_exact(fraction, global_batch):
    buffer = ReplayBuffer(size=32, fraction=fraction, image_shape=(1, 1, 1), conditional=False)
    for seed in range(5):
        mask, _ = buffer.selection(global_batch, tf.constant([seed, 0], tf.int64),
                                   tf.constant([seed, 1], tf.int64))
        assert int(mask.numpy().sum()) == round(fraction * global_batch)


def test_replay_in_the_train_step():
    """Step 1 stores G's fakes; step 2's D sees exactly the selected half replaced by them."""
    model = linear_gan(replay_buffer_size=8, replay_fraction=0.5)
    real1, z1 = batch(1)
    fakes1 = np_generate(g_weights(model), z1)
    model.train_step({"images": tf.constant(real1), "z": tf.constant(z1)})
    np.testing.assert_allclose(model.replay.images.numpy(), fakes1, rtol=1e-6, atol=1e-7)
    real2, z2 = batch(2)
    fakes2 = np_generate(g_weights(model), z2)
    mask, indices = model.replay.selection(B, model._key(MASK_SALT),
                                           model._key(INDEX_SALT))
    mask, indices = mask.numpy(), indices.numpy()
    expected = np.where(mask[:, None, None, None], fakes1[indices], fakes2)
    d_before = d_weights(model.discriminator)
    logs = model.train_step({"images": tf.constant(real2), "z": tf.constant(z2)})
    assert mask.sum() == 4
    np.testing.assert_allclose(float(logs["d_loss_fake"]), np_d_fake_loss(d_before, expected),
                               rtol=1e-5)
    assert not np.isclose(float(logs["d_loss_fake"]), np_d_fake_loss(d_before, fakes2))
    np.testing.assert_allclose(model.replay.images.numpy(), fakes2, rtol=1e-6, atol=1e-7)
    assert "replay" in model.checkpoint_extras()


# ------------------------------------------------------------------------- checkpoint swapping
def test_checkpoint_swapping_trains_d_against_the_snapshot():
    """swap_every=3, swap_duration=1: snapshots at steps 0 and 3; D trains against the snapshot
    at steps 2 and 5 (t mod 3 >= 2) and against G otherwise; G's update is unchanged."""
    model = linear_gan(swap_every=3, swap_duration=1)
    snapshots = {}
    for t in range(6):
        real, z = batch(10 + t)
        if t % 3 == 0:
            snapshots[t] = g_weights(model)
        old = snapshots[t - t % 3]
        d_before = d_weights(model.discriminator)
        fresh = np_generate(g_weights(model), z)
        logs = model.train_step({"images": tf.constant(real), "z": tf.constant(z)})
        for want, got in zip(old, model.swap_generator.shadow_trainable):
            np.testing.assert_array_equal(got.numpy(), want)
        used = np_generate(old, z) if t % 3 == 2 else fresh
        np.testing.assert_allclose(float(logs["d_loss_fake"]), np_d_fake_loss(d_before, used),
                                   rtol=1e-5, err_msg=f"step {t}")
        if t % 3 == 2:
            assert not np.isclose(float(logs["d_loss_fake"]), np_d_fake_loss(d_before, fresh))
    assert "swap_generator" in model.checkpoint_extras()


# ---------------------------------------------------------------------------------- unrolled
def test_unrolled_step_leaves_d_alone_and_changes_g():
    """Same weights and data: after an unrolled step D (weights and spectral-norm u) is exactly
    D after the real D update alone (the simulated updates never write a D variable), while G's
    update differs from the plain step's."""
    kwargs = dict(batch=4, rotation=RotationTask(rotated_batch_size=4))
    plain = tiny_gan(**kwargs)
    unrolled = tiny_gan(unrolled_steps=2, **kwargs)
    d_only = tiny_gan(**kwargs)
    set_weights_from(unrolled, plain)
    set_weights_from(d_only, plain)
    images = random_images(4, seed=3)
    z = tf.random.stateless_uniform([4, 16], [5, 5], -1, 1)
    d_only.discriminator_step(images, d_only.generator(z, training=True))
    plain_logs = plain.train_step({"images": images, "z": z})
    unrolled_logs = unrolled.train_step({"images": images, "z": z})
    for a, b in zip(d_only.discriminator.weights, unrolled.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip(plain.discriminator.trainable_variables,
                    unrolled.discriminator.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_array_equal(float(plain_logs["d_loss"]), float(unrolled_logs["d_loss"]))
    assert not np.isclose(float(plain_logs["g_loss"]), float(unrolled_logs["g_loss"]))
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in
               zip(plain.generator.trainable_variables, unrolled.generator.trainable_variables))


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_unrolled_loss_is_the_loss_against_the_updated_d(kind):
    """L_G(unrolled) = L_G against D after k hand-computed updates; its gradient w.r.t. the fakes
    includes the path through the updates (differs from the frozen-D gradient)."""
    model = linear_gan(rotation=RotationTask(rotated_batch_size=8), unrolled_steps=2,
                       unrolled_optimizer=kind, d_lr=0.05)
    real, z = batch(4)
    model.train_step({"images": tf.constant(real), "z": tf.constant(z)})  # Adam moments != 0
    real, z = batch(5)
    fake = tf.constant(np_generate(g_weights(model), z), tf.float32)
    d = model.discriminator
    opt = model.d_optimizer
    weights = [v.numpy().astype(np.float64) for v in d.trainable_variables]
    index = [opt._get_variable_index(v) for v in d.trainable_variables]
    m = [opt._momentums[i].numpy().astype(np.float64) for i in index]
    v2 = [opt._velocities[i].numpy().astype(np.float64) for i in index]
    t0 = int(opt.iterations)
    n = model._rotations_per_replica(B)
    x, _ = model._d_inputs(tf.constant(real), fake, None, None, n)
    for step in range(2):
        vars_ = [tf.Variable(w, dtype=tf.float32) for w in weights]
        with tf.GradientTape() as tape:
            out, _ = d.stateless_call(vars_, [], x, None, training=True)
            loss = model._d_objective(out, B, n)[0]
        grads = [g.numpy().astype(np.float64) for g in tape.gradient(loss, vars_)]
        if kind == "sgd":
            weights = [w - 0.05 * g for w, g in zip(weights, grads)]
        else:
            t = t0 + step + 1
            alpha = 0.05 * np.sqrt(1 - 0.999 ** t) / (1 - 0.5 ** t)
            m = [a + (g - a) * 0.5 for a, g in zip(m, grads)]
            v2 = [a + (g * g - a) * 0.001 for a, g in zip(v2, grads)]
            weights = [w - alpha * a / (np.sqrt(b) + 1e-8) for w, a, b in zip(weights, m, v2)]
    frozen = [tf.constant(w, tf.float32) for w in weights]

    def frozen_call(xx, yy):
        return d.stateless_call(frozen, [], xx, yy, training=True)[0]

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(fake)
        unrolled = model.trick(UnrolledDiscriminator).generator_discriminator(
            model, tf.constant(real), fake)
        got = model.generator_loss(fake, None, tf.constant(real), d_call=unrolled)["g_loss"]
        want = model.generator_loss(fake, None, tf.constant(real), d_call=frozen_call)["g_loss"]
    np.testing.assert_allclose(float(got), float(want), rtol=1e-4)
    through, frozen_grad = tape.gradient(got, fake).numpy(), tape.gradient(want, fake).numpy()
    assert np.abs(through - frozen_grad).max() > 1e-3 * np.abs(frozen_grad).max()
    # D's real weights are untouched by the simulation.
    for v, w in zip(d.trainable_variables, d_weights(d)):
        np.testing.assert_array_equal(v.numpy(), w)


# -------------------------------------------------------------------------------- minibatch
def np_minibatch_discrimination(f, t, kernels, dim):
    m = (f @ t).reshape(len(f), kernels, dim)
    l1 = np.abs(m[:, None] - m[None]).sum(-1)  # [B, B, K]
    return np.concatenate([f, np.exp(-l1).sum(1)], axis=1)


def test_minibatch_discrimination_matches_numpy():
    rng = np.random.RandomState(0)
    f = rng.normal(size=(6, 5)).astype(np.float32)
    layer = MinibatchDiscrimination(num_kernels=4, kernel_dim=3)
    out = layer(tf.constant(f)).numpy()
    assert out.shape == (6, 9) and layer.extra_features == 4
    np.testing.assert_allclose(out, np_minibatch_discrimination(f, layer.kernel.numpy(), 4, 3),
                               rtol=1e-5, atol=1e-6)
    # Identical examples are maximally close: o = B for each kernel.
    same = layer(tf.constant(np.repeat(f[:1], 6, axis=0))).numpy()
    np.testing.assert_allclose(same[:, 5:], 6.0, rtol=1e-6)


@pytest.mark.parametrize("group_size", [None, 2, 3])
def test_minibatch_stddev_matches_numpy(group_size):
    rng = np.random.RandomState(1)
    f = rng.normal(size=(6, 5)).astype(np.float32)
    out = MinibatchStddev(group_size=group_size)(tf.constant(f)).numpy()
    g = 6 if group_size is None else group_size
    y = f.astype(np.float64).reshape(g, 6 // g, 5)
    std = np.sqrt(((y - y.mean(0)) ** 2).mean(0) + 1e-8).mean(-1)  # [6 / g]
    want = std[np.arange(6) % (6 // g)]
    np.testing.assert_allclose(out[:, :5], f)
    np.testing.assert_allclose(out[:, 5], want, rtol=1e-5)


@pytest.mark.parametrize("kind, extra", [("minibatch_discrimination", 100),
                                         ("minibatch_stddev", 1)])
def test_discriminator_with_minibatch_features(kind, extra):
    from ssgan_tf.architectures import get_architecture

    _, discriminator_cls = get_architecture("sndcgan")
    plain = discriminator_cls((16, 16, 3), ch=4)
    d = discriminator_cls((16, 16, 3), ch=4, minibatch=kind)
    assert d.batch_dependent and not plain.batch_dependent
    assert d.feature_dim == plain.feature_dim + extra
    out = d(random_images(6), training=True)
    assert out["logits"].shape == (6,) and out["logits"].dtype == tf.float32
    assert out["features"].shape == (6, d.feature_dim)
    assert out["rotation_logits"].shape == (6, 4)
    assert {"block1", "block2", "block3", "block4"} <= set(out)
    # Batch-dependent: an image's logit changes with the rest of its batch.
    other = d(tf.concat([random_images(6)[:3], random_images(3, seed=9)], 0), training=True)
    assert not np.allclose(out["logits"][:3].numpy(), other["logits"][:3].numpy())


def test_minibatch_d_gets_reals_in_the_g_step():
    from ssgan_tf.architectures import get_architecture

    g_cls, d_cls = get_architecture("sndcgan")
    model = GAN(g_cls((16, 16, 3), z_dim=16, ch=4),
                d_cls((16, 16, 3), ch=4, minibatch="minibatch_stddev"),
                self_supervision=RotationTask(rotated_batch_size=8))
    model.build_all(4)
    calls = []
    original = model.discriminator.call

    def spy(x, y=None, training=False):
        calls.append(int(x.shape[0]))
        return original(x, y, training)

    model.discriminator.call = spy
    fake = model.generator(tf.random.uniform([4, 16]), training=True)
    model.generator_loss(fake, real=random_images(4))
    assert calls == [2 * (4 + 3 * 2)]  # reals and fakes, each with their rotations


# ------------------------------------------------------------------------------------- TTUR
def test_ttur_learning_rates():
    """Adam's first step moves each weight by ~lr * sign(grad): 4e-3 for D, 1e-3 for G."""
    model = linear_gan(g_lr=1e-3, d_lr=4e-3)
    assert np.isclose(float(model.g_optimizer.learning_rate), 1e-3)
    assert np.isclose(float(model.d_optimizer.learning_rate), 4e-3)
    d0, g0 = d_weights(model.discriminator), g_weights(model)
    real, z = batch(6)
    model.train_step({"images": tf.constant(real), "z": tf.constant(z)})
    d_step = max(np.abs(a - b).max() for a, b in zip(d_weights(model.discriminator), d0))
    g_step = max(np.abs(a - b).max() for a, b in zip(g_weights(model), g0))
    np.testing.assert_allclose([d_step, g_step], [4e-3, 1e-3], rtol=0.02)


# ------------------------------------------------------------------ distribution, precision


TRICKS_FOR_EQUIVALENCE = dict(
    penalty_fn=penalties.wgangp, penalty_weight=1.0, g_ema_decay=0.5, ema_start_step=0,
    replay_buffer_size=16, replay_fraction=0.5, historical_weight_d=0.1,
    historical_weight_g=0.1, swap_every=2, swap_duration=1, unrolled_steps=1)


def _linear_pair(strategy):
    kwargs = dict(rotation=RotationTask(rotated_batch_size=None), **TRICKS_FOR_EQUIVALENCE)
    single = linear_gan(**kwargs)
    with strategy.scope():
        mirrored = linear_gan(**kwargs)  # same seeds: same weights
    return single, mirrored, (B, S, C, Z_DIM)


def _sndcgan_pair(strategy):
    # Adam with lr = eps = 1: the update is g / (|g| + 1), so float noise on a near-zero
    # gradient cannot flip a step (see test_distributed).
    kwargs = dict(rotation=RotationTask(rotated_batch_size=None), cross_replica_bn=True,
                  g_lr=1.0, adam_epsilon=1.0, **TRICKS_FOR_EQUIVALENCE)
    single = tiny_gan(batch=8, **kwargs)
    with strategy.scope():
        mirrored = tiny_gan(batch=4, **kwargs)
    set_weights_from(mirrored, single)
    for net in ("ema_generator", "swap_generator"):
        getattr(mirrored, net).copy_from_source()
    for history in ("d_history", "g_history"):
        for t, s in zip(getattr(mirrored, history).averages.values(),
                        getattr(single, history).averages.values()):
            t.assign(s)
    return single, mirrored, (8, 16, 3, 16)


@pytest.mark.parametrize("builder", [
    _linear_pair, pytest.param(_sndcgan_pair, marks=pytest.mark.slow)])
def test_two_replicas_equal_one_replica_with_tricks(strategy, builder):
    """wgangp + EMA + replay + historical averaging + checkpoint swapping + unrolled D: two
    steps on 2 replicas equal two steps on 1 (every draw is global, every state update is
    replica-identical, the unrolled gradients are summed across replicas)."""
    single, mirrored, (batch_size, size, channels, z_dim) = builder(strategy)
    half = batch_size // 2
    single_step = tf.function(single.train_step)
    mirrored_step = tf.function(lambda data: strategy.run(mirrored.train_step, args=(data,)))
    for step in range(2):
        images = random_images(batch_size, size, channels, seed=20 + step)
        z = tf.random.stateless_uniform([batch_size, z_dim], [7, step], -1.0, 1.0)
        single_logs = single_step({"images": images, "z": z})
        data = strategy.experimental_distribute_values_from_function(
            lambda ctx: {"images": images[ctx.replica_id_in_sync_group * half:][:half],
                         "z": z[ctx.replica_id_in_sync_group * half:][:half]})
        per_replica = mirrored_step(data)
        for key, value in single_logs.items():
            # global values, the same on every replica
            reduced = strategy.reduce("MEAN", per_replica[key], axis=None)
            np.testing.assert_allclose(float(reduced), float(value), rtol=1e-4, atol=1e-5,
                                       err_msg=f"step {step}: {key}")
    pairs = [(single.generator.weights, mirrored.generator.weights),
             (single.discriminator.weights, mirrored.discriminator.weights),
             (single.ema_generator.shadow_trainable, mirrored.ema_generator.shadow_trainable),
             (single.swap_generator.shadow_trainable, mirrored.swap_generator.shadow_trainable),
             (list(single.d_history.averages.values()),
              list(mirrored.d_history.averages.values())),
             ([single.replay.images], [mirrored.replay.images])]
    for a_list, b_list in pairs:
        for a, b in zip(a_list, b_list):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=a.path)
    assert mirrored.current_step() == 2
    assert int(mirrored.replay.count.numpy()) == 2 * batch_size


def test_bfloat16_step_with_penalty_ema_replay_and_minibatch():
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    from ssgan_tf.architectures import get_architecture

    g_cls, d_cls = get_architecture("sndcgan")
    model = GAN(g_cls((16, 16, 3), z_dim=16, ch=4),
                d_cls((16, 16, 3), ch=4, minibatch="minibatch_stddev"),
                self_supervision=RotationTask(rotated_batch_size=8),
                penalty_fn=penalties.wgangp, penalty_weight=10.0, g_ema_decay=0.9,
                ema_start_step=0, replay_buffer_size=8)
    model.build_all(4)
    assert model.generator.compute_dtype == "bfloat16"
    for i in range(2):  # eager: cheaper than tracing for two steps
        logs = model.train_step({"images": random_images(4, seed=i)})
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert float(logs["d_penalty"]) > 0
    assert all(v.dtype == "float32" for v in model.ema_generator.shadow_trainable)
    images = model.inference_generator()(tf.zeros([2, 16]))
    assert images.dtype == tf.float32 and np.all(np.isfinite(images.numpy()))


# ------------------------------------------------------------- one short training run each
TRICK_BINDINGS = {
    "wgangp": ["GAN.loss_fn = @wasserstein", "GAN.penalty_fn = @wgangp",
               "GAN.penalty_weight = 10.0"],
    "dragan": ["GAN.penalty_fn = @dragan", "GAN.penalty_weight = 1.0"],
    "r1": ["GAN.penalty_fn = @r1", "GAN.penalty_weight = 1.0"],
    "l2": ["GAN.penalty_fn = @l2", "GAN.penalty_weight = 1e-3"],
    "label_smoothing": ["non_saturating.label_smoothing = 0.1"],
    "least_squares": ["GAN.loss_fn = @least_squares"],
    "ema": ["GAN.g_ema_decay = 0.999", "GAN.ema_start_step = 1"],
    "replay": ["GAN.replay_buffer_size = 32", "GAN.replay_fraction = 0.5"],
    "swap": ["GAN.swap_every = 2", "GAN.swap_duration = 1"],
    "unrolled": ["GAN.unrolled_steps = 2"],
    "historical": ["GAN.historical_weight_d = 1e-3", "GAN.historical_weight_g = 1e-3"],
    "minibatch_discrimination": ["sndcgan.Discriminator.minibatch = "
                                 "'minibatch_discrimination'",
                                 "minibatch_features.num_kernels = 8"],
    "minibatch_stddev": ["sndcgan.Discriminator.minibatch = 'minibatch_stddev'"],
    "ttur": ["GAN.g_lr = 1e-4", "GAN.d_lr = 4e-4"],
}


@pytest.mark.slow
@pytest.mark.parametrize("trick", sorted(TRICK_BINDINGS))
def test_short_training_run_per_trick(trick, tmp_path):
    from tests.helpers.training import run

    summary, _ = run(tmp_path, 4, extra=TRICK_BINDINGS[trick])
    assert summary["step"] == 4
    assert all(np.isfinite(v) for k, v in summary.items() if k.startswith(("d_", "g_")))
    assert (tmp_path / "samples" / "step_000004.png").exists()


@pytest.mark.slow
def test_resume_with_trick_state_continues_the_same_run(tmp_path):
    """EMA, replay buffer, swap snapshot and historical averages are checkpointed: 2 + 2 steps
    end where 4 steps do."""
    from tests.helpers.training import run

    extra = TRICK_BINDINGS["ema"] + TRICK_BINDINGS["replay"] + TRICK_BINDINGS["swap"] + \
        TRICK_BINDINGS["historical"]
    straight, _ = run(tmp_path / "straight", 4, extra)
    run(tmp_path / "resumed", 2, extra)
    again, _ = run(tmp_path / "resumed", 4, extra)
    read = [tf.train.load_checkpoint(str(tmp_path / d / "checkpoints"))
            for d in ("straight", "resumed")]
    names = read[0].get_variable_to_shape_map()
    assert any(n.startswith("replay/") for n in names)
    assert any(n.startswith("ema_generator/") for n in names)
    for name in names:
        if name.startswith(("ema_generator/", "replay/", "swap_generator/", "d_history/",
                            "g_history/", "generator/", "g_optimizer/", "d_optimizer/")):
            np.testing.assert_allclose(read[1].get_tensor(name), read[0].get_tensor(name),
                                       rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(again["g_loss"], straight["g_loss"], rtol=1e-4)
