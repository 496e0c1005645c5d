"""`tfds:NAME[:CONFIG]`: any tfds image dataset, end to end on `tfds.testing.mock_data` (no
network, no prepared data): feature detection, resizing, labels, training; and the fast failure
with preparation instructions when the data is really missing."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.data.labels import UNLABELLED, with_partial_labels
from ssgan_tf.data.options import ImageOptions
from ssgan_tf.data.tfds_source import TfdsError, parse_tfds_name
from ssgan_tf.training.trainer import train

TINY = ["train.resolution = 16", "train.batch_size = 8", "train.z_dim = 16",
        "train.precision = 'float32'", "train.steps_per_loop = 1", "train.log_every = 1",
        "train.sample_every = 100", "train.save_every = 100", "GAN.disc_iters = 1",
        "RotationTask.rotated_batch_size = 8", "sndcgan.Generator.ch = 4",
        "sndcgan.Discriminator.ch = 4"]


class TinyPhotos(tfds.core.GeneratorBasedBuilder):
    """A dataset whose features are not called `image` / `label`, images of varying size."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "photo": tfds.features.Image(shape=(None, None, 3)),
            "kind": tfds.features.ClassLabel(names=["cat", "dog", "fox"]),
            "caption": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        yield 0, {}


class TwoViews(TinyPhotos):
    """Two image features and two class labels: nothing to guess."""

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "left": tfds.features.Image(shape=(24, 24, 3)),
            "right": tfds.features.Image(shape=(24, 24, 1)),
            "shape": tfds.features.ClassLabel(num_classes=3),
            "colour": tfds.features.ClassLabel(num_classes=5)}))


def svhn_like(num_examples: int):
    """mock_data with fixed in-memory examples (tfds' own mock draws every example in Python,
    and drawing a 10,000-example shuffle buffer that way takes tens of seconds)."""
    rng = np.random.RandomState(0)
    data = {"image": rng.randint(0, 256, (num_examples, 32, 32, 3)).astype(np.uint8),
            "label": np.arange(num_examples) % 10,
            "id": np.array([f"{i}" for i in range(num_examples)])}

    def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
        return tf.data.Dataset.from_tensor_slices(data)

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


def batch_of(spec, n=8, split="train"):
    return next(iter(spec(split).batch(n)))


def test_names_and_configs():
    assert parse_tfds_name("svhn_cropped") == "svhn_cropped"
    assert parse_tfds_name("celeb_a_hq:128") == "celeb_a_hq/128"
    assert parse_tfds_name("lsun/bedroom") == "lsun/bedroom"
    with pytest.raises(TfdsError, match="expected 'tfds:NAME' or 'tfds:NAME:CONFIG'"):
        parse_tfds_name(":x")


def test_any_tfds_dataset_on_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        spec = get_dataset("tfds:svhn_cropped")
        batch = batch_of(spec)
        labels = spec.labels_of("train")
        small = get_dataset("tfds:svhn_cropped", resolution=16)
        small_batch = batch_of(small)
    assert spec.name == "tfds:svhn_cropped" and spec.image_shape == (32, 32, 3)
    assert spec.num_classes == 10 and spec.class_names == tuple(str(i) for i in range(10))
    assert not spec.in_memory and "labels 'label' (10 classes)" in spec.notes[0]
    images = batch["images"].numpy()
    assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert images.max() > 0.5  # mock pixels are uint8 0-255, scaled
    assert len(labels) == 12 and labels.min() >= 0 and labels.max() < 10
    assert small.image_shape == (16, 16, 3) and small_batch["images"].shape == (8, 16, 16, 3)
    with svhn_like(12):
        spec = get_dataset("tfds:svhn_cropped")
        stream = [int(ex["labels"]) for ex in spec("train")]
        assert list(spec.labels_of("train")) == stream == [i % 10 for i in range(12)]


def test_image_and_label_features_are_detected():
    with tfds.testing.mock_data(num_examples=6):
        spec = get_dataset("tfds:tiny_photos", resolution=16)
        batch = batch_of(spec, 6)
        with pytest.raises(TfdsError, match="no fixed square size .* set train.resolution"):
            get_dataset("tfds:tiny_photos")
        assert get_dataset("tfds:tiny_photos", default_resolution=8).image_shape == (8, 8, 3)
        random = get_dataset("tfds:tiny_photos", resolution=16,
                             options=ImageOptions(crop="random"))
        crops = next(iter(train_dataset(random, 4, seed=0, shuffle_buffer=4)))["images"]
    assert spec.image_shape == (16, 16, 3) and spec.num_classes == 3
    assert spec.class_names == ("cat", "dog", "fox")
    assert batch["images"].shape == (6, 16, 16, 3)
    assert set(batch["labels"].numpy()) <= {0, 1, 2}
    assert "images 'photo' NonexNonex3, labels 'kind' (3 classes)" in spec.notes[0]
    assert crops.shape == (4, 16, 16, 3)


def test_ambiguous_features_need_a_binding():
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(TfdsError, match=r"its image features are \['left', 'right'\].*set "
                                            "images.image_key"):
            get_dataset("tfds:two_views")
        spec = get_dataset("tfds:two_views", options=ImageOptions(image_key="right"))
        assert spec.image_shape == (24, 24, 1) and spec.num_classes == 0
        assert "several class-label features ['shape', 'colour']" in spec.notes[0]
        spec = get_dataset("tfds:two_views", options=ImageOptions(image_key="left",
                                                                  label_key="colour"))
        assert spec.image_shape == (24, 24, 3) and spec.num_classes == 5
        spec = get_dataset("tfds:two_views", options=ImageOptions(image_key="left",
                                                                  label_key=""))
        assert spec.num_classes == 0 and spec.class_names is None
        with pytest.raises(TfdsError, match="images.label_key = 'size' is not one of"):
            get_dataset("tfds:two_views", options=ImageOptions(image_key="left",
                                                               label_key="size"))


def test_registered_names_keep_their_preprocessing():
    with tfds.testing.mock_data(num_examples=4):
        assert get_dataset("tfds:cifar10").name == "cifar10"
        celeb = get_dataset("tfds:celeb_a")
        assert celeb.name == "celeb_a" and celeb.image_shape == (64, 64, 3)
        assert celeb.num_classes == 0 and not celeb.cacheable


def test_missing_data_fails_fast_with_instructions(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"Dataset 'tfds:svhn_cropped' \\(tfds "
                                                f"'svhn_cropped'\\) is not prepared in {tmp_path}."
                                                " Prepare it .* `tfds build svhn_cropped "):
        get_dataset("tfds:svhn_cropped", data_dir=str(tmp_path))
    with pytest.raises(TfdsError, match="tfds cannot open 'no_such_dataset' \\(Dataset "
                                        "no_such_dataset not found.\\)"):
        get_dataset("tfds:no_such_dataset", data_dir=str(tmp_path))


def test_training_on_a_mocked_tfds_dataset_with_partial_labels(tmp_path):
    with svhn_like(40):
        spec = get_dataset("tfds:svhn_cropped", resolution=16)
        partial, mask = with_partial_labels(spec, 0.5, seed=0)
        seen = [int(ex["labels"]) for ex in partial("train")]
        truth = spec.labels_of("train")
        parse_gin([], TINY + ["train.num_steps = 2", "train.conditional = True",
                              "train.labelled_fraction = 0.5",
                              "train.dataset = 'tfds:svhn_cropped'"])
        lines = []
        summary = train(str(tmp_path), print_fn=lines.append)
    np.testing.assert_array_equal(np.array(seen)[mask], truth[mask])
    assert all(label == UNLABELLED for label in np.array(seen)[~mask])
    assert summary["step"] == 2 and np.isfinite(summary["d_loss"])
    assert any(line.startswith("tfds:svhn_cropped: images 'image' 32x32x3") for line in lines)
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["dataset"] == "tfds:svhn_cropped[0.5 labelled]" and info["num_classes"] == 10
    assert info["image_shape"] == [16, 16, 3]
