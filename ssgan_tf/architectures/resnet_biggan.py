"""BigGAN (Brock et al. 2019) as compare_gan's `resnet_biggan.py` re-implementation.

Channel multipliers (x ch, ch=96):
  G (consecutive in -> out; every block upsamples from the 4x4 seed)
    32: 4,4,4,4   64: 16,16,8,4,2   128: 16,16,8,4,2,1   256: 16,16,8,8,4,2,1
    512: 16,16,8,8,4,2,1,1     (16: 4,4,4 - not in the reference; small tests)
  D (block outputs; inputs are [C] + outputs[:-1]; every block downsamples except the last)
    32: 2,2,2,2   64: 2,4,8,16,16   128: 1,2,4,8,16,16   256: 1,2,4,8,8,16,16
    512: 1,1,2,4,8,8,16,16     (16: 2,2,2,2 - not in the reference)

G: z is split into num_blocks + 1 chunks (`hierarchical_z`); chunk 0 -> fc_noise -> 4x4x16ch.
   Block i's two normalizations get `concat(z_{i+1}, embed_y)` with embed_y = linear(one_hot,
   128), no bias, no SN (conditional BN; 20 + 128 = 148 dims at 128 px). Unconditional: sBN from
   the z chunk (the SSGAN paper's unconditional ImageNet model), or plain BN.
   G block: BN ReLU unpool conv3 BN ReLU conv3 + (unpool conv1x1) shortcut.
   Self-attention after `blocks_with_attention` ("B4" = 64x64 at 128 px). Tail: *unconditional*
   BN -> ReLU -> conv3 -> (tanh + 1) / 2.
D: block = ReLU conv3 ReLU conv3 [avgpool] + (conv1x1 [avgpool]) shortcut. QUIRK of the
   reference, reproduced by default (it gives the reference's parameter count): when a block keeps
   its channel count (the last block, 16ch -> 16ch) there is no residual path at all;
   `skip_when_same_channels=True` adds the identity instead (the BigGAN paper's block).
   Self-attention after "B1" (64x64 at 128 px). Tail: ReLU -> *sum* pool -> fc, plus the
   projection head (glorot_normal [classes, 16ch], SN) when conditional and `project_y`.
   The projection is the base class's single head: an S3GAN head must reuse it rather than add
   a second one (the reference's double-projection QUIRK).
Parameters at 128 px, 1000 classes, z_dim 120: G 70,433,988 / D 87,982,370 (+ the rotation head).
Orthogonal initialization and spectral norm in G and D by default (the reference's
biggan_imagenet128.gin).
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.base import _check_image_shape
from ssgan_tf.architectures.common import (
    D_NORMALIZATIONS,
    check_norm,
    d_batch_dependent,
    kernel_initializer,
    mean_pool,
    split_sizes,
)
from ssgan_tf.layers.attention import NonLocalBlock
from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.resampling import avg_pool
from ssgan_tf.layers.spectral_norm import Conv2D, Dense

G_MULTIPLIERS = {16: (4, 4, 4), 32: (4, 4, 4, 4), 64: (16, 16, 8, 4, 2),
                 128: (16, 16, 8, 4, 2, 1), 256: (16, 16, 8, 8, 4, 2, 1),
                 512: (16, 16, 8, 8, 4, 2, 1, 1)}
D_MULTIPLIERS = {16: (2, 2, 2, 2), 32: (2, 2, 2, 2), 64: (2, 4, 8, 16, 16),
                 128: (1, 2, 4, 8, 16, 16), 256: (1, 2, 4, 8, 8, 16, 16),
                 512: (1, 1, 2, 4, 8, 8, 16, 16)}
# The reference's required gin settings per resolution (G, D); elsewhere its class defaults.
ATTENTION = {128: ("B4", "B1"), 256: ("B5", "B2"), 512: ("B4", "B3")}
DEFAULT_ATTENTION = ("B4", "B1")
# Normalizations whose final G norm is the same kind (the others end with plain batch norm).
_SAME_KIND_TAIL = ("virtual_batch_norm", "layer_norm", "none")


def check_resolution(image_shape, family: str, table: dict) -> tuple:
    shape = _check_image_shape(image_shape, family, 16)
    if shape[0] not in table:
        raise ValueError(f"{family}: resolution {shape[0]} is not supported; expected one of "
                         f"{tuple(table)}.")
    return shape


def attention_blocks(spec: str | None, num_blocks: int, resolution: int, which: int,
                     family: str) -> set[int]:
    """Indices of the blocks followed by self-attention. `spec`: comma-separated names "B1".. or
    None for the reference's placement at this resolution (names beyond the blocks dropped)."""
    names = {f"B{i + 1}": i for i in range(num_blocks)}
    if spec is None:
        wanted = {ATTENTION.get(resolution, DEFAULT_ATTENTION)[which]}
        return {names[n] for n in wanted if n in names}
    wanted = {s.strip() for s in spec.split(",") if s.strip()}
    unknown = wanted - set(names)
    if unknown:
        raise ValueError(f"{family}: blocks_with_attention={spec!r} names {sorted(unknown)}, but "
                         f"at {resolution} px the blocks are {list(names)}.")
    return {names[n] for n in wanted}


def resolve_g_norm(norm: str | None, num_classes: int, family: str) -> str:
    """Default: conditional BN for a conditional G, sBN for an unconditional one."""
    if norm is None:
        norm = "conditional_batch_norm" if num_classes else "self_modulated_batch_norm"
    check_norm(norm, family)
    if norm == "conditional_batch_norm" and not num_classes:
        raise ValueError(f"{family}: norm='conditional_batch_norm' needs a conditional model "
                         "(train.conditional=True); use 'self_modulated_batch_norm' (sBN) or "
                         "'batch_norm' for an unconditional one.")
    return norm


class GBlock(Configurable, keras.layers.Layer):
    """BigGAN G block: BN ReLU unpool conv3 BN ReLU conv3 + unpool conv1x1 shortcut."""

    def __init__(self, out_channels: int, norm: str, spectral_norm: bool,
                 cross_replica_bn: bool, initializer, **kwargs):
        super().__init__(**kwargs)

        def bn(name):
            return BatchNorm(norm, cross_replica=cross_replica_bn, spectral_norm=spectral_norm,
                             kernel_initializer=initializer, name=name, dtype=self.dtype_policy)

        def conv(k, name):
            return Conv2D(out_channels, k, spectral_norm=spectral_norm,
                          kernel_initializer=initializer, name=name, dtype=self.dtype_policy)

        self.bn1, self.bn2 = bn("bn1"), bn("bn2")
        self.conv1, self.conv2, self.shortcut = conv(3, "conv1"), conv(3, "conv2"), conv(1,
                                                                                        "shortcut")

    def call(self, x, z=None, y=None, training=False):
        h = tf.nn.relu(self.bn1(x, z=z, y=y, training=training))
        h = self.conv1(h, training=training, unpooled=True)  # == conv1(unpool(h))
        h = tf.nn.relu(self.bn2(h, z=z, y=y, training=training))
        h = self.conv2(h, training=training)
        return h + self.shortcut(x, training=training, unpooled=True)


class DBlock(Configurable, keras.layers.Layer):
    """BigGAN D block: ReLU conv3 ReLU conv3 [avgpool] + conv1x1 [avgpool] shortcut if in != out
    (none at all when in == out - the reference's quirk - unless `skip_when_same_channels`)."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, norm: str,
                 spectral_norm: bool, initializer, skip_when_same_channels: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.downsample = downsample
        self.identity_skip = in_channels == out_channels and skip_when_same_channels

        def conv(k, name):
            return Conv2D(out_channels, k, spectral_norm=spectral_norm,
                          kernel_initializer=initializer, name=name, dtype=self.dtype_policy)

        self.bn1 = BatchNorm(norm, name="bn1", dtype=self.dtype_policy)
        self.bn2 = BatchNorm(norm, name="bn2", dtype=self.dtype_policy)
        self.conv1, self.conv2 = conv(3, "conv1"), conv(3, "conv2")
        self.shortcut = conv(1, "shortcut") if in_channels != out_channels else None

    def call(self, x, training=False):
        h = self.conv1(tf.nn.relu(self.bn1(x, training=training)), training=training)
        # avg_pool(conv(.)) as one strided conv (Conv2D pooled=True)
        h = self.conv2(tf.nn.relu(self.bn2(h, training=training)), training=training,
                       pooled=self.downsample)
        if self.shortcut is not None:
            h += self.shortcut(x, training=training, pooled=self.downsample)
        elif self.identity_skip:
            h += avg_pool(x) if self.downsample else x
        return h


@gin.configurable("Generator", module="ssgan_tf.architectures.resnet_biggan")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 120, num_classes: int = 0, ch: int = 96,
                 norm: str | None = None, spectral_norm: bool = True,
                 cross_replica_bn: bool = False, hierarchical_z: bool = True,
                 embed_y: bool = True, embed_y_dim: int = 128,
                 blocks_with_attention: str | None = None, initializer: str = "orthogonal",
                 **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, colors = check_resolution(image_shape, "resnet_biggan", G_MULTIPLIERS)
        self.norm = resolve_g_norm(norm, self.num_classes, "resnet_biggan")
        init = kernel_initializer(initializer)
        mult = G_MULTIPLIERS[size]
        ins = [ch * m for m in mult[:-1]]
        outs = [ch * m for m in mult[1:]]
        num_blocks = len(outs)
        self.seed_channels = ins[0]
        self.hierarchical_z = hierarchical_z
        self.z_sizes = split_sizes(self.z_dim, num_blocks + 1) if hierarchical_z else None
        self.embed_y = (Dense(embed_y_dim, use_bias=False, kernel_initializer=init,
                              name="embed_y") if self.num_classes and embed_y else None)
        self.fc_noise = Dense(4 * 4 * ins[0], spectral_norm=spectral_norm,
                              kernel_initializer=init, name="fc_noise")
        self.blocks = [GBlock(out, self.norm, spectral_norm, cross_replica_bn, init,
                              name=f"block{i + 1}") for i, out in enumerate(outs)]
        self.attention_at = attention_blocks(blocks_with_attention, num_blocks, size, 0,
                                             "resnet_biggan")
        self.attention = [NonLocalBlock(spectral_norm, init, name=f"attention_b{i + 1}")
                          for i in sorted(self.attention_at)]
        tail = self.norm if self.norm in _SAME_KIND_TAIL else "batch_norm"
        self.final_bn = BatchNorm(tail, cross_replica=cross_replica_bn, name="final_bn")
        self.final_conv = Conv2D(colors, 3, spectral_norm=spectral_norm,
                                 kernel_initializer=init, name="final_conv")

    def generate(self, z, y, training):
        e = y
        if self.embed_y is not None:
            e = self.embed_y(y, training=training)
        num_blocks = len(self.blocks)
        if self.hierarchical_z:
            chunks = tf.split(z, self.z_sizes, axis=1)
            z0, zs = chunks[0], chunks[1:]
            conds = [zi if e is None else tf.concat([zi, e], axis=1) for zi in zs]
        else:
            z0, zs, conds = z, [z] * num_blocks, [e] * num_blocks
        h = tf.reshape(self.fc_noise(z0, training=training), [-1, 4, 4, self.seed_channels])
        attention = iter(self.attention)
        for i, block in enumerate(self.blocks):
            h = block(h, z=zs[i], y=conds[i], training=training)
            if i in self.attention_at:
                h = next(attention)(h, training=training)
        h = tf.nn.relu(self.final_bn(h, training=training))
        return (tf.tanh(self.final_conv(h, training=training)) + 1.0) / 2.0


@gin.configurable("Discriminator", module="ssgan_tf.architectures.resnet_biggan")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = True, ch: int = 96, blocks_with_attention: str | None = None,
                 norm: str = "none", initializer: str = "orthogonal",
                 skip_when_same_channels: bool = False, **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        size, _, colors = check_resolution(image_shape, "resnet_biggan", D_MULTIPLIERS)
        check_norm(norm, "resnet_biggan discriminator", D_NORMALIZATIONS)
        self.batch_dependent = d_batch_dependent(norm)
        init = kernel_initializer(initializer)
        outs = [ch * m for m in D_MULTIPLIERS[size]]
        ins = [colors] + outs[:-1]
        self.blocks = [DBlock(i, o, k < len(outs) - 1, norm, spectral_norm, init,
                              skip_when_same_channels, name=f"block{k + 1}")
                       for k, (i, o) in enumerate(zip(ins, outs))]
        self.attention_at = attention_blocks(blocks_with_attention, len(outs), size, 1,
                                             "resnet_biggan")
        self.attention = [NonLocalBlock(spectral_norm, init, name=f"attention_b{i + 1}")
                          for i in sorted(self.attention_at)]
        self._make_heads(outs[-1], kernel_initializer=init)

    def trunk(self, x, training):
        h = x
        blocks = {}
        attention = iter(self.attention)
        for i, block in enumerate(self.blocks):
            h = block(h, training=training)
            if i in self.attention_at:
                h = next(attention)(h, training=training)
            blocks[block.name] = mean_pool(h)
        return tf.reduce_sum(tf.nn.relu(h), axis=[1, 2]), blocks
