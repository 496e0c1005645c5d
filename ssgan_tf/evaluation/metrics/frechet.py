"""Fréchet distance between two Gaussians, in float64, robust to singular covariances.

    d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr( (S1 S2)^{1/2} )

The trace term is where implementations differ.  ``S1 S2`` is not symmetric,
so pytorch-fid/TTUR call ``scipy.linalg.sqrtm`` on it, add ``eps * I`` when
the result is not finite and drop imaginary parts; with fewer samples than
feature dimensions (rank-deficient covariances) that Schur-based sqrtm is slow
and can return complex values with visible imaginary parts.

Default here (``method="eigh"``): with ``A = S1^{1/2}`` and ``B = S1^{1/2} S2``,
``S1 S2 = AB`` has the same eigenvalues as ``BA = M = S1^{1/2} S2 S1^{1/2}``,
a symmetric PSD matrix, so ``tr((S1 S2)^{1/2}) = sum(sqrt(eig(M)))``.  Two
symmetric eigendecompositions give it exactly up to float64 rounding, always
real (tiny negative eigenvalues from rounding are clipped to 0), also for
singular covariances, and without any eps offset.
``method="sqrtm"`` reproduces pytorch-fid's formula for comparison.

The eigendecompositions run with a single BLAS thread when ``threadpoolctl``
is installed: OpenBLAS's multi-threaded ``syevd`` slows down >10x when the
cores are busy (e.g. a training job beside the evaluation), while one thread
takes ~1.5 s for 2048-d features either way.
"""

from __future__ import annotations

from typing import ContextManager, Tuple

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits


def _single_blas_thread() -> ContextManager:
    return threadpool_limits(limits=1, user_api="blas")


def _as_stats(mu: np.ndarray, sigma: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f"mean {mu.shape} and covariance {sigma.shape} shapes do not match")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError("statistics contain NaN or inf")
    return mu, sigma


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a (numerically) PSD matrix; negative eigenvalues -> 0."""
    sym = (sigma + sigma.T) * 0.5
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^{1/2}) = sum sqrt(eig(S1^{1/2} S2 S1^{1/2})) for PSD S1, S2."""
    root1 = _psd_sqrt(sigma1)
    m = root1 @ ((sigma2 + sigma2.T) * 0.5) @ root1
    values = np.linalg.eigvalsh((m + m.T) * 0.5)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def _trace_sqrt_scipy(sigma1: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6) -> float:
    """pytorch-fid's formulation (scipy.linalg.sqrtm + eps fallback + real part)."""

    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     method: str = "eigh") -> float:
    """Fréchet (2-Wasserstein) distance² between N(mu1, sigma1) and N(mu2, sigma2); FID when
    the statistics are Inception pool_3 moments.  Returns a finite float >= 0 (up to rounding)."""
    mu1, sigma1 = _as_stats(mu1, sigma1)
    mu2, sigma2 = _as_stats(mu2, sigma2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape[0]} vs {mu2.shape[0]}")
    if method == "eigh":
        with _single_blas_thread():
            tr_covmean = trace_sqrt_product(sigma1, sigma2)
    elif method == "sqrtm":
        tr_covmean = _trace_sqrt_scipy(sigma1, sigma2)
    else:
        raise ValueError(f"method must be 'eigh' or 'sqrtm', got {method!r}")
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def mean_and_covariance(activations: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """float64 mean and unbiased (ddof=1) covariance of [N, D] activations, as np.cov."""
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"need [N >= 2, D] activations, got shape {a.shape}")
    mu = a.mean(axis=0)
    centered = a - mu
    return mu, centered.T @ centered / (a.shape[0] - 1)


def frechet_distance_from_activations(a1: np.ndarray, a2: np.ndarray, method: str = "eigh") -> float:
    """Fréchet distance between the Gaussians fitted to two [N, D] activation sets."""
    mu1, s1 = mean_and_covariance(a1)
    mu2, s2 = mean_and_covariance(a2)
    return frechet_distance(mu1, s1, mu2, s2, method=method)
