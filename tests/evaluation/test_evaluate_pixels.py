"""No silently wrong FID (issue 20.6): `evaluate` detects the pixel range of each image file
(uint8, float [0, 1], float [0, 255]), converts with a note in the JSON and the printout, and
refuses what fits neither; identical sets give FID ~ 0 whichever convention they are saved in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssgan_tf.evaluate import main as evaluate_main
from ssgan_tf.evaluation import evaluate
from ssgan_tf.evaluation.evaluate import EvalConfig, run
from ssgan_tf.evaluation.images import EvaluationError, to_pixels_255
from ssgan_tf.evaluation.metrics import compute_metrics, frechet_distance_from_activations
from tests.evaluation.metrics.conftest import WEIGHTS_NAME
from tests.helpers.data import shared_data_dir
from tests.helpers.toy_extractor import ToyExtractor, toy_images


@pytest.fixture
def toy(monkeypatch):
    extractor = ToyExtractor()
    monkeypatch.setattr(evaluate, "_build_extractors", lambda config, wanted: [extractor])
    return extractor


def _save(path, array):
    np.savez(path, images=array)
    return str(path)


def test_ranges_are_detected_and_converted_with_a_note():
    u8 = toy_images(4, 0)
    same, note = to_pixels_255(u8, "x")
    assert same is u8 and note == "uint8 [0, 255]"
    unit = u8.astype(np.float32) / 255.0
    scaled, note = to_pixels_255(unit, "x")
    assert note == "float32 [0, 1], scaled by 255"
    np.testing.assert_allclose(scaled, u8, atol=1e-4)
    full, note = to_pixels_255(u8.astype(np.float64), "x")
    assert note == "float64 [0, 255]" and full.dtype == np.float64
    ints, note = to_pixels_255(u8.astype(np.int64), "x")
    assert ints.dtype == np.uint8 and note == "int64 [0, 255]"


@pytest.mark.parametrize("values,message", [
    ([-1.0, 1.0], "negative pixels"),
    ([0.0, 1.5], "fits neither"),
    ([0.0, 300.0], "above 255"),
    ([0.0, np.nan], "non-finite"),
])
def test_ambiguous_or_out_of_range_floats_are_refused(values, message):
    array = np.zeros((2, 4, 4, 3), np.float32)
    array[0, 0, 0] = values[0]
    array[1, 0, 0] = values[1]
    with pytest.raises(EvaluationError, match=message):
        to_pixels_255(array, "'a.npz' key 'images'")
    with pytest.raises(EvaluationError, match="dtype bool"):
        to_pixels_255(array > 0, "x")


@pytest.mark.parametrize("fake_as", ["float [0, 1]", "float [0, 255]", "uint8"])
def test_identical_sets_give_fid_zero_whatever_their_convention(toy, tmp_path, fake_as):
    real = toy_images(64, 1)
    fake = {"float [0, 1]": real.astype(np.float32) / 255.0,
            "float [0, 255]": real.astype(np.float32), "uint8": real}[fake_as]
    result = run(EvalConfig(images=_save(tmp_path / "fake.npz", fake),
                            reference=_save(tmp_path / "real.npz", real), metrics="fid",
                            inception="toy", cache_dir="none", batch_size=16))
    assert abs(result["fid"]) < 1e-6
    expected = {"float [0, 1]": "float32 [0, 1], scaled by 255",
                "float [0, 255]": "float32 [0, 255]", "uint8": "uint8 [0, 255]"}[fake_as]
    assert result["images_pixels"] == expected and result["reference_pixels"] == "uint8 [0, 255]"
    # Read as [0, 255] (what evaluate did before), the [0, 1] set is far from its own images.
    if fake_as == "float [0, 1]":
        features = ToyExtractor()
        wrong = frechet_distance_from_activations(features(fake)["features"],
                                                  features(real)["features"])
        assert wrong > 1.0


def test_the_cli_prints_the_note_and_the_json_records_it(toy, tmp_path, capsys):
    real = toy_images(32, 2)
    out = tmp_path / "m.json"
    code = evaluate_main([f"--images={_save(tmp_path / 'f.npz', real / np.float32(255))}",
                          f"--reference={_save(tmp_path / 'r.npz', real)}", "--metrics=fid",
                          "--inception=toy", "--cache_dir=none", f"--output={out}"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "note: --images holds float32 [0, 1], scaled by 255" in printed
    assert json.loads(out.read_text())["images_pixels"] == "float32 [0, 1], scaled by 255"


def test_minus_one_to_one_images_are_refused_with_the_file_named(toy, tmp_path, capsys):
    path = _save(tmp_path / "tanh.npz", np.linspace(-1, 1, 2 * 4 * 4 * 3).reshape(2, 4, 4, 3))
    code = evaluate_main([f"--images={path}", f"--reference={path}", "--inception=toy"])
    err = capsys.readouterr().err
    assert code == 1 and path in err and "(x + 1) / 2" in err


def test_compute_metrics_refuses_unit_floats_read_as_0_255():
    real = toy_images(16, 3)
    with pytest.raises(ValueError, match="fake images are floats in \\[0, 0.98"):
        compute_metrics([real / np.float32(255)], [real], ToyExtractor(), metrics="fid")
    with pytest.raises(ValueError, match="real images are floats"):
        compute_metrics([real], [real / np.float32(255)], ToyExtractor(), metrics="fid")


def test_identical_float_sets_with_the_real_inception(inception_extractor_path, tmp_path):
    """With the FID Inception network: float [0, 1] images against the same images as uint8."""
    with np.load(shared_data_dir() / "cifar10" / "cifar10_train_subset.npz") as data:
        real = data["x_train"][:12]
    result = run(EvalConfig(images=_save(tmp_path / "fake.npz", real / np.float32(255)),
                            reference=_save(tmp_path / "real.npz", real), metrics="fid",
                            inception=inception_extractor_path, cache_dir="none",
                            batch_size=12))
    assert result["fid"] < 1e-2 and result["images_pixels"].endswith("scaled by 255")
    assert "biased upward" in result["warning"]


@pytest.fixture
def inception_extractor_path():
    path = shared_data_dir() / "inception" / WEIGHTS_NAME
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return str(path)
