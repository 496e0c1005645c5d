"""SSGAN's rotation self-supervision (Chen et al. 2019), batched exactly as compare_gan's `SSGAN`.

`rotated_batch_size` R counts all four orientations per replica step (R = 4 * batch rotates every
image). The last R/4 images of the real and of the fake batch are rotated by 90, 180 and 270
degrees; one D call sees `concat([real, real_rot, fake, fake_rot])`; the rotation labels
`[0]*n + [1]*n + [2]*n + [3]*n` (n = R/4) refer to the last 4n images of each half, i.e. the n
originals followed by their rotations.
"""

from __future__ import annotations

import dataclasses

import gin
import tensorflow as tf

MODES = ("rotation_gan", "rotation_only", "none")
NUM_ROTATIONS = 4


def rotate_images(images: tf.Tensor) -> tf.Tensor:
    """[n, H, W, C] -> [3n, H, W, C]: all images by 90, then by 180, then by 270 degrees (CCW).

    Built from transpose/reverse as compare_gan's `rotate_images` (equal to `tf.image.rot90(x, k)`,
    without its shape assertions in the step)."""
    transposed = tf.transpose(images, [0, 2, 1, 3])
    rot90 = tf.reverse(transposed, axis=[1])
    rot180 = tf.reverse(images, axis=[1, 2])
    rot270 = tf.reverse(transposed, axis=[2])
    return tf.concat([rot90, rot180, rot270], axis=0)


def rotation_labels(n: int) -> tf.Tensor:
    """Labels of `[originals, rot90, rot180, rot270]`, each a group of n."""
    return tf.repeat(tf.range(NUM_ROTATIONS, dtype=tf.int32), n)


def with_rotations(images: tf.Tensor, n: int) -> tf.Tensor:
    """`concat([images, rotate(images[-n:])])`: the D input of one half of the SSGAN batch."""
    if n == 0:
        return images
    return tf.concat([images, rotate_images(images[-n:])], axis=0)


@gin.configurable(module="ssgan_tf.gans")
@dataclasses.dataclass(frozen=True)
class RotationTask:
    """Settings of the rotation task. `rotated_batch_size` is global (all replicas), as in the
    reference; None means 4 x the global batch (every image rotated)."""

    mode: str = "rotation_gan"
    rotated_batch_size: int | None = None
    weight_d: float = 1.0   # beta: weight of the real-image rotation CE in L_D
    weight_g: float = 0.2   # alpha: weight of the fake-image rotation CE in L_G

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"RotationTask.mode={self.mode!r}; expected one of {MODES}.")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def images_per_replica(self, global_batch: int, num_replicas: int) -> int:
        """n: how many images of each per-replica batch get rotated; validates the settings."""
        if not self.enabled:
            return 0
        rotated = 4 * global_batch if self.rotated_batch_size is None else self.rotated_batch_size
        per_replica = rotated // num_replicas
        if rotated % num_replicas or per_replica % NUM_ROTATIONS:
            raise ValueError(
                f"RotationTask.rotated_batch_size={rotated} must be a multiple of 4 x the number "
                f"of replicas ({num_replicas}): each replica rotates its share by 0/90/180/270.")
        n = per_replica // NUM_ROTATIONS
        if not 0 < n <= global_batch // num_replicas:
            raise ValueError(
                f"RotationTask.rotated_batch_size={rotated} needs 4 <= R/replicas <= 4 x "
                f"per-replica batch ({global_batch // num_replicas}).")
        return n


def rotation_accuracy(discriminator, images, labels=None, batch_size: int = 128) -> float:
    """Accuracy of D's rotation head (inference mode) on `images` (floats in [0, 1], [N, H, W,
    C]) in all four orientations: each batch goes through D as `with_rotations(x, len(x))`
    against `rotation_labels(len(x))`, as in the training step.

    A D that projects labels (`project_y`: S3GAN, S2GAN's GAN stage, conditional SSGAN) needs
    `labels` (int [N]; -1 = unlabelled for an S3GAN class head); each rotated copy keeps its
    image's label. Labels are ignored by other discriminators."""
    projects = bool(getattr(discriminator, "project_y", False))
    if projects and labels is None:
        raise ValueError("rotation_accuracy: this discriminator projects labels (project_y): "
                         "pass the images' labels.")
    correct = total = 0
    for start in range(0, len(images), batch_size):
        x = tf.convert_to_tensor(images[start:start + batch_size], tf.float32)
        n = int(x.shape[0])
        y = None
        if projects:
            y = tf.tile(tf.convert_to_tensor(labels[start:start + batch_size], tf.int32),
                        [NUM_ROTATIONS])
        out = discriminator(with_rotations(x, n), y, training=False)
        predicted = tf.argmax(tf.cast(out["rotation_logits"], tf.float32), -1,
                              output_type=tf.int32)
        correct += int(tf.reduce_sum(tf.cast(predicted == rotation_labels(n), tf.int32)))
        total += NUM_ROTATIONS * n
    return correct / max(total, 1)
