"""Unrolled D under mixed_float16 (D's optimizer is a LossScaleOptimizer whose Adam state lives on
`inner_optimizer`) and through public optimizer API only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.gans import GAN, RotationTask
from ssgan_tf.gans.tricks.unrolled import adam_state, unrolled_weights
from tests.helpers import random_images, tiny_gan
from tests.helpers.toy_models import B, C, LinearDiscriminator, S, TinyGenerator


@pytest.fixture
def float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_unrolled_step_trains_under_mixed_float16(float16):
    model = tiny_gan(batch=4, rotation=RotationTask(rotated_batch_size=4), unrolled_steps=2)
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.discriminator.compute_dtype == "float16"
    before = [v.numpy().copy() for v in model.generator.trainable_variables]
    for i in range(2):
        logs = model.train_step({"images": random_images(4, seed=i)})
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert model.current_step() == 2
    assert any(not np.allclose(b, a.numpy()) for b, a in
               zip(before, model.generator.trainable_variables))


def test_adam_state_is_the_inner_optimizers(float16):
    """The simulation starts from the Adam moments the LossScaleOptimizer's inner Adam holds."""
    model = tiny_gan(batch=4, rotation=RotationTask(rotated_batch_size=4), unrolled_steps=1)
    model.train_step({"images": random_images(4, seed=3)})
    inner = model.d_optimizer.inner_optimizer
    variables = model.discriminator.trainable_variables
    moments, velocities, beta1, beta2, epsilon, iterations = adam_state(model.d_optimizer,
                                                                        variables)
    assert (beta1, beta2, epsilon) == (inner.beta_1, inner.beta_2, inner.epsilon)
    assert float(iterations) == float(inner.iterations.numpy()) == 1.0
    for v, m, s in zip(variables, moments, velocities):
        index = inner._get_variable_index(v)  # the test may peek; the library does not
        np.testing.assert_array_equal(m.numpy(), inner._momentums[index].numpy())
        np.testing.assert_array_equal(s.numpy(), inner._velocities[index].numpy())
    assert any(np.abs(m.numpy()).max() > 0 for m in moments)


def test_scaled_simulation_equals_the_unscaled_one():
    """A loss-scaled optimizer's simulated SGD step equals the plain one (the scale is undone),
    and gradients that overflow the scale skip the simulated update."""
    d = LinearDiscriminator()
    d(tf.zeros([1, S, S, C]))
    x = tf.random.stateless_uniform([B, S, S, C], [1, 2])

    def loss_fn(out):
        return tf.reduce_mean(tf.square(out["logits"]))

    plain = keras.optimizers.SGD(0.1)
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=2.0 ** 10)
    for optimizer in (plain, scaled):
        optimizer.build(d.trainable_variables)
    want, _ = unrolled_weights(d, plain, x, None, loss_fn, 1, "sgd")
    got, _ = unrolled_weights(d, scaled, x, None, loss_fn, 1, "sgd")
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a.numpy(), v.numpy()) for a, v in zip(got, d.trainable_variables))
    huge = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=1e38)
    huge.build(d.trainable_variables)
    skipped, _ = unrolled_weights(d, huge, x, None, lambda out: 1e3 * loss_fn(out), 1, "sgd")
    for a, v in zip(skipped, d.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), v.numpy())


def test_adam_simulation_needs_an_adam():
    model = GAN(TinyGenerator(), LinearDiscriminator(), self_supervision=RotationTask(mode="none"),
                unrolled_steps=1, d_optimizer=keras.optimizers.SGD(0.1))
    model.build_all(B)
    with pytest.raises(SsganError, match="unrolled_optimizer='sgd'"):
        adam_state(model.d_optimizer, model.discriminator.trainable_variables)
