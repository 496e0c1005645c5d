"""tfds datasets: the reference's preprocessing, the message when data is missing, and training
gin/imagenet_ssgan.gin on a small ImageNet in tfds format made here (the files `tfds build
imagenet2012` writes: tfrecord shards + dataset_info.json under imagenet2012/<version>/)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.data import get_dataset
from ssgan_tf.data.images import distorted_square_window, imagenet_eval_crop, preprocess_image
from ssgan_tf.data.labels import with_partial_labels
from ssgan_tf.data.tfds_source import TFDS_DATASETS, TfdsError
from ssgan_tf.training.trainer import train

ROOT = Path(__file__).resolve().parents[2]
IMAGENET_GIN = ROOT / "gin" / "imagenet_ssgan.gin"
# Shrinks gin/imagenet_ssgan.gin to CI size: 16 px, narrow nets, batch 8, float32, default
# strategy, one D step per G step.
SHRINK = ["train.resolution = 16", "train.batch_size = 8", "train.z_dim = 16",
          "train.precision = 'float32'", "train.steps_per_loop = 1", "train.log_every = 1",
          "train.sample_every = 2", "train.save_every = 2", "GAN.disc_iters = 1",
          "RotationTask.rotated_batch_size = 8", "resnet_biggan.Generator.ch = 8",
          "resnet_biggan.Discriminator.ch = 8"]


def write_tiny_imagenet(data_dir: Path, num_train: int = 12, num_val: int = 4,
                        broken: int | None = None,
                        splits: tuple = ("train", "validation")) -> Path:
    """A prepared `imagenet2012` in tfds format: JPEG-encoded images of assorted non-square sizes,
    written through the builder's own feature spec, with tfds metadata. `broken`: the index of a
    training example whose image bytes are not a JPEG (decoding it fails)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("imagenet2012", data_dir=str(data_dir))
    path = Path(os.fspath(builder.data_path))
    path.mkdir(parents=True)
    features = builder.info.features
    rng = np.random.RandomState(0)
    for split, n in (("train", num_train), ("validation", num_val)):
        if split not in splits:
            continue
        shard = path / f"imagenet2012-{split}.tfrecord-00000-of-00001"
        with tf.io.TFRecordWriter(str(shard)) as writer:
            for i in range(n):
                h, w = rng.randint(40, 90, size=2)
                image = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
                record = features.serialize_example(
                    {"image": image, "label": int(i % 7), "file_name": f"img_{split}_{i}.JPEG"})
                if split == "train" and i == broken:
                    example = tf.train.Example.FromString(record)
                    example.features.feature["image"].bytes_list.value[0] = b"not a jpeg"
                    record = example.SerializeToString()
                writer.write(record)
    tfds.folder_dataset.write_metadata(data_dir=str(path), features=features)
    return data_dir


@pytest.fixture(scope="module")
def tiny_imagenet(tmp_path_factory) -> Path:
    return write_tiny_imagenet(tmp_path_factory.mktemp("tfds"))


# ------------------------------------------------------------------------ missing data
def test_missing_imagenet_gives_the_manual_download_steps(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        get_dataset("imagenet2012", data_dir=str(tmp_path))
    message = str(info.value)
    for needle in ("'imagenet2012'", "is not prepared in " + str(tmp_path),
                   "ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar",
                   f"{tmp_path}/downloads/manual", f"tfds build imagenet2012 --data_dir={tmp_path}",
                   "train.data_dir", "https://image-net.org"):
        assert needle in message, needle


def test_missing_downloadable_dataset_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfds build lsun/bedroom"):
        get_dataset("lsun_bedroom", data_dir=str(tmp_path))


def test_imagenet_cli_without_data_fails_fast_with_the_message(tmp_path):
    """The product card's command, pointed at a directory without ImageNet."""
    empty = tmp_path / "tfds"
    empty.mkdir()
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "ssgan_tf.train", f"--gin_file={IMAGENET_GIN}",
         f"--model_dir={tmp_path / 'run'}", f"--gin_param=train.data_dir='{empty}'"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode != 0
    assert "error: Dataset 'imagenet2012'" in result.stderr
    assert "ILSVRC2012_img_train.tar" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()  # failed before building anything
    assert time.time() - start < 120


# ------------------------------------------------------------------------ preprocessing
def test_imagenet_train_crop_is_a_square_of_half_to_all_the_area():
    shape = tf.constant([120, 200, 3])
    sides = set()
    for seed in range(30):
        begin, size = distorted_square_window(shape, seed=seed)
        (top, left, _), (h, w, c) = begin.numpy(), size.numpy()
        assert c == -1 and top >= 0 and left >= 0 and top + h <= 120 and left + w <= 200
        # A square of 50-100% of the image area (here sides 110..120), or the whole image when
        # no such square is drawn (the reference's fallback).
        assert (h == w and 0.5 * 120 * 200 <= h * w) or (h, w) == (120, 200)
        sides.add(int(h))
    assert len(sides) > 3  # random


def test_imagenet_eval_crop_is_the_center_square():
    image = tf.constant(np.arange(6 * 10 * 3, dtype=np.float32).reshape(6, 10, 3))
    np.testing.assert_array_equal(imagenet_eval_crop(image, 6).numpy(), image.numpy()[:, 2:8])
    out = preprocess_image(tf.zeros([37, 51, 3], tf.uint8) + 255, "imagenet", True, 16, 128)
    assert out.shape == (16, 16, 3) and np.allclose(out.numpy(), 1.0)


def test_celeb_a_and_lsun_crops():
    image = np.random.RandomState(1).randint(0, 256, (218, 178, 3)).astype(np.uint8)
    # celeb_a: center crop_or_pad 160 (at 160 px no resize is needed: exact), then 64.
    out = preprocess_image(tf.constant(image), "celeb_a", True, 160, 64).numpy()
    np.testing.assert_allclose(out, image[29:189, 9:169] / 255.0, atol=1e-6)
    assert preprocess_image(tf.constant(image), "celeb_a", True, 64, 64).shape == (64, 64, 3)
    # lsun: center crop 128, no resize.
    image = np.random.RandomState(2).randint(0, 256, (256, 341, 3)).astype(np.uint8)
    out = preprocess_image(tf.constant(image), "center_crop", True, 128, 128).numpy()
    np.testing.assert_allclose(out, image[64:192, 106:234] / 255.0, atol=1e-6)


def test_registry_splits_follow_the_reference():
    assert TFDS_DATASETS["lsun_bedroom"].train_split == "train[:99%]"
    assert TFDS_DATASETS["lsun_bedroom"].test_split == "train[99%:]"
    assert TFDS_DATASETS["imagenet2012"].test_split == "validation"
    assert TFDS_DATASETS["stl10"].resolution == 48
    assert not TFDS_DATASETS["imagenet2012"].cacheable


# ------------------------------------------------------------------------ a real tfds directory
def test_tiny_imagenet_reads_with_the_reference_preprocessing(tiny_imagenet):
    spec = get_dataset("imagenet2012", data_dir=str(tiny_imagenet), resolution=32)
    assert spec.image_shape == (32, 32, 3) and spec.num_classes == 1000
    assert spec.size == {"train": 12, "test": 4} and not spec.in_memory
    examples = list(spec("train").take(12))
    assert len(examples) == 12
    for ex in examples:
        assert ex["images"].shape == (32, 32, 3) and ex["images"].dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(ex["images"])) <= float(tf.reduce_max(ex["images"])) <= 1
    assert sorted({int(ex["labels"]) for ex in examples}) == list(range(7))
    assert len(list(spec("test"))) == 4
    assert get_dataset("imagenet2012", data_dir=str(tiny_imagenet)).image_shape == (128, 128, 3)


def test_labels_are_read_without_decoding_images(tmp_path):
    """Partial labels (S3GAN on ImageNet) read the label feature alone: a training image that
    cannot be decoded does not stop them, though reading the images fails on it."""
    data_dir = write_tiny_imagenet(tmp_path, broken=3)
    spec = get_dataset("imagenet2012", data_dir=str(data_dir), resolution=16)
    np.testing.assert_array_equal(spec.labels_of("train"), np.arange(12) % 7)
    partial, mask = with_partial_labels(spec, 0.5, seed=0)
    assert mask.sum() == 5  # round(0.5 * n) of each class: 1 of each pair, 0 of the singles
    with pytest.raises(tf.errors.InvalidArgumentError):
        list(spec("train"))  # the images themselves do not decode
    with pytest.raises(tf.errors.InvalidArgumentError):
        list(partial("train"))


def test_a_prepared_dataset_without_a_train_split_says_so(tmp_path):
    data_dir = write_tiny_imagenet(tmp_path, splits=("validation",))
    with pytest.raises(TfdsError, match="'imagenet2012' has no split 'train' to train on \\(it "
                                        "has \\['validation'\\]\\)"):
        get_dataset("imagenet2012", data_dir=str(data_dir))


def test_labels_alone_match_the_stream(tiny_imagenet):
    spec = get_dataset("imagenet2012", data_dir=str(tiny_imagenet), resolution=16)
    for split in ("train", "test"):
        stream = [int(ex["labels"]) for ex in spec(split)]
        assert list(spec.labels_of(split)) == stream


def test_imagenet_gin_trains_on_a_local_tfds_directory(tiny_imagenet, tmp_path):
    parse_gin([str(IMAGENET_GIN)],
                 SHRINK + ["train.num_steps = 2", f"train.data_dir = '{tiny_imagenet}'"])
    lines = []
    summary = train(str(tmp_path), print_fn=lines.append)
    assert summary["step"] == 2 and np.isfinite(summary["d_loss"])
    assert "resnet_biggan on imagenet2012 (16, 16, 3)" in lines[0]
    assert (tmp_path / "samples" / "step_000002.png").exists()
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["architecture"] == "resnet_biggan" and info["dataset"] == "imagenet2012"


@pytest.mark.slow
def test_imagenet_cli_trains_on_a_local_tfds_directory(tiny_imagenet, tmp_path):
    args = [sys.executable, "-m", "ssgan_tf.train", f"--gin_file={IMAGENET_GIN}",
            f"--model_dir={tmp_path}", f"--gin_param=train.data_dir='{tiny_imagenet}'",
            "--gin_param=train.num_steps=2"] + [f"--gin_param={p}" for p in SHRINK]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "done: step 2" in result.stdout
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 2
