"""Spectral norm with the reference's semantics: sigma -> 1, persistent u, gradient through sigma."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.layers import Conv2D, Dense, spectral_normalize
from ssgan_tf.layers.resampling import avg_pool, unpool


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


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_unpooled_conv_equals_conv_of_unpool(kernel_size, spectral_norm):
    """Conv2D(unpooled=True) skips unpool's zeros; values and every gradient must equal
    conv(unpool(x)) with the same (spectrally normalized) kernel and bias."""
    x = tf.constant(np.random.RandomState(0).normal(size=[2, 5, 7, 4]), tf.float32)
    layer = Conv2D(6, kernel_size, spectral_norm=spectral_norm)
    layer(unpool(x))  # builds
    layer.bias.assign(tf.range(6, dtype=tf.float32) * 0.1)
    upstream = tf.constant(np.random.RandomState(1).normal(size=[2, 10, 14, 6]), tf.float32)
    results = []
    for unpooled in (False, True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, unpooled=True) if unpooled else layer(unpool(x))
            loss = tf.reduce_sum(out * upstream)
        results.append([out] + tape.gradient(loss, [x, layer.kernel, layer.bias]))
    assert results[1][0].shape == (2, 10, 14, 6)
    for reference, fast in zip(*results):
        np.testing.assert_allclose(fast.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)


def test_unpooled_conv_rejects_other_kernels():
    layer = Conv2D(4, 4)
    with pytest.raises(ValueError, match="unpooled / pooled=True needs a 1x1 or 3x3 kernel"):
        layer(tf.zeros([1, 4, 4, 2]), unpooled=True)


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("size", [(8, 6), (5, 7)])  # odd maps take the plain path
def test_pooled_conv_equals_avg_pool_of_conv(kernel_size, size):
    x = tf.constant(np.random.RandomState(0).normal(size=[2, *size, 4]), tf.float32)
    layer = Conv2D(6, kernel_size, spectral_norm=True)
    layer(x)  # builds
    layer.bias.assign(tf.range(6, dtype=tf.float32) * 0.1)
    upstream = None
    results = []
    for pooled in (False, True):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, pooled=True) if pooled else avg_pool(layer(x))
            if upstream is None:
                upstream = tf.constant(np.random.RandomState(1).normal(size=out.shape),
                                       tf.float32)
            loss = tf.reduce_sum(out * upstream)
        results.append([out] + tape.gradient(loss, [x, layer.kernel, layer.bias]))
    for reference, fast in zip(*results):
        np.testing.assert_allclose(fast.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)
