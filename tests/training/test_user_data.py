"""`train(model_dir, data)`: NumPy arrays or a tf.data.Dataset instead of a dataset name."""

import json

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.training.user_data import data_spec
from tests.helpers.training import run

IMAGES = np.random.RandomState(0).randint(0, 256, [24, 16, 16, 3]).astype(np.uint8)
LABELS = np.arange(24) % 3


def first(spec):
    return next(iter(spec("train")))


def test_arrays_become_an_in_memory_dataset():
    spec = data_spec((IMAGES, LABELS))
    assert (spec.name, spec.image_shape, spec.num_classes, spec.size) == (
        "arrays", (16, 16, 3), 3, {"train": 24})
    assert spec.in_memory  # replayed exactly on resume, like the built-in datasets
    assert data_spec(spec) is spec  # a ready DatasetSpec passes through
    element = first(spec)
    np.testing.assert_allclose(element["images"], IMAGES[0] / 255.0, atol=1e-7)
    assert int(element["labels"]) == 0
    floats = data_spec(IMAGES[..., :1].astype(np.float32) / 255.0)  # no labels, [N, H, W, 1]
    assert floats.image_shape == (16, 16, 1) and floats.num_classes == 0
    np.testing.assert_allclose(first(floats)["images"], IMAGES[0, ..., :1] / 255.0, atol=1e-7)
    assert data_spec(IMAGES[..., 0]).image_shape == (16, 16, 1)  # [N, H, W]


def test_a_dataset_batched_or_not_streams_the_same_images():
    plain = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS))
    batched = data_spec(plain.batch(5), conditional=True)
    unbatched = data_spec(plain.map(lambda x, y: {"images": x, "labels": y}), conditional=True)
    for spec in (batched, unbatched):
        assert (spec.image_shape, spec.num_classes, spec.in_memory) == ((16, 16, 3), 3, False)
        np.testing.assert_allclose(first(spec)["images"], IMAGES[0] / 255.0, atol=1e-7)
    images_only = data_spec(tf.data.Dataset.from_tensor_slices(IMAGES / 255.0))
    assert images_only.num_classes == 0
    np.testing.assert_allclose(first(images_only)["images"], IMAGES[0] / 255.0, atol=1e-6)


@pytest.mark.parametrize("data,message", [
    (IMAGES.astype(np.float32), r"is float32 with values in \[0, 255\]; images must be uint8 "
                                r"\(0-255\) or float in \[0, 1\] \(divide by 255"),
    ((IMAGES, LABELS[:5]), r"has 5 labels for the 24 images"),
    (IMAGES[..., :2], r"got shape \(24, 16, 16, 2\)"),
    (["a.png", "b.png"], r"got a list; expected a tf.data.Dataset of images"),
    (np.array(["a.png"]), r"got an array of <U5; expected"),
    ({"x": IMAGES}, r"got a dict; expected a tf.data.Dataset of images"),
    ("digits", r"got a str; expected"),
    (tf.data.Dataset.from_tensor_slices(IMAGES.astype(np.float32)),
     r"first image spans up to 255; expected float images in \[0, 1\]"),
    (tf.data.Dataset.from_tensor_slices(IMAGES).map(lambda x: tf.reshape(x, [-1])),
     r"images of shape \(768,\); expected a known \[H, W, 1\|3\]"),
])
def test_anything_else_is_a_clear_error(data, message):
    with pytest.raises(SsganError, match=message):
        data_spec(data)


def test_a_dataset_of_another_size_than_train_resolution_is_refused():
    with pytest.raises(SsganError, match=r"images of 16x16 but train.resolution = 32"):
        data_spec(tf.data.Dataset.from_tensor_slices(IMAGES), resolution=32)
    assert data_spec(IMAGES, resolution=32).image_shape == (32, 32, 3)  # arrays are resized


def test_train_takes_arrays(tmp_path):
    summary, lines = run(tmp_path, 2, data=IMAGES)
    assert summary["step"] == 2 and any("sndcgan on arrays (16, 16, 3)" in line
                                        for line in lines)
    assert json.loads((tmp_path / "model.json").read_text())["dataset"] == "arrays"


def test_train_takes_a_labelled_dataset_for_a_conditional_model(tmp_path):
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES / 255.0, LABELS)).batch(4)
    summary, _ = run(tmp_path, 2, data=dataset, conditional=True)
    info = json.loads((tmp_path / "model.json").read_text())
    assert summary["step"] == 2 and info["num_classes"] == 3
    assert info["dataset"] == "tf.data.Dataset"
