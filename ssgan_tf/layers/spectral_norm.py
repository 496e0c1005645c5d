"""Spectral normalization with the reference's semantics.

Keras 3's `SpectralNormalization` writes the normalized kernel back into the layer and passes no
gradient through sigma. compare_gan (and mimicry) instead run one power iteration per training call
with a persistent, stop-gradient `u` and divide by sigma inside the graph, so the gradient flows
through sigma. These layers do the latter.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.resampling import conv_of_unpooled, pooled_conv

EPSILON = 1e-12


def _l2_normalize(x: tf.Tensor) -> tf.Tensor:
    return x / tf.sqrt(tf.reduce_sum(tf.square(x)) + EPSILON)


def spectral_normalize(kernel: tf.Tensor, u: tf.Tensor, update_u: bool = True):
    """Returns (kernel / sigma, new_u) using one power iteration (compare_gan `spectral_norm`).

    The kernel is viewed as a matrix [prod(shape[:-1]), shape[-1]]; `u` has shape [rows, 1]
    (the reference's default `singular_value="left"`). u and v are stop-gradient, sigma is not.
    With `update_u=False` no iteration is run: sigma is estimated from the stored u (inference).
    """
    w = tf.reshape(kernel, [-1, kernel.shape[-1]])
    u = tf.stop_gradient(u)
    v = tf.stop_gradient(_l2_normalize(tf.matmul(w, u, transpose_a=True)))
    if update_u:
        u = tf.stop_gradient(_l2_normalize(tf.matmul(w, v)))
    sigma = tf.squeeze(tf.matmul(tf.matmul(u, w, transpose_a=True), v))
    return kernel / sigma, u


class _SpectralNormMixin:
    """Adds the persistent power-iteration vector and the normalized-kernel computation."""

    def _build_sn(self, kernel_shape) -> None:
        rows = 1
        for d in kernel_shape[:-1]:
            rows *= int(d)
        # Every replica computes the same u from the same (mirrored) kernel: keep replica 0's.
        self.sn_u = self.add_weight(
            name="sn_u", shape=(rows, 1), initializer=keras.initializers.RandomNormal(0.0, 1.0),
            trainable=False, aggregation="only_first_replica", autocast=False)

    def _normalized_kernel(self, training) -> tf.Tensor:
        kernel = tf.convert_to_tensor(self.kernel.value)
        if not self.spectral_norm:
            return tf.cast(kernel, self.compute_dtype)
        w, u = spectral_normalize(kernel, self.sn_u.value, update_u=bool(training))
        if training:
            self.sn_u.assign(u)
        return tf.cast(w, self.compute_dtype)


def default_kernel_initializer():
    """N(0, 0.02): compare_gan's `weights.initializer="normal"`."""
    return keras.initializers.RandomNormal(0.0, 0.02)


class Conv2D(Configurable, _SpectralNormMixin, keras.layers.Layer):
    """2-D convolution (NHWC, SAME padding by default) with optional reference spectral norm."""

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, padding: str = "SAME",
                 use_bias: bool = True, spectral_norm: bool = False, kernel_initializer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding.upper()
        self.use_bias = use_bias
        self.spectral_norm = spectral_norm
        self.kernel_initializer = (keras.initializers.get(kernel_initializer)
                                   or default_kernel_initializer())

    def build(self, input_shape):
        shape = (self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=self.kernel_initializer, autocast=False)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
                     if self.use_bias else None)
        if self.spectral_norm:
            self._build_sn(shape)

    def call(self, x, training=False, unpooled=False, pooled=False):
        """`unpooled=True` returns this layer applied to `layers.resampling.unpool(x)` (the
        reference's 2x zero-insertion upsampling) without materializing the zeros;
        `pooled=True` returns `avg_pool(layer(x))` (2x2 average pooling) as one strided
        convolution. See `conv_of_unpooled` and `pooled_conv`."""
        kernel = self._normalized_kernel(training)
        if unpooled or pooled:
            if self.strides != 1 or self.padding != "SAME" or self.kernel_size not in (1, 3):
                raise ValueError(f"{self.name}: unpooled / pooled=True needs a 1x1 or 3x3 kernel, "
                                 f"stride 1, SAME padding; got {self.kernel_size}x"
                                 f"{self.kernel_size}, stride {self.strides}, {self.padding}.")
        if unpooled:
            y = conv_of_unpooled(x, kernel)
        elif pooled:
            y = pooled_conv(x, kernel)
        else:
            y = tf.nn.conv2d(x, kernel, self.strides, self.padding)
        if self.use_bias:
            y = tf.nn.bias_add(y, tf.cast(self.bias, y.dtype))
        return y


class Conv2DTranspose(Configurable, _SpectralNormMixin, keras.layers.Layer):
    """Transposed convolution (x2 upsampling when strides=2), kernel stored [k, k, out, in]."""

    def __init__(self, filters: int, kernel_size: int = 4, strides: int = 2, use_bias: bool = True,
                 spectral_norm: bool = False, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_bias = use_bias
        self.spectral_norm = spectral_norm
        self.kernel_initializer = (keras.initializers.get(kernel_initializer)
                                   or default_kernel_initializer())

    def build(self, input_shape):
        shape = (self.kernel_size, self.kernel_size, self.filters, int(input_shape[-1]))
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=self.kernel_initializer, autocast=False)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
                     if self.use_bias else None)
        if self.spectral_norm:
            self._build_sn(shape)

    def call(self, x, training=False):
        shape = tf.shape(x)
        out_shape = tf.stack([shape[0], shape[1] * self.strides, shape[2] * self.strides,
                              self.filters])
        y = tf.nn.conv2d_transpose(x, self._normalized_kernel(training), out_shape,
                                   self.strides, padding="SAME")
        if self.use_bias:
            y = tf.nn.bias_add(y, tf.cast(self.bias, y.dtype))
        return y


class Dense(Configurable, _SpectralNormMixin, keras.layers.Layer):
    """Fully connected layer with optional reference spectral norm."""

    def __init__(self, units: int, use_bias: bool = True, spectral_norm: bool = False,
                 kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias
        self.spectral_norm = spectral_norm
        self.kernel_initializer = (keras.initializers.get(kernel_initializer)
                                   or default_kernel_initializer())

    def build(self, input_shape):
        shape = (int(input_shape[-1]), self.units)
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=self.kernel_initializer, autocast=False)
        self.bias = (self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
                     if self.use_bias else None)
        if self.spectral_norm:
            self._build_sn(shape)

    def call(self, x, training=False):
        y = tf.matmul(x, self._normalized_kernel(training))
        if self.use_bias:
            y = y + tf.cast(self.bias, y.dtype)
        return y
