"""Spectral norm with the reference's semantics: sigma -> 1, persistent u, gradient through sigma."""

import numpy as np
import tensorflow as tf

from ssgan_tf.layers import Conv2D, Dense, spectral_normalize


def test_power_iteration_converges_to_top_singular_value():
    rng = np.random.RandomState(0)
    layer = Dense(5, spectral_norm=True)
    x = tf.constant(rng.normal(size=(3, 7)).astype(np.float32))
    layer(x, training=True)
    for _ in range(50):
        layer(x, training=True)  # one power iteration per training call, u persists
    w = layer.kernel.numpy()
    normalized, _ = spectral_normalize(tf.constant(w), layer.sn_u.value, update_u=False)
    assert abs(np.linalg.svd(normalized.numpy(), compute_uv=False)[0] - 1.0) < 1e-4


def test_inference_does_not_update_u():
    layer = Conv2D(4, 3, spectral_norm=True)
    x = tf.ones([1, 5, 5, 2])
    layer(x, training=True)
    u = layer.sn_u.numpy().copy()
    layer(x, training=False)
    np.testing.assert_array_equal(layer.sn_u.numpy(), u)
    layer(x, training=True)
    assert not np.array_equal(layer.sn_u.numpy(), u)


def test_conv_kernel_is_viewed_as_rows_by_out_channels():
    layer = Conv2D(4, 3, spectral_norm=True)
    layer(tf.ones([1, 5, 5, 2]), training=True)
    assert layer.sn_u.shape == (3 * 3 * 2, 1)
    assert not layer.sn_u.trainable


def test_gradient_flows_through_sigma():
    """d/dW sum(c * W / sigma(W)) = c / sigma - sum(c * W) / sigma^2 * u1 v1^T (converged u)."""
    rng = np.random.RandomState(1)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    c = rng.normal(size=(6, 4)).astype(np.float32)
    u_svd, s, vt = np.linalg.svd(w)
    u = tf.constant(u_svd[:, :1])  # converged power-iteration vector
    w_var = tf.Variable(w)
    with tf.GradientTape() as tape:
        normalized, _ = spectral_normalize(w_var, u, update_u=True)
        loss = tf.reduce_sum(c * normalized)
    grad = tape.gradient(loss, w_var).numpy()
    sigma = s[0]
    expected = c / sigma - np.sum(c * w) / sigma ** 2 * np.outer(u_svd[:, 0], vt[0])
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)
    # Keras' SpectralNormalization would give c / sigma only: make sure we differ from that.
    assert not np.allclose(grad, c / sigma, atol=1e-3)


def test_without_spectral_norm_kernel_is_used_as_is():
    layer = Dense(3)
    x = tf.constant([[1.0, 2.0]])
    y = layer(x, training=True)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ layer.kernel.numpy(), rtol=1e-6)
