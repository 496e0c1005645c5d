"""The fewer-labels experiment's scoring helpers (the training itself is the gin files')."""

import numpy as np

from ssgan_tf.data import labels as labels_lib
from ssgan_tf.experiments import fewer_labels


def test_clusters_map_to_their_majority_class(tmp_path):
    (tmp_path / "s2gan").mkdir()
    ids = np.array([0, 0, 0, 1, 1, 2])
    y = np.array([3, 3, 5, 7, 7, 1])
    labels_lib.save_pseudo_labels(str(tmp_path / "s2gan" / "clusters.npz"), ids, 4)
    mapping = fewer_labels.majority_classes(str(tmp_path), y)
    assert mapping.tolist() == [3, 7, 1, 0]  # an empty cluster maps to class 0


def test_markdown_table_lists_the_finished_variants():
    results = {"classifier_test_accuracy": 0.95,
               "s3gan_10pct": {"domain_fd": 51.9, "label_agreement": 0.89,
                               "class_head_accuracy": 0.91, "description": "S3GAN"},
               "ssgan_unconditional": {"domain_fd": 50.7, "description": "SSGAN"}}
    table = fewer_labels.markdown_table(results)
    assert "| `s3gan_10pct` | S3GAN | 51.90 | 0.890 | 0.910 |" in table
    assert "| `ssgan_unconditional` | SSGAN | 50.70 | - | - |" in table
    assert "s2gan" not in table and "0.950" in table
