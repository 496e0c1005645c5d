"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a cubic kernel.

    k(x, y) = (xᵀy / d + 1)³

averaged over ``num_subsets`` random subsets of ``subset_size`` rows of each
side (defaults 100 x 1000, as torch-fidelity / the reference MMD-GAN code;
the size is capped at the smaller sample count).  Returns mean and std
(ddof=0) over subsets.  Computations are float64 and seeded.

Unlike FID, KID needs feature *rows*, not moments.  To stay streaming,
``FeatureReservoir`` keeps a bounded uniform random sample of the rows seen
(reservoir sampling, Algorithm R): with capacity >= the number of samples it
keeps them all (exact KID); beyond that, subsets are drawn from a uniform
sample of all rows, so each subset is still a uniform random subset of the
whole stream and the estimator stays unbiased; only the subsets' overlap
grows.  Default capacity 10,000 rows (80 MB for 2048-d float32 features).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

DEFAULT_RESERVOIR_SIZE = 10_000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x yᵀ / d + 1)³ in float64."""
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² estimate between two equally sized row sets (diagonals excluded)."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"need two row sets of equal size >= 2, got {x.shape[0]} and {y.shape[0]}")
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(real_features: np.ndarray, fake_features: np.ndarray, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> Tuple[float, float, int]:
    """Return (kid_mean, kid_std, effective_subset_size)."""
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature arrays must be [N, D] with equal D, got {real.shape} and {fake.shape}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    m = min(int(subset_size), real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {real.shape[0]} and {fake.shape[0]}")
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std()), m


class FeatureReservoir:
    """Bounded uniform random sample of streamed feature rows (reservoir sampling)."""

    def __init__(self, capacity: int = DEFAULT_RESERVOIR_SIZE, seed: int = 0) -> None:
        if capacity < 2:
            raise ValueError(f"reservoir capacity must be >= 2, got {capacity}")
        self.capacity = int(capacity)
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._rows: Optional[np.ndarray] = None
        self._filled = 0

    def update(self, batch: np.ndarray) -> None:
        x = np.asarray(batch)
        if x.ndim != 2:
            raise ValueError(f"expected a [B, D] batch, got shape {x.shape}")
        if self._rows is None:  # keep the features' own precision (float32 from the networks)
            self._rows = np.empty((self.capacity, x.shape[1]), np.result_type(x.dtype, np.float32))
        elif x.shape[1] != self._rows.shape[1]:
            raise ValueError(f"feature dimension changed from {self._rows.shape[1]} to {x.shape[1]}")
        take = min(self.capacity - self._filled, x.shape[0])
        if take:
            self._rows[self._filled:self._filled + take] = x[:take]
            self._filled += take
        rest = x[take:]
        if rest.shape[0]:
            # Item with 0-based stream index t replaces slot j ~ U{0..t} when j < capacity.
            indices = self.seen + take + np.arange(rest.shape[0])
            slots = self._rng.integers(0, indices + 1)
            for row, slot in zip(rest[slots < self.capacity], slots[slots < self.capacity]):
                self._rows[slot] = row  # sequential: a later row wins a slot hit twice
        self.seen += x.shape[0]

    @property
    def features(self) -> np.ndarray:
        if self._rows is None:
            return np.zeros((0, 0), np.float32)
        return self._rows[:self._filled]
