"""Exports a trained GAN as two SavedModel / TF-Hub modules (contract: export/README.md):
`E/generator` (z [+ labels] -> images in [0, 1]; EMA weights when the GAN has them) and
`E/discriminator` (images in [0, 1] [+ labels] -> pooled block features, final features, GAN and
rotation logits). Loading either needs only TensorFlow.

`export_gan(model, export_dir)` exports a live GAN (trained with `fit`, or loaded from `.keras`),
`export_from_model_dir(model_dir)` a training run, `maybe_export_at_end(model, info, model_dir)`
what training calls with `train.export_at_end = True`; all call `export_model(model, info,
export_dir)`. The export is written to a temporary sibling directory and renamed into place, so a
failed export never leaves a half module behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile

import gin
import keras
import tensorflow as tf

from ssgan_tf import __version__
from ssgan_tf.architectures import architecture_name
from ssgan_tf.common.progress import Progress
from ssgan_tf.common.variables import variable_key
from ssgan_tf.export.destination import ExportError, check_destination, move_into_place
from ssgan_tf.export.modules import discriminator_module, generator_module
from ssgan_tf.runs.checkpoints import latest_checkpoint
from ssgan_tf.runs.restore import load_gan, read_model_info

__all__ = ["ExportError", "export_from_model_dir", "export_gan", "export_model",
           "maybe_export_at_end", "quiet_tensorflow_logs"]

GIN_ASSET = "gin_config.gin"
INFO_ASSET = "ssgan_tf_info.json"

# Loggers that tf.saved_model.save floods at INFO (signature_serialization renames every
# captured variable, "Writing fingerprint", "Sharding callback duration").
NOISY_LOGGERS = ("absl", "tensorflow")


# ------------------------------------------------------------------------------ networks
def _is_plain_float32(network) -> bool:
    return network.compute_dtype == "float32" and not any(
        isinstance(w.value, tf.distribute.DistributedValues) for w in network.weights)


def _copy_weights(target, source) -> None:
    by_path = {variable_key(w): w for w in source.weights}
    for w in target.weights:
        key = variable_key(w)
        if key not in by_path or tuple(by_path[key].shape) != tuple(w.shape):
            raise ExportError(f"Cannot make a float32 copy of {source.name} for export: weight "
                              f"{key} is missing or has another shape (does its get_config describe "
                              "the network completely?).")
        w.assign(tf.cast(tf.convert_to_tensor(by_path[key].value), w.dtype))


def float32_copy(network, name: str):
    """A float32, single-device copy of `network` built from its own `get_config` (no gin needed),
    holding the same weights."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = type(network).from_config({**network.get_config(), "name": name,
                                          "dtype": "float32"})
        y = tf.zeros([1], tf.int32) if network.num_classes else None
        if hasattr(network, "z_dim"):
            copy(tf.zeros([1, network.z_dim]), y, training=False)
        else:
            copy(tf.zeros([1, *network.image_shape]), y, training=False)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    _copy_weights(copy, network)
    return copy


def export_networks(model):
    """(generator, discriminator) to export: the model's own (G = `inference_generator()`, the EMA
    copy when enabled) when they are float32 single-device networks, else float32 copies
    (mixed precision or distributed training)."""
    generator, discriminator = model.inference_generator(), model.discriminator
    if _is_plain_float32(generator) and _is_plain_float32(discriminator):
        return generator, discriminator
    return (float32_copy(generator, "export_generator"),
            float32_copy(discriminator, "export_discriminator"))


# ------------------------------------------------------------------------------ metadata
def _gin_text(model_dir: str | None) -> str:
    for name in ("operative_config.gin", "config.gin"):
        path = os.path.join(model_dir, name) if model_dir else None
        if path and os.path.isfile(path):
            with open(path) as f:
                return f"# {name} of the exported model_dir\n" + f.read()
    return "# bindings parsed in the exporting process\n" + gin.config_str()


def _info_json(model, info: dict) -> dict:
    out = dict(info)
    out["trained_with_ssgan_tf_version"] = info.get("ssgan_tf_version")
    out.update(ssgan_tf_version=__version__, tensorflow_version=tf.__version__,
               step=int(info.get("step", model.current_step())),
               checkpoint=info.get("checkpoint"), z_dim=int(model.z_dim),
               num_classes=int(model.num_classes),
               image_shape=[int(d) for d in model.discriminator.image_shape],
               z_distribution=getattr(model, "z_distribution", "uniform"),
               ema=model.inference_generator() is not model.generator)
    return out


# ------------------------------------------------------------------------------ writing
@contextlib.contextmanager
def quiet_tensorflow_logs():
    """Raises TensorFlow's Python loggers to WARNING for the block (they may be at INFO when
    absl was initialized, e.g. in a notebook or under absl.app), then restores them."""
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _write_assets(directory: str, model_dir: str | None, meta: dict, part: str) -> dict:
    os.makedirs(directory)
    assets = {"gin_config": os.path.join(directory, GIN_ASSET),
              "info": os.path.join(directory, INFO_ASSET)}
    with open(assets["gin_config"], "w") as f:
        f.write(_gin_text(model_dir))
    with open(assets["info"], "w") as f:
        json.dump({**meta, "module": part}, f, indent=2, sort_keys=True)
    return assets


def _save_parts(networks: dict, meta: dict, staging: str, model_dir: str | None,
                bar: Progress) -> None:
    """Traces and saves `staging/generator` and `staging/discriminator` (2 bar steps each)."""
    common = {"num_classes": meta["num_classes"], "image_shape": meta["image_shape"],
              "step": meta["step"], "ssgan_tf_version": __version__}
    sources = tempfile.mkdtemp(prefix="ssgan_tf_export_assets-")
    try:
        for part in ("generator", "discriminator"):
            bar.describe(f"export: tracing the {part}")
            assets = _write_assets(os.path.join(sources, part), model_dir, meta, part)
            if part == "generator":
                module, signatures = generator_module(
                    networks[part], meta["z_distribution"],
                    {**common, "z_dim": meta["z_dim"], "z_distribution": meta["z_distribution"]},
                    assets)
            else:
                module, signatures = discriminator_module(networks[part], common, assets)
            bar.update(1)
            bar.describe(f"export: saving the {part}")
            tf.saved_model.save(module, os.path.join(staging, part), signatures=signatures)
            bar.update(1)
    finally:
        shutil.rmtree(sources, ignore_errors=True)


def export_model(model, info: dict, export_dir: str, model_dir: str | None = None,
                 overwrite: bool = False) -> dict:
    """Writes `export_dir/generator` and `export_dir/discriminator`; returns their paths.

    `info` is model.json's content (as `restore.load_gan` returns it, with `step` and
    `checkpoint`); `model_dir` supplies the gin config asset. Call outside a strategy scope.
    `export_dir` must not be, contain or lie inside a training run (`destination`).
    """
    export_dir = os.path.normpath(export_dir)
    check_destination(export_dir, overwrite)
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    with quiet_tensorflow_logs(), Progress(5, "export", unit="step") as bar:
        bar.describe("export: float32 networks")
        generator, discriminator = export_networks(model)
        bar.update(1)
        meta = _info_json(model, info)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.tmp-", dir=parent)
        try:
            _save_parts({"generator": generator, "discriminator": discriminator}, meta,
                        staging, model_dir, bar)
            move_into_place(staging, export_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return {"export_dir": export_dir, "generator": os.path.join(export_dir, "generator"),
            "discriminator": os.path.join(export_dir, "discriminator")}


def export_gan(model, export_dir: str, overwrite: bool = False) -> dict:
    """Exports a GAN trained in Python (`fit`, a loaded `.keras` file, or any live `GAN`) the way
    `python -m ssgan_tf.export` exports a model_dir; returns the paths (see `export_model`)."""
    info = {"architecture": architecture_name(model.generator), "step": model.current_step(),
            "checkpoint": None}
    return export_model(model, info, export_dir, overwrite=overwrite)


def export_from_model_dir(model_dir: str, export_dir: str | None = None,
                          checkpoint: str | None = None, overwrite: bool = False) -> dict:
    """Restores `model_dir` (latest or given checkpoint) in float32 and exports it."""

    if not model_dir:
        raise ExportError("--model_dir is required: a directory written by "
                          "`python -m ssgan_tf.train --model_dir=D`.")
    read_model_info(model_dir)  # FileNotFoundError with the explanation
    export_dir = export_dir or os.path.join(model_dir, "export")
    check_destination(export_dir, overwrite)
    if checkpoint and not tf.io.gfile.exists(checkpoint + ".index"):
        raise ExportError(f"--checkpoint={checkpoint!r} does not exist (expected a checkpoint "
                          f"prefix such as {os.path.join(model_dir, 'checkpoints', 'ckpt-500')}"
                          f"; {model_dir}/checkpoints/checkpoint lists the kept ones).")
    try:
        model, info = load_gan(model_dir, checkpoint)
    except FileNotFoundError as e:
        raise ExportError(f"{e} Train first (`python -m ssgan_tf.train ... --model_dir="
                          f"{model_dir}`) or pass --checkpoint.") from None
    return export_model(model, info, export_dir, model_dir=model_dir, overwrite=overwrite)


def _is_chief() -> bool:
    """False on non-chief workers of a multi-worker run (TF_CONFIG), which must not write."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except ValueError:
        return True
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def maybe_export_at_end(model, info: dict, model_dir: str) -> dict | None:
    """End-of-training export to `model_dir/export` (replacing the previous one) on the chief;
    returns the paths, or None on other workers."""
    if not _is_chief():
        return None

    info = {**info, "step": model.current_step(), "checkpoint": latest_checkpoint(model_dir)}
    return export_model(model, info, os.path.join(model_dir, "export"), model_dir=model_dir,
                        overwrite=True)
