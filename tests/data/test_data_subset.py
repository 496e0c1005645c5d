"""`train.max_train_examples`: the first N training examples, the rest held out as `heldout`
(never trained on), with labels (and S3GAN's partial labels) following the images."""

from __future__ import annotations

import numpy as np
import pytest

from ssgan_tf.common.errors import ConfigError
from ssgan_tf.data import HELDOUT, first_examples, from_arrays
from ssgan_tf.data.labels import with_partial_labels
from ssgan_tf.training.builders import training_data
from ssgan_tf.training.config import TrainConfig


def _spec(n: int = 10):
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 8, 8, 1), np.uint8)
    return from_arrays(images, np.arange(n) % 3, test_images=images[:2], test_labels=[0, 1])


def _pixels(spec, split):
    images, labels = spec.arrays(split)
    return list(np.rint(images[:, 0, 0, 0] * 255).astype(int)), list(labels)


def test_the_first_examples_train_and_the_rest_are_held_out():
    spec = first_examples(_spec(), 4)
    assert spec.splits == ("train", "test", HELDOUT)
    assert spec.size["train"] == 4 and spec.size[HELDOUT] == 6 and spec.name == _spec().name
    assert _pixels(spec, "train") == ([0, 1, 2, 3], [0, 1, 2, 0])
    assert _pixels(spec, HELDOUT) == ([4, 5, 6, 7, 8, 9], [1, 2, 0, 1, 2, 0])
    assert _pixels(spec, "test") == ([0, 1], [0, 1])
    assert list(spec.labels_of("train")) == [0, 1, 2, 0]
    assert list(spec.labels_of(HELDOUT)) == [1, 2, 0, 1, 2, 0]
    assert any("first 4 training examples" in note for note in spec.notes)
    whole = first_examples(_spec(), 10)  # nothing left: no empty split
    assert whole.splits == ("train", "test") and whole.size["train"] == 10


def test_partial_labels_of_the_subset_keep_images_and_labels_together():
    spec, mask = with_partial_labels(first_examples(_spec(10), 6), 0.5, seed=0)
    pixels, labels = _pixels(spec, "train")
    assert pixels == [0, 1, 2, 3, 4, 5] and len(mask) == 6
    assert labels == [p % 3 if m else -1 for p, m in zip(pixels, mask)]
    assert _pixels(spec, HELDOUT)[1] == [0, 1, 2, 0]  # held-out labels untouched


@pytest.mark.parametrize("n, match", [(11, "only 10 training examples"), (0, "positive"),
                                      (2.5, "positive"), (True, "positive")])
def test_bad_counts_are_refused(n, match):
    with pytest.raises(ValueError, match=match):
        first_examples(_spec(), n)


def test_training_cuts_the_data_and_names_the_binding():
    config = TrainConfig(num_steps=1, max_train_examples=3)
    spec = training_data(config, data=_spec(), print_fn=lambda line: None)
    assert spec.size["train"] == 3 and HELDOUT in spec.splits
    with pytest.raises(ConfigError, match="max_train_examples=11.*only 10"):
        training_data(TrainConfig(num_steps=1, max_train_examples=11), data=_spec(),
                      print_fn=lambda line: None)
    with pytest.raises(ConfigError, match="train.max_train_examples"):
        TrainConfig(num_steps=1, max_train_examples=-1)
