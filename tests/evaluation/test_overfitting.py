"""D's overfitting signal (mean GAN logit on training reals minus held-out reals), by hand and
from MetricsHook."""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.data import HELDOUT, first_examples, from_arrays
from ssgan_tf.evaluation.metrics_hook import MetricsHook
from ssgan_tf.evaluation.overfitting import logit_gap, mean_logit


class MeanPixelD:
    """A D whose logit is 10 x the mean pixel (+ the label when it projects labels)."""

    def __init__(self, project_y: bool = False):
        self.project_y = project_y

    def __call__(self, x, y=None, training=False):
        logits = 10.0 * tf.reduce_mean(x, axis=[1, 2, 3])
        if y is not None:
            logits += tf.cast(y, tf.float32)
        return {"logits": logits}


def test_mean_logit_and_gap_by_hand():
    bright = np.full((3, 4, 4, 1), 0.8, np.float32)
    dark = np.full((5, 4, 4, 1), 0.2, np.float32)
    assert mean_logit(MeanPixelD(), bright, batch_size=2) == pytest.approx(8.0)
    gap = logit_gap(MeanPixelD(), bright, dark)
    assert gap == pytest.approx({"d_logit_train": 8.0, "d_logit_heldout": 2.0, "d_logit_gap": 6.0})
    projected = logit_gap(MeanPixelD(project_y=True), bright, dark, np.array([1, 1, 1]),
                          np.zeros(5))
    assert projected["d_logit_gap"] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="pass the images' labels"):
        mean_logit(MeanPixelD(project_y=True), bright)


def test_the_hook_reports_the_gap_on_the_heldout_split(tmp_path):
    _, discriminator_cls = get_architecture("sndcgan")
    d = discriminator_cls((8, 8, 1), ch=4)
    d(tf.zeros([1, 8, 8, 1]))
    images = np.random.RandomState(0).randint(0, 256, (10, 8, 8, 1)).astype(np.uint8)
    spec = first_examples(from_arrays(images, np.zeros(10, np.int64)), 4)

    def generator(z, y, training=False):
        return tf.fill([tf.shape(z)[0], 8, 8, 1], 0.5)

    model = types.SimpleNamespace(discriminator=d, num_classes=0, z_dim=2,
                                  z_distribution="uniform", inference_generator=lambda: generator)
    hook = MetricsHook(every=1, num_samples=4, rotation_examples=3, plot=False)
    context = types.SimpleNamespace(spec=spec, model_dir=str(tmp_path), chief=True, model=model,
                                    print_fn=lambda line: None)
    logged = hook(1, context)
    assert hook.heldout_split == HELDOUT
    # Training reals are the first 3 of the 4 trained on, held-out ones the first 3 after them.
    expected = logit_gap(d, images[:3] / 255.0, images[4:7] / 255.0)
    for key, value in expected.items():
        assert logged[f"eval/{key}"] == pytest.approx(value, rel=1e-5)
    assert logged["eval/d_logit_gap"] != 0.0

    no_heldout = MetricsHook(every=1, num_samples=4, rotation_examples=3, plot=False)
    plain = from_arrays(images, np.zeros(10, np.int64))  # a train split only: no gap
    assert "eval/d_logit_gap" not in no_heldout(1, types.SimpleNamespace(**{**vars(context),
                                                                            "spec": plain}))
    with pytest.raises(ValueError, match="heldout_split='val'"):
        MetricsHook(every=1, num_samples=4, heldout_split="val")(1, context)
