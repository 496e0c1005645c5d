"""Datasets (registry) and the training input pipeline."""

from ssgan_tf.data.pipeline import train_dataset
from ssgan_tf.data.registry import (
    BUILTIN,
    TFDS_DATASETS,
    DatasetSpec,
    draw_shapes,
    get_dataset,
    load_npz_arrays,
)

__all__ = ["BUILTIN", "TFDS_DATASETS", "DatasetSpec", "draw_shapes", "get_dataset",
           "load_npz_arrays", "train_dataset"]
