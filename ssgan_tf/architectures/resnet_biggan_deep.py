"""BigGAN-deep (Brock et al. 2019) as compare_gan's `resnet_biggan_deep.py` re-implementation.

Channel multipliers (x ch, ch=128; consecutive in -> out):
  G  32: 8x[4]   64: 4x[16] 2x[8] 4,4,2   128: 4x[16] 2x[8] 4,4,2,2,1
     256: 4x[16] 4x[8] 4,4,2,2,1   512: 4x[16] 4x[8] 4,4,2,2,1,1,1   (16: 5x[4], not reference)
     blocks alternate no-resampling / upsampling (twice BigGAN's depth).
  D  32: 8x[2]   64: 2,4,4 2x[8] 4x[16]   128: 1,2,2,4,4 2x[8] 4x[16]
     256: 1,2,2,4,4 4x[8] 4x[16]   512: 1,1,1,2,2,4,4 4x[8] 4x[16]   (16: 5x[2], not reference)
     blocks alternate downsampling / no-resampling.
Bottleneck block (b = max(in, out) / 4): BN ReLU conv1x1(b) -> BN ReLU [unpool] conv3(b) ->
BN ReLU conv3(b) -> BN ReLU [avgpool] conv1x1(out), plus an identity skip: G drops the extra
channels (then unpools), D avg-pools and concatenates a conv1x1 of the missing channels.
z is not chunked: fc_noise and every G normalization get `concat(z, embed_y)` (conditional BN),
or z alone for an unconditional G (sBN). Self-attention at 64x64 (after the G up-block / D plain
block with that output size). G tail: unconditional BN -> ReLU -> conv3 -> (tanh + 1) / 2.
D: conv3 stem, ReLU -> sum pool -> fc, projection when conditional (the reference's docstring
says mean pooling; its code sums, as here).
Parameters at 128 px, 1000 classes, z_dim 128: G 50,244,484 / D 34,590,210 (+ the rotation head).
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf.architectures.base import Discriminator as _Discriminator
from ssgan_tf.architectures.base import Generator as _Generator
from ssgan_tf.architectures.common import (
    D_NORMALIZATIONS,
    check_norm,
    d_batch_dependent,
    kernel_initializer,
    mean_pool,
)
from ssgan_tf.architectures.resnet_biggan import _SAME_KIND_TAIL, check_resolution, resolve_g_norm
from ssgan_tf.layers.attention import NonLocalBlock
from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.normalization import BatchNorm
from ssgan_tf.layers.resampling import avg_pool, unpool
from ssgan_tf.layers.spectral_norm import Conv2D, Dense

G_MULTIPLIERS = {16: 5 * (4,), 32: 8 * (4,),
                 64: 4 * (16,) + 2 * (8,) + (4, 4, 2),
                 128: 4 * (16,) + 2 * (8,) + (4, 4, 2, 2, 1),
                 256: 4 * (16,) + 4 * (8,) + (4, 4, 2, 2, 1),
                 512: 4 * (16,) + 4 * (8,) + (4, 4, 2, 2, 1, 1, 1)}
D_MULTIPLIERS = {16: 5 * (2,), 32: 8 * (2,),
                 64: (2, 4, 4) + 2 * (8,) + 4 * (16,),
                 128: (1, 2, 2, 4, 4) + 2 * (8,) + 4 * (16,),
                 256: (1, 2, 2, 4, 4) + 4 * (8,) + 4 * (16,),
                 512: (1, 1, 1, 2, 2, 4, 4) + 4 * (8,) + 4 * (16,)}
ATTENTION_RESOLUTION = 64


class DeepBlock(Configurable, keras.layers.Layer):
    """Bottleneck block with identity skip; `resample` is "up" (G), "down" (D) or "none"."""

    def __init__(self, in_channels: int, out_channels: int, resample: str, norm: str,
                 spectral_norm: bool, cross_replica_bn: bool, initializer, **kwargs):
        super().__init__(**kwargs)
        if (in_channels > out_channels and resample != "up") or (
                in_channels < out_channels and resample != "down"):
            raise ValueError(f"{self.name}: {in_channels} -> {out_channels} channels needs "
                             f"{'up' if in_channels > out_channels else 'down'}sampling.")
        self.resample = resample
        self.in_channels, self.out_channels = in_channels, out_channels
        bottleneck = max(in_channels, out_channels) // 4

        def conv(filters, k, name):
            return Conv2D(filters, k, spectral_norm=spectral_norm,
                          kernel_initializer=initializer, name=name, dtype=self.dtype_policy)

        self.norms = [BatchNorm(norm, cross_replica=cross_replica_bn, spectral_norm=spectral_norm,
                                kernel_initializer=initializer, name=f"bn{i + 1}",
                                dtype=self.dtype_policy) for i in range(4)]
        self.convs = [conv(bottleneck, 1, "conv1"), conv(bottleneck, 3, "conv2"),
                      conv(bottleneck, 3, "conv3"), conv(out_channels, 1, "conv4")]
        self.add_channels = (conv(out_channels - in_channels, 1, "add_channels")
                             if out_channels > in_channels else None)

    def call(self, x, z=None, y=None, training=False):
        h = x
        for i, (norm, conv) in enumerate(zip(self.norms, self.convs)):
            h = tf.nn.relu(norm(h, z=z, y=y, training=training))
            if i == 3 and self.resample == "down":
                h = avg_pool(h)
            # conv(unpool(h)) without the zeros when the block upsamples
            h = conv(h, training=training, unpooled=i == 1 and self.resample == "up")
        s = x[..., :self.out_channels] if self.in_channels > self.out_channels else x
        if self.resample == "up":
            s = unpool(s)
        elif self.resample == "down":
            s = avg_pool(s)
        if self.add_channels is not None:
            s = tf.concat([s, self.add_channels(s, training=training)], axis=-1)
        return h + s


@gin.configurable("Generator", module="ssgan_tf.architectures.resnet_biggan_deep")
class Generator(_Generator):
    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, ch: int = 128,
                 norm: str | None = None, spectral_norm: bool = True,
                 cross_replica_bn: bool = False, embed_y: bool = True, embed_y_dim: int = 128,
                 initializer: str = "orthogonal", **kwargs):
        super().__init__(image_shape, z_dim, num_classes, **kwargs)
        size, _, colors = check_resolution(image_shape, "resnet_biggan_deep", G_MULTIPLIERS)
        self.norm = resolve_g_norm(norm, self.num_classes, "resnet_biggan_deep")
        init = kernel_initializer(initializer)
        mult = G_MULTIPLIERS[size]
        ins = [ch * m for m in mult[:-1]]
        outs = [ch * m for m in mult[1:]]
        self.seed_channels = ins[0]
        self.embed_y = (Dense(embed_y_dim, use_bias=False, kernel_initializer=init,
                              name="embed_y") if self.num_classes and embed_y else None)
        self.fc_noise = Dense(4 * 4 * ins[0], spectral_norm=spectral_norm,
                              kernel_initializer=init, name="fc_noise")
        self.blocks, self.attention_layers, self.attention_at = [], [], {}
        res = 4
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            resample = "up" if i % 2 else "none"
            self.blocks.append(DeepBlock(cin, cout, resample, self.norm, spectral_norm,
                                         cross_replica_bn, init, name=f"block{i + 1}"))
            if resample == "up":
                res *= 2
                if res == ATTENTION_RESOLUTION:
                    self.attention_at[i] = len(self.attention_layers)
                    self.attention_layers.append(NonLocalBlock(spectral_norm, init,
                                                               name=f"attention_b{i + 1}"))
        tail = self.norm if self.norm in _SAME_KIND_TAIL else "batch_norm"
        self.final_bn = BatchNorm(tail, cross_replica=cross_replica_bn, name="final_bn")
        self.final_conv = Conv2D(colors, 3, spectral_norm=spectral_norm,
                                 kernel_initializer=init, name="final_conv")

    def generate(self, z, y, training):
        cond = z
        if y is not None:
            e = self.embed_y(y, training=training) if self.embed_y is not None else y
            cond = tf.concat([z, e], axis=1)
        h = tf.reshape(self.fc_noise(cond, training=training), [-1, 4, 4, self.seed_channels])
        for i, block in enumerate(self.blocks):
            h = block(h, z=cond, y=cond, training=training)
            if i in self.attention_at:
                h = self.attention_layers[self.attention_at[i]](h, training=training)
        h = tf.nn.relu(self.final_bn(h, training=training))
        return (tf.tanh(self.final_conv(h, training=training)) + 1.0) / 2.0


@gin.configurable("Discriminator", module="ssgan_tf.architectures.resnet_biggan_deep")
class Discriminator(_Discriminator):
    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = True, ch: int = 128, norm: str = "none",
                 initializer: str = "orthogonal", **kwargs):
        super().__init__(image_shape, num_classes, spectral_norm, project_y, **kwargs)
        size, _, colors = check_resolution(image_shape, "resnet_biggan_deep", D_MULTIPLIERS)
        check_norm(norm, "resnet_biggan_deep discriminator", D_NORMALIZATIONS)
        self.batch_dependent = d_batch_dependent(norm)
        init = kernel_initializer(initializer)
        mult = D_MULTIPLIERS[size]
        ins = [ch * m for m in mult[:-1]]
        outs = [ch * m for m in mult[1:]]
        self.initial_conv = Conv2D(ins[0], 3, spectral_norm=spectral_norm,
                                   kernel_initializer=init, name="initial_conv")
        self.blocks, self.attention_layers, self.attention_at = [], [], {}
        res = size
        for i, (cin, cout) in enumerate(zip(ins, outs)):
            resample = "none" if i % 2 else "down"
            self.blocks.append(DeepBlock(cin, cout, resample, norm, spectral_norm, False, init,
                                         name=f"block{i + 1}"))
            if resample == "down":
                res //= 2
            elif res == ATTENTION_RESOLUTION:
                self.attention_at[i] = len(self.attention_layers)
                self.attention_layers.append(NonLocalBlock(spectral_norm, init,
                                                           name=f"attention_b{i + 1}"))
        self._make_heads(outs[-1], kernel_initializer=init)

    def trunk(self, x, training):
        h = self.initial_conv(x, training=training)
        blocks = {}
        for i, block in enumerate(self.blocks):
            h = block(h, training=training)
            if i in self.attention_at:
                h = self.attention_layers[self.attention_at[i]](h, training=training)
            blocks[block.name] = mean_pool(h)
        return tf.reduce_sum(tf.nn.relu(h), axis=[1, 2]), blocks
