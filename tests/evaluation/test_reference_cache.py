"""`evaluate` caches the reference side keyed by the data's and the extractor's sha256 (a second
evaluation extracts only the generated images), and every metric JSON carries n, the extractor
and a `warning` when n is below the published protocols'."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssgan_tf.evaluate import main as evaluate_main
from ssgan_tf.evaluation import evaluate
from ssgan_tf.evaluation.evaluate import EvalConfig, default_cache_dir, run
from ssgan_tf.evaluation.metrics import compute_metrics, sample_size_warnings
from tests.helpers.toy_extractor import ToyExtractor, toy_images


@pytest.fixture
def toy(monkeypatch):
    """Every evaluate run gets a fresh ToyExtractor; the list records them."""
    made = []

    def build(config, wanted):
        made.append(ToyExtractor(sha="c" * 64))
        return [made[-1]]

    monkeypatch.setattr(evaluate, "_build_extractors", build)
    return made


def _files(tmp_path, n_fake=40, n_real=30):
    np.savez(tmp_path / "fake.npz", images=toy_images(n_fake, 0))
    np.savez(tmp_path / "real.npz", x_train=toy_images(n_real, 1, shift=20))
    return str(tmp_path / "fake.npz"), str(tmp_path / "real.npz")


def test_second_run_extracts_only_the_generated_images(toy, tmp_path):
    fake, real = _files(tmp_path)
    config = EvalConfig(images=fake, reference=real, metrics="fid,kid,prdc", inception="toy",
                        cache_dir=str(tmp_path / "cache"), batch_size=16)
    first, second = run(config), run(config)
    assert [e.seen for e in toy] == [40 + 30, 40]  # the second run never saw the reference
    assert (first["reference_cache_hit"], second["reference_cache_hit"]) == (False, True)
    for key in ("fid", "kid_mean", "precision", "recall", "density", "coverage"):
        assert second[key] == pytest.approx(first[key], rel=1e-12), key
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert first["reference_cache"].startswith(str(tmp_path / "cache"))


def test_the_cache_key_is_the_data_and_the_extractor(toy, tmp_path, monkeypatch):
    fake, real = _files(tmp_path)
    config = EvalConfig(images=fake, reference=real, metrics="fid", inception="toy",
                        cache_dir=str(tmp_path / "cache"), batch_size=16)
    run(config)
    changed = toy_images(30, 1, shift=20)
    changed[0, 0, 0, 0] ^= 1  # one pixel of one reference image, same file name
    np.savez(tmp_path / "real.npz", x_train=changed)
    assert run(config)["reference_cache_hit"] is False
    monkeypatch.setattr(evaluate, "_build_extractors",
                        lambda config, wanted: [ToyExtractor(sha="d" * 64)])
    assert run(config)["reference_cache_hit"] is False
    assert len(list((tmp_path / "cache").iterdir())) == 3
    assert run(EvalConfig(**{**config.__dict__, "cache_dir": "none"})).get(
        "reference_cache_hit") is None


def test_the_default_cache_dir_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv("SSGAN_TF_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == str(tmp_path / "here")
    monkeypatch.delenv("SSGAN_TF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == str(tmp_path / "xdg" / "ssgan_tf" / "reference")


def test_small_n_gets_a_warning_in_the_json_and_the_printout(toy, tmp_path, capsys):
    fake, real = _files(tmp_path)
    out = tmp_path / "m.json"
    assert evaluate_main([f"--images={fake}", f"--reference={real}", "--metrics=fid,kid,prdc",
                          "--inception=toy", f"--output={out}"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert (result["n_fake"], result["n_real"], result["extractor"]) == (40, 30, "toy")
    assert "FID from 40 generated and 30 real images (fewer than 10,000) is biased upward" in (
        result["warning"])
    assert "KID from subsets of 30 images" in result["warning"]
    assert "precision / recall / density / coverage from 30 real and 40" in result["warning"]
    assert f"warning: {result['warning']}" in printed
    assert printed.startswith("fid ") and "n_fake 40, n_real 30; toy" in printed


def test_no_warning_at_the_published_sample_counts():
    at_protocol = {"n_fake": 50_000, "n_real": 10_000, "kid_subset_size": 1000,
                   "prdc_n_real": 10_000, "prdc_n_fake": 10_000}
    assert sample_size_warnings(at_protocol, ("fid", "kid", "prdc", "is"), [""]) == []
    below = {**at_protocol, "n_real": 9_999}
    (fid,) = sample_size_warnings(below, ("fid", "kid", "prdc", "is"), [""])
    assert fid.startswith("FID from 50000 generated and 9999 real images")
    assert sample_size_warnings({**at_protocol, "n_fake": 10_000}, ("is",), [""])[0].startswith(
        "IS from 10000 images")
    fake, real = toy_images(500, 2, size=2), toy_images(500, 3, size=2, shift=5)
    small = compute_metrics([fake], [real], ToyExtractor(), metrics="fid")
    assert small["warning"].startswith("FID from 500 generated and 500 real images")
    domain = compute_metrics([fake], [real], ToyExtractor("domain_"), metrics="fid")
    assert "warning" not in domain  # no published numbers for a domain extractor
