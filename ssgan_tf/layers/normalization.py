"""Normalization layers: batch norm, cross-replica BN, conditional BN, self-modulated BN (sBN),
virtual BN and layer norm.

The batch-norm kinds follow compare_gan's `arch_ops.standardize_batch` with the settings of every
reference config (momentum 0.9, epsilon 1e-5): the batch is standardized without affine
parameters, then scaled and shifted by gamma/beta that are
- plain trainable vectors (`batch_norm`, init 1 / 0),
- linear functions of a conditioning vector y (`conditional_batch_norm`: no bias, no "1+"; y is the
  one-hot class, or BigGAN's `concat(z_chunk, embed(y))`),
- functions of z through a 32-unit ReLU layer (`self_modulated_batch_norm`, the SSGAN paper's
  sBN; gamma's bias starts at 1, written here as `1 + linear(h)` with a zero bias).
`cross_replica=True` uses the global batch moments under a distribution strategy
(`BatchNormalization(synchronized=True)`), as the reference does on TPU.

`virtual_batch_norm` (Salimans et al. 2016, "Improved techniques for training GANs"): each example
is normalized with the moments of a *virtual batch* made of a reference batch, fixed once at the
start of training, plus the example itself; the reference examples are normalized with the
reference moments alone. The moments are recomputed at every call with the current weights (the
reference batch is forward-propagated with the real one), so the output of one example does not
depend on the rest of its batch and training and inference compute the same function. The
reference batch lives in the generator (`ReferenceBatchMixin`): a fixed set of z (and labels)
prepended to every generator call; see `ReferenceBatchMixin.set_reference_batch`.

`layer_norm` normalizes each example over all its non-batch axes, with per-channel gamma/beta
(tf.contrib.layers.layer_norm, which the reference's optional `D.layer_norm` uses; epsilon 1e-12).
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.spectral_norm import Dense

NORMALIZATIONS = ("batch_norm", "conditional_batch_norm", "self_modulated_batch_norm",
                  "virtual_batch_norm", "layer_norm", "none")
# Kinds whose output for one example depends on the other examples of the batch.
BATCH_DEPENDENT = ("batch_norm", "conditional_batch_norm", "self_modulated_batch_norm")
LAYER_NORM_EPSILON = 1e-12  # tf.contrib.layers.layer_norm
DEFAULT_REFERENCE_SIZE = 64


class _Standardize(Configurable, keras.layers.Layer):
    """Batch standardization with moving averages; `cross_replica` uses global batch moments."""

    def __init__(self, cross_replica: bool = False, momentum: float = 0.9, epsilon: float = 1e-5,
                 **kwargs):
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization(
            center=False, scale=False, momentum=momentum, epsilon=epsilon,
            synchronized=cross_replica, dtype=self.dtype_policy, name="batch_norm")

    def call(self, x, gamma=None, beta=None, training=False):
        """Standardized x, then `* gamma + beta` (per-channel vectors) when given.

        Training with local moments (no cross-replica sync, or one replica) runs TensorFlow's fused
        batch-norm kernel on x's own dtype: one op forward, one backward, instead of Keras'
        moments + normalize in float32 and a separate affine. On the ResNet-CIFAR bf16 step that
        is 5x less time in batch norm. Same math: biased batch variance, moving averages updated
        as Keras does."""
        if training and self._fusable(x):
            return self._fused(x, gamma, beta)
        y = self.bn(x, training=training)
        if gamma is not None:
            y = y * tf.cast(gamma, y.dtype) + tf.cast(beta, y.dtype)
        return y

    def _fusable(self, x) -> bool:
        if not (self.bn.built and self.bn.trainable) or len(x.shape) not in (2, 4):
            return False
        if x.dtype not in (tf.float32, tf.bfloat16, tf.float16) or x.shape[-1] is None:
            return False
        return not (self.bn.synchronized
                    and tf.distribute.get_strategy().num_replicas_in_sync > 1)

    def _fused(self, x, gamma, beta):
        shape = x.shape
        channels = int(shape[-1])
        x4 = tf.reshape(x, [-1, 1, 1, channels]) if len(shape) == 2 else x
        scale = tf.ones([channels]) if gamma is None else tf.cast(gamma, tf.float32)
        offset = tf.zeros([channels]) if beta is None else tf.cast(beta, tf.float32)
        empty = tf.constant([], tf.float32)
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x4, scale=scale, offset=offset, mean=empty, variance=empty,
            epsilon=self.bn.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        # The kernel's batch variance is Bessel-corrected; Keras and the reference track the
        # biased one (the normalization itself uses the biased one in both).
        count = tf.cast(tf.size(x4) // channels, tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = self.bn.momentum
        moving_mean, moving_variance = self.bn.moving_mean, self.bn.moving_variance
        moving_mean.assign(tf.cast(moving_mean, tf.float32) * momentum
                           + mean * (1.0 - momentum))
        moving_variance.assign(tf.cast(moving_variance, tf.float32) * momentum
                               + variance * (1.0 - momentum))
        return tf.reshape(y, shape) if len(shape) == 2 else y


def virtual_batch_standardize(x: tf.Tensor, reference_size: int, epsilon: float) -> tf.Tensor:
    """Standardizes x [N + B, ..., C] whose first N rows are the reference batch.

    Reference rows use the reference moments (over rows and spatial positions); row i >= N uses
    the moments of the virtual batch `reference + [x_i]`, in which x_i weighs as one example:
    mean_i = N/(N+1) * mean_ref + 1/(N+1) * mean(x_i), likewise for E[x^2].
    """
    n = int(reference_size)
    xf = tf.cast(x, tf.float32)
    rank = len(x.shape)
    spatial = list(range(1, rank - 1))
    ref = xf[:n]
    ref_mean = tf.reduce_mean(ref, axis=[0] + spatial)
    ref_sq = tf.reduce_mean(tf.square(ref), axis=[0] + spatial)
    ex_mean = tf.reduce_mean(xf, axis=spatial, keepdims=True) if spatial else xf
    ex_sq = tf.reduce_mean(tf.square(xf), axis=spatial, keepdims=True) if spatial else tf.square(xf)
    w = 1.0 / (n + 1.0)
    mean = w * ex_mean + (1.0 - w) * ref_mean
    sq = w * ex_sq + (1.0 - w) * ref_sq
    is_ref = tf.reshape(tf.range(tf.shape(xf)[0]) < n, [-1] + [1] * (rank - 1))
    mean = tf.where(is_ref, ref_mean, mean)
    sq = tf.where(is_ref, ref_sq, sq)
    var = tf.maximum(sq - tf.square(mean), 0.0)
    return tf.cast((xf - mean) * tf.math.rsqrt(var + epsilon), x.dtype)


def layer_standardize(x: tf.Tensor, epsilon: float = LAYER_NORM_EPSILON) -> tf.Tensor:
    """Standardizes each example over all its non-batch axes."""
    xf = tf.cast(x, tf.float32)
    axes = list(range(1, len(x.shape)))
    mean, var = tf.nn.moments(xf, axes=axes, keepdims=True)
    return tf.cast((xf - mean) * tf.math.rsqrt(var + epsilon), x.dtype)


@gin.configurable(module="ssgan_tf.layers")
def conditional_batch_norm(gain_offset: float = 0.0) -> float:
    """Conditional BN's gain is `gain_offset + linear(y)` (gin
    `conditional_batch_norm.gain_offset`). The reference uses 0: gamma = linear(y) starts near 0
    (N(0, 0.02) weights, no bias). 1 (gains start at 1, as in BigGAN's paper and most CBN code)
    keeps z's signal from being scaled away in small conditional generators."""
    return float(gain_offset)


class BatchNorm(Configurable, keras.layers.Layer):
    """Normalization of a feature map, optionally conditioned on z or on a vector y.

    `cbn_gain_offset`: see `conditional_batch_norm` (None: its gin-bound value, default 0).

    `kind` is one of NORMALIZATIONS. `call(x, z=None, y=None)` takes the latent z (sBN) and the
    conditioning vector y (conditional BN); the other kinds ignore both. `kernel_initializer`
    initializes the linear layers of conditional BN / sBN (default N(0, 0.02), the reference's).
    A `virtual_batch_norm` layer must run inside a generator that prepends its reference batch
    (`ReferenceBatchMixin`), which sets `reference_size` before the call.
    """

    def __init__(self, kind: str = "batch_norm", cross_replica: bool = False,
                 momentum: float = 0.9, epsilon: float = 1e-5, sbn_hidden: int = 32,
                 spectral_norm: bool = False, kernel_initializer=None,
                 cbn_gain_offset: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.cbn_gain_offset = (conditional_batch_norm() if cbn_gain_offset is None
                                else float(cbn_gain_offset))
        if kind not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {kind!r}; expected one of {NORMALIZATIONS}.")
        self.kind = kind
        self.epsilon = epsilon
        self.sbn_hidden = sbn_hidden
        self.spectral_norm = spectral_norm
        self.kernel_initializer = kernel_initializer
        self.reference_size: int | None = None  # virtual_batch_norm: set by the generator
        self.standardize = (_Standardize(cross_replica, momentum, epsilon,
                                         dtype=self.dtype_policy, name="standardize")
                            if kind in BATCH_DEPENDENT else None)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        sn, init = self.spectral_norm, self.kernel_initializer
        if self.kind in ("batch_norm", "virtual_batch_norm", "layer_norm"):
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        elif self.kind == "conditional_batch_norm":
            self.gamma_fc = Dense(channels, use_bias=False, spectral_norm=sn,
                                  kernel_initializer=init, name="gamma", dtype=self.dtype_policy)
            self.beta_fc = Dense(channels, use_bias=False, spectral_norm=sn,
                                 kernel_initializer=init, name="beta", dtype=self.dtype_policy)
        elif self.kind == "self_modulated_batch_norm":
            self.hidden_fc = (Dense(self.sbn_hidden, spectral_norm=sn, kernel_initializer=init,
                                    name="hidden", dtype=self.dtype_policy)
                              if self.sbn_hidden else None)
            self.gamma_fc = Dense(channels, spectral_norm=sn, kernel_initializer=init,
                                  name="gamma", dtype=self.dtype_policy)
            self.beta_fc = Dense(channels, spectral_norm=sn, kernel_initializer=init,
                                 name="beta", dtype=self.dtype_policy)

    def get_config(self) -> dict:
        # The gain offset as resolved at construction (gin may not be configured when loading).
        return {**super().get_config(), "cbn_gain_offset": self.cbn_gain_offset}

    def _modulation(self, z, y, training):
        if self.kind == "conditional_batch_norm":
            if y is None:
                raise ValueError("conditional_batch_norm needs class labels: set the GAN to "
                                 "conditional (a dataset with labels and num_classes > 0).")
            gamma = self.gamma_fc(y, training=training)
            if self.cbn_gain_offset:
                gamma += self.cbn_gain_offset
            return gamma, self.beta_fc(y, training=training)
        if z is None:
            raise ValueError("self_modulated_batch_norm needs z.")
        h = z
        if self.hidden_fc is not None:
            h = tf.nn.relu(self.hidden_fc(z, training=training))
        gamma = self.gamma_fc(h, training=training) + 1.0  # == gamma bias initialised to 1
        return gamma, self.beta_fc(h, training=training)

    def _affine(self, x):
        return x * tf.cast(self.gamma, x.dtype) + tf.cast(self.beta, x.dtype)

    def call(self, x, z=None, y=None, training=False):
        if self.kind == "none":
            return x
        if self.kind == "layer_norm":
            return self._affine(layer_standardize(x))
        if self.kind == "virtual_batch_norm":
            if not self.reference_size:
                raise ValueError(f"{self.name}: virtual_batch_norm runs inside a generator that "
                                 "prepends its reference batch (ReferenceBatchMixin); "
                                 "reference_size is not set.")
            return self._affine(virtual_batch_standardize(x, self.reference_size, self.epsilon))
        if self.kind == "batch_norm":
            return self.standardize(x, self.gamma, self.beta, training=training)
        x = self.standardize(x, training=training)
        gamma, beta = self._modulation(z, y, training)
        shape = [-1] + [1] * (len(x.shape) - 2) + [x.shape[-1]]
        gamma = tf.reshape(tf.cast(gamma, x.dtype), shape)
        beta = tf.reshape(tf.cast(beta, x.dtype), shape)
        return x * gamma + beta


class ReferenceBatchMixin:
    """The generator side of virtual batch norm: a reference batch fixed at the start.

    When a generator contains `virtual_batch_norm` layers, every call runs the network on
    `concat([reference_z, z])` (and the reference labels, for a conditional generator) and
    returns only the rows of z. The reference batch is a pair of non-trainable weights of the
    generator, `vbn_reference_z` [N, z_dim] and `vbn_reference_y` [N] (checkpointed with it):
    created at the first call with N = `vbn_reference_size` examples drawn from a seeded
    U[-1, 1] (the reference's z prior) and uniform labels, or set explicitly at any time with
    `set_reference_batch(z, y)` - e.g. by the training code, from its own z distribution, before
    the first step. Never changed by training.
    """

    vbn_reference_size = DEFAULT_REFERENCE_SIZE
    vbn_reference_seed = 1234

    def virtual_batch_norm_layers(self) -> list:
        return [layer for layer in self._flatten_layers(include_self=False)
                if isinstance(layer, BatchNorm) and layer.kind == "virtual_batch_norm"]

    @property
    def uses_virtual_batch_norm(self) -> bool:
        return bool(self.virtual_batch_norm_layers())

    def _ensure_reference_batch(self, size: int | None = None) -> None:
        if getattr(self, "vbn_reference_z", None) is not None:
            return
        n = int(size or self.vbn_reference_size)
        seed = int(self.vbn_reference_seed)
        self.vbn_reference_z = self.add_weight(
            name="vbn_reference_z", shape=(n, self.z_dim), trainable=False, autocast=False,
            initializer=lambda shape, dtype=None: tf.random.stateless_uniform(
                shape, [seed, 0], -1.0, 1.0), aggregation="only_first_replica")
        num_classes = max(int(self.num_classes), 1)
        self.vbn_reference_y = self.add_weight(
            name="vbn_reference_y", shape=(n,), dtype="int32", trainable=False,
            initializer=lambda shape, dtype=None: tf.random.stateless_uniform(
                shape, [seed, 1], 0, num_classes, dtype=tf.int32),
            aggregation="only_first_replica")

    def set_reference_batch(self, z, y=None) -> None:
        """Fixes the virtual-BN reference batch: z [N, z_dim] (and integer labels y [N])."""
        z = tf.convert_to_tensor(z, tf.float32)
        if len(z.shape) != 2 or z.shape[-1] != self.z_dim:
            raise ValueError(f"set_reference_batch: z must be [N, {self.z_dim}], got {z.shape}.")
        self._ensure_reference_batch(int(z.shape[0]))
        if tuple(self.vbn_reference_z.shape) != tuple(z.shape):
            raise ValueError(f"set_reference_batch: the reference batch has shape "
                             f"{tuple(self.vbn_reference_z.shape)}; got {tuple(z.shape)}.")
        self.vbn_reference_z.assign(z)
        if y is not None:
            self.vbn_reference_y.assign(tf.cast(y, tf.int32))

    def _generate_with_reference(self, z, y_onehot, training):
        """`generate`, through the reference batch when the network has virtual BN layers."""
        if self.__dict__.get("_has_virtual_bn") is None:  # layers are fixed at construction
            self._has_virtual_bn = self.uses_virtual_batch_norm
        if not self._has_virtual_bn:
            return self.generate(z, y_onehot, training)
        layers = self.virtual_batch_norm_layers()
        self._ensure_reference_batch()
        n = int(self.vbn_reference_z.shape[0])
        for layer in layers:
            layer.reference_size = n
        z_all = tf.concat([tf.cast(self.vbn_reference_z, z.dtype), z], axis=0)
        y_all = None
        if y_onehot is not None:
            ref_y = tf.one_hot(tf.convert_to_tensor(self.vbn_reference_y), self.num_classes,
                               dtype=y_onehot.dtype)
            y_all = tf.concat([ref_y, y_onehot], axis=0)
        return self.generate(z_all, y_all, training)[n:]
