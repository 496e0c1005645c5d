"""Streaming feature statistics and a file cache for reference statistics.

Why streaming: FID on 50k samples must not keep 50k images (or even 50k
feature vectors) in memory.  ``RunningMoments`` keeps only the count, the sum
and the sum of outer products (float64, ~32 MB for 2048-d features).  To avoid
the catastrophic cancellation of ``E[xxᵀ] - μμᵀ`` the sums are taken around a
fixed shift (the first batch's mean), which is exact algebra and leaves the
result equal to ``np.mean`` / ``np.cov(ddof=1)`` over the concatenation up to
float64 rounding.

Why a cache: the real-data side of FID is the same for every evaluation of a
dataset, and recomputing it costs minutes on CPU.  Cache files are keyed by
dataset name, split, sample count, the extractor's weights sha256 and (from
``evaluate``) the sha256 of the image data itself, so a different network,
subset or file never reuses stale statistics.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np


class RunningMoments:
    """Accumulates mean and unbiased covariance of feature batches without keeping them."""

    def __init__(self, dim: Optional[int] = None) -> None:
        self.dim = dim
        self.count = 0
        self.shift: Optional[np.ndarray] = None
        self.sum: Optional[np.ndarray] = None
        self.outer: Optional[np.ndarray] = None

    def update(self, batch: np.ndarray) -> None:
        """Add a [B, D] batch (any float dtype; accumulated in float64)."""
        x = np.asarray(batch, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"expected a [B, D] batch, got shape {x.shape}")
        if x.shape[0] == 0:
            return
        if self.dim is None:
            self.dim = x.shape[1]
        if x.shape[1] != self.dim:
            raise ValueError(f"feature dimension changed from {self.dim} to {x.shape[1]}")
        if self.shift is None:
            self.shift = x.mean(axis=0)
            self.sum = np.zeros(self.dim)
            self.outer = np.zeros((self.dim, self.dim))
        centered = x - self.shift
        self.count += x.shape[0]
        self.sum += centered.sum(axis=0)
        self.outer += centered.T @ centered

    @property
    def mean(self) -> np.ndarray:
        if self.count == 0:
            raise ValueError("no samples accumulated")
        return self.shift + self.sum / self.count

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased (ddof=1) covariance, like ``np.cov(x, rowvar=False)``."""
        if self.count < 2:
            raise ValueError(f"covariance needs at least 2 samples, have {self.count}")
        centered_mean = self.sum / self.count
        cov = (self.outer - self.count * np.outer(centered_mean, centered_mean)) / (self.count - 1)
        return (cov + cov.T) * 0.5

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Persist the raw accumulators (to resume streaming later)."""
        if self.count == 0:
            raise ValueError("nothing to save: no samples accumulated")
        with open(os.fspath(path), "wb") as f:  # a file object: np.savez would append ".npz"
            np.savez(f, count=self.count, shift=self.shift, sum=self.sum, outer=self.outer)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "RunningMoments":
        with np.load(os.fspath(path)) as data:
            missing = {"count", "shift", "sum", "outer"} - set(data.files)
            if missing:
                raise ValueError(f"'{path}' is not a RunningMoments file (missing {sorted(missing)})")
            moments = cls(int(data["shift"].shape[0]))
            moments.count = int(data["count"])
            moments.shift, moments.sum, moments.outer = data["shift"], data["sum"], data["outer"]
        return moments


@dataclasses.dataclass
class FeatureStatistics:
    """What the real side of FID/KID needs: moments, optionally a feature sample for KID."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    features: Optional[np.ndarray] = None  # bounded random sample of feature rows (KID)
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def save(self, path: "str | os.PathLike[str]") -> None:
        """npz with TTUR-compatible keys ``mu``/``sigma`` plus ``n``, ``features``, ``metadata``."""
        arrays: Dict[str, Any] = {"mu": self.mu, "sigma": self.sigma, "n": np.int64(self.n),
                                  "metadata": np.array(json.dumps(self.metadata, sort_keys=True))}
        if self.features is not None:
            arrays["features"] = np.asarray(self.features)
        path = os.fspath(path)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)  # atomic: concurrent readers never see half a file

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "FeatureStatistics":
        """Load our files or TTUR/pytorch-fid ``fid_stats_*.npz`` (keys ``mu``, ``sigma``)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"statistics file not found: '{path}'")
        with np.load(path, allow_pickle=False) as data:
            if "mu" not in data.files or "sigma" not in data.files:
                raise ValueError(f"'{path}' is not a statistics file: it needs keys 'mu' and 'sigma', "
                                 f"found {sorted(data.files)}")
            mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
            if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
                raise ValueError(f"'{path}': mu {mu.shape} / sigma {sigma.shape} shapes do not match")
            n = int(data["n"]) if "n" in data.files else 0
            features = data["features"] if "features" in data.files else None
            metadata = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
        return cls(mu=mu, sigma=sigma, n=n, features=features, metadata=metadata)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "none"


def reference_cache_path(cache_dir: "str | os.PathLike[str]", dataset: str, split: str, count: int,
                         extractor_sha256: str, data_sha256: Optional[str] = None) -> Path:
    """``<dataset>_<split>_n<count>_<extractor sha256[:16]>[_data<data sha256[:16]>].npz``."""
    name = f"{_slug(dataset)}_{_slug(split)}_n{int(count)}_{extractor_sha256[:16]}"
    if data_sha256:
        name += f"_data{data_sha256[:16]}"
    return Path(cache_dir) / f"{name}.npz"


def _usable(stats: FeatureStatistics, expected: Dict[str, Any], require_features: bool,
            count: int) -> bool:
    """A cached entry fits when its recorded keys match and, if rows are needed, its feature
    sample is all `count` rows or was drawn with the same reservoir size and seed."""
    meta = stats.metadata
    if any(meta.get(key, value) != value for key, value in expected.items()
           if key in ("extractor_sha256", "data_sha256")):
        return False
    if not require_features:
        return True
    if stats.features is None:
        return False
    if stats.features.shape[0] == count:
        return True
    return all(meta.get(key) == expected.get(key) for key in ("reservoir_size", "seed"))


def cached_reference_statistics(cache_dir: "str | os.PathLike[str]", dataset: str, split: str, count: int,
                                extractor_sha256: str, compute: Callable[[], FeatureStatistics],
                                require_features: bool = False, *,
                                data_sha256: Optional[str] = None,
                                reservoir_size: Optional[int] = None,
                                seed: Optional[int] = None) -> Tuple[FeatureStatistics, bool]:
    """Return (statistics, was_cached); computes with ``compute()`` and stores on a miss.

    Entries are keyed by the extractor's and (when given) the data's sha256. A cached file
    without a usable feature sample is recomputed when ``require_features`` (KID, PRDC) asks
    for one.
    """
    path = reference_cache_path(cache_dir, dataset, split, count, extractor_sha256, data_sha256)
    expected = {"extractor_sha256": extractor_sha256, "data_sha256": data_sha256,
                "reservoir_size": reservoir_size, "seed": seed}
    if path.is_file():
        stats = FeatureStatistics.load(path)
        if _usable(stats, expected, require_features, count):
            return stats, True
    stats = compute()
    stats.metadata = {**stats.metadata, "dataset": dataset, "split": split, "count": int(count),
                      **{k: v for k, v in expected.items() if v is not None}}
    path.parent.mkdir(parents=True, exist_ok=True)
    stats.save(path)
    return stats, False
