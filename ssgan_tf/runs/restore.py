"""Rebuilds a trained GAN from a model_dir, without the training data.

Training writes `model.json` (what the networks are: architecture, image shape, classes, z) and
`config.gin` (every binding); export, evaluation and linear evaluation rebuild the networks from
those two files and restore the newest readable (or a given) checkpoint.
"""

from __future__ import annotations

import os
import sys

import gin
import keras

from ssgan_tf.architectures import get_architecture
from ssgan_tf.common.configs import isolated_gin_config
from ssgan_tf.common.errors import SsganError
from ssgan_tf.gans import GAN
from ssgan_tf.runs.checkpoints import (
    checkpoint_dir,
    make_checkpoint,
    restore_with_fallback,
    shape_differences,
)
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


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def _build_float32_gan(model_dir: str, info: dict) -> GAN:
    """The GAN of the run's config.gin in float32, leaving the caller's gin config and Keras
    dtype policy as they were (a hook or a notebook calls this inside a live process)."""
    policy = keras.mixed_precision.global_policy()
    config = os.path.join(model_dir, "config.gin")
    try:
        with isolated_gin_config():
            if os.path.isfile(config):
                gin.parse_config_file(config, skip_unknown=True)
            keras.mixed_precision.set_global_policy("float32")
            generator, discriminator = build_networks(info)
            model = GAN(generator, discriminator)
            model.build_all()
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return model


def load_gan(model_dir: str, checkpoint: str | None = None,
             print_fn=_warn) -> tuple[GAN, dict]:
    """The GAN of `model_dir` with float32 weights restored from `checkpoint`, by default the
    newest checkpoint that reads back whole (an unreadable newer one is reported through
    `print_fn` and skipped, as training does)."""
    info = read_model_info(model_dir)
    model = _build_float32_gan(model_dir, info)
    parts = make_checkpoint(model)
    if checkpoint is None:
        checkpoint = restore_with_fallback(parts, checkpoint_dir(model_dir), print_fn)
        if checkpoint is None:
            raise FileNotFoundError(f"No checkpoint in {model_dir}/checkpoints: nothing to "
                                    "restore.")
    else:
        try:
            parts.restore(checkpoint).expect_partial().assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - OpError, IndexError, AssertionError, ...
            differences = shape_differences(checkpoint, parts)
            detail = "; ".join(differences[:3]) if differences else (
                f"{type(e).__name__}: {str(e).strip()[:200]}")
            raise SsganError(f"Cannot restore checkpoint {checkpoint} into the networks of "
                             f"{model_dir}/config.gin ({detail}).") from e
    info["checkpoint"] = checkpoint
    info["step"] = model.current_step()
    return model, info
