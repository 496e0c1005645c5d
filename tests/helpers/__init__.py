"""Small builders shared by tests."""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.gans import GAN, RotationTask


def tiny_gan(architecture: str = "sndcgan", size: int = 16, channels: int = 3, ch: int = 8,
             batch: int = 8, rotation: RotationTask | None = None, cross_replica_bn=False,
             **gan_kwargs) -> GAN:
    generator_cls, discriminator_cls = get_architecture(architecture)
    generator = generator_cls((size, size, channels), z_dim=16, ch=ch,
                              cross_replica_bn=cross_replica_bn)
    discriminator = discriminator_cls((size, size, channels), ch=ch)
    model = GAN(generator, discriminator, self_supervision=rotation, **gan_kwargs)
    model.build_all(batch)
    return model


def set_weights_from(target: GAN, source: GAN) -> None:
    for t, s in zip(target.generator.weights, source.generator.weights):
        t.assign(s)
    for t, s in zip(target.discriminator.weights, source.discriminator.weights):
        t.assign(s)


def random_images(batch: int, size: int = 16, channels: int = 3, seed: int = 0) -> tf.Tensor:
    return tf.random.stateless_uniform([batch, size, size, channels], [seed, 1])
