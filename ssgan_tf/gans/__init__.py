"""GAN models: `GAN` (with the SSGAN rotation task and the stabilization tricks) and its pieces."""

from ssgan_tf.gans.gan import GAN
from ssgan_tf.gans.ssgan import MODES, RotationTask, rotate_images, rotation_labels

__all__ = ["GAN", "MODES", "RotationTask", "rotate_images", "rotation_labels"]
