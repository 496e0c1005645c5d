"""Every gin file in gin/ parses, builds its model and runs a training step (shrunk to fit CI)."""

from pathlib import Path

import gin
import pytest

from ssgan_tf.common.configs import parse_gin
from ssgan_tf.pipelines.s2gan import run_s2gan
from ssgan_tf.training.trainer import train

GIN_DIR = Path(__file__).resolve().parents[1] / "gin"
GIN_FILES = sorted(p.name for p in GIN_DIR.glob("*.gin"))
# S2GAN files run three stages (pre-train, k-means, GAN); the study's results_* files are
# near-copies of the quickstart, imagenet_s3gan_20pct of the 10% one and cifar10_s3gan_10pct of
# the digits one (same architecture and S3GAN terms): all in the slow suite, which CI runs too.
SLOW_TWINS = {"imagenet_s3gan_20pct.gin", "cifar10_s3gan_10pct.gin"}
GIN_PARAMS = [pytest.param(n, marks=pytest.mark.slow)
              if n.endswith("s2gan.gin") or n.startswith("results_") or n in SLOW_TWINS else n
              for n in GIN_FILES]
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


def test_there_are_gin_files():
    assert {"quickstart.gin", "cifar10_ssgan.gin"} <= set(GIN_FILES)


@pytest.mark.parametrize("name", GIN_PARAMS)
def test_gin_file_parses_and_trains_one_step(name, tmp_path):
    parse_gin([str(GIN_DIR / name)], [])
    dataset = gin.query_parameter("train.dataset")
    overrides = list(SHRINK)
    if dataset not in ("digits", "synthetic"):  # tfds data is not on CI machines
        overrides.append("train.dataset = 'synthetic'")
    gin.clear_config()
    if name.endswith("s2gan.gin"):  # three stages: python -m ssgan_tf.s2gan
        summary = run_s2gan(str(tmp_path), [str(GIN_DIR / name)], overrides,
                            print_fn=lambda *_: None)
        tmp_path = tmp_path / "gan"
    else:
        parse_gin([str(GIN_DIR / name)], overrides)
        summary = train(str(tmp_path), print_fn=lambda *_: None)
    assert summary["step"] == 1
    assert (tmp_path / "samples" / "step_000001.png").exists()
