"""Fréchet distance, streaming moments, KID and IS against closed forms and numpy/scipy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from ssgan_tf.evaluation.metrics import (
    FeatureReservoir,
    FeatureStatistics,
    InceptionScoreAccumulator,
    RunningMoments,
    cached_reference_statistics,
    frechet_distance,
    frechet_distance_from_activations,
    inception_score,
    kernel_inception_distance,
    mmd2_unbiased,
    reference_cache_path,
)


def _random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T / (rank or d)


# ----------------------------------------------------------------------------- Fréchet
def test_frechet_identical_is_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(32), _random_cov(rng, 32)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9


def test_frechet_shifted_means_equal_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2, sigma = rng.standard_normal(20), rng.standard_normal(20), _random_cov(rng, 20)
    expected = float(np.sum((mu1 - mu2) ** 2))
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_frechet_diagonal_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    v1, v2 = rng.uniform(0.1, 3.0, 16), rng.uniform(0.1, 3.0, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_matches_scipy_reference_on_general_covariances():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.standard_normal(40), rng.standard_normal(40)
    s1, s2 = _random_cov(rng, 40), _random_cov(rng, 40)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2, method="sqrtm") == pytest.approx(expected, rel=1e-8)


def test_frechet_near_singular_is_finite_real_and_accurate():
    rng = np.random.default_rng(4)
    d = 256
    # rank-deficient covariances (fewer samples than dimensions), as with small FID sample sizes
    s1, s2 = _random_cov(rng, d, rank=30), _random_cov(rng, d, rank=30)
    mu = np.zeros(d)
    value = frechet_distance(mu, s1, mu, s2)
    assert isinstance(value, float) and np.isfinite(value) and value > 0
    # exact value through the symmetric form computed independently in float64 with scipy
    r1 = linalg.sqrtm(s1 + 0j)
    expected = np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(r1 @ s2 @ r1)).real
    assert value == pytest.approx(expected, rel=1e-6)
    # identical singular covariances still give ~0
    assert abs(frechet_distance(mu, s1, mu, s1)) < 1e-6 * np.trace(s1)


def test_frechet_from_activations_vs_gaussian_truth():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) * 2.0 + 1.0
    expected = 4 * 1.0 + 4 * (2.0 - 1.0) ** 2  # |mu|^2 + sum (sqrt(v1) - sqrt(v2))^2
    assert frechet_distance_from_activations(a, b) == pytest.approx(expected, rel=0.05)


def test_frechet_rejects_bad_inputs():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(4), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3) * np.nan, np.zeros(3), np.eye(3))


# ----------------------------------------------------------------------------- moments
def test_running_moments_equal_numpy_over_concatenation(tmp_path):
    rng = np.random.default_rng(6)
    batches = [rng.standard_normal((n, 7)).astype(np.float32) * 3 + 100 for n in (5, 1, 17, 64, 2)]
    moments = RunningMoments()
    for batch in batches:
        moments.update(batch)
    everything = np.concatenate(batches).astype(np.float64)
    assert moments.count == everything.shape[0]
    np.testing.assert_allclose(moments.mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.covariance, np.cov(everything, rowvar=False), rtol=1e-10, atol=1e-12)
    path = tmp_path / "moments.npz"
    moments.save(path)
    restored = RunningMoments.load(path)
    restored.update(batches[0])
    moments.update(batches[0])
    np.testing.assert_array_equal(restored.covariance, moments.covariance)
    with pytest.raises(ValueError):
        moments.update(np.zeros((2, 8)))


def test_feature_statistics_roundtrip_and_ttur_files(tmp_path):
    rng = np.random.default_rng(7)
    stats = FeatureStatistics(mu=rng.standard_normal(5), sigma=np.eye(5), n=10,
                              features=rng.standard_normal((10, 5)).astype(np.float32),
                              metadata={"extractor_sha256": "ab" * 32})
    stats.save(tmp_path / "s.npz")
    loaded = FeatureStatistics.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(loaded.mu, stats.mu)
    np.testing.assert_array_equal(loaded.features, stats.features)
    assert loaded.n == 10 and loaded.metadata == stats.metadata
    np.savez(tmp_path / "fid_stats_ttur.npz", mu=stats.mu.astype(np.float32), sigma=stats.sigma)
    ttur = FeatureStatistics.load(tmp_path / "fid_stats_ttur.npz")
    assert ttur.features is None and ttur.metadata == {}
    np.savez(tmp_path / "bad.npz", images=np.zeros(3))
    with pytest.raises(ValueError, match="'mu' and 'sigma'"):
        FeatureStatistics.load(tmp_path / "bad.npz")


def test_reference_cache_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return FeatureStatistics(mu=np.zeros(3), sigma=np.eye(3), n=4, features=np.ones((4, 3), np.float32))

    args = (tmp_path, "cifar10", "train", 4, "f" * 64)
    first, hit1 = cached_reference_statistics(*args, compute)
    second, hit2 = cached_reference_statistics(*args, compute, require_features=True)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    assert reference_cache_path(*args).name == "cifar10_train_n4_ffffffffffffffff.npz"
    assert second.metadata["extractor_sha256"] == "f" * 64
    # a different extractor hash or count is a different cache entry
    cached_reference_statistics(tmp_path, "cifar10", "train", 4, "e" * 64, compute)
    cached_reference_statistics(tmp_path, "cifar10", "train", 5, "f" * 64, compute)
    assert len(calls) == 3


# ----------------------------------------------------------------------------- KID
def _mmd2_reference(x, y):
    """Straightforward double loop over pairs (i != j), float64."""
    m, d = x.shape
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_mmd2_matches_pairwise_reference():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((12, 6)), rng.standard_normal((12, 6)) + 0.5
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_reference(x, y), rel=1e-10)


def test_kid_same_distribution_near_zero_shifted_positive():
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    same_mean, same_std, m = kernel_inception_distance(a, b, num_subsets=20, subset_size=200, seed=1)
    assert m == 200 and abs(same_mean) < 3 * same_std + 1e-3
    shifted_mean, _, _ = kernel_inception_distance(a, b + 1.0, num_subsets=20, subset_size=200, seed=1)
    assert shifted_mean > 0.5 and shifted_mean > 20 * abs(same_mean)
    # exact closed form in expectation for the mean shift: compare to the full-sample estimate
    full = mmd2_unbiased(a[:600], b[:600] + 1.0)
    assert shifted_mean == pytest.approx(full, rel=0.1)
    # seeded: same seed, same answer; subset size capped at the sample count
    assert kernel_inception_distance(a, b, 5, 50, seed=3) == kernel_inception_distance(a, b, 5, 50, seed=3)
    assert kernel_inception_distance(a[:30], b, 2, 1000)[2] == 30


def test_reservoir_keeps_all_when_large_and_is_uniform_when_small():
    rng = np.random.default_rng(10)
    rows = rng.standard_normal((1000, 3)).astype(np.float32)
    big = FeatureReservoir(capacity=5000, seed=0)
    for start in range(0, 1000, 64):
        big.update(rows[start:start + 64])
    np.testing.assert_array_equal(big.features, rows)
    # uniformity: each row's inclusion probability is capacity / n
    counts = np.zeros(100)
    ids = np.arange(100, dtype=np.float32)[:, None]
    for seed in range(400):
        small = FeatureReservoir(capacity=10, seed=seed)
        for start in range(0, 100, 7):
            small.update(ids[start:start + 7])
        assert small.features.shape == (10, 1) and len(set(small.features[:, 0])) == 10
        counts[small.features[:, 0].astype(int)] += 1
    assert counts.min() > 0.4 * 40 and counts.max() < 1.6 * 40  # expected 400 * 10 / 100 = 40
    assert abs(counts[:50].sum() - counts[50:].sum()) < 0.15 * counts.sum()


# ----------------------------------------------------------------------------- IS
def test_inception_score_uniform_is_one_and_confident_balanced_is_num_classes():
    assert inception_score(np.zeros((100, 10)), splits=10) == pytest.approx((1.0, 0.0), abs=1e-12)
    logits = np.full((200, 10), -1e4)
    logits[np.arange(200), np.arange(200) % 10] = 1e4  # one-hot, every class equally often
    mean, std = inception_score(logits, splits=2)
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    # confident but always the same class -> 1
    same = np.zeros((50, 10))
    same[:, 3] = 50.0
    assert inception_score(same, splits=1)[0] == pytest.approx(1.0, abs=1e-6)


def test_inception_score_matches_direct_formula_and_streams():
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((103, 7)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = []
    for k in range(4):
        part = p[k * 103 // 4:(k + 1) * 103 // 4]
        py = part.mean(axis=0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), axis=1))))
    expected = (np.mean(scores), np.std(scores))
    assert inception_score(logits, splits=4) == pytest.approx(expected, rel=1e-10)
    for total in (103, None):
        acc = InceptionScoreAccumulator(splits=4, total=total)
        for start in range(0, 103, 10):
            acc.update(logits[start:start + 10])
        assert acc.result() == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError):
        inception_score(logits[:3], splits=10)
