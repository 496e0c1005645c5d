"""DiffAugment and ADA's adaptive probability (gans/augment.py): values against hand-computed
references, the reference's [-1, 1] formulas, replica invariance, gradients, the gin config."""

from __future__ import annotations

import dataclasses

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.gans.augment import (
    OPERATIONS,
    AdaptiveProbability,
    Augment,
    as_augment,
    diff_augment,
    draw_parameters,
    parse_policy,
)
from ssgan_tf.gans.tricks import VariableDict
from tests.helpers import random_images

FULL = "color,translation,cutout"
KEY = tf.constant([11, 5], tf.int64)


def _params(x, key=KEY, probability=1.0):
    p = draw_parameters(key, x.shape[0], x.shape[1], x.shape[2], probability)
    return {name: value.numpy() for name, value in p._asdict().items()}


# ------------------------------------------------------------------------------ policy, shapes
def test_policy_names_are_validated_and_applied_in_canonical_order():
    assert parse_policy("") == ()
    assert parse_policy(" cutout , color ") == ("color", "cutout")
    assert parse_policy(FULL) == OPERATIONS
    for bad in ("colour", "color,color", "color,,cutout", "rotation"):
        with pytest.raises(SsganError, match="color, translation, cutout"):
            parse_policy(bad)
    with pytest.raises(SsganError, match="must be a string"):
        parse_policy(["color"])


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16, tf.float16])
def test_same_shape_and_dtype(dtype):
    x = tf.cast(random_images(4, 16, 3), dtype)
    y = diff_augment(x, FULL, KEY)
    assert y.shape == x.shape and y.dtype == dtype


def test_half_precision_is_computed_in_float32_and_cast_back():
    x = tf.cast(random_images(4, 16, 3), tf.bfloat16)
    expected = tf.cast(diff_augment(tf.cast(x, tf.float32), FULL, KEY), tf.bfloat16)
    np.testing.assert_array_equal(diff_augment(x, FULL, KEY).numpy(), expected.numpy())


def test_bad_images_are_refused():
    with pytest.raises(SsganError, match="uint8"):
        diff_augment(tf.zeros([2, 8, 8, 3], tf.uint8), FULL, KEY)
    with pytest.raises(SsganError, match=r"\[N, H, W, C\]"):
        diff_augment(tf.zeros([8, 8, 3]), FULL, KEY)
    with pytest.raises(SsganError, match="probability"):
        diff_augment(tf.zeros([2, 8, 8, 3]), FULL, KEY, probability=1.5)


def test_empty_policy_is_the_input_object_and_adds_no_op():
    x = random_images(2, 8, 3)
    assert diff_augment(x, "", KEY) is x
    assert Augment()(x, KEY) is x

    def op_types(fn):
        graph = tf.function(fn).get_concrete_function(
            tf.TensorSpec([2, 8, 8, 3]), tf.TensorSpec([2], tf.int64)).graph
        return [op.type for op in graph.get_operations()]

    assert op_types(lambda x, k: diff_augment(x, "", k)) == op_types(lambda x, k: x)


def test_deterministic_for_a_key_and_different_across_keys():
    x = random_images(4, 16, 3)
    a = diff_augment(x, FULL, KEY).numpy()
    np.testing.assert_array_equal(a, diff_augment(x, FULL, tf.constant([11, 5], tf.int64)))
    traced = tf.function(lambda x, k: diff_augment(x, FULL, k))
    np.testing.assert_allclose(traced(x, KEY).numpy(), a, atol=1e-6)
    assert not np.allclose(a, diff_augment(x, FULL, tf.constant([11, 6], tf.int64)).numpy())


def test_probability_zero_is_the_identity_and_one_half_applies_about_half():
    x = random_images(4, 16, 3)
    np.testing.assert_array_equal(diff_augment(x, FULL, KEY, probability=0.0).numpy(), x.numpy())
    p = _params(tf.zeros([2000, 16, 16, 1]), probability=0.5)
    for applied in (p["brightness"] != 0, p["saturation"] != 1, p["contrast"] != 1, p["cutout"]):
        assert abs(applied.mean() - 0.5) < 0.04


# ----------------------------------------------------------------------------------- color
def _reference_color_on_minus_one_one(x01, p):
    """The reference's rand_brightness / rand_color / rand_contrast on [-1, 1] data (its
    brightness magnitude is U[-0.5, 0.5): twice ours), mapped back to [0, 1]."""
    x = 2.0 * x01.astype(np.float64) - 1.0
    x = x + 2.0 * p["brightness"][:, None, None, None]
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * p["saturation"][:, None, None, None] + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * p["contrast"][:, None, None, None] + mean
    return (x + 1.0) / 2.0


def test_color_is_the_reference_operation_on_unit_range_data():
    x = random_images(8, 8, 3)
    expected = _reference_color_on_minus_one_one(x.numpy(), _params(x))
    np.testing.assert_allclose(diff_augment(x, "color", KEY).numpy(), expected, atol=1e-5)


def test_color_parameters_have_the_reference_ranges_and_color_may_leave_unit_range():
    p = _params(tf.zeros([4000, 16, 16, 1]))
    assert -0.25 <= p["brightness"].min() < -0.24 and 0.24 < p["brightness"].max() < 0.25
    assert 0.0 <= p["saturation"].min() < 0.01 and 1.99 < p["saturation"].max() < 2.0
    assert 0.5 <= p["contrast"].min() < 0.51 and 1.49 < p["contrast"].max() < 1.5
    y = diff_augment(random_images(64, 8, 3), "color", KEY).numpy()
    assert np.isfinite(y).all() and (y.min() < 0.0 or y.max() > 1.0)  # not clipped, by design


# ----------------------------------------------------------------------- translation, cutout
def _reference_translation(x, dy, dx, fill=0.0):
    out = np.full_like(x, fill)
    h, w = x.shape[1:3]
    for b in range(x.shape[0]):
        for i in range(h):
            for j in range(w):
                if 0 <= i + dy[b] < h and 0 <= j + dx[b] < w:
                    out[b, i, j] = x[b, i + dy[b], j + dx[b]]
    return out


@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_translation_shifts_by_up_to_an_eighth_and_pads_with_fill(fill):
    x = random_images(8, 16, 3)
    p = _params(x)
    assert set(np.unique(p["shift_y"])) <= set(range(-2, 3)) and np.abs(p["shift_x"]).max() <= 2
    y = diff_augment(x, "translation", KEY, fill=fill).numpy()
    np.testing.assert_array_equal(y, _reference_translation(x.numpy(), p["shift_y"],
                                                            p["shift_x"], fill))
    assert np.isin(y, np.append(x.numpy().ravel(), fill)).all()  # input values plus the fill


def test_translation_draws_every_shift_symmetrically():
    p = _params(tf.zeros([4000, 16, 16, 1]))
    for shifts in (p["shift_y"], p["shift_x"]):
        counts = np.bincount(shifts + 2, minlength=5)
        assert counts.size == 5 and np.all(np.abs(counts / 4000 - 0.2) < 0.03)


def _covered(start, size, extent):
    return np.clip(start + size, 0, extent) - np.clip(start, 0, extent)


def test_cutout_zeroes_exactly_its_square_clipped_to_the_image():
    x = tf.ones([64, 16, 16, 2])
    p = _params(x)
    y = diff_augment(x, "cutout", KEY).numpy()
    zeros = (y == 0).all(axis=3).sum(axis=(1, 2))
    np.testing.assert_array_equal(
        zeros, _covered(p["cutout_y"], 8, 16) * _covered(p["cutout_x"], 8, 16))
    inside = (p["cutout_y"] >= 0) & (p["cutout_y"] <= 8) & (p["cutout_x"] >= 0) & (
        p["cutout_x"] <= 8)
    assert inside.any() and np.all(zeros[inside] == 16 * 16 // 4)  # a quarter of the image
    assert np.isin(y, [0.0, 1.0]).all()


def test_cutout_removes_the_expected_fraction_on_average():
    # Centre uniform over 0..16 (17 positions), square of 8: rows covered 4,5,6,7,8 x 9,7,6,5,4
    # -> E[rows] = 116 / 17, and the fraction is (E[rows] / 16)^2 (rows, columns independent).
    y = diff_augment(tf.ones([4000, 16, 16, 1]), "cutout", KEY).numpy()
    assert abs((y == 0).mean() - (116 / 17 / 16) ** 2) < 0.005


# ------------------------------------------------------------------------------ distribution
def test_two_replicas_augment_their_rows_of_the_global_draw(strategy):
    image = random_images(1, 16, 3)
    x = tf.tile(image, [8, 1, 1, 1])  # the same image on every row: rows differ only by the draw
    single = diff_augment(x, FULL, KEY).numpy()
    run = tf.function(lambda data: strategy.run(lambda v: diff_augment(v, FULL, KEY),
                                                args=(data,)))
    data = strategy.experimental_distribute_values_from_function(
        lambda ctx: x[ctx.replica_id_in_sync_group * 4:][:4])
    parts = strategy.experimental_local_results(run(data))
    np.testing.assert_allclose(np.concatenate([p.numpy() for p in parts]), single, atol=1e-6)
    assert not np.allclose(parts[0].numpy(), parts[1].numpy())
    explicit = diff_augment(x[4:], FULL, KEY, replica_id=1, num_replicas=2).numpy()
    np.testing.assert_allclose(explicit, single[4:], atol=1e-6)


def test_the_same_augmentation_with_and_without_xla():
    """The key arrives at run time, as in the step (a constant key would be folded before XLA)."""
    x = random_images(4, 16, 3)
    fn = lambda x, k, p: diff_augment(x, FULL, k, p)  # noqa: E731
    p = tf.constant(0.7)
    np.testing.assert_allclose(tf.function(fn, jit_compile=True)(x, KEY, p).numpy(),
                               fn(x, KEY, p).numpy(), atol=1e-5)


# -------------------------------------------------------------------------------- gradients
def _directional_check(policy, x):
    weights = tf.random.stateless_normal(x.shape, [3, 1], dtype=x.dtype)
    f = lambda v: tf.reduce_sum(weights * diff_augment(v, policy, KEY))  # noqa: E731
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = f(x)
    grad = tape.gradient(value, x)
    assert grad is not None and np.abs(grad.numpy()).sum() > 0
    eps = 1e-4
    for seed in range(3):
        v = tf.random.stateless_normal(x.shape, [seed, 2], dtype=x.dtype)
        numeric = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
        np.testing.assert_allclose(float(numeric), float(tf.reduce_sum(grad * v)), rtol=1e-6)


@pytest.mark.parametrize("policy", ["color", "translation", FULL])
def test_gradient_matches_finite_differences(policy):
    _directional_check(policy, tf.cast(random_images(2, 8, 3), tf.float64))


def test_gradient_reaches_the_generator_through_the_augmentation():
    generator = keras.Sequential([keras.Input([4]), keras.layers.Dense(8 * 8 * 3),
                                  keras.layers.Activation("sigmoid"),
                                  keras.layers.Reshape([8, 8, 3])])
    critic = tf.random.stateless_normal([8, 8, 3], [5, 5])
    z = tf.random.stateless_uniform([4, 4], [6, 6])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(critic * diff_augment(generator(z), FULL, KEY))
    grads = tape.gradient(loss, generator.trainable_variables)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


# ------------------------------------------------------------------------- adaptive probability
def test_adaptive_probability_moves_up_when_rt_exceeds_the_target():
    ada = AdaptiveProbability(target=0.6, interval=4, ada_kimg=1.0)  # 0 -> 1 in 1000 images
    logits = tf.constant([3.0, 1.0, 2.0, -1.0, 0.5, 4.0, 2.0, 1.0])  # r_t = 6/8 = 0.75
    for _ in range(3):
        ada.observe(logits)
    assert float(ada.value()) == 0.0  # nothing before the end of the interval
    logs = ada.observe(logits)
    np.testing.assert_allclose(float(logs["augment_p"]), 4 * 8 / 1000)  # images / (kimg * 1000)
    np.testing.assert_allclose(float(logs["augment_rt"]), 0.75)
    assert float(ada.num_images.numpy()) == 0 and int(ada.num_calls.numpy()) == 0


def test_adaptive_probability_moves_down_otherwise_and_stays_in_its_bounds():
    ada = AdaptiveProbability(target=0.6, interval=1, ada_kimg=0.01, initial=0.5)
    down = tf.constant([1.0, -1.0, 1.0, -1.0])  # r_t = 0 < 0.6
    np.testing.assert_allclose(float(ada.observe(down)["augment_p"]), 0.5 - 4 / 10)
    assert float(ada.observe(down)["augment_p"]) == 0.0  # clipped at 0
    capped = AdaptiveProbability(interval=1, ada_kimg=0.01, maximum=0.8)
    for _ in range(5):
        capped.observe(tf.ones([4]))
    assert float(capped.value()) == pytest.approx(0.8)
    assert set(capped.variables()) == {"probability", "sign_sum", "num_images", "num_calls", "rt"}


def test_adaptive_probability_reduces_over_replicas(strategy):
    with strategy.scope():
        ada = AdaptiveProbability(target=0.6, interval=1, ada_kimg=1.0, initial=0.5)
    # Replica 0 sees positive logits, replica 1 negative ones: the global r_t is 0 -> p goes down
    # (replica 0 alone would have r_t = 1 and pushed it up).
    data = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.fill([4], 1.0 - 2.0 * tf.cast(ctx.replica_id_in_sync_group, tf.float32)))
    logs = tf.function(lambda d: strategy.run(ada.observe, args=(d,)))(data)
    for p in strategy.experimental_local_results(logs["augment_p"]):
        np.testing.assert_allclose(float(p), 0.5 - 8 / 1000)
    for copy in strategy.experimental_local_results(ada.probability.value):
        np.testing.assert_allclose(float(copy), 0.5 - 8 / 1000)


def test_adaptive_state_round_trips_through_a_checkpoint(tmp_path):
    ada = AdaptiveProbability(interval=3, ada_kimg=1.0, initial=0.25)
    ada.observe(tf.ones([4]))  # mid-interval: the running sums matter for an exact resume
    path = tf.train.Checkpoint(augment=VariableDict(ada.variables())).write(str(tmp_path / "c"))
    restored = AdaptiveProbability(interval=3, ada_kimg=1.0)
    tf.train.Checkpoint(augment=VariableDict(restored.variables())).read(path).assert_consumed()
    for name, variable in ada.variables().items():
        assert restored.variables()[name].numpy() == variable.numpy(), name

# ---------------------------------------------------------------------------------- config
def test_augment_config_defaults_off_and_validates():
    assert not Augment().enabled and Augment().adaptive_probability() is None
    assert Augment("cutout,color").operations == ("color", "cutout")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Augment().policy = "color"
    with pytest.raises(SsganError, match="Augment.probability"):
        Augment("color", probability=2.0)
    with pytest.raises(SsganError, match="Augment.target"):
        Augment("color", adaptive=True, target=1.5)
    with pytest.raises(SsganError, match="color, translation, cutout"):
        as_augment("colour")
    with pytest.raises(SsganError, match="GAN.augment"):
        as_augment(3)


def test_policy_string_takes_the_other_fields_from_gin_bindings():
    gin.parse_config("Augment.probability = 0.5\nAugment.adaptive = True")
    augment = as_augment(FULL)
    assert augment == Augment(FULL, probability=0.5, adaptive=True)
    assert as_augment(augment) is augment and not as_augment(None).enabled
    ada = augment.adaptive_probability()
    assert float(ada.value()) == 0.0 and ada.maximum == 0.5  # starts at 0, as ADA
    x = random_images(2, 8, 3)
    np.testing.assert_array_equal(augment(x, KEY, probability=ada.value()).numpy(), x.numpy())
    assert not np.array_equal(augment(x, KEY).numpy(), x.numpy())
