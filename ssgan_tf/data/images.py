"""Image preprocessing, all in TensorFlow ops (they run inside tf.data maps).

- Any source (folders, npz, any tfds dataset): `fit_square` takes the central square and resizes
  it (bilinear, antialiased) to the stored size; random crops (`images.crop = "random"`) store
  9/8 of the resolution and `random_crop` takes a res x res window in training.
- The registered tfds names keep compare_gan's preprocessing (`preprocess_image`).
"""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.data.options import ImageOptions


def to_unit_float(image: tf.Tensor) -> tf.Tensor:
    """uint8 / uint16 / float [0, 1] -> float32 in [0, 1] (uint8 / 255, as the reference)."""
    if image.dtype in (tf.uint8, tf.uint16):
        return tf.cast(image, tf.float32) / float(image.dtype.max)
    return tf.cast(image, tf.float32)


def resize(image: tf.Tensor, res: int, antialias: bool = False) -> tf.Tensor:
    return tf.image.resize(image, [res, res], method="bilinear", antialias=antialias)


def center_square(image: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(image)
    size = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def fit_square(image: tf.Tensor, size: int) -> tf.Tensor:
    """float [H, W, C] -> [size, size, C]: the central square, resized (unchanged when it is
    already size x size, so native-size data keeps its exact pixels)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    out = resize(center_square(image), size, antialias=True)
    return tf.clip_by_value(out, 0.0, 1.0)


def random_crop(image: tf.Tensor, res: int, seed: tf.Tensor) -> tf.Tensor:
    """A res x res window at a position drawn from a stateless seed [2]."""
    return tf.image.stateless_random_crop(image, [res, res, image.shape[-1]], seed)


def crop_functions(res: int, options: ImageOptions):
    """(augment, finish) of a DatasetSpec whose images are stored at `load_size`: None, None
    for center crops (stored at res already)."""
    if options.crop == "center":
        return None, None

    def augment(ex: dict, seed: tf.Tensor) -> dict:
        return {**ex, "images": random_crop(ex["images"], res, seed)}

    def finish(ex: dict) -> dict:
        return {**ex, "images": fit_square(ex["images"], res)}

    return augment, finish


# ---------------------------------------------------------------- the reference's preprocessing
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
    return resize(tf.slice(image, begin, size), res)


def imagenet_eval_crop(image, res: int):
    """compare_gan's `middle` crop: the central square -> bilinear resize."""
    return resize(center_square(image), res)


def preprocess_image(image, kind: str, train: bool, res: int, native: int):
    """uint8 [H, W, C] -> float32 [res, res, C] in [0, 1] with the reference's preprocessing."""
    image = tf.cast(image, tf.float32)
    if kind == "imagenet":
        image = imagenet_train_crop(image, res) if train else imagenet_eval_crop(image, res)
    elif kind == "celeb_a":  # crop_or_pad 160 -> bilinear resize 64 (or res)
        image = resize(tf.image.resize_with_crop_or_pad(image, 160, 160), res)
    elif kind == "center_crop":  # LSUN: crop_or_pad 128, no resize (resize only if res != 128)
        image = tf.image.resize_with_crop_or_pad(image, native, native)
        if res != native:
            image = resize(image, res, antialias=True)
    elif kind == "resize":
        if image.shape[0] != res or image.shape[1] != res:
            image = resize(center_square(image), res, antialias=True)
    else:
        raise ValueError(f"Unknown preprocessing {kind!r}.")
    return tf.clip_by_value(image / 255.0, 0.0, 1.0)
