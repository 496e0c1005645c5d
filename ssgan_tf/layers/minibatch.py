"""Minibatch features for the discriminator: they let D see statistics of the whole batch, so a
generator that collapses to a few modes is easy to spot.

- `MinibatchDiscrimination` (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.2):
  a learned tensor T maps each feature vector f_i [F] to M_i = f_i T, reshaped [num_kernels,
  kernel_dim]; c_b(i, j) = exp(-||M_i,b - M_j,b||_1) and o(x_i)_b = sum_j c_b(i, j) over the batch
  (j = i included, as the paper's formula: it adds a constant 1). Output concat([f, o]) [F + K].
  T is initialized N(0, 0.05) (the paper's code) and is not spectral-normalized. Memory is
  O(B^2 K): mind it with large rotated batches (SSGAN's D batch is 2 x (B + 3n)).
- `MinibatchStddev` (Karras et al. 2018, "Progressive Growing of GANs", §3): the standard
  deviation of every feature over a group of examples (biased, + 1e-8 inside the sqrt), averaged
  over the features, is appended as one extra feature. `group_size=None` uses the whole batch;
  otherwise groups are strided as in the paper's code (example i is in group i mod (B / G)) and
  G must divide the batch.

Both act on D's final feature vector (`features`, the input of the real/fake head; the rotation
and projection heads see the same augmented features, and `features`/`feature_dim` include the
extra columns); enable them with `<arch>.Discriminator.minibatch = "minibatch_discrimination"`
or `"minibatch_stddev"`, and set their sizes with `minibatch_features.num_kernels`,
`.kernel_dim`, `.group_size`.
Statistics run over the whole D call, which in the SSGAN step is concat([real, real_rot, fake,
fake_rot]): reals, fakes and their rotations share the statistics (like D batch norm would).
Such a D is batch-dependent (`Discriminator.batch_dependent = True`), so the G step also feeds
the reals (see gans/gan.py), and statistics are per replica under a distribution strategy.
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable

MINIBATCH_KINDS = ("minibatch_discrimination", "minibatch_stddev")


class MinibatchDiscrimination(Configurable, keras.layers.Layer):
    """[B, F] -> [B, F + num_kernels] (Salimans et al. 2016)."""

    def __init__(self, num_kernels: int = 100, kernel_dim: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels = int(num_kernels)
        self.kernel_dim = int(kernel_dim)

    @property
    def extra_features(self) -> int:
        return self.num_kernels

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(int(input_shape[-1]), self.num_kernels * self.kernel_dim),
            initializer=keras.initializers.RandomNormal(0.0, 0.05), autocast=False)

    def call(self, features):
        f32 = tf.cast(features, tf.float32)
        m = tf.reshape(tf.matmul(f32, tf.cast(self.kernel, tf.float32)),
                       [-1, self.num_kernels, self.kernel_dim])
        # Accumulate the L1 distance one kernel dimension at a time: peak memory [B, B, K].
        l1 = 0.0
        for d in range(self.kernel_dim):
            col = m[:, :, d]
            l1 += tf.abs(col[:, None, :] - col[None, :, :])
        o = tf.reduce_sum(tf.exp(-l1), axis=1)
        return tf.concat([features, tf.cast(o, features.dtype)], axis=-1)


class MinibatchStddev(Configurable, keras.layers.Layer):
    """[B, F] -> [B, F + 1] (Karras et al. 2018)."""

    def __init__(self, group_size: int | None = None, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        if group_size is not None and group_size < 1:
            raise ValueError(f"MinibatchStddev.group_size={group_size} must be None or >= 1.")
        self.group_size = group_size
        self.epsilon = epsilon

    @property
    def extra_features(self) -> int:
        return 1

    def call(self, features):
        f32 = tf.cast(features, tf.float32)
        batch = tf.shape(f32)[0]
        group = batch if self.group_size is None else tf.minimum(self.group_size, batch)
        y = tf.reshape(f32, [group, -1, f32.shape[-1]])          # [G, B/G, F]
        y = y - tf.reduce_mean(y, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + self.epsilon)  # [B/G, F]
        per_group = tf.reduce_mean(std, axis=1)                   # [B/G]
        column = tf.tile(per_group, [group])[:, None]             # example i -> group i mod B/G
        return tf.concat([features, tf.cast(column, features.dtype)], axis=-1)


@gin.configurable(module="ssgan_tf.layers", denylist=["kind"])
def minibatch_features(kind: str | None, num_kernels: int = 100, kernel_dim: int = 5,
                       group_size: int | None = None, **layer_kwargs):
    """The layer for `Discriminator.minibatch` (None, one of MINIBATCH_KINDS, or a serialized
    layer: what a saved discriminator's config holds). Gin bindings:
    `minibatch_features.num_kernels`, `.kernel_dim` (minibatch discrimination; the paper's
    defaults 100 and 5) and `.group_size` (minibatch stddev; None = the whole batch)."""
    if kind is None or kind == "none":
        return None
    if isinstance(kind, dict):
        return keras.saving.deserialize_keras_object(kind)
    if kind == "minibatch_discrimination":
        return MinibatchDiscrimination(num_kernels, kernel_dim, name="minibatch_discrimination",
                                       **layer_kwargs)
    if kind == "minibatch_stddev":
        return MinibatchStddev(group_size, name="minibatch_stddev", **layer_kwargs)
    raise ValueError(f"Discriminator.minibatch={kind!r}; expected None or one of "
                     f"{MINIBATCH_KINDS}.")

