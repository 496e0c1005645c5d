"""Rotation batching and labels, element by element (DESIGN.md: the SSGAN batch layout)."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import RotationTask, rotate_images, rotation_labels
from ssgan_tf.gans.ssgan import with_rotations


def test_rotate_images_order_and_angles():
    x = np.arange(2 * 3 * 3 * 1, dtype=np.float32).reshape(2, 3, 3, 1)
    out = rotate_images(tf.constant(x)).numpy()
    assert out.shape == (6, 3, 3, 1)
    # Stacked by angle: [both by 90, both by 180, both by 270], counter-clockwise.
    for k in (1, 2, 3):
        for i in range(2):
            np.testing.assert_array_equal(out[(k - 1) * 2 + i], np.rot90(x[i], k, axes=(0, 1)))
    # 90 degrees CCW moves the top-right corner to the top-left.
    assert out[0, 0, 0, 0] == x[0, 0, 2, 0]


def test_with_rotations_rotates_the_last_n_images():
    x = tf.constant(np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones([1, 2, 2, 1],
                                                                             np.float32))
    x = x + tf.constant([[[[0.0], [0.1]], [[0.2], [0.3]]]])  # make rotations visible
    out = with_rotations(x, 2).numpy()
    assert out.shape == (5 + 6, 2, 2, 1)
    np.testing.assert_array_equal(out[:5], x.numpy())
    expected = [np.rot90(x.numpy()[i], k) for k in (1, 2, 3) for i in (3, 4)]
    np.testing.assert_array_equal(out[5:], np.stack(expected))


def test_rotation_labels():
    np.testing.assert_array_equal(rotation_labels(2).numpy(), [0, 0, 1, 1, 2, 2, 3, 3])


@pytest.mark.parametrize("rotated,replicas,batch,expected", [
    (None, 1, 8, 8), (32, 1, 8, 8), (8, 1, 8, 2), (16, 2, 8, 2), (None, 2, 8, 4)])
def test_images_per_replica(rotated, replicas, batch, expected):
    task = RotationTask(rotated_batch_size=rotated)
    assert task.images_per_replica(batch, replicas) == expected


@pytest.mark.parametrize("rotated,replicas", [(6, 1), (8, 4), (40, 1)])
def test_images_per_replica_rejects_bad_sizes(rotated, replicas):
    with pytest.raises(ValueError, match="rotated_batch_size"):
        RotationTask(rotated_batch_size=rotated).images_per_replica(8, replicas)


def test_mode_none_rotates_nothing_and_bad_mode_fails():
    assert RotationTask(mode="none").images_per_replica(8, 1) == 0
    with pytest.raises(ValueError, match="mode"):
        RotationTask(mode="rotate")
