"""Helpers shared by the paper-scale families (dcgan, resnet_stl, resnet5, resnet_biggan(_deep))."""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.normalization import BATCH_DEPENDENT, NORMALIZATIONS

# compare_gan `weights.initializer`: "normal" = N(0, 0.02) (default), "truncated" = truncated
# N(0, 0.02), "orthogonal" (the BigGAN config). Biases start at 0 in every case.
INITIALIZERS = ("normal", "truncated", "orthogonal")
# Normalizations a discriminator may use (the reference's `D.batch_norm_fn` / `D.layer_norm`).
D_NORMALIZATIONS = ("none", "batch_norm", "layer_norm")


def kernel_initializer(name: str):
    if name == "normal":
        return keras.initializers.RandomNormal(0.0, 0.02)
    if name == "truncated":
        return keras.initializers.TruncatedNormal(0.0, 0.02)
    if name == "orthogonal":
        return keras.initializers.Orthogonal()
    raise ValueError(f"Unknown initializer {name!r}; expected one of {INITIALIZERS}.")


def check_norm(kind: str, family: str, allowed=NORMALIZATIONS) -> str:
    if kind not in allowed:
        raise ValueError(f"{family}: unknown normalization {kind!r}; expected one of {allowed}.")
    return kind


def d_batch_dependent(norm: str) -> bool:
    """True when a discriminator normalization mixes the examples of a batch."""
    return norm in BATCH_DEPENDENT


def split_sizes(total: int, parts: int) -> list[int]:
    """Chunk sizes of BigGAN's hierarchical z: equal when `total` divides (the reference, e.g.
    120 -> 6 x 20); otherwise the first `total % parts` chunks get one more (the reference would
    raise; this lets tests use a small z)."""
    if total < parts:
        raise ValueError(f"hierarchical z: z_dim={total} is smaller than the {parts} chunks it "
                         "is split into (one for the seed, one per block).")
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def mean_pool(h: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(h, axis=[1, 2])
