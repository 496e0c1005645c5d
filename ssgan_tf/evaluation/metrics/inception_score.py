"""Inception Score (Salimans et al. 2016) from classifier logits.

    IS = exp( E_x KL(p(y|x) || p(y)) ),  p(y|x) = softmax(logits),  p(y) = mean over the split

computed on ``splits`` contiguous chunks (``i*N//splits`` boundaries, as the
original code and torch-fidelity; default 10, compare_gan used 1), returning
mean and std (ddof=0) over chunks.  float64 throughout; log-probabilities come
from a log-softmax so confident predictions never take log(0).

Streaming: per chunk, mean_x KL = mean_x Σ_y p log p − Σ_y p̄ log p̄, so
``InceptionScoreAccumulator`` needs only per-chunk sums (O(splits × classes)
memory) when the total count is known up front; otherwise it keeps the
logits (4 KB per sample for 1008 float32 logits) and computes exactly at the end.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _split_bounds(n: int, splits: int) -> np.ndarray:
    return np.array([k * n // splits for k in range(splits + 1)])


def _score_from_sums(count: float, sum_p: np.ndarray, sum_plogp: float) -> float:
    p_y = sum_p / count
    log_p_y = np.log(np.where(p_y > 0, p_y, 1.0))
    return float(np.exp(sum_plogp / count - np.dot(p_y, log_p_y)))


def inception_score(logits: np.ndarray, splits: int = 10) -> Tuple[float, float]:
    """(mean, std) of the Inception Score of [N, C] logits over ``splits`` chunks."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"expected [N, C >= 2] logits, got shape {logits.shape}")
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need at least one sample per split: N={n}, splits={splits}")
    bounds = _split_bounds(n, splits)
    scores = []
    for k in range(splits):
        log_p = _log_softmax(logits[bounds[k]:bounds[k + 1]])
        p = np.exp(log_p)
        scores.append(_score_from_sums(p.shape[0], p.sum(axis=0), float((p * log_p).sum())))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScoreAccumulator:
    """Streaming IS; pass ``total`` (the final sample count) for O(splits×C) memory."""

    def __init__(self, splits: int = 10, total: Optional[int] = None) -> None:
        if splits < 1:
            raise ValueError(f"splits must be >= 1, got {splits}")
        if total is not None and total < splits:
            raise ValueError(f"need at least one sample per split: total={total}, splits={splits}")
        self.splits, self.total, self.seen = int(splits), total, 0
        self._bounds = _split_bounds(total, splits) if total is not None else None
        self._sum_p: Optional[np.ndarray] = None
        self._sum_plogp = np.zeros(self.splits)
        self._counts = np.zeros(self.splits)
        self._kept: List[np.ndarray] = []

    def update(self, logits: np.ndarray) -> None:
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"expected [B, C] logits, got shape {logits.shape}")
        if self._bounds is None:
            self._kept.append(np.array(logits, copy=True))  # as given: no precision loss
            self.seen += logits.shape[0]
            return
        if self.seen + logits.shape[0] > self.total:
            raise ValueError(f"more samples than the declared total {self.total}")
        if self._sum_p is None:
            self._sum_p = np.zeros((self.splits, logits.shape[1]))
        index = self.seen + np.arange(logits.shape[0])
        chunk = np.searchsorted(self._bounds, index, side="right") - 1
        log_p = _log_softmax(logits)
        p = np.exp(log_p)
        plogp = (p * log_p).sum(axis=1)
        for k in np.unique(chunk):
            sel = chunk == k
            self._sum_p[k] += p[sel].sum(axis=0)
            self._sum_plogp[k] += plogp[sel].sum()
            self._counts[k] += sel.sum()
        self.seen += logits.shape[0]

    def result(self) -> Tuple[float, float]:
        if self._bounds is None:
            if not self._kept:
                raise ValueError("no logits accumulated")
            return inception_score(np.concatenate(self._kept), self.splits)
        if self.seen != self.total:
            raise ValueError(f"declared {self.total} samples but received {self.seen}")
        scores = [_score_from_sums(self._counts[k], self._sum_p[k], self._sum_plogp[k]) for k in range(self.splits)]
        return float(np.mean(scores)), float(np.std(scores))
