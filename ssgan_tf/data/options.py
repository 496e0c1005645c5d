"""How images from folders, npz files and any tfds dataset are fitted to the model: the gin
bindings `images.*` (the registered tfds names keep the reference's own preprocessing).

    images.crop = "center"     # center | random (training crops; evaluation stays centered)
    images.channels = 3        # folders: 3 (RGB) or 1 (grayscale)
    images.cache_mb = 4096     # decoded images are kept in RAM up to this size
    images.image_key = None    # tfds: the image feature (default: detected)
    images.label_key = None    # tfds: the label feature (default: detected; "" for none)
"""

from __future__ import annotations

from typing import NamedTuple

import gin

from ssgan_tf.common.errors import ConfigError

CROPS = ("center", "random")


class ImageOptions(NamedTuple):
    crop: str = "center"
    channels: int = 3
    cache_mb: float = 4096
    image_key: str | None = None
    label_key: str | None = None


@gin.configurable("images")
def image_options(crop: str = "center", channels: int = 3, cache_mb: float = 4096,
                  image_key: str | None = None, label_key: str | None = None) -> ImageOptions:
    """The `images.*` bindings, checked."""
    if crop not in CROPS:
        raise ConfigError(f"images.crop={crop!r}; expected one of {CROPS}.")
    if channels not in (1, 3):
        raise ConfigError(f"images.channels={channels!r}; expected 1 (grayscale) or 3 (RGB).")
    if not isinstance(cache_mb, (int, float)) or cache_mb < 0:
        raise ConfigError(f"images.cache_mb={cache_mb!r}; expected a size in MB >= 0.")
    return ImageOptions(crop, channels, cache_mb, image_key, label_key)


def load_size(resolution: int, crop: str) -> int:
    """The side images are stored at: the resolution, or 9/8 of it for random crops (the
    resize-then-crop convention of pix2pix / CycleGAN, 286 -> 256)."""
    return resolution if crop == "center" else int(round(resolution * 9 / 8))
