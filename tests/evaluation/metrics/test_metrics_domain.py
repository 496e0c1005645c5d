"""Domain feature extractor: trains, round-trips through a file, and reports under domain_* names."""

from __future__ import annotations

import numpy as np
import pytest

from ssgan_tf.evaluation.metrics import DomainFeatureExtractor, compute_metrics, file_sha256


@pytest.fixture(scope="module")
def trained(mnist_images):
    x, y = mnist_images
    extractor = DomainFeatureExtractor.train(x[:4000], y[:4000], epochs=2, batch_size=64, feature_dim=64, seed=0)
    return extractor, x, y


def test_domain_classifier_learns_digits(trained):
    extractor, x, y = trained
    assert extractor.accuracy(x[5000:6000], y[5000:6000]) > 0.9


def test_save_load_roundtrip(trained, tmp_path):
    extractor, x, _ = trained
    path = tmp_path / "mnist_domain.keras"
    extractor.save(path)
    loaded = DomainFeatureExtractor.load(path)
    assert loaded.sha256 == file_sha256(path)
    np.testing.assert_allclose(loaded(x[:50])["features"], extractor(x[:50])["features"], atol=1e-5)
    with pytest.raises(ValueError, match=".keras"):
        extractor.save(tmp_path / "wrong.h5")
    with pytest.raises(FileNotFoundError):
        DomainFeatureExtractor.load(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a domain extractor"):
        DomainFeatureExtractor.load(tmp_path / "junk.keras")


def test_domain_scores_are_named_domain_and_separate_datasets(trained, fashion_images):
    extractor, x, _ = trained
    real, same, other = x[6000:7000], x[7000:8000], fashion_images[:1000]

    def run(fake):
        return compute_metrics([fake[i:i + 250] for i in range(0, 1000, 250)],
                               [real[i:i + 250] for i in range(0, 1000, 250)], extractor,
                               metrics="fid,kid,is", kid_subsets=10, kid_subset_size=500, is_splits=2)

    close, far = run(same), run(other)
    print(f"domain_fd mnist/mnist={close['domain_fd']:.3f} mnist/fashion={far['domain_fd']:.3f}")
    assert "fid" not in close and "kid_mean" not in close
    assert {"domain_fd", "domain_kid_mean", "domain_kid_std", "domain_is_mean", "domain_extractor_sha256"} <= set(close)
    assert far["domain_fd"] > 10 * close["domain_fd"]
    assert far["domain_kid_mean"] > 10 * abs(close["domain_kid_mean"])
    assert close["domain_is_mean"] > 5.0  # confident and balanced over 10 digit classes


def test_adapts_rgb_and_size(trained):
    extractor, x, _ = trained
    rgb32 = np.zeros((3, 32, 32, 3), np.uint8)
    rgb32[:, 2:30, 2:30, :] = x[:3, :, :, None]
    out = extractor(rgb32)
    assert out["features"].shape == (3, 64) and out["logits"].shape == (3, 10)
