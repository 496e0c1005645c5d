"""TensorFlow Datasets: the registered names with compare_gan's preprocessing, and any other tfds
dataset as `tfds:NAME[:CONFIG]` (its image and label features detected, images fitted like
folder images).

Registered (read from `data_dir` with the reference's preprocessing, compare_gan `datasets.py`):
    cifar10, cifar100, mnist, fashion_mnist   native size, no preprocessing
    stl10          train+unlabelled (105k; unlabelled examples have label -1), 96 -> 48 (resize)
    celeb_a        center crop_or_pad 160 -> bilinear resize 64; label 0
    celeb_a_hq     tfds `celeb_a_hq/128` (manual download), 128; train = the first 27,000,
                   test = the last 3,000
    lsun_bedroom   center crop_or_pad 128, no resize; train = train[:99%], test = train[99%:]
                   (the reference's 1% subsplit)
    imagenet2012   (manual download) train: distorted crop (aspect ratio 1, area 0.5-1 of the
                   image) -> bilinear resize; test = validation: center square -> resize; 128 px
`tfds:NAME` with a registered tfds name (e.g. `tfds:celeb_a`) is that registered dataset.

A dataset that is not prepared in `data_dir` fails at once (before any model is built) with the
preparation instructions: opening its train split is the check (so `tfds.testing.mock_data`,
which replaces reading, drives the same code without data). Labels are read with tfds' partial
decoding: no image is decoded to read them.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data.images import crop_functions, fit_square, preprocess_image, to_unit_float
from ssgan_tf.data.options import ImageOptions, image_options, load_size
from ssgan_tf.data.spec import DatasetSpec


class TfdsDataset(NamedTuple):
    """How a tfds dataset is read: its tfds name, native (default) resolution, number of classes,
    test and train splits (tfds split strings), preprocessing, whether tfds can download it, and
    whether its decoded images fit in RAM (the pipeline may `cache()` them)."""

    tfds_name: str
    resolution: int
    num_classes: int
    test_split: str
    train_split: str = "train"
    preprocess: str = "resize"   # resize | celeb_a | center_crop | imagenet
    manual_download: bool = False
    cacheable: bool = True


TFDS_DATASETS = {
    "cifar10": TfdsDataset("cifar10", 32, 10, "test"),
    "cifar100": TfdsDataset("cifar100", 32, 100, "test"),
    "mnist": TfdsDataset("mnist", 28, 10, "test"),
    "fashion_mnist": TfdsDataset("fashion_mnist", 28, 10, "test"),
    "stl10": TfdsDataset("stl10", 48, 10, "test", "train+unlabelled", cacheable=False),
    "celeb_a": TfdsDataset("celeb_a", 64, 0, "test", preprocess="celeb_a", cacheable=False),
    "celeb_a_hq": TfdsDataset("celeb_a_hq/128", 128, 0, "train[27000:]", "train[:27000]",
                              manual_download=True, cacheable=False),
    "lsun_bedroom": TfdsDataset("lsun/bedroom", 128, 0, "train[99%:]", "train[:99%]",
                                preprocess="center_crop", cacheable=False),
    "imagenet2012": TfdsDataset("imagenet2012", 128, 1000, "validation", preprocess="imagenet",
                                manual_download=True, cacheable=False),
}
MANUAL_INSTRUCTIONS = {
    "imagenet2012": "ImageNet cannot be downloaded automatically: register at "
                    "https://image-net.org/download-images, put ILSVRC2012_img_train.tar and "
                    "ILSVRC2012_img_val.tar in DIR/downloads/manual/, then run `tfds build "
                    "imagenet2012 --data_dir=DIR` (about 150 GB, a few hours)",
    "celeb_a_hq/128": "CelebA-HQ cannot be downloaded automatically: follow the manual-download "
                      "instructions of the tfds `celeb_a_hq` catalog page (the CelebA-HQ delta "
                      "files in DIR/downloads/manual/), then run `tfds build celeb_a_hq/128 "
                      "--data_dir=DIR`",
}


class TfdsError(SsganError):
    """A tfds dataset that does not exist or whose features cannot be used."""


def registered_name(tfds_name: str) -> str | None:
    """Our name of a registered tfds dataset (`lsun/bedroom` -> `lsun_bedroom`), or None."""
    return next((k for k, v in TFDS_DATASETS.items() if v.tfds_name == tfds_name), None)


def missing_tfds_message(name: str, tfds_name: str, data_dir: str | None) -> str:
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    how = MANUAL_INSTRUCTIONS.get(tfds_name) or (
        f"Prepare it on a machine with internet access with `tfds build {tfds_name} "
        "--data_dir=DIR`")
    return (f"Dataset {name!r} (tfds {tfds_name!r}) is not prepared in {where}. "
            f"{how.replace('DIR', where)}; then pass --gin_param=\"train.data_dir='{where}'\". "
            "To try a config without the data, add --gin_param=\"train.dataset='synthetic'\".")


def open_builder(name: str, tfds_name: str, data_dir: str | None, train_split: str):
    """The tfds builder, after checking that its train split can be opened (fails fast, with
    the preparation instructions, when the data is not there)."""
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
    except Exception as e:  # noqa: BLE001 - tfds raises many types here
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TfdsError(f"Dataset {name!r}: tfds cannot open {tfds_name!r} ({first}). See "
                        "https://www.tensorflow.org/datasets/catalog for the names.") from e
    try:
        builder.as_dataset(split=train_split)
    except Exception as e:  # noqa: BLE001 - AssertionError when not prepared, others on bad splits
        prepared = list(builder.info.splits) if builder.data_dir and os.path.isdir(
            builder.data_dir) else []
        if prepared:
            raise TfdsError(f"Dataset {name!r}: tfds {tfds_name!r} has no split "
                            f"{train_split!r} to train on (it has {prepared}).") from e
        raise FileNotFoundError(missing_tfds_message(name, tfds_name, data_dir)) from e
    return builder


def split_sizes(builder, splits: dict) -> dict | None:
    sizes = {}
    for split, tfds_split in splits.items():
        try:
            sizes[split] = int(builder.info.splits[tfds_split].num_examples)
        except Exception:  # noqa: BLE001 - a split may be missing (e.g. no ImageNet val tar)
            pass
    return sizes or None


def label_reader(builder, splits: dict, label_key: str | None):
    """read_labels(split) for a DatasetSpec: the label feature alone (no image decoding)."""
    if label_key is None:
        return None

    def read(split: str) -> np.ndarray:
        ds = builder.as_dataset(split=splits[split],
                                decoders=tfds.decode.PartialDecoding({label_key: True}))
        ds = ds.map(lambda ex: ex[label_key], num_parallel_calls=tf.data.AUTOTUNE)
        return np.fromiter(ds.batch(4096).unbatch().as_numpy_iterator(), np.int64)

    return read


def registered_spec(name: str, data_dir: str | None, resolution: int | None) -> DatasetSpec:
    """A registered name (TFDS_DATASETS) with the reference's preprocessing."""
    entry = TFDS_DATASETS[name]
    res = int(resolution or entry.resolution)
    builder = open_builder(name, entry.tfds_name, data_dir, entry.train_split)
    features = builder.info.features
    channels = features["image"].shape[-1] or 3
    label_key = "label" if "label" in features else None
    splits = {"train": entry.train_split, "test": entry.test_split}
    decoders = tfds.decode.PartialDecoding({k: True for k in ("image", label_key) if k})

    def load(split: str) -> tf.data.Dataset:
        try:
            ds = builder.as_dataset(split=splits[split], decoders=decoders)
        except Exception as e:  # noqa: BLE001
            raise FileNotFoundError(
                f"TFDS dataset {entry.tfds_name!r} has no usable split {splits[split]!r} in "
                f"{data_dir or '~/tensorflow_datasets'} ({e}). "
                + missing_tfds_message(name, entry.tfds_name, data_dir)) from e
        train = split == "train"

        def convert(ex):
            image = preprocess_image(ex["image"], entry.preprocess, train, res,
                                     entry.resolution)
            label = tf.cast(ex[label_key], tf.int32) if label_key else tf.constant(0)
            return {"images": tf.ensure_shape(image, [res, res, channels]), "labels": label}

        return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    return DatasetSpec(name, (res, res, channels), entry.num_classes, load,
                       size=split_sizes(builder, splits), in_memory=False,
                       cacheable=entry.cacheable,
                       read_labels=label_reader(builder, splits, label_key))


# ---------------------------------------------------------------------------- any tfds name
def parse_tfds_name(arg: str) -> str:
    """`NAME[:CONFIG]` (or tfds' own `NAME/CONFIG`) -> the tfds name `NAME[/CONFIG]`."""
    name, _, config = arg.partition(":")
    if not name or "/" in name and config:
        raise TfdsError(f"train.dataset = 'tfds:{arg}': expected 'tfds:NAME' or "
                        "'tfds:NAME:CONFIG' (e.g. 'tfds:svhn_cropped', 'tfds:celeb_a_hq:128').")
    return f"{name}/{config}" if config else name


def detect_keys(features, options: ImageOptions, name: str) -> tuple[str, str | None, str]:
    """(image key, label key or None, a note) of a tfds feature dict: `image` / `label` when
    present, else the only Image / ClassLabel feature; `images.image_key` / `label_key`
    override."""
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    image_key = options.image_key or ("image" if "image" in images
                                      else images[0] if len(images) == 1 else None)
    if image_key not in images:
        raise TfdsError(f"Dataset {name!r}: "
                        + (f"images.image_key = {options.image_key!r} is not one of its image "
                           f"features {images}." if options.image_key else
                           f"its image features are {images or 'none'} (of {list(features)}); "
                           "set images.image_key to the one to train on."))
    note = ""
    if options.label_key is not None:
        label_key = options.label_key or None
        if label_key is not None and label_key not in labels:
            raise TfdsError(f"Dataset {name!r}: images.label_key = {label_key!r} is not one of "
                            f"its class-label features {labels}.")
    else:
        label_key = "label" if "label" in labels else labels[0] if len(labels) == 1 else None
        if label_key is None and labels:
            note = (f"; several class-label features {labels}: none used (set "
                    "images.label_key)")
    return image_key, label_key, note


def _channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """[H, W, 1|3|4|?] -> [H, W, channels] (gray -> RGB, alpha dropped)."""
    c = image.shape[-1]
    if c == channels:
        return image
    if c == 4:
        return image[..., :3]
    return tf.cond(tf.shape(image)[-1] == 1, lambda: tf.image.grayscale_to_rgb(image[..., :1]),
                   lambda: image[..., :3])


def _cache_text(cacheable: bool, need_mb: float, options: ImageOptions) -> str:
    if cacheable:
        return "cached in RAM after the first epoch"
    why = (f"~{need_mb:.0f} MB decoded > images.cache_mb = {options.cache_mb:g}" if need_mb
           else "size unknown")
    return f"decoded in every epoch ({why})"


def generic_spec(arg: str, data_dir: str | None, resolution: int | None,
                 default_resolution: int | None = None,
                 options: ImageOptions | None = None) -> DatasetSpec:
    """`tfds:NAME[:CONFIG]`: any tfds image dataset, fitted like folder images."""
    options = options or image_options()
    name, tfds_name = f"tfds:{arg}", parse_tfds_name(arg)
    builder = open_builder(name, tfds_name, data_dir, "train")
    features = builder.info.features
    image_key, label_key, label_note = detect_keys(features, options, name)
    h, w, c = features[image_key].shape
    channels = c if c in (1, 3) else 3
    if not (resolution or (h and h == w) or default_resolution):
        raise TfdsError(f"Dataset {name!r}: its images have no fixed square size ({h}x{w}); set "
                        "train.resolution (e.g. 64).")
    res = int(resolution or (h if h and h == w else default_resolution))
    stored = load_size(res, options.crop)
    known = dict(builder.info.splits)
    test = next((s for s in ("test", "validation") if s in known), None)
    splits = {"train": "train", **({"test": test} if test else {})}
    sizes = split_sizes(builder, splits)
    keys = [k for k in (image_key, label_key) if k]

    def relabel(split: str, labels: np.ndarray | None) -> tf.data.Dataset:
        ds = builder.as_dataset(split=splits[split],
                                decoders=tfds.decode.PartialDecoding({k: True for k in keys}))

        def convert(i, ex):
            image = fit_square(to_unit_float(_channels(ex[image_key], channels)), stored)
            label = (tf.gather(labels, i) if labels is not None else
                     tf.cast(ex[label_key], tf.int32) if label_key else tf.constant(0))
            return {"images": tf.ensure_shape(image, [stored, stored, channels]),
                    "labels": label}

        return ds.enumerate().map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    num_classes = features[label_key].num_classes if label_key else 0
    need_mb = ((sizes or {}).get("train", 0) * stored * stored * channels * 4 / 2 ** 20)
    cacheable = bool(need_mb) and need_mb <= options.cache_mb
    labels_text = (f"labels '{label_key}' ({num_classes} classes)" if label_key
                   else "no labels") + label_note
    note = (f"{name}: images '{image_key}' {h}x{w}x{c}, {labels_text}; fitted to {res}x{res} "
            f"({options.crop} crop); " + _cache_text(cacheable, need_mb, options))
    augment, finish = crop_functions(res, options)
    return DatasetSpec(name, (res, res, channels), num_classes,
                       lambda split: relabel(split, None), splits=tuple(splits), size=sizes,
                       in_memory=False, cacheable=cacheable,
                       read_labels=label_reader(builder, splits, label_key),
                       relabel=lambda split, labels: relabel(split, tf.constant(labels,
                                                                                 tf.int32)),
                       augment=augment, finish=finish,
                       class_names=tuple(features[label_key].names) if label_key else None,
                       notes=(note,))
