"""S3GAN's class loss (Lucic et al., ICML 2019; compare_gan `S3GAN.create_loss`).

S3GAN is a conditional SSGAN whose discriminator has a linear class head (`<architecture>.
Discriminator.class_head = True`, see architectures/base.py): it is trained with cross-entropy on
the *labelled* real images only, and unlabelled real images (label -1) are projected with its
predicted label. `GAN.class_loss_weight` weighs the loss below in L_D; G gets no class loss. The
labelled fraction is `train.labelled_fraction` (data/labels.py picks the labelled examples).
"""

from __future__ import annotations

import tensorflow as tf


def _all_reduce_sum(value: tf.Tensor) -> tf.Tensor:
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def class_loss_terms(class_logits: tf.Tensor, labels: tf.Tensor,
                     global_batch_size: int) -> dict[str, tf.Tensor]:
    """Cross-entropy of the class head on the labelled examples (label >= 0) of a real batch.

    The reference's `tf.losses.softmax_cross_entropy(..., weights=is_label_available)` reduces
    with SUM_BY_NONZERO_WEIGHTS, i.e. the mean over the labelled examples (0 if there are none).
    Here the mean is over the labelled examples of the *global* batch (their count is summed over
    replicas), and each replica returns its share, so summing the replicas' values gives it.
    Returns per-replica shares of `d_class_loss`, `d_class_accuracy` (on the labelled reals) and
    `labelled_fraction` (of the global batch)."""
    labels = tf.cast(labels, tf.int32)
    mask = tf.cast(labels >= 0, tf.float32)
    logits = tf.cast(class_logits, tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0),
                                                        logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
    count = tf.stop_gradient(_all_reduce_sum(tf.reduce_sum(mask)))
    return {"d_class_loss": tf.math.divide_no_nan(tf.reduce_sum(ce * mask), count),
            "d_class_accuracy": tf.math.divide_no_nan(tf.reduce_sum(correct * mask), count),
            "labelled_fraction": tf.reduce_sum(mask) / float(global_batch_size)}
