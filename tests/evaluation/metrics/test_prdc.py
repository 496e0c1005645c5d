"""Precision / recall / density / coverage: hand-computed values on tiny point sets, a brute-force
reference with tiny blocks (the batching), and the papers' limiting cases."""

from __future__ import annotations

import numpy as np
import pytest

from ssgan_tf.evaluation.metrics import compute_metrics, kth_neighbour_radii, prdc
from tests.helpers.toy_extractor import ToyExtractor, toy_images


def _brute_force(real, fake, k_pr=3, k_dc=5):
    """The definitions, written out with full distance matrices."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    rr, ff, rf = dist(real, real), dist(fake, fake), dist(real, fake)
    r_pr = np.sort(rr, axis=1)[:, k_pr]
    r_dc = np.sort(rr, axis=1)[:, k_dc]
    f_pr = np.sort(ff, axis=1)[:, k_pr]
    return {"precision": (rf <= r_pr[:, None]).any(axis=0).mean(),
            "recall": (rf <= f_pr[None, :]).any(axis=1).mean(),
            "density": (rf < r_dc[:, None]).sum() / (k_dc * len(fake)),
            "coverage": (rf.min(axis=1) < r_dc).mean()}


def test_hand_computed_values_in_one_dimension():
    """real {0, 1, 3}, fake {0.5, 2.5, 10}, k = 1 for all four.
    Real 1-NN radii 1, 1, 2; fake 1-NN radii 2, 2, 7.5.
    precision: 0.5 (in ball(0, 1)), 2.5 (in ball(3, 2)), not 10 -> 2/3.
    recall: 0 and 1 lie in ball(0.5, 2), 3 in ball(2.5, 2) -> 1.
    density: 0.5 lies in ball(0, 1) and ball(1, 1), 2.5 in ball(3, 2), 10 in none -> 3 / 3 = 1.
    coverage: each real's nearest fake (0.5, 0.5, 0.5 away) lies inside its ball -> 1."""
    real, fake = np.array([[0.0], [1.0], [3.0]]), np.array([[0.5], [2.5], [10.0]])
    values = prdc(real, fake, k_precision_recall=1, k_density_coverage=1)
    assert values == pytest.approx({"precision": 2 / 3, "recall": 1.0, "density": 1.0,
                                    "coverage": 1.0})


def test_hand_computed_values_with_k_2():
    """real {0, 1, 2, 4}: 2-NN radii 2, 1, 2, 3. fake {0.5, 3.5, 8}: 2-NN radii 7.5, 4.5, 7.5.
    precision: 0.5 and 3.5 are in balls (ball(0, 2), ball(4, 3)), 8 is not -> 2/3.
    recall: every real lies within 7.5 of 0.5 -> 1.
    density: 0.5 in ball(0,2), ball(1,1), ball(2,2); 3.5 in ball(2,2), ball(4,3); 8 in none:
    5 / (2 * 3) = 5/6. coverage: nearest fakes 0.5, 0.5, 1.5, 0.5 away; radii 2, 1, 2, 3 -> 1."""
    real, fake = np.array([[0.0], [1.0], [2.0], [4.0]]), np.array([[0.5], [3.5], [8.0]])
    values = prdc(real, fake, k_precision_recall=2, k_density_coverage=2)
    assert values == pytest.approx({"precision": 2 / 3, "recall": 1.0, "density": 5 / 6,
                                    "coverage": 1.0})


def test_blocks_equal_the_brute_force_definition():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(120, 5)), rng.normal(0.4, 1.2, size=(90, 5))
    expected = _brute_force(real, fake)
    for block_elements in (7, 500, 1 << 20):  # 1 row per block, a few rows, one block
        assert prdc(real, fake, block_elements=block_elements) == pytest.approx(expected)
    radii = kth_neighbour_radii(real, (3, 5), block_elements=50)
    d = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    np.testing.assert_allclose(np.sqrt(radii[3]), np.sort(d, axis=1)[:, 3], atol=1e-9)


def test_limiting_cases():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1500, 8)).astype(np.float32)
    same = prdc(real, real)
    assert same == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    disjoint = prdc(real, real + 100.0)
    assert disjoint == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    # Two samples of one distribution: density ~ 1 (Naeem et al.: E = 1), coverage ~
    # 1 - 2^-k = 0.97 for k = 5.
    other = rng.normal(size=(1500, 8)).astype(np.float32)
    values = prdc(real, other)
    assert values["density"] == pytest.approx(1.0, abs=0.08)
    assert values["coverage"] == pytest.approx(1 - 0.5 ** 5, abs=0.03)
    with pytest.raises(ValueError, match="need more than 5 feature rows"):
        prdc(real[:5], other[:5])


def test_compute_metrics_reports_prdc_per_extractor_with_counts():
    fake, real = toy_images(80, 0), toy_images(70, 1, shift=25)
    result = compute_metrics([fake[:40], fake[40:]], [real], [ToyExtractor(),
                             ToyExtractor("domain_", sha="b" * 64)], metrics="fid,prdc")
    features = ToyExtractor()
    expected = prdc(features(real)["features"], features(fake)["features"])
    for key, value in expected.items():
        assert result[key] == pytest.approx(value) and result[f"domain_{key}"] == pytest.approx(value)
    assert (result["prdc_n_real"], result["prdc_n_fake"]) == (70, 80)
    assert result["prdc_k_precision_recall"] == 3 and result["prdc_k_density_coverage"] == 5
    assert 0.0 < result["precision"] < 1.0
