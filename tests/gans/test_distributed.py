"""MirroredStrategy on 2 logical CPU devices (set up in conftest): distinct z per replica, and a
2-replica step equals a 1-replica step on the same data and z (losses averaged over the global
batch, gradients summed across replicas, cross-replica BN in G)."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import RotationTask
from tests.helpers import random_images, set_weights_from, tiny_gan

BATCH = 8


def test_each_replica_draws_different_z(strategy):
    with strategy.scope():
        model = tiny_gan(batch=BATCH // 2)
    per_replica = strategy.run(tf.function(lambda: model.sample_z(4)))
    z0, z1 = [t.numpy() for t in strategy.experimental_local_results(per_replica)]
    assert z0.shape == (4, 16) and not np.allclose(z0, z1)
    assert -1.0 <= z0.min() and z0.max() <= 1.0
    # ... and a different z at the next step.
    assert not np.allclose(model.sample_z(4, step=0).numpy(), model.sample_z(4, step=1).numpy())


@pytest.mark.parametrize("architecture", ["sndcgan", pytest.param("resnet_cifar", marks=pytest.mark.slow)])
def test_two_replicas_equal_one_replica(strategy, architecture):
    kwargs = dict(architecture=architecture, rotation=RotationTask(rotated_batch_size=None),
                  cross_replica_bn=True, disc_iters=1,
                  # Adam's first step is ~lr * sign(g): float noise on a near-zero gradient would
                  # flip it. With lr = eps = 1 the update is g / (|g| + 1), so equal weights after
                  # the step mean equal (summed) gradients.
                  g_lr=1.0, adam_epsilon=1.0)
    single = tiny_gan(batch=BATCH, **kwargs)
    with strategy.scope():
        mirrored = tiny_gan(batch=BATCH // 2, **kwargs)
    set_weights_from(mirrored, single)
    images = random_images(BATCH, seed=5)
    z = tf.random.stateless_uniform([BATCH, 16], [7, 7], -1.0, 1.0)

    initial = [v.numpy().copy() for v in single.generator.trainable_variables]
    single_logs = tf.function(single.train_step)({"images": images, "z": z})

    half = BATCH // 2

    def shard(ctx):
        i = ctx.replica_id_in_sync_group
        return {"images": images[i * half:(i + 1) * half], "z": z[i * half:(i + 1) * half]}

    data = strategy.experimental_distribute_values_from_function(shard)
    per_replica = strategy.run(tf.function(mirrored.train_step), args=(data,))
    for key, value in single_logs.items():
        # train_step returns global values, the same on every replica
        reduced = strategy.reduce("MEAN", per_replica[key], axis=None)
        np.testing.assert_allclose(float(reduced), float(value), rtol=1e-4, atol=1e-5,
                                   err_msg=key)
    for net in ("generator", "discriminator"):
        for a, b in zip(getattr(single, net).weights, getattr(mirrored, net).weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=a.path)
    # The step really moved the weights (the comparison is not between two untouched models).
    assert mirrored.current_step() == 1
    moved = [not np.allclose(a, b.numpy()) for a, b in
             zip(initial, mirrored.generator.trainable_variables)]
    assert any(moved)
