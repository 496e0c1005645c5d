"""compute_metrics: streaming, flat output, naming per extractor, reference statistics, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ssgan_tf.evaluation.metrics import (
    FeatureStatistics,
    compute_metrics,
    compute_reference_statistics,
    frechet_distance_from_activations,
    inception_score,
    kernel_inception_distance,
)


class ToyExtractor:
    """Cheap deterministic stand-in with the extractor interface; records batch sizes."""

    def __init__(self, prefix: str = "", logits: bool = True, sha: str = "a" * 64) -> None:
        self.key_prefix, self.has_logits, self.sha256 = prefix, logits, sha
        self.name, self.feature_dim, self.calls = f"toy{prefix}", 6, []

    def settings(self):
        return {f"{self.key_prefix}extractor": self.name, f"{self.key_prefix}extractor_sha256": self.sha256}

    def __call__(self, images):
        x = np.asarray(images, np.float64).reshape(len(images), -1)
        self.calls.append(len(images))
        out = {"features": np.sin(x[:, :6] / 40.0) + x[:, 6:12] / 255.0}
        if self.has_logits:
            out["logits"] = x[:, :5] / 60.0
        return out


def _images(n, seed, shift=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(120 + shift, 40, (n, 4, 4, 3)), 0, 255).astype(np.uint8)


def _batches(images, size):
    for start in range(0, len(images), size):
        yield images[start:start + size]


def test_streaming_result_equals_direct_computation():
    fake, real = _images(150, 0), _images(130, 1, shift=30)
    extractor = ToyExtractor()
    result = compute_metrics(_batches(fake, 16), _batches(real, 16), extractor, metrics=("fid", "kid", "is"),
                             kid_subsets=10, kid_subset_size=50, seed=3, is_splits=5,
                             real_source="real.npz", real_split="train")
    assert max(extractor.calls) <= 16  # consumed batch by batch
    f_feats, r_feats = extractor(fake)["features"], extractor(real)["features"]
    assert result["fid"] == pytest.approx(frechet_distance_from_activations(f_feats, r_feats), rel=1e-9)
    kid = kernel_inception_distance(r_feats, f_feats, 10, 50, seed=3)
    assert (result["kid_mean"], result["kid_std"]) == pytest.approx(kid[:2], rel=1e-9)
    assert (result["is_mean"], result["is_std"]) == pytest.approx(inception_score(extractor(fake)["logits"], 5))
    assert result["fid"] > 0.1 and result["kid_mean"] > 0.01  # the two sets differ
    expected_keys = {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "n_real", "n_fake", "extractor",
                     "extractor_sha256", "real_source", "real_split", "kid_subsets", "kid_subset_size",
                     "is_splits", "seed", "metrics"}
    assert expected_keys <= set(result)
    assert (result["n_fake"], result["n_real"], result["kid_subset_size"]) == (150, 130, 50)
    assert all(isinstance(v, (int, float, str, bool)) for v in result.values())  # flat


def test_num_fake_streams_is_with_same_value():
    fake = _images(90, 2)
    kwargs = dict(metrics="is", is_splits=3)
    a = compute_metrics(_batches(fake, 7), None, ToyExtractor(), num_fake=90, **kwargs)
    b = compute_metrics(_batches(fake, 7), None, ToyExtractor(), **kwargs)
    assert a["is_mean"] == pytest.approx(b["is_mean"], rel=1e-12) and "n_real" not in a
    with pytest.raises(ValueError, match="declared"):
        compute_metrics(_batches(fake, 7), None, ToyExtractor(), num_fake=100, **kwargs)


def test_domain_prefix_and_two_extractors():
    fake, real = _images(60, 3), _images(60, 4, shift=20)
    result = compute_metrics(_batches(fake, 20), _batches(real, 20),
                             [ToyExtractor(), ToyExtractor("domain_", sha="b" * 64)],
                             metrics="fid,kid", kid_subsets=3, kid_subset_size=20)
    assert {"fid", "domain_fd", "kid_mean", "domain_kid_mean", "domain_kid_std",
            "domain_extractor", "domain_extractor_sha256"} <= set(result)
    assert result["fid"] == pytest.approx(result["domain_fd"])  # same toy features
    only_domain = compute_metrics(_batches(fake, 20), _batches(real, 20), ToyExtractor("domain_"), metrics="fid")
    assert "domain_fd" in only_domain and "fid" not in only_domain


def test_reference_statistics_file_gives_the_same_fid(tmp_path):
    fake, real = _images(80, 5), _images(70, 6, shift=10)
    extractor = ToyExtractor()
    direct = compute_metrics(_batches(fake, 32), _batches(real, 32), extractor, metrics="fid,kid",
                             kid_subsets=4, kid_subset_size=30)
    stats = compute_reference_statistics(_batches(real, 32), extractor)
    stats.save(tmp_path / "ref.npz")
    cached = compute_metrics(_batches(fake, 32), None, extractor, metrics="fid,kid",
                             reference_stats_path=tmp_path / "ref.npz", kid_subsets=4, kid_subset_size=30)
    assert cached["fid"] == pytest.approx(direct["fid"], rel=1e-12)
    assert cached["kid_mean"] == pytest.approx(direct["kid_mean"], rel=1e-12)
    assert cached["n_real"] == 70 and cached["real_source"].endswith("ref.npz")

    with pytest.raises(ValueError, match="recompute them with this extractor"):
        compute_metrics(_batches(fake, 32), None, ToyExtractor(sha="c" * 64), metrics="fid",
                        reference_stats=stats)
    no_features = FeatureStatistics(stats.mu, stats.sigma, stats.n)
    with pytest.raises(ValueError, match="no feature sample"):
        compute_metrics(_batches(fake, 32), None, extractor, metrics="kid", reference_stats=no_features)


@pytest.mark.parametrize("kwargs,match", [
    (dict(metrics="fid,psnr"), "unknown metric"),
    (dict(metrics=""), "no metric"),
    (dict(metrics="is", extractor=ToyExtractor(logits=False)), "no logits layer"),
    (dict(metrics="fid", real=False), "exactly one real-data source"),
])
def test_errors(kwargs, match):
    extractor = kwargs.pop("extractor", ToyExtractor())
    real = _batches(_images(10, 8), 5) if kwargs.pop("real", True) else None
    with pytest.raises(ValueError, match=match):
        compute_metrics(_batches(_images(10, 7), 5), real, extractor, **kwargs)


def test_no_fake_images():
    with pytest.raises(ValueError, match="no fake images"):
        compute_metrics(iter([]), _batches(_images(10, 8), 5), ToyExtractor(), metrics="fid")
