"""S3GAN partial labels (exact, deterministic, no leak) and k-means (vs scikit-learn)."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common import distribute
from ssgan_tf.data import get_dataset
from ssgan_tf.data.labels import UNLABELLED, labelled_mask, with_partial_labels, with_pseudo_labels
from ssgan_tf.pipelines.clustering import KMeans


def test_mask_is_exact_stratified_and_deterministic():
    labels = np.repeat(np.arange(10), 50)
    mask = labelled_mask(labels, 0.1, seed=3)
    assert mask.sum() == 50
    assert all(mask[labels == c].sum() == 5 for c in range(10))
    np.testing.assert_array_equal(mask, labelled_mask(labels, 0.1, seed=3))
    assert not np.array_equal(mask, labelled_mask(labels, 0.1, seed=4))
    with pytest.raises(ValueError, match="fraction"):
        labelled_mask(labels, 1.5)


def test_partial_labels_hide_the_rest():
    spec = get_dataset("synthetic", resolution=8)
    truth = np.array([int(ex["labels"]) for ex in spec("train")])
    partial, mask = with_partial_labels(spec, 0.2, seed=0)
    seen = [(int(ex["labels"]), ex["images"].numpy()) for ex in partial("train")]
    labels = np.array([label for label, _ in seen])
    assert (labels != UNLABELLED).sum() == mask.sum()
    np.testing.assert_array_equal(labels[mask], truth[mask])      # labelled: true labels
    assert np.all(labels[~mask] == UNLABELLED)                     # hidden: nothing leaks
    first = next(iter(spec("train")))["images"].numpy()
    np.testing.assert_array_equal(seen[0][1], first)               # images untouched
    test_labels = [int(ex["labels"]) for ex in partial("test")]
    assert UNLABELLED not in test_labels                           # evaluation keeps labels


def blobs(n_per=200, k=4, dim=5, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(0, 10, (k, dim))
    x = np.concatenate([c + rng.normal(0, 1, (n_per, dim)) for c in centres])
    return x.astype(np.float32), np.repeat(np.arange(k), n_per)


def purity(pred, truth):
    return sum(np.bincount(truth[pred == c]).max() for c in np.unique(pred)) / len(truth)


def test_kmeans_recovers_blobs_like_sklearn():
    from sklearn.cluster import KMeans as SkKMeans

    x, truth = blobs()
    ours = KMeans(4, seed=0, batch_size=97)  # batches that do not divide the data
    ours.fit(x)
    pred = ours.predict(x)
    assert purity(pred, truth) == 1.0
    sk = SkKMeans(4, n_init=10, random_state=0).fit(x)
    np.testing.assert_allclose(ours.inertia, sk.inertia_, rtol=1e-3)


def test_kmeans_under_mirrored_strategy_equals_single_device():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices")
    x, _ = blobs(seed=1)
    single = KMeans(4, seed=1, batch_size=64).fit(x)
    mirrored = KMeans(4, seed=1, batch_size=64,
                      strategy=distribute.make_strategy("mirrored")).fit(x)
    np.testing.assert_allclose(np.sort(mirrored, 0), np.sort(single, 0), rtol=1e-4, atol=1e-4)


def test_pseudo_labels_replace_train_labels():
    spec = get_dataset("synthetic", resolution=8)
    n = spec.size["train"]
    ids = np.arange(n) % 7
    pseudo = with_pseudo_labels(spec, ids, 7)
    assert pseudo.num_classes == 7
    np.testing.assert_array_equal([int(ex["labels"]) for ex in pseudo("train")], ids)
