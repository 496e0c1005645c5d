"""Arrays and `npz:` files: uint8 or float [0, 1] of any size, `train.resolution` honoured by
every source, and clear errors for bad files, bad images and bad labels."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.common.errors import SsganError
from ssgan_tf.data import from_arrays, get_dataset
from ssgan_tf.data.labels import LabelError, check_labels
from ssgan_tf.training.builders import apply_label_options
from ssgan_tf.training.config import TrainConfig
from ssgan_tf.training.trainer import train

TINY = ["train.resolution = 16", "train.batch_size = 8", "train.z_dim = 16",
        "train.precision = 'float32'", "train.steps_per_loop = 1", "train.log_every = 1",
        "train.sample_every = 100", "train.save_every = 100", "GAN.disc_iters = 1",
        "RotationTask.rotated_batch_size = 8", "sndcgan.Generator.ch = 4",
        "sndcgan.Discriminator.ch = 4"]


def images_of(spec, split="train"):
    return np.stack([ex["images"].numpy() for ex in spec(split)])


def save(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


# ------------------------------------------------------------------------------ pixels
def test_uint8_and_float_files_give_the_same_images(tmp_path):
    x = np.random.RandomState(0).randint(0, 256, (6, 16, 16, 3)).astype(np.uint8)
    as_uint8 = get_dataset(save(tmp_path / "u.npz", images=x))
    as_float = get_dataset(save(tmp_path / "f.npz", images=(x / 255.0).astype(np.float32)))
    np.testing.assert_array_equal(images_of(as_uint8), x / np.float32(255.0))
    np.testing.assert_allclose(images_of(as_float), images_of(as_uint8), atol=1e-7)
    gray = get_dataset(save(tmp_path / "g.npz", x_train=x[..., 0]))
    assert gray.image_shape == (16, 16, 1) and gray.num_classes == 0


@pytest.mark.parametrize("values,dtype,message", [
    (255.0, np.float32, r"`x_train` is float32 with values in \[0, 255\]; images must be uint8 "
                        r"\(0-255\) or float in \[0, 1\] \(divide by 255"),
    (2.0, np.float64, r"float64 with values in \[0, 2\]"),
    (255, np.int64, r"int64 with values in \[0, 255\].*cast to uint8"),
    (1, np.bool_, "has dtype bool"),
])
def test_other_pixels_are_a_clear_error(tmp_path, values, dtype, message):
    x = (np.linspace(0, 1, 4 * 8 * 8 * 3).reshape(4, 8, 8, 3) * values).astype(dtype)
    path = tmp_path / "bad.npz"
    with pytest.raises(SsganError, match=f"'{path}': {message}" if "`" in message else message):
        get_dataset(save(path, x_train=x))


def test_nan_pixels_are_refused(tmp_path):
    x = np.full([2, 8, 8, 3], 0.5, np.float32)
    x[1, 2, 3, 0] = np.nan
    with pytest.raises(SsganError, match="values in \\[nan"):
        get_dataset(save(tmp_path / "nan.npz", images=x))


# ------------------------------------------------------------------------------ sizes
def test_any_size_is_fitted_to_the_resolution(tmp_path):
    x = np.zeros([3, 28, 28], np.uint8) + 200
    spec = get_dataset(save(tmp_path / "m.npz", x_train=x), resolution=32)
    assert spec.image_shape == (32, 32, 1)
    np.testing.assert_allclose(images_of(spec), 200 / 255.0, atol=1e-5)
    assert get_dataset(f"npz:{tmp_path / 'm.npz'}").image_shape == (28, 28, 1)  # native
    wide = save(tmp_path / "w.npz", images=np.zeros([2, 20, 30, 3], np.uint8))
    with pytest.raises(SsganError, match="images of 20x30 pixels need a square resolution"):
        get_dataset(wide)
    assert get_dataset(wide, default_resolution=16).image_shape == (16, 16, 3)


def write_png_folder(root):
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 24), (i * 50, 0, 0)).save(root / f"{i}.png")
    return f"folder:{root}"


@pytest.mark.parametrize("source", ["digits", "synthetic", "npz", "folder", "tfds", "cifar10"])
def test_train_resolution_is_honoured_by_every_source(tmp_path, source):
    names = {"digits": "digits", "synthetic": "synthetic", "tfds": "tfds:svhn_cropped",
             "cifar10": "cifar10",
             "npz": save(tmp_path / "d.npz", images=np.zeros([4, 28, 28, 3], np.uint8))}
    name = write_png_folder(tmp_path / "f") if source == "folder" else names[source]
    with tfds.testing.mock_data(num_examples=4):
        spec = get_dataset(name, resolution=16)
        batch = next(iter(spec("train").batch(4)))["images"]
    assert spec.image_shape[:2] == (16, 16) and batch.shape[1:3] == (16, 16)


# ------------------------------------------------------------------------------ files
def test_an_npy_given_as_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros([4, 8, 8, 3], np.uint8))
    with pytest.raises(SsganError, match=f"'{path}' is a single .npy array \\(uint8 \\(4, 8, 8, "
                                         "3\\)\\), not an .npz archive: save the dataset with "
                                         "np.savez"):
        get_dataset(f"npz:{path}")


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(SsganError, match="Cannot read dataset file .*missing.npz.*no such file"):
        get_dataset(f"npz:{tmp_path / 'missing.npz'}")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(SsganError, match="Cannot read dataset file"):
        get_dataset(f"npz:{junk}")
    objects = tmp_path / "objects.npz"
    np.savez(objects, images=np.zeros([2, 8, 8, 3], np.uint8),
             labels=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(SsganError, match="`labels` cannot be read without pickle"):
        get_dataset(f"npz:{objects}")
    with pytest.raises(SsganError, match=r"has keys \['pixels'\]; expected `x_train`"):
        get_dataset(save(tmp_path / "k.npz", pixels=np.zeros([2, 8, 8, 3], np.uint8)))


# ------------------------------------------------------------------------------ labels
def test_label_length_dtype_and_declared_range_are_checked(tmp_path):
    x = np.zeros([5, 8, 8, 3], np.uint8)
    path = tmp_path / "l.npz"
    with pytest.raises(SsganError, match=f"'{path}': `y_train` has 4 labels for the 5 images of "
                                         "`x_train`; they must match one to one"):
        get_dataset(save(path, x_train=x, y_train=np.arange(4)))
    with pytest.raises(SsganError, match="`labels` has dtype float64; labels must be integer"):
        get_dataset(save(path, images=x, labels=np.arange(5) * 1.0))
    with pytest.raises(SsganError, match=r"`y_train`\[3\] = 7 is outside \[0, 5\) \(1 labels "
                                         "are\\), but the dataset declares num_classes = 5"):
        get_dataset(save(path, x_train=x, y_train=np.array([0, 1, 2, 7, 4]), num_classes=5))
    spec = get_dataset(save(path, x_train=x, y_train=np.arange(5)[:, None],
                            label_names=np.array(list("abcde"))))
    assert spec.num_classes == 5 and spec.class_names == tuple("abcde")
    assert list(spec.labels_of("train")) == [0, 1, 2, 3, 4]


def test_negative_labels_are_refused_for_a_conditional_model(tmp_path):
    x = np.zeros([6, 16, 16, 3], np.uint8)
    name = save(tmp_path / "neg.npz", x_train=x, y_train=np.array([0, 1, 2, -1, 1, 0]))
    spec = get_dataset(name)
    assert spec.num_classes == 3
    with pytest.raises(LabelError, match=f"Dataset '{name}': label -1 of train example 3 \\(and "
                                         r"0 more\) is outside \[0, 3\); a conditional model"):
        apply_label_options(spec, TrainConfig(num_steps=1, conditional=True),
                            print_fn=lambda *_: None)
    apply_label_options(spec, TrainConfig(num_steps=1))  # unconditional: labels are not used
    parse_gin([], TINY + ["train.num_steps = 1", "train.conditional = True",
                          f"train.dataset = '{name}'"])
    with pytest.raises(LabelError, match="label -1 of train example 3"):
        train(str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_labels_beyond_the_classes_are_refused():
    spec = from_arrays(np.zeros([4, 8, 8, 3], np.uint8), np.array([0, 1, 5, 1]))
    assert spec.num_classes == 6
    with pytest.raises(LabelError, match=r"label 5 of train example 2 .* outside \[0, 2\)"):
        check_labels(spec, 2)
    check_labels(spec, 6)


# ------------------------------------------------------------------------------ arrays API
def test_from_arrays_trains_through_the_python_api(tmp_path):
    x = np.random.RandomState(1).rand(32, 20, 20, 3).astype(np.float32)
    spec = from_arrays(x, np.arange(32) % 4, resolution=16, class_names=tuple("abcd"))
    assert spec.image_shape == (16, 16, 3) and spec.num_classes == 4
    assert get_dataset(spec) is spec
    with pytest.raises(SsganError, match="is 16x16 but train.resolution = 32"):
        get_dataset(spec, resolution=32)
    parse_gin([], TINY + ["train.num_steps = 1", "train.conditional = True"])
    summary = train(str(tmp_path), dataset=spec, print_fn=lambda *_: None)
    assert summary["step"] == 1
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["dataset"] == "arrays" and info["class_names"] == list("abcd")
    with pytest.raises(SsganError, match="`train labels` has 3 labels for the 32 images"):
        from_arrays(x, np.arange(3))
    assert tf.reduce_max(next(iter(spec("train")))["images"]) <= 1.0


def test_a_split_comes_back_as_numpy_arrays_in_unit_range(tmp_path):
    x = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4) * 5
    spec = get_dataset(save(tmp_path / "a.npz", x_train=x, y_train=np.array([2, 0, 1])))
    images, labels = spec.arrays("train")
    assert images.shape == (3, 4, 4, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0], x / 255.0, atol=1e-6)
    assert labels.dtype == np.int64 and list(labels) == [2, 0, 1]
    with pytest.raises(ValueError, match="has splits"):
        spec.arrays("validation")
