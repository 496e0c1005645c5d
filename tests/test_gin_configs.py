"""Every gin file in gin/ parses, builds its model and runs a training step (shrunk to fit CI)."""

from pathlib import Path

import gin
import pytest

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.pipelines.s2gan import run_s2gan
from ssgan_tf.training.config import current_config, is_bound
from ssgan_tf.training.trainer import Trainer, train

GIN_DIR = Path(__file__).resolve().parents[1] / "gin"
GIN_FILES = sorted(p.name for p in GIN_DIR.glob("*.gin"))
# The fast suite builds every file's model and trains a step of one file per kind of run: plain
# SSGAN (quickstart), every trick at once (tricks_example), BigGAN with sBN (imagenet_ssgan),
# S3GAN (digits_s3gan_10pct). The slow suite, which CI runs too, trains a step of every file,
# S2GAN's three stages included.
FAST_STEP = {"quickstart.gin", "tricks_example.gin", "imagenet_ssgan.gin", "digits_s3gan_10pct.gin"}
SHRINK = ["train.batch_size = 8", "train.num_steps = 1", "train.z_dim = 16",
          "train.precision = 'float32'", "RotationTask.rotated_batch_size = 8",
          "GAN.disc_iters = 1", "train.sample_every = 1", "train.save_every = 1",
          "sndcgan.Generator.ch = 4", "sndcgan.Discriminator.ch = 4",
          "resnet_cifar.Generator.ch = 8", "resnet_cifar.Discriminator.ch = 8",
          "dcgan.Generator.ch = 8", "dcgan.Discriminator.ch = 8",
          "resnet_stl.Generator.ch = 8", "resnet_stl.Discriminator.ch = 8",
          "resnet5.Generator.ch = 4", "resnet5.Discriminator.ch = 4",
          "resnet_biggan.Generator.ch = 8", "resnet_biggan.Discriminator.ch = 8",
          "resnet_biggan_deep.Generator.ch = 8", "resnet_biggan_deep.Discriminator.ch = 8",
          "S2GAN.pretrain_steps = 1", "S2GAN.num_clusters = 2", "S2GAN.kmeans_iterations = 2"]


def _shrunk(name: str) -> list[str]:
    """SHRINK, and synthetic data for files whose tfds data is not on CI machines (a small-data
    file keeps its cut, within the 1,024 synthetic images)."""
    parse_gin([str(GIN_DIR / name)], [])
    dataset = gin.query_parameter("train.dataset")
    cut = is_bound("max_train_examples")
    gin.clear_config()
    if dataset in ("digits", "synthetic"):
        return SHRINK
    return SHRINK + ["train.dataset = 'synthetic'"] + (["train.max_train_examples = 100"]
                                                        if cut else [])


def test_there_are_gin_files():
    assert {"quickstart.gin", "cifar10_ssgan.gin"} <= FAST_STEP | set(GIN_FILES)
    assert FAST_STEP <= set(GIN_FILES)


@pytest.mark.parametrize("name", sorted(set(GIN_FILES) - FAST_STEP))  # those train below
def test_gin_file_parses_and_builds_its_model(name, tmp_path):
    parse_gin([str(GIN_DIR / name)], _shrunk(name))
    trainer = Trainer(str(tmp_path), current_config(), print_fn=lambda *_: None)
    trainer.set_up()  # data, strategy, G and D built with every binding of the file
    model = trainer.model
    assert model.generator.count_params() > 0 and model.discriminator.count_params() > 0
    assert model.rotation.mode == gin.query_parameter("RotationTask.mode")
    assert not list(tmp_path.iterdir())  # building writes nothing


@pytest.mark.parametrize("name", [n if n in FAST_STEP else pytest.param(n, marks=pytest.mark.slow)
                                  for n in GIN_FILES])
def test_gin_file_parses_and_trains_one_step(name, tmp_path):
    overrides = _shrunk(name)
    if name.endswith("s2gan.gin"):  # three stages: python -m ssgan_tf.s2gan
        summary = run_s2gan(str(tmp_path), [str(GIN_DIR / name)], overrides,
                            print_fn=lambda *_: None)
        tmp_path = tmp_path / "gan"
    else:
        parse_gin([str(GIN_DIR / name)], overrides)
        summary = train(str(tmp_path), print_fn=lambda *_: None)
    assert summary["step"] == 1
    assert (tmp_path / "samples" / "step_000001.png").exists()
