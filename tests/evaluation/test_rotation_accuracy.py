"""Rotation accuracy in one place (`gans.ssgan.rotation_accuracy`), used by the metrics hook; a
discriminator that projects labels (S3GAN, S2GAN's GAN stage, project_y) gets the labels."""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.data import get_dataset
from ssgan_tf.evaluation.metrics_hook import MetricsHook, real_images
from ssgan_tf.gans.ssgan import rotation_accuracy

SHAPE, CLASSES = (16, 16, 3), 3


def _discriminator(project_y: bool):
    _, discriminator_cls = get_architecture("sndcgan")
    d = discriminator_cls(SHAPE, num_classes=CLASSES if project_y else 0, ch=4,
                          project_y=project_y)
    d(tf.zeros([1, *SHAPE]), tf.zeros([1], tf.int32) if project_y else None)
    return d


def _by_hand(d, images, labels):
    """tf.image.rot90 k = 0..3, one D call per orientation, argmax against k."""
    correct = 0
    for k in range(4):
        out = d(tf.image.rot90(images, k), labels, training=False)
        correct += int(np.sum(np.argmax(out["rotation_logits"].numpy(), -1) == k))
    return correct / (4 * len(images))


@pytest.mark.parametrize("project_y", [False, True], ids=["plain", "projection"])
def test_rotation_accuracy_equals_the_definition(project_y):
    d = _discriminator(project_y)
    # Large random head weights: the predictions spread over the four classes (accuracy
    # strictly between 0 and 1), so a wrong pairing of images and labels would show.
    kernel = d.rotation_head.weights[0]
    kernel.assign(tf.random.stateless_normal(kernel.shape, [3, 4]) * 5.0)
    images = tf.random.stateless_uniform([10, *SHAPE], [1, 2]).numpy()
    labels = np.arange(10, dtype=np.int32) % CLASSES
    expected = _by_hand(d, images, labels if project_y else None)
    got = rotation_accuracy(d, images, labels if project_y else None, batch_size=4)
    assert got == pytest.approx(expected, abs=1e-9)
    assert 0.0 < got < 1.0


def test_a_projection_discriminator_needs_labels():
    d = _discriminator(True)
    images = np.zeros([2, *SHAPE], np.float32)
    with pytest.raises(ValueError, match="projects labels"):
        rotation_accuracy(d, images)
    with pytest.raises(ValueError, match="pass integer labels"):  # what the hook used to do
        d(images, None, training=False)


def test_metrics_hook_measures_a_projection_discriminator():
    """The hook's rotation accuracy of a conditional model (a projection D): real images with
    their labels, samples with the labels they were generated with."""
    spec = get_dataset("synthetic", resolution=16)
    d = _discriminator(True)

    def generator(z, y, training=False):
        return tf.sigmoid(tf.reshape(tf.tile(z, [1, 16 * 16 * 3 // 4]), [-1, *SHAPE]))

    model = types.SimpleNamespace(discriminator=d, num_classes=CLASSES, z_dim=4,
                                  z_distribution="uniform", inference_generator=lambda: generator)
    context = types.SimpleNamespace(spec=spec, model_dir="unused", chief=True, print_fn=print)
    hook = MetricsHook(every=1, num_samples=12, num_real=20, rotation_examples=8, batch_size=6)
    scalars = hook.evaluate(model, context)
    real, labels = real_images(spec, "train", 8)
    assert scalars["rotation_accuracy_real"] == pytest.approx(
        _by_hand(d, real.astype(np.float32) / 255.0, labels))
    fake = hook.samples(model)[:8].astype(np.float32) / 255.0
    assert scalars["rotation_accuracy_fake"] == pytest.approx(
        _by_hand(d, fake, np.arange(8, dtype=np.int32) % CLASSES))
