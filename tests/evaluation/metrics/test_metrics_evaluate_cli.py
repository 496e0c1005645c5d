"""``python -m ssgan_tf.evaluate``: end to end in a subprocess, errors in-process, input validation, generator modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.evaluate import main as evaluate_main
from ssgan_tf.evaluation import images as images_lib
from ssgan_tf.evaluation import samplers
from ssgan_tf.evaluation.evaluate import EvalConfig, EvaluationError, run
from ssgan_tf.evaluation.metrics import file_sha256

REPO = Path(__file__).resolve().parents[3]


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "ssgan_tf.evaluate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _our_error_lines(stderr: str):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    """Synthetic uint8 image files (no shared data needed for input validation)."""
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    np.savez(root / "fake.npz", images=rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8))
    np.savez(root / "real.npz", x_train=rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8),
             x_test=rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8))
    return root


def test_cli_end_to_end_json(inception_npz, cifar_images, mnist_images, tmp_path):
    np.savez(tmp_path / "gray.npz", images=mnist_images[0][:8])  # grayscale [N, 28, 28]
    np.savez(tmp_path / "real.npz", x_train=cifar_images[100:108], x_test=cifar_images[200:206])
    out = tmp_path / "sub" / "m.json"
    proc = _cli(f"--images={tmp_path / 'gray.npz'}", f"--reference={tmp_path / 'real.npz'}", "--metrics=fid,kid",
                f"--inception={inception_npz}", f"--output={out}", "--batch_size=8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["n_fake"] == 8 and result["n_real"] == 8
    assert result["extractor"] == "inception_v3_2015_12_05"
    assert result["extractor_sha256"] == file_sha256(inception_npz)
    assert result["real_source"] == str(tmp_path / "real.npz") and result["real_split"] == "train"
    assert result["fid"] > 50 and np.isfinite(result["fid"])  # grayscale digits vs CIFAR photos
    assert np.isfinite(result["kid_mean"]) and result["kid_subset_size"] == 8
    assert "is_mean" not in result


# The CLI's error path in-process (the same `main` the subprocess above runs), without paying a
# TensorFlow import per case.
def test_cli_bad_input_exits_nonzero_with_one_paragraph(tiny_npz, tmp_path, capsys):
    missing = tmp_path / "missing.npz"
    code = evaluate_main([f"--images={tiny_npz / 'fake.npz'}", f"--reference={missing}",
                          "--metrics=fid", "--inception=weights.npz"])
    err = capsys.readouterr().err
    assert code == 1
    lines = _our_error_lines(err)
    assert len(lines) == 1 and str(missing) in lines[0] and "not found" in lines[0]
    assert "Traceback" not in err


def test_cli_is_without_logits(tiny_npz, inception_npz, capsys):
    code = evaluate_main([f"--images={tiny_npz / 'fake.npz'}", "--metrics=is",
                          f"--inception={inception_npz}"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = _our_error_lines(err)
    assert "no logits layer" in line


def _config(tiny_npz, **kwargs) -> EvalConfig:
    defaults = dict(images=str(tiny_npz / "fake.npz"), reference=str(tiny_npz / "real.npz"), metrics="fid",
                    inception="unused.npz")
    defaults.update(kwargs)
    return EvalConfig(**defaults)


@pytest.mark.parametrize("change,match", [
    (dict(metrics="fid,lpips"), "unknown metric"),
    (dict(images="nowhere.npz"), "not found"),
    (dict(reference=""), "need --reference"),
    (dict(module="gen"), "exactly one of"),
    (dict(images=""), "exactly one of"),
    (dict(inception=""), "no feature extractor"),
    (dict(inception="no_such_weights.npz"), "--inception weights file not found"),
])
def test_run_validation_errors(tiny_npz, change, match):
    with pytest.raises(EvaluationError, match=match):
        run(_config(tiny_npz, **change))


def test_run_rejects_bad_npz_contents(tiny_npz, tmp_path):
    cases = {
        "keys.npz": dict(pictures=np.zeros((2, 8, 8, 3), np.uint8)),
        "shape.npz": dict(images=np.zeros((2, 8, 8, 4), np.uint8)),
        "flat.npz": dict(images=np.zeros((2, 8), np.uint8)),
        "range.npz": dict(images=np.full((2, 8, 8, 3), 300.0, np.float32)),
    }
    expected = {"keys.npz": "no image array", "shape.npz": "has shape", "flat.npz": "has shape",
                "range.npz": "above 255"}
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(EvaluationError, match=expected[name]):
            run(_config(tiny_npz, images=str(tmp_path / name)))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(EvaluationError, match="cannot read"):
        run(_config(tiny_npz, images=str(tmp_path / "text.npz")))


def test_model_dir_checkpoint_is_evaluated(tiny_npz, inception_npz, tmp_path):
    from tests.helpers.training import run as train_tiny

    with pytest.raises(EvaluationError, match="not an ssgan_tf model_dir"):
        run(_config(tiny_npz, images="", model_dir=str(tmp_path / "none"),
                    inception=str(inception_npz), num_samples=4))
    train_tiny(tmp_path / "model", 2)
    result = run(_config(tiny_npz, images="", model_dir=str(tmp_path / "model"),
                         inception=str(inception_npz), num_samples=6, batch_size=3))
    assert result["n_fake"] == 6 and np.isfinite(result["fid"])
    assert result["fake_source"] == str(tmp_path / "model")


def test_real_split_selects_key(tiny_npz):
    images, split, pixels = images_lib.load_image_npz(str(tiny_npz / "real.npz"), "reference",
                                                      "test")
    assert split == "test" and images.shape[0] == 6 and pixels == "uint8 [0, 255]"
    images, split, _ = images_lib.load_image_npz(str(tiny_npz / "real.npz"), "reference")
    assert split == "train" and images.shape[0] == 8


class _TinyGenerator(tf.Module):
    def __init__(self):
        super().__init__()
        self.z_dim = tf.Variable(4, trainable=False)
        self.num_classes = tf.Variable(3, trainable=False)
        self.w = tf.Variable(tf.random.stateless_normal([4, 16 * 16 * 3], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32)])
    def serve(self, z, labels):
        x = tf.sigmoid(tf.matmul(z, self.w) * 3.0)
        x = x * tf.cast(labels[:, None] + 1, tf.float32) / 3.0
        return {"images": tf.reshape(x, [-1, 16, 16, 3])}


@pytest.fixture(scope="module")
def generator_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "generator"
    module = _TinyGenerator()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def test_module_sampler(generator_module):
    batches = list(samplers.module_sampler(str(generator_module), 10, 4, seed=42, quantize=True))
    assert [b.shape for b in batches] == [(4, 16, 16, 3), (4, 16, 16, 3), (2, 16, 16, 3)]
    assert all(b.dtype == np.uint8 for b in batches)
    images = np.concatenate(batches)
    assert images.max() > 100 and len({int(im.max()) // 90 for im in images}) > 1  # labels vary
    again = np.concatenate(list(samplers.module_sampler(str(generator_module), 10, 4, 42, True)))
    np.testing.assert_array_equal(images, again)  # seeded
    floats = next(samplers.module_sampler(str(generator_module), 4, 4, 42, quantize=False))
    assert floats.dtype == np.float32 and floats.max() <= 255.0
    with pytest.raises(EvaluationError, match="not found"):
        samplers.module_sampler("no/such/generator", 4, 4, 0, True)


def test_run_with_module(generator_module, tiny_npz, inception_npz, tmp_path):
    result = run(EvalConfig(module=str(generator_module), reference=str(tiny_npz / "real.npz"),
                            metrics="fid", inception=str(inception_npz), num_samples=10, batch_size=8,
                            output=str(tmp_path / "metrics.json")))
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == pytest.approx(result)
    assert saved["n_fake"] == 10 and saved["n_real"] == 8 and saved["fid"] > 0
    assert saved["fake_source"] == str(generator_module) and saved["quantize"] is True


def test_reference_cache_and_statistics_file_as_reference(tiny_npz, inception_npz, tmp_path):
    config = dict(images=str(tiny_npz / "fake.npz"), reference=str(tiny_npz / "real.npz"), metrics="fid,kid",
                  inception=str(inception_npz), batch_size=8, cache_dir=str(tmp_path / "cache"))
    first = run(EvalConfig(**config))
    second = run(EvalConfig(**{**config, "metrics": "kid"}))  # kid only: skips a 2048-d eigh
    assert (first["reference_cache_hit"], second["reference_cache_hit"]) == (False, True)
    assert second["kid_mean"] == pytest.approx(first["kid_mean"], rel=1e-12)
    (cache_file,) = (tmp_path / "cache").iterdir()
    assert cache_file.name.startswith("real_train_n8_" + file_sha256(inception_npz)[:16] + "_data")
    from_stats = run(EvalConfig(**{**config, "cache_dir": "", "reference": str(cache_file)}))
    assert from_stats["fid"] == pytest.approx(first["fid"], rel=1e-12)
    assert from_stats["kid_mean"] == pytest.approx(first["kid_mean"], rel=1e-12)
    assert from_stats["n_real"] == 8 and from_stats["real_split"] == "stats"
