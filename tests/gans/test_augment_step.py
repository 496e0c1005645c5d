"""`GAN.augment` in the train step (gans/augmenting.py, docs/augment.md): off is the plain step,
on D's and G's inputs are the hand-augmented images (keys and salts as documented, augmented
before the rotated copies), 2 replicas = 1, ADA's p from D's sign on the reals, checkpointed and
restored, `.keras` files and the gin binding through the trainer (on a folder of images)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ssgan_tf.gans import GAN, RotationTask, sampling
from ssgan_tf.gans.augment import (
    FAKE_SALT,
    GENERATOR_SALT,
    REAL_SALT,
    Augment,
    diff_augment,
    draw_parameters,
)
from ssgan_tf.gans.ssgan import with_rotations
from ssgan_tf.gans.tricks import AdaptiveAugment, Trick
from ssgan_tf.runs.checkpoints import make_checkpoint, restore_with_fallback
from tests.helpers import random_images, set_weights_from, tiny_gan
from tests.helpers.training import checkpoint_values, run

B = 4
SEED = 5
ROTATION = RotationTask(rotated_batch_size=8)  # 2 of the 4 images rotated
FULL = "color,translation,cutout"


class Recorder(Trick):
    """Records the images the tricks' G-step hook gets (the reals and the D-step fakes) and the
    augmentation probability at each D update and at the G update."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.p = []

    def _record_p(self, gan):
        if gan.augment_probability() is not None:  # adaptive
            self.p.append(float(gan.augment_probability()))

    def observe_real_logits(self, gan, logits):
        self._record_p(gan)

    def generator_discriminator(self, gan, real, fake, real_y=None, fake_y=None):
        self.seen = (real, fake)
        self._record_p(gan)
        return None


def data(seed=0, batch=B):
    return {"images": random_images(batch, seed=seed),
            "z": tf.random.stateless_uniform([batch, 16], [seed, 3], -1.0, 1.0)}


def pair(**kwargs):
    """A GAN with `kwargs` and a plain one with the same weights."""
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED, **kwargs)
    plain = tiny_gan(batch=B, rotation=ROTATION, seed=SEED)
    set_weights_from(plain, model)
    return model, plain


def assert_logs_equal(got, want, rtol=1e-6):
    for key in want:
        np.testing.assert_allclose(float(got[key]), float(want[key]), rtol=rtol, atol=1e-7,
                                   err_msg=key)


def ada(model) -> AdaptiveAugment:
    return model.trick(AdaptiveAugment)


# ------------------------------------------------------------------------------------- off
@pytest.mark.parametrize("off", [None, "", Augment(probability=0.5)])
def test_off_is_the_plain_step_and_adds_no_op(off):
    model, plain = pair(augment=off)
    real, fake = random_images(B, seed=1), random_images(B, seed=2)
    d_inputs = model._augment_discriminator_inputs(real, fake, 0)
    g_inputs = model._augment_generator_inputs(real, fake, 0)
    assert all(a is b for a, b in zip(d_inputs + g_inputs, (real, fake, real, fake, fake)))
    assert list(model.tricks) == [] and model.checkpoint_extras() == {}
    assert model.log_keys() == plain.log_keys()
    for step in range(2):
        assert_logs_equal(model.train_step(data(step)), plain.train_step(data(step)), rtol=0)
    for a, b in zip(model.weights, plain.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


# -------------------------------------------------------------------------------------- on
def translated(x, dy, dx):
    """out[b, i, j] = x[b, i + dy_b, j + dx_b], 0 outside the image (a loop, as the reference)."""
    out = np.zeros_like(x)
    size = x.shape[1]
    for b in range(len(x)):
        for i in range(size):
            for j in range(size):
                if 0 <= i + dy[b] < size and 0 <= j + dx[b] < size:
                    out[b, i, j] = x[b, i + dy[b], j + dx[b]]
    return out


def by_hand(images, salt, step=0, substep=0):
    """The reference translation of `images` with the step's key for `salt` (numpy)."""
    key = sampling.step_key(SEED, salt, step, substep)
    p = draw_parameters(key, B, 16, 16)
    return tf.constant(translated(np.asarray(images), p.shift_y.numpy(), p.shift_x.numpy()))


def test_d_and_g_see_the_hand_augmented_images_before_rotation():
    """The step's losses are those of a plain GAN fed images translated by hand with the keys
    (seed + salt, step, D sub-step): reals and D's fakes in D's update, G's fakes with their own
    key in G's; the tricks' G-step hook gets the D update's reals and fakes."""
    recorder = Recorder()
    model, plain = pair(augment="translation", extra_tricks=[recorder])
    batch = data(4)
    logs = model.train_step(batch)
    real = batch["images"]
    fake = plain.generator(batch["z"], training=True)
    aug_real, aug_fake = by_hand(real, REAL_SALT), by_hand(fake, FAKE_SALT)
    assert not np.array_equal(aug_real.numpy(), real.numpy())  # some shift is not zero
    assert not np.array_equal(by_hand(fake, GENERATOR_SALT).numpy(), aug_fake.numpy())
    want = plain.discriminator_step(aug_real, aug_fake)
    want.update(plain.generator_loss(by_hand(fake, GENERATOR_SALT)))
    assert_logs_equal(logs, want, rtol=1e-5)
    for got, expected in zip(recorder.seen, (aug_real, aug_fake)):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    for a, b in zip(model.discriminator.weights, plain.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_keys_follow_the_step_and_the_d_substep():
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED, augment=FULL, disc_iters=2)
    x = random_images(B)
    first, second = (model.augment_images(x, REAL_SALT, i).numpy() for i in range(2))
    assert not np.allclose(first, second)
    model.train_step(data(0, batch=2 * B))
    assert not np.allclose(model.augment_images(x, REAL_SALT, 0).numpy(), first)  # step 1
    np.testing.assert_array_equal(
        model.augment_images(x, REAL_SALT, 1).numpy(),
        diff_augment(x, FULL, sampling.step_key(SEED, REAL_SALT, 1, 1)).numpy())


# --------------------------------------------------------------------------------- replicas


@pytest.mark.parametrize("traced", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_two_replicas_equal_one_replica_with_ada(strategy, traced):
    """Eager (~4 s) and traced (~25 s: tracing a 2-replica step, in the slow suite)."""
    batch = 8
    # lr = eps = 1: equal weights mean equal gradients (see test_distributed.py).
    kwargs = dict(batch=batch, rotation=RotationTask(rotated_batch_size=None),
                  cross_replica_bn=True, seed=SEED, g_lr=1.0, adam_epsilon=1.0,
                  augment=Augment(FULL, adaptive=True, interval=1, ada_kimg=0.01))
    single = tiny_gan(**kwargs)
    with strategy.scope():
        mirrored = tiny_gan(**{**kwargs, "batch": batch // 2})
    set_weights_from(mirrored, single)
    for model in (single, mirrored):
        ada(model).adaptive.probability.assign(0.7)  # ADA starts at 0: make the draw matter
    step = data(6, batch=batch)
    trace = tf.function if traced else (lambda f: f)
    single_logs = trace(single.train_step)(step)

    def shard(ctx):
        rows = slice(ctx.replica_id_in_sync_group * 4, ctx.replica_id_in_sync_group * 4 + 4)
        return {k: v[rows] for k, v in step.items()}

    per_replica = strategy.run(trace(mirrored.train_step),
                               args=(strategy.experimental_distribute_values_from_function(shard),))
    assert {"augment_p", "augment_rt"} <= set(single_logs)
    for key, value in single_logs.items():
        for copy in strategy.experimental_local_results(per_replica[key]):
            np.testing.assert_allclose(float(copy), float(value), rtol=1e-4, atol=1e-5,
                                       err_msg=key)
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    assert float(single_logs["augment_p"]) != 0.7  # p moved, by the global r_t


# --------------------------------------------------------------------------------------- ADA
def test_ada_p_moves_by_the_sign_of_d_on_the_augmented_reals():
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED, augment=Augment(
        "translation", adaptive=True, interval=1, ada_kimg=0.01, target=0.2))
    probe = tiny_gan(batch=B, rotation=ROTATION, seed=SEED)
    set_weights_from(probe, model)
    assert model.log_keys()[-2:] == ("augment_p", "augment_rt")
    ada(model).adaptive.probability.assign(0.5)
    batch = data(2)
    aug_real = model.augment_images(batch["images"], REAL_SALT, 0)
    assert not np.array_equal(aug_real.numpy(), batch["images"].numpy())
    n = model._rotations_per_replica(B)
    logits = probe.discriminator(with_rotations(aug_real, n), training=True)["logits"][:B]
    rt = float(np.mean(np.sign(logits.numpy())))
    logs = model.train_step(batch)
    p = float(np.clip(0.5 + np.sign(rt - 0.2) * B / 10.0, 0.0, 1.0))  # B images / (0.01 x 1000)
    np.testing.assert_allclose([float(logs["augment_rt"]), float(logs["augment_p"])], [rt, p],
                               atol=1e-6)
    np.testing.assert_allclose(float(ada(model).probability()), p, atol=1e-6)


def test_ada_p_is_constant_within_a_step_and_moves_after_it():
    """interval = 1 D update, disc_iters = 2: both D updates and the G update of a step use the
    p it started with; after the step p has moved once, by the 2 x B reals of the step."""
    recorder = Recorder()
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED, disc_iters=2, extra_tricks=[recorder],
                     augment=Augment("translation", adaptive=True, interval=1, ada_kimg=0.1,
                                     target=-0.5))
    state = ada(model).adaptive
    state.probability.assign(0.25)
    logs = model.train_step(data(0, batch=2 * B))
    assert recorder.p == [0.25, 0.25, 0.25]
    assert int(state.num_calls.numpy()) == 0 and float(state.num_images.numpy()) == 0
    expected = 0.25 + np.sign(float(logs["augment_rt"]) + 0.5) * 2 * B / 100.0
    np.testing.assert_allclose(float(logs["augment_p"]), expected, atol=1e-6)
    np.testing.assert_allclose(float(state.probability.numpy()), expected, atol=1e-6)


def test_ada_state_is_checkpointed_and_a_resumed_run_continues(tmp_path):
    kwargs = dict(batch=B, rotation=ROTATION, seed=SEED,
                  augment=Augment(FULL, adaptive=True, interval=2, ada_kimg=0.1))
    model = tiny_gan(**kwargs)
    ada(model).adaptive.probability.assign(0.5)
    for step in range(3):  # ends mid-interval: the running sums matter too
        model.train_step(data(step))
    assert "augment" in model.checkpoint_extras()
    path = make_checkpoint(model).save(str(tmp_path / "ckpt"))
    resumed = tiny_gan(**kwargs)
    assert float(ada(resumed).probability()) == 0.0 != float(ada(model).probability())
    make_checkpoint(resumed).restore(path).assert_existing_objects_matched()
    for name, variable in ada(model).adaptive.variables().items():
        assert variable.numpy() == ada(resumed).adaptive.variables()[name].numpy(), name
    assert int(ada(resumed).adaptive.num_calls.numpy()) == 1
    for step in range(3, 5):
        assert_logs_equal(resumed.train_step(data(step)), model.train_step(data(step)))


def test_a_checkpoint_without_ada_restores_and_restarts_p(tmp_path):
    """Turning ADA on for a run saved without it: the networks restore, p starts at 0."""
    plain = tiny_gan(batch=B, rotation=ROTATION, seed=SEED)
    plain.train_step(data(0))
    tf.train.CheckpointManager(make_checkpoint(plain), str(tmp_path), max_to_keep=1).save()
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED,
                     augment=Augment(FULL, adaptive=True, interval=2))
    model.trick(AdaptiveAugment).adaptive.probability.assign(0.5)
    lines = []
    assert restore_with_fallback(make_checkpoint(model), str(tmp_path), lines.append,
                                 base_checkpoint=make_checkpoint(model, with_extras=False),
                                 reset_extras=model.reset_trick_state)
    assert any("ADA's p" in line for line in lines)
    assert float(ada(model).probability()) == 0.0 and model.current_step() == 1
    for a, b in zip(plain.discriminator.weights, model.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_keras_file_keeps_the_augmentation_and_p(tmp_path):
    augment = Augment("color,cutout", probability=0.8, adaptive=True, interval=1, ada_kimg=0.1)
    model = tiny_gan(batch=B, rotation=ROTATION, seed=SEED, augment=augment)
    model.compile()
    ada(model).adaptive.probability.assign(0.3)
    model.train_step(data(0))
    config = model.get_config()
    assert config["augment"]["policy"] == "color,cutout"
    assert GAN.from_config(config).augment == augment
    model.save(str(tmp_path / "gan.keras"))
    loaded = keras.models.load_model(str(tmp_path / "gan.keras"))
    assert loaded.augment == augment
    assert float(ada(loaded).probability()) == float(ada(model).probability()) != 0.3
    assert_logs_equal(loaded.train_step(data(1)), model.train_step(data(1)), rtol=1e-5)


# -------------------------------------------------------------------------------- trainer
def test_gin_binding_trains_on_a_folder_and_logs_p(tmp_path):
    """What a user with a small dataset runs: `train.dataset = 'folder:...'` with
    `GAN.augment = "color,translation"` (and ADA from the Augment.* bindings)."""
    rng = np.random.RandomState(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(rng.randint(0, 256, (20, 20, 3), np.uint8)).save(folder / f"{i}.png")
    summary, lines = run(tmp_path / "run", 2, extra=[
        f"train.dataset = 'folder:{folder}'", 'GAN.augment = "color,translation"',
        "Augment.adaptive = True", "Augment.interval = 1", "Augment.ada_kimg = 0.01",
        "Augment.target = -0.5", "GAN.disc_iters = 2"])
    assert summary["step"] == 2
    assert "GAN.augment = 'color,translation'" in (tmp_path / "run/operative_config.gin"
                                                   ).read_text()
    assert any("augment p" in line for line in lines if line.startswith("step 2/2"))
    saved = checkpoint_values(tmp_path / "run")
    p = next(v for k, v in saved.items() if k.startswith("augment/") and "probability" in k)
    assert float(p) == pytest.approx(summary["augment_p"]) and summary["augment_p"] > 0
