"""The linear probe recovers known answers, and feature extraction streams in order under a
strategy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common import distribute
from ssgan_tf.evaluation.probe import (
    L2_GRID,
    ProbeError,
    choose_l2,
    extract_features,
    fit_linear_probe,
    probe_all,
    probe_keys,
    validation_split,
)


def _separable(n, dim=10, classes=3, seed=0):
    """Class means far apart along separate axes, plus noise and constant / scaled columns."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, classes, n)
    features = rng.normal(size=(n, dim)) * 0.3
    features[np.arange(n), labels] += 3.0
    features[:, -1] = 7.0            # a constant column (zero variance) must not break scaling
    features[:, -2] *= 1000.0        # a badly scaled one must not dominate
    return features.astype(np.float32), labels


def test_linearly_separable_features_are_classified_almost_perfectly():
    train, train_y = _separable(600)
    test, test_y = _separable(300, seed=1)
    accuracy, l2 = fit_linear_probe(train, train_y, test, test_y)
    assert accuracy >= 0.98 and l2 in L2_GRID


def test_random_labels_give_chance_accuracy():
    rng = np.random.RandomState(0)
    train, test = rng.normal(size=(600, 20)), rng.normal(size=(600, 20))
    accuracy, _ = fit_linear_probe(train, rng.randint(0, 3, 600), test, rng.randint(0, 3, 600))
    assert 0.25 < accuracy < 0.42  # chance is 1/3; 600 test examples: std ~0.02


def test_l2_is_chosen_without_looking_at_the_test_labels():
    train, train_y = _separable(300, dim=40)
    test, test_y = _separable(300, dim=40, seed=1)
    accuracy, l2 = fit_linear_probe(train, train_y, test, test_y)
    shuffled = np.random.RandomState(2).permutation(test_y)
    accuracy_shuffled, l2_shuffled = fit_linear_probe(train, train_y, test, shuffled)
    assert l2_shuffled == l2 and accuracy > 0.95 and accuracy_shuffled < 0.5
    # The validation split is held out of the training features, reproducibly.
    fit, val = validation_split(300, 0.2, seed=0)
    assert len(val) == 60 and not set(fit) & set(val) and len(fit) + len(val) == 300
    np.testing.assert_array_equal(validation_split(300, 0.2, seed=0)[1], val)
    assert choose_l2(train, train_y)[0] == l2


def test_stronger_regularization_wins_when_examples_are_few_and_noisy():
    rng = np.random.RandomState(0)
    n, dim = 80, 400
    labels = rng.randint(0, 2, n)
    features = rng.normal(size=(n, dim))
    features[:, 0] += 1.5 * (2 * labels - 1)  # one informative direction among 400
    l2, _ = choose_l2(features, labels, val_fraction=0.5)
    assert l2 > min(L2_GRID)


def test_probe_all_reports_each_feature_and_too_few_examples_is_an_error():
    train, train_y = _separable(200)
    test, test_y = _separable(100, seed=1)
    results = probe_all({"block1": train[:, :4], "final": train}, train_y,
                        {"block1": test[:, :4], "final": test}, test_y)
    assert list(results) == ["block1", "final"]
    assert results["final"]["dim"] == 10 and results["final"]["accuracy"] >= 0.98
    assert set(results["block1"]) == {"accuracy", "l2", "val_accuracy", "dim"}
    with pytest.raises(ProbeError, match="too few"):
        fit_linear_probe(train[:2], train_y[:2], test, test_y)


def test_probe_keys_orders_blocks_numerically_and_skips_heads():
    names = ["final", "block10", "gan_logits", "block2", "rotation_logits", "block1"]
    assert probe_keys(names) == ["block1", "block2", "block10", "final"]


def _conv_encoder(images):
    """A stand-in encoder with a conv (TF's CPU conv2d mis-shapes empty batches)."""
    h = tf.nn.conv2d(images, tf.ones([3, 3, 1, 2]), 1, "SAME")
    return {"block1": tf.reduce_mean(h, axis=[1, 2]), "final": tf.reshape(images, [-1, 16])}


def _dataset(n):
    images = np.arange(n * 16, dtype=np.float32).reshape(n, 4, 4, 1) / (n * 16)
    return tf.data.Dataset.from_tensor_slices(
        {"images": images, "labels": np.arange(n, dtype=np.int32) % 3}), images


@pytest.mark.parametrize("strategy_name", ["default", "mirrored"])
def test_features_stream_in_order_with_a_partial_last_batch(strategy_name):
    strategy = distribute.make_strategy(strategy_name)
    dataset, images = _dataset(9)
    # Global batch 4: batches of 4, 4, 1; with 2 replicas the last one would leave a replica
    # empty without padding.
    features, labels = extract_features(_conv_encoder, dataset, batch_size=4, strategy=strategy)
    np.testing.assert_array_equal(labels, np.arange(9) % 3)
    np.testing.assert_allclose(features["final"], images.reshape(9, 16))
    expected = _conv_encoder(tf.constant(images))["block1"].numpy()
    np.testing.assert_allclose(features["block1"], expected, rtol=1e-5)
    few, few_labels = extract_features(_conv_encoder, dataset, batch_size=4, max_examples=5,
                                       strategy=strategy)
    assert few["final"].shape == (5, 16) and len(few_labels) == 5
    with pytest.raises(ProbeError, match="empty"):
        extract_features(_conv_encoder, dataset.take(0), batch_size=4, strategy=strategy)
