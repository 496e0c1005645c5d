"""`folder:PATH`: your own images of any format and size, class subfolders as labels, broken
files skipped with a count, random crops, and the cache budget (decoded once vs streamed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gin
import numpy as np
import pytest
from PIL import Image

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.common.errors import ConfigError
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.data.folders import FolderError, scan_folder
from ssgan_tf.data.labels import UNLABELLED, with_partial_labels
from ssgan_tf.data.options import ImageOptions
from ssgan_tf.training.trainer import train
from tests.helpers.data import shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
COLORS = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}  # sorted: 0, 1, 2
TINY = ["train.resolution = 16", "train.batch_size = 8", "train.z_dim = 16",
        "train.precision = 'float32'", "train.steps_per_loop = 1", "train.log_every = 1",
        "train.sample_every = 100", "train.save_every = 100", "GAN.disc_iters = 1",
        "RotationTask.rotated_batch_size = 8", "sndcgan.Generator.ch = 4",
        "sndcgan.Discriminator.ch = 4"]


def solid(size, color, mode="RGB"):
    return Image.new(mode, size, color)


def write_colour_folder(root: Path, per_class: int = 5) -> Path:
    """Class folders of solid-colour images in every format and assorted sizes (nested too)."""
    formats = ["png", "jpeg", "bmp", "gif", "webp"]
    sizes = [(20, 20), (31, 17), (12, 40), (64, 48), (33, 25)]
    for name, color in COLORS.items():
        for i in range(per_class):
            folder = root / name / ("nested" if i % 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            fmt = formats[i % 5]
            solid(sizes[i % 5], color).save(folder / f"{name}_{i}.{fmt}")
    return root


def add_broken_files(root: Path) -> None:
    (root / "red" / "notes.txt").write_text("not an image")
    (root / "red" / "fake.png").write_text("text with an image name")
    (root / "green" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    png = root / "blue" / "truncated.png"
    solid((40, 40), (0, 0, 255)).save(png)
    png.write_bytes(png.read_bytes()[:60])
    (root / "blue" / ".hidden.png").write_text("ignored: hidden")


def options(**kwargs) -> ImageOptions:
    return ImageOptions(**kwargs)


def examples(spec, split="train"):
    return [(ex["images"].numpy(), int(ex["labels"])) for ex in spec(split)]


# --------------------------------------------------------------------------- scanning
def test_class_subfolders_become_sorted_labels(tmp_path):
    write_colour_folder(tmp_path)
    add_broken_files(tmp_path)
    scan = scan_folder(str(tmp_path))
    assert scan.class_names == ("blue", "green", "red")
    assert len(scan.files) == 3 * 5 + 2  # + broken.jpg and truncated.png (image headers)
    assert sorted(os.path.basename(p) for p in scan.skipped) == ["fake.png", "notes.txt"]
    for path, label in zip(scan.files, scan.labels):
        assert Path(path).relative_to(tmp_path).parts[0] == scan.class_names[label]
    assert scan.files == scan_folder(str(tmp_path)).files  # a fixed order
    assert sorted(scan.files) != scan.files  # mixed, not class by class


def test_loose_images_or_one_folder_mean_no_labels(tmp_path):
    write_colour_folder(tmp_path / "a")
    solid((8, 8), (1, 2, 3)).save(tmp_path / "a" / "loose.png")
    assert scan_folder(str(tmp_path / "a")).class_names is None
    assert scan_folder(str(tmp_path)).class_names is None  # one top-level folder: `a`
    spec = get_dataset(f"folder:{tmp_path}", resolution=8)
    assert spec.num_classes == 0 and spec.class_names is None


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("x")
    with pytest.raises(FolderError, match=f"folder:{tmp_path}: no PNG/JPEG/BMP/GIF/WebP images "
                                          r"found \(searched recursively; 1 other files\)"):
        get_dataset(f"folder:{tmp_path}", resolution=16)
    with pytest.raises(FolderError, match="no such directory"):
        get_dataset(f"folder:{tmp_path / 'missing'}", resolution=16)
    with pytest.raises(FolderError, match="set train.resolution"):
        get_dataset(f"folder:{tmp_path}")


# --------------------------------------------------------------------------- decoding
def test_every_format_and_size_decodes_to_its_colour(tmp_path):
    write_colour_folder(tmp_path)
    add_broken_files(tmp_path)
    spec = get_dataset(f"folder:{tmp_path}", resolution=16, options=options())
    assert spec.image_shape == (16, 16, 3) and spec.num_classes == 3 and spec.in_memory
    assert spec.size == {"train": 15}
    seen = examples(spec)
    assert len(seen) == 15
    for image, label in seen:
        expected = np.array(COLORS[spec.class_names[label]]) / 255.0
        assert image.shape == (16, 16, 3)
        np.testing.assert_allclose(image, np.broadcast_to(expected, image.shape), atol=0.02)
    assert sorted(label for _, label in seen) == [0] * 5 + [1] * 5 + [2] * 5
    notes = "\n".join(spec.notes)
    assert "15 images in 3 class folders (0=blue, 1=green, 2=red" in notes
    assert "skipped 2 files that are not PNG/JPEG/BMP/GIF/WebP images (fake.png, notes.txt)" in notes
    assert "skipped 2 image files that failed to decode" in notes
    assert "broken.jpg" in notes and "truncated.png" in notes
    assert "decoded once and kept in RAM" in notes


def test_center_crop_gray_alpha_and_gif_first_frame(tmp_path):
    wide = np.zeros([8, 16, 3], np.uint8)
    wide[:, :4] = (255, 0, 0)
    wide[:, 4:12] = (0, 255, 0)   # the central 8x8 square
    wide[:, 12:] = (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    solid((8, 8), 128, mode="L").save(tmp_path / "gray.png")
    solid((8, 8), (10, 20, 30, 0), mode="RGBA").save(tmp_path / "alpha.png")
    frames = [solid((8, 8), (200, 0, 0)), solid((8, 8), (0, 0, 200))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    spec = get_dataset(f"folder:{tmp_path}", resolution=8)
    assert spec.num_classes == 0
    by_color = {tuple(np.round(img[0, 0] * 255).astype(int)): img for img, _ in examples(spec)}
    np.testing.assert_array_equal(by_color[(0, 255, 0)] * 255, np.broadcast_to(
        [0, 255, 0], (8, 8, 3)))                                     # exactly the centre
    assert (128, 128, 128) in by_color and (10, 20, 30) in by_color  # gray -> RGB, alpha dropped
    assert (200, 0, 0) in by_color and (0, 0, 200) not in by_color   # the GIF's first frame
    gray = get_dataset(f"folder:{tmp_path}", resolution=8, options=options(channels=1))
    assert gray.image_shape == (8, 8, 1)


def test_a_bare_directory_is_a_folder_dataset(tmp_path):
    write_colour_folder(tmp_path, per_class=2)
    spec = get_dataset(str(tmp_path), resolution=8)
    assert spec.name == f"folder:{tmp_path}" and spec.size == {"train": 6}


def test_default_resolution_applies_when_unset(tmp_path):
    write_colour_folder(tmp_path, per_class=1)
    assert get_dataset(f"folder:{tmp_path}", default_resolution=32).image_shape == (32, 32, 3)
    assert get_dataset(f"folder:{tmp_path}", resolution=8,
                       default_resolution=32).image_shape == (8, 8, 3)


# --------------------------------------------------------------------------- crops and caching
def striped_folder(root: Path) -> Path:
    """Images whose every pixel is distinct, so crops at different places differ."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        image = np.random.RandomState(i).randint(0, 256, (40, 40, 3)).astype(np.uint8)
        Image.fromarray(image).save(root / f"{i}.png")
    return root


def test_random_crop_draws_new_windows_and_is_reproducible(tmp_path):
    striped_folder(tmp_path)
    spec = get_dataset(f"folder:{tmp_path}", resolution=16, options=options(crop="random"))
    assert spec.image_shape == (16, 16, 3)
    assert next(iter(spec.source("train")))["images"].shape == (18, 18, 3)  # 9/8 stored
    assert all(img.shape == (16, 16, 3) for img, _ in examples(spec))       # centre view

    def batches(seed, n=6):
        it = iter(train_dataset(spec, 4, seed=seed, shuffle_buffer=1))
        return [next(it)["images"].numpy() for _ in range(n)]

    first, again = batches(0), batches(0)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)                      # same seed, same crops
    resumed = iter(train_dataset(spec, 4, seed=0, shuffle_buffer=1, start_step=3))
    for expected in first[3:]:
        np.testing.assert_array_equal(next(resumed)["images"].numpy(), expected)  # resume
    epochs = [first[0], first[1], first[2]]                      # 4 images per batch: 1 epoch
    assert all(e.shape == (4, 16, 16, 3) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])              # the same images, new crops
    center = get_dataset(f"folder:{tmp_path}", resolution=16)
    it = iter(train_dataset(center, 4, seed=0, shuffle_buffer=1))
    np.testing.assert_array_equal(next(it)["images"].numpy(), next(it)["images"].numpy())


def test_over_the_cache_budget_streams_with_the_same_images(tmp_path):
    write_colour_folder(tmp_path)
    add_broken_files(tmp_path)
    cached = get_dataset(f"folder:{tmp_path}", resolution=16)
    streamed = get_dataset(f"folder:{tmp_path}", resolution=16, options=options(cache_mb=0))
    assert not streamed.in_memory and not streamed.cacheable
    assert "exceed images.cache_mb = 0" in "\n".join(streamed.notes)
    got = examples(streamed)
    assert len(got) == 15  # the two broken files skipped as they are read
    assert sorted(lbl for _, lbl in got) == sorted(lbl for _, lbl in examples(cached))
    batch = next(iter(train_dataset(streamed, 4, seed=0)))
    assert batch["images"].shape == (4, 16, 16, 3)


@pytest.mark.parametrize("cache_mb", [4096, 0])
def test_partial_labels_stay_with_their_images(tmp_path, cache_mb):
    """The colour says the class: labelled examples keep the label of their own image, also when
    broken files are dropped while streaming."""
    write_colour_folder(tmp_path, per_class=6)
    add_broken_files(tmp_path)
    spec = get_dataset(f"folder:{tmp_path}", resolution=8, options=options(cache_mb=cache_mb))
    partial, mask = with_partial_labels(spec, 0.5, seed=1)
    seen = examples(partial)
    labelled = sum(label != UNLABELLED for _, label in seen)
    if cache_mb:
        assert labelled == mask.sum() == 9 and len(mask) == 18
    else:  # the mask covers the files; the two that fail to decode drop out as they are read
        assert len(mask) == 20 and mask.sum() - 2 <= labelled <= mask.sum()
    for image, label in seen:
        if label != UNLABELLED:
            expected = np.array(COLORS[spec.class_names[label]]) / 255.0
            np.testing.assert_allclose(image[4, 4], expected, atol=0.02)


def test_the_images_bindings_reach_the_folder(tmp_path):
    striped_folder(tmp_path)
    parse_gin([], ["images.crop = 'random'", "images.cache_mb = 0", "images.channels = 1"])
    spec = get_dataset(f"folder:{tmp_path}", resolution=16)
    assert spec.augment is not None and not spec.in_memory and spec.image_shape == (16, 16, 1)
    gin.clear_config()
    parse_gin([], ["images.crop = 'diagonal'"])
    with pytest.raises(ConfigError, match="images.crop='diagonal'; expected one of "
                                          r"\('center', 'random'\)"):
        get_dataset(f"folder:{tmp_path}", resolution=16)


# --------------------------------------------------------------------------- training
def test_conditional_training_on_a_folder_records_the_class_names(tmp_path):
    write_colour_folder(tmp_path / "images", per_class=4)
    add_broken_files(tmp_path / "images")
    parse_gin([], TINY + ["train.num_steps = 2", "train.conditional = True",
                          f"train.dataset = 'folder:{tmp_path / 'images'}'"])
    lines = []
    summary = train(str(tmp_path / "run"), print_fn=lines.append)
    assert summary["step"] == 2 and np.isfinite(summary["d_loss"])
    assert any("skipped 2 image files that failed to decode" in line for line in lines)
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["class_names"] == ["blue", "green", "red"] and info["num_classes"] == 3
    assert info["image_shape"] == [16, 16, 3]
    gin.clear_config()


def write_cifar_folder(root: Path, per_class: int = 30) -> dict:
    """A few hundred real CIFAR-10 images as PNGs and JPEGs of mixed sizes in class folders,
    with corrupt and non-image files among them."""
    path = shared_data_dir() / "cifar10" / "cifar10_train_subset.npz"
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    with np.load(path) as data:
        x, y, names = data["x_train"], data["y_train"], [str(n) for n in data["label_names"]]
    sizes = [(32, 32), (48, 40), (24, 36), (64, 64)]
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i, index in enumerate(np.flatnonzero(y == c)[:per_class]):
            image = Image.fromarray(x[index]).resize(sizes[i % 4], Image.BILINEAR)
            image.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / names[0] / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 500)
    (root / names[1] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 100)
    (root / names[2] / "labels.csv").write_text("not,an,image\n")
    return {"names": names, "count": per_class * len(names)}


@pytest.mark.slow
def test_cli_trains_on_a_folder_of_real_images(tmp_path):
    folder = write_cifar_folder(tmp_path / "cifar")
    args = [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin",
            f"--gin_param=train.dataset = 'folder:{tmp_path / 'cifar'}'",
            "--gin_param=train.num_steps = 2", "--gin_param=train.conditional = True",
            f"--model_dir={tmp_path / 'run'}"] + [f"--gin_param={p}" for p in TINY]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"{folder['count']} images in 10 class folders (0=airplane" in out
    assert "skipped 1 files that are not PNG/JPEG/BMP/GIF/WebP images (labels.csv)" in out
    assert "skipped 2 image files that failed to decode (broken" in out
    assert "done: step 2" in out
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["class_names"] == sorted(folder["names"]) and info["image_shape"] == [16, 16, 3]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["step"] == 2
    assert (tmp_path / "run" / "samples" / "step_000000.png").exists()
