"""Rebuilds a trained GAN from a model_dir, without the training data.

Training writes `model.json` (what the networks are: architecture, image shape, classes, z) and
`config.gin` (every binding); export, evaluation and linear evaluation rebuild the networks from
those two files and restore the latest (or a given) checkpoint.
"""

from __future__ import annotations

import os

import gin
import keras

from ssgan_tf.architectures import get_architecture
from ssgan_tf.gans import GAN
from ssgan_tf.runs.checkpoints import latest_checkpoint, make_checkpoint
from ssgan_tf.runs.info import read_model_info

def build_networks(info: dict, name_prefix: str = ""):
    """Generator and discriminator of a model.json (with the gin bindings currently parsed)."""
    generator_cls, discriminator_cls = get_architecture(info["architecture"])
    shape = tuple(info["image_shape"])
    generator = generator_cls(shape, z_dim=info["z_dim"], num_classes=info["num_classes"],
                              name=f"{name_prefix}generator")
    discriminator = discriminator_cls(shape, num_classes=info["num_classes"],
                                      name=f"{name_prefix}discriminator")
    return generator, discriminator


def load_gan(model_dir: str, checkpoint: str | None = None) -> tuple[GAN, dict]:
    """The GAN of `model_dir` with float32 weights restored from `checkpoint` (default: latest).

    Replaces the process's gin config with the model_dir's `config.gin`.
    """
    info = read_model_info(model_dir)
    checkpoint = checkpoint or latest_checkpoint(model_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"No checkpoint in {model_dir}/checkpoints: nothing to restore.")
    gin.clear_config()
    config = os.path.join(model_dir, "config.gin")
    if os.path.isfile(config):
        gin.parse_config_file(config, skip_unknown=True)
    keras.mixed_precision.set_global_policy("float32")
    generator, discriminator = build_networks(info)
    model = GAN(generator, discriminator)
    model.build_all()
    make_checkpoint(model).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    info["checkpoint"] = checkpoint
    info["step"] = model.current_step()
    return model, info
