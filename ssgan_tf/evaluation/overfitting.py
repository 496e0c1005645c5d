"""D's overfitting signal: its mean GAN logit on training reals minus on held-out reals.

A discriminator that memorizes its training set scores the images it trained on higher than
unseen images of the same distribution; the gap grows as it overfits (Karras et al. 2020, ADA,
Figure 1; DiffAugment's motivation). Computed in inference mode on images in [0, 1].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def mean_logit(discriminator, images: np.ndarray, labels: np.ndarray | None = None,
               batch_size: int = 128) -> float:
    """Mean GAN logit of D (inference mode) on `images` (float [N, H, W, C] in [0, 1]); a D that
    projects labels gets `labels`."""
    projects = bool(getattr(discriminator, "project_y", False))
    if projects and labels is None:
        raise ValueError("mean_logit: this discriminator projects labels (project_y): pass the "
                         "images' labels.")
    total, count = 0.0, 0
    for start in range(0, len(images), batch_size):
        x = tf.convert_to_tensor(images[start:start + batch_size], tf.float32)
        y = (tf.convert_to_tensor(labels[start:start + batch_size], tf.int32)
             if projects else None)
        logits = tf.cast(discriminator(x, y, training=False)["logits"], tf.float64)
        total += float(tf.reduce_sum(logits))
        count += int(logits.shape[0])
    if not count:
        raise ValueError("mean_logit: no images.")
    return total / count


def logit_gap(discriminator, train: np.ndarray, heldout: np.ndarray,
              train_labels: np.ndarray | None = None,
              heldout_labels: np.ndarray | None = None) -> dict[str, float]:
    """{"d_logit_train", "d_logit_heldout", "d_logit_gap" (train - held-out)}."""
    seen = mean_logit(discriminator, train, train_labels)
    unseen = mean_logit(discriminator, heldout, heldout_labels)
    return {"d_logit_train": seen, "d_logit_heldout": unseen, "d_logit_gap": seen - unseen}


__all__ = ["logit_gap", "mean_logit"]
