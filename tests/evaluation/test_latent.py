"""Latent-space tools: lerp/slerp against their formulas, grids, arithmetic, and the CLI on a
trained model_dir (with an EMA generator, which is what it must render)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.files import image_grid
from ssgan_tf.evaluation import latent

REPO = Path(__file__).resolve().parents[2]
RNG = np.random.RandomState(0)
A, B = RNG.normal(size=16), RNG.normal(size=16)


def test_lerp_matches_the_formula():
    t = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(latent.lerp(A, B, t), [(1 - s) * A + s * B for s in t])
    np.testing.assert_allclose(latent.lerp(A, B, 0.5), (A + B) / 2)


def test_slerp_matches_the_formula_and_keeps_the_norm():
    t = np.linspace(0, 1, 7)
    omega = np.arccos(A @ B / (np.linalg.norm(A) * np.linalg.norm(B)))
    want = [np.sin((1 - s) * omega) / np.sin(omega) * A + np.sin(s * omega) / np.sin(omega) * B
            for s in t]
    got = latent.slerp(A, B, t)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(got[0], A, atol=1e-12)
    np.testing.assert_allclose(got[-1], B, atol=1e-12)
    # Equal-norm endpoints: every point has that norm (lerp's midpoint would be shorter).
    b_scaled = B / np.linalg.norm(B) * np.linalg.norm(A)
    norms = np.linalg.norm(latent.slerp(A, b_scaled, t), axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(A), rtol=1e-10)
    assert np.linalg.norm(latent.lerp(A, b_scaled, 0.5)) < 0.99 * np.linalg.norm(A)
    # The angle to A grows linearly with t.
    angles = [np.arccos(np.clip(p @ A / (np.linalg.norm(p) * np.linalg.norm(A)), -1, 1))
              for p in latent.slerp(A, b_scaled, t)]
    np.testing.assert_allclose(angles, t * omega, atol=1e-7)


def test_slerp_of_parallel_vectors_is_lerp():
    np.testing.assert_allclose(latent.slerp(A, 2 * A, 0.5), 1.5 * A)


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_grid(spherical):
    starts, ends = RNG.normal(size=(3, 8)), RNG.normal(size=(3, 8))
    grid = latent.interpolation_grid(starts, ends, steps=5, spherical=spherical)
    assert grid.shape == (15, 8)
    np.testing.assert_allclose(grid[0::5], starts, atol=1e-12)
    np.testing.assert_allclose(grid[4::5], ends, atol=1e-12)
    fn = latent.slerp if spherical else latent.lerp
    np.testing.assert_allclose(grid[5:10], fn(starts[1], ends[1], np.linspace(0, 1, 5)))
    with pytest.raises(ValueError, match="steps=1 must be >= 2"):
        latent.interpolation_grid(starts, ends, steps=1)


def test_latent_arithmetic():
    z = RNG.normal(size=(10, 4))
    np.testing.assert_allclose(latent.group_mean(z, [1, 3, 5]), z[[1, 3, 5]].mean(0))
    a, b, c = (latent.group_mean(z, g) for g in ([0, 1], [2], [3, 4, 5]))
    np.testing.assert_allclose(latent.arithmetic(a, b, c), a - b + c)
    with pytest.raises(ValueError, match=r"\[12\] are out of range"):
        latent.group_mean(z, [1, 12])


def test_sample_latents_are_the_training_grids_z():
    z = latent.sample_latents(4, 16, "uniform", seed=1234)
    want = tf.random.stateless_uniform([4, 16], tf.constant([1234, 0], tf.int64), -1.0, 1.0)
    np.testing.assert_array_equal(z.astype(np.float32), want.numpy())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.helpers.training import run

    directory = tmp_path_factory.mktemp("latent_model")
    run(directory, 2, extra=["GAN.g_ema_decay = 0.5", "GAN.ema_start_step = 0",
                             "train.z_dim = 8", "train.save_every = 2"])
    return directory


def read_png(path):
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


def test_cli_interpolate_renders_the_ema_generator(model_dir, tmp_path):
    from ssgan_tf.runs.restore import load_gan

    out = tmp_path / "grid.png"
    summary = latent.run(latent.LatentConfig(model_dir=str(model_dir), mode="interpolate",
                                             output=str(out), rows=3, steps=4, seed=5,
                                             spherical=True))
    assert summary["images"] == 12 and summary["columns"] == 4
    assert "EMA generator" in summary["source"] and "step 2" in summary["source"]
    png = read_png(out)
    assert png.shape == (3 * 17 - 1, 4 * 17 - 1, 3)
    # Exactly the EMA generator's images of the slerp grid.
    model, _ = load_gan(str(model_dir))
    ends = latent.sample_latents(6, 8, "uniform", 5)
    z = latent.interpolation_grid(ends[0::2], ends[1::2], 4, spherical=True)
    images = model.ema_generator(tf.constant(z, tf.float32)).numpy()
    np.testing.assert_array_equal(png, image_grid(images, columns=4))
    assert not np.array_equal(png, image_grid(model.generator(tf.constant(z, tf.float32))
                                              .numpy(), columns=4))


def test_cli_samples_and_arithmetic(model_dir, tmp_path):
    sheet = latent.run(latent.LatentConfig(model_dir=str(model_dir), mode="samples",
                                           output=str(tmp_path / "sheet.png"), num_samples=9))
    assert sheet["images"] == 9 and read_png(tmp_path / "sheet.png").shape[:2] == (50, 50)
    out = tmp_path / "arithmetic.png"
    summary = latent.run(latent.LatentConfig(model_dir=str(model_dir), mode="arithmetic",
                                             output=str(out), num_samples=9, a="0,1,2",
                                             b="3", c="4,5", variations=3))
    # Rows: a (3 + mean), b (1 + mean), c (2 + mean), result + 3 variations; 4 columns.
    assert summary["images"] == 16 and summary["columns"] == 4
    png = read_png(out)
    assert png.shape == (4 * 17 - 1, 4 * 17 - 1, 3)
    white = np.full((16, 16, 3), 255, np.uint8)
    np.testing.assert_array_equal(png[17:33, 34:50], white)   # b's row is padded
    assert not np.array_equal(png[51:67, 0:16], white)        # the result image


def test_bad_input():
    with pytest.raises(ValueError, match="exactly one of --model_dir"):
        latent.run(latent.LatentConfig(mode="interpolate"))
    with pytest.raises(ValueError, match="needs --a, --b and --c"):
        latent.run(latent.LatentConfig(model_dir="x", mode="arithmetic", a="1"))
    with pytest.raises(ValueError, match="--a='1,x'"):
        latent.run(latent.LatentConfig(model_dir="x", mode="arithmetic", a="1,x", b="2",
                                       c="3"))


def test_cli_exits_nonzero_with_a_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ssgan_tf.latent", "--mode=arithmetic",
                             f"--model_dir={tmp_path}", "--a=1", "--b=2"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "error: --mode=arithmetic needs --a, --b and --c" in result.stderr
    assert "Traceback" not in result.stderr
