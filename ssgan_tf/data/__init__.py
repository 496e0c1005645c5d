"""Datasets (by name, or from arrays) and the training input pipeline (docs/data.md)."""

from ssgan_tf.data.arrays import draw_shapes, from_arrays, load_npz_arrays
from ssgan_tf.data.options import ImageOptions, image_options
from ssgan_tf.data.pipeline import train_dataset
from ssgan_tf.data.registry import BUILTIN, get_dataset
from ssgan_tf.data.spec import DatasetSpec
from ssgan_tf.data.subset import HELDOUT, first_examples
from ssgan_tf.data.tfds_source import TFDS_DATASETS

__all__ = ["BUILTIN", "HELDOUT", "TFDS_DATASETS", "DatasetSpec", "ImageOptions", "draw_shapes",
           "first_examples", "from_arrays", "get_dataset", "image_options", "load_npz_arrays", "train_dataset"]
