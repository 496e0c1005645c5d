"""`folder:PATH` (or a bare directory path): a folder of your own images.

- Every PNG, JPEG, BMP, GIF (first frame) or WebP below PATH is an example, found recursively and
  recognized by its content, not its name; hidden files and folders are ignored. Other files are
  skipped with a count.
- Class subfolders: when every image lies inside a top-level subfolder and there are at least two
  of them, the subfolders are the classes (sorted names -> labels 0..K-1, kept in
  `DatasetSpec.class_names`, which training records in model.json). Otherwise there are no labels.
- Images are decoded in a parallel tf.data map and fitted to the resolution (central square,
  resized; `images.crop = "random"` stores 9/8 of it and crops in training). When the decoded set
  fits `images.cache_mb` it is decoded once into RAM before training, which also finds the files
  that fail to decode (skipped, with a count); otherwise images are decoded from disk in every
  epoch and broken files are skipped as they are read.
- The order is a fixed permutation of the sorted paths (the same on every run and worker).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data.arrays import arrays_spec
from ssgan_tf.data.images import crop_functions, fit_square, to_unit_float
from ssgan_tf.data.options import ImageOptions, image_options, load_size
from ssgan_tf.data.spec import DatasetSpec

MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"),
         (b"GIF89a", "gif"), (b"BM", "bmp"))
FORMATS = "PNG/JPEG/BMP/GIF/WebP"
BYTES_PER_VALUE = 5  # uint8 decoded arrays + the float32 copy the training pipeline caches


class FolderError(SsganError):
    """A folder that holds no usable images, or that does not exist."""


class FolderScan(NamedTuple):
    files: list           # image paths, in the dataset's order
    labels: np.ndarray    # int64 [N]
    class_names: tuple | None
    skipped: list         # files that are not images


def image_format(path: str) -> str | None:
    """'png' / 'jpeg' / 'gif' / 'bmp' / 'webp' by the file's first bytes, None otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), None)


def _walk(root: str):
    """(top-level subfolder or None, path) of every visible file, sorted, following links once."""
    seen = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        top = None if rel == "." else rel.split(os.sep)[0]
        for name in sorted(filenames):
            if not name.startswith("."):
                yield top, os.path.join(dirpath, name)


def scan_folder(root: str) -> FolderScan:
    """The images below `root`, their class-folder labels and the files that are not images."""
    if not os.path.isdir(root):
        raise FolderError(f"folder:{root}: no such directory (train.dataset = 'folder:PATH' "
                          "takes a directory of images).")
    found, skipped = [], []
    for top, path in _walk(root):
        (found if image_format(path) else skipped).append((top, path))
    if not found:
        raise FolderError(f"folder:{root}: no {FORMATS} images found (searched recursively; "
                          f"{len(skipped)} other files).")
    tops = sorted({top for top, _ in found if top is not None})
    classes = tuple(tops) if len(tops) >= 2 and all(top for top, _ in found) else None
    index = {name: i for i, name in enumerate(classes or ())}
    order = np.random.RandomState(0).permutation(len(found))
    files = [found[i][1] for i in order]
    labels = np.array([index.get(found[i][0], 0) for i in order], np.int64)
    return FolderScan(files, labels, classes, [p for _, p in skipped])


def decode(path: tf.Tensor, size: int, channels: int) -> tf.Tensor:
    """An image file -> float32 [size, size, channels] in [0, 1] (the central square, resized)."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return tf.ensure_shape(fit_square(to_unit_float(image), size), [size, size, channels])


def decode_all(files: list, size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [M, size, size, C], indices of the M files that decoded), in a parallel tf.data
    map; files that fail to decode are left out."""
    def load(path, i):
        return tf.cast(tf.round(decode(path, size, channels) * 255.0), tf.uint8), i

    ds = tf.data.Dataset.from_tensor_slices((files, np.arange(len(files))))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).ignore_errors()
    images, kept = [], []
    for batch, ids in ds.batch(256).as_numpy_iterator():
        images.append(batch)
        kept.append(ids)
    if not images:
        return np.zeros([0, size, size, channels], np.uint8), np.zeros([0], np.int64)
    return np.concatenate(images), np.concatenate(kept)


def _examples(names: list) -> str:
    shown = ", ".join(os.path.basename(n) for n in names[:3])
    return shown + (", ..." if len(names) > 3 else "")


def _describe(name: str, scan: FolderScan, count: int, res: int, options: ImageOptions) -> str:
    classes = (f"in {len(scan.class_names)} class folders ("
               + ", ".join(f"{i}={c}" for i, c in enumerate(scan.class_names[:10]))
               + (", ..." if len(scan.class_names) > 10 else "") + "; model.json keeps the list)"
               if scan.class_names else "(no class folders: unlabelled)")
    line = f"{name}: {count} images {classes}, fitted to {res}x{res} ({options.crop} crop)"
    if scan.skipped:
        line += (f"; skipped {len(scan.skipped)} files that are not {FORMATS} images "
                 f"({_examples(scan.skipped)})")
    return line


def folder_spec(root: str, resolution: int | None = None, default_resolution: int | None = None,
                options: ImageOptions | None = None) -> DatasetSpec:
    """The DatasetSpec of a folder of images (see the module docstring)."""
    options = options or image_options()
    name = f"folder:{root}"
    if not (resolution or default_resolution):
        raise FolderError(f"{name}: images of any size need a resolution to be fitted to: set "
                          "train.resolution (e.g. 64).")
    res = int(resolution or default_resolution)
    scan = scan_folder(root)
    stored = load_size(res, options.crop)
    need_mb = len(scan.files) * stored * stored * options.channels * BYTES_PER_VALUE / 2 ** 20
    if need_mb > options.cache_mb:
        return _streaming_spec(name, scan, res, stored, options, need_mb)
    images, kept = decode_all(scan.files, stored, options.channels)
    failed = sorted(set(range(len(scan.files))) - set(kept.tolist()))
    if not len(kept):
        raise FolderError(f"{name}: none of the {len(scan.files)} {FORMATS} files could be "
                          f"decoded ({_examples(scan.files)}).")
    notes = [_describe(name, scan, len(kept), res, options)]
    if failed:
        notes.append(f"{name}: skipped {len(failed)} image files that failed to decode "
                     f"({_examples([scan.files[i] for i in failed])})")
    notes.append(f"{name}: decoded once and kept in RAM ({need_mb:.1f} MB of images.cache_mb = "
                 f"{options.cache_mb:g})")
    labels = scan.labels[kept]
    return arrays_spec(name, {"train": (images, labels)},
                       len(scan.class_names) if scan.class_names else 0, res, options,
                       class_names=scan.class_names, notes=tuple(notes))


def _streaming_spec(name: str, scan: FolderScan, res: int, stored: int, options: ImageOptions,
                    need_mb: float) -> DatasetSpec:
    """Too big for the cache budget: decode from disk in every epoch, skipping broken files."""
    paths = np.array(scan.files)

    def relabel(split: str, labels: np.ndarray) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
        ds = ds.map(lambda p, y: {"images": decode(p, stored, options.channels), "labels": y},
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.ignore_errors()

    notes = (_describe(name, scan, len(paths), res, options),
             f"{name}: the decoded images (~{need_mb / 1024:.1f} GB) exceed images.cache_mb = "
             f"{options.cache_mb:g}: they are decoded from disk in every epoch (raise "
             "images.cache_mb to keep them in RAM); files that fail to decode are skipped as "
             "they are read")
    augment, finish = crop_functions(res, options)
    return DatasetSpec(name, (res, res, options.channels),
                       len(scan.class_names) if scan.class_names else 0,
                       lambda split: relabel(split, scan.labels), splits=("train",),
                       size={"train": len(paths)}, in_memory=False, cacheable=False,
                       read_labels=lambda split: scan.labels, relabel=relabel, augment=augment,
                       finish=finish, class_names=scan.class_names, notes=notes)
