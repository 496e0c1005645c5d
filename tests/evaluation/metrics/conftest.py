"""Fixtures for the metrics tests: shared real data (optional) and synthetic Inception weights."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from ssgan_tf.evaluation.metrics import inception_spec as spec
from tests.helpers.data import shared_data_dir

WEIGHTS_NAME = "fid_inception_v3_2015_12_05_weights.npz"


shared_data_root = shared_data_dir


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture(scope="session")
def inception_npz() -> Path:
    return _require(shared_data_root() / "inception" / WEIGHTS_NAME)


@pytest.fixture(scope="session")
def cifar_images() -> np.ndarray:
    path = _require(shared_data_root() / "cifar10" / "cifar10_train_subset.npz")
    with np.load(path) as data:
        return data["x_train"]


@pytest.fixture(scope="session")
def mnist_images() -> np.ndarray:
    path = _require(shared_data_root() / "mnist" / "mnist_train_first17435.npz")
    with np.load(path) as data:
        return data["x_train"], data["y_train"]


@pytest.fixture(scope="session")
def fashion_images() -> np.ndarray:
    path = _require(shared_data_root() / "fashion_mnist" / "fashion_mnist_partial.npz")
    with np.load(path) as data:
        return data["x_test"]


@pytest.fixture(scope="session")
def inception_extractor(inception_npz):
    from ssgan_tf.evaluation.metrics import InceptionExtractor

    return InceptionExtractor.from_path(inception_npz, batch_size=8)


def make_random_weights(seed: int = 0, logits: bool = True) -> Dict[str, np.ndarray]:
    """Canonical-named random weights with the real shapes (He-scaled so activations stay sane)."""
    rng = np.random.default_rng(seed)
    out: Dict[str, np.ndarray] = {}
    for conv in spec.CONV_SPECS:
        fan_in = conv.in_channels * conv.kernel[0] * conv.kernel[1]
        out[f"{conv.name}.weight"] = (rng.standard_normal(conv.weight_shape_oihw, dtype=np.float32)
                                      * np.float32(np.sqrt(2.0 / fan_in)))
        c = conv.out_channels
        out[f"{conv.name}.beta"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
        out[f"{conv.name}.mean"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
        out[f"{conv.name}.var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        out[f"{conv.name}.gamma"] = rng.uniform(0.8, 1.2, c).astype(np.float32)
    if logits:
        out[spec.LOGITS_WEIGHT] = rng.standard_normal((spec.POOL3_DIM, spec.NUM_LOGITS), dtype=np.float32) * 0.05
        out[spec.LOGITS_BIAS] = rng.uniform(-1, 1, spec.NUM_LOGITS).astype(np.float32)
    return out


@pytest.fixture(scope="session")
def random_weights() -> Dict[str, np.ndarray]:
    return make_random_weights()
