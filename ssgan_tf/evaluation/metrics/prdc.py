"""Precision / recall (Kynkaanniemi et al. 2019) and density / coverage (Naeem et al. 2020) of
generated features against real ones, with k-nearest-neighbour balls.

Each real feature x_i gets the radius r_k(x_i): the distance to its k-th nearest other real
feature (likewise for fake features). With M fake features y_j and N real ones:

    precision = 1/M sum_j  1[exists i: |y_j - x_i| <= r_3(x_i)]    (fakes on the real manifold)
    recall    = 1/N sum_i  1[exists j: |x_i - y_j| <= r_3(y_j)]    (reals on the fake manifold)
    density   = 1/(5M) sum_j sum_i 1[|y_j - x_i| < r_5(x_i)]       (how many real balls, /k)
    coverage  = 1/N sum_i  1[min_j |x_i - y_j| < r_5(x_i)]         (real balls hit by a fake)

k = 3 for precision / recall and k = 5 for density / coverage, as the papers recommend; closed
balls for precision / recall and open ones for density / coverage, as the authors' code
(NVlabs' `precision_recall.py`, clovaai's `prdc`), which differ only for tied distances.

Why batched: 50k x 50k float64 distances are 20 GB. Distances are computed block by block (real
rows against all reals, fake rows against all fakes, real rows against all fakes), each block
about `block_elements` entries, and reduced at once; memory is the features plus one block.
"""

from __future__ import annotations

from typing import Dict, Iterator, Tuple

import numpy as np

K_PRECISION_RECALL = 3
K_DENSITY_COVERAGE = 5
BLOCK_ELEMENTS = 1 << 23  # 8M distances (64 MB in float64) per block


def _row_blocks(n_rows: int, n_cols: int, block_elements: int) -> Iterator[slice]:
    step = max(1, block_elements // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _as_rows(features: np.ndarray) -> np.ndarray:
    """float32 features stay float32 (50k x 2048 is 400 MB; 800 MB in float64); float64 stays."""
    x = np.asarray(features)
    return x.astype(np.result_type(x.dtype, np.float32), copy=False)


def _norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x, dtype=np.float64)


def _squared_distances(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray,
                       b_norms: np.ndarray) -> np.ndarray:
    """|a_i - b_j|^2 (float64) for a block of rows a against all rows b, clipped at 0."""
    d2 = a_norms[:, None] + b_norms[None, :] - 2.0 * (a @ b.T).astype(np.float64)
    return np.maximum(d2, 0.0)


def kth_neighbour_radii(features: np.ndarray, ks: Tuple[int, ...],
                        block_elements: int = BLOCK_ELEMENTS) -> Dict[int, np.ndarray]:
    """{k: squared distance from each row to its k-th nearest *other* row}."""
    x = _as_rows(features)
    n = x.shape[0]
    if n <= max(ks):
        raise ValueError(f"k-nearest-neighbour radii with k = {max(ks)} need more than "
                         f"{max(ks)} feature rows, got {n}")
    norms = _norms(x)
    radii = {k: np.empty(n) for k in ks}
    for rows in _row_blocks(n, n, block_elements):
        d2 = _squared_distances(x[rows], x, norms[rows], norms)
        d2[np.arange(d2.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # self, exactly
        # Index k of the sorted row: the self distance 0 sits at index 0.
        part = np.partition(d2, list(ks), axis=1)
        for k in ks:
            radii[k][rows] = part[:, k]
    return radii


def prdc(real_features: np.ndarray, fake_features: np.ndarray,
         k_precision_recall: int = K_PRECISION_RECALL,
         k_density_coverage: int = K_DENSITY_COVERAGE,
         block_elements: int = BLOCK_ELEMENTS) -> Dict[str, float]:
    """{"precision", "recall", "density", "coverage"} of fake against real feature rows."""
    real, fake = _as_rows(real_features), _as_rows(fake_features)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature arrays must be [N, D] with equal D, got {real.shape} and "
                         f"{fake.shape}")
    k_pr, k_dc = k_precision_recall, k_density_coverage
    real_radii = kth_neighbour_radii(real, tuple(sorted({k_pr, k_dc})), block_elements)
    fake_radii = kth_neighbour_radii(fake, (k_pr,), block_elements)[k_pr]
    real_norms, fake_norms = _norms(real), _norms(fake)
    on_real_manifold = np.zeros(len(fake), bool)   # precision, per fake
    real_balls_hit = np.zeros(len(fake), np.int64)  # density, per fake
    recalled = np.zeros(len(real), bool)
    covered = np.zeros(len(real), bool)
    for rows in _row_blocks(len(real), len(fake), block_elements):
        d2 = _squared_distances(real[rows], fake, real_norms[rows], fake_norms)
        on_real_manifold |= (d2 <= real_radii[k_pr][rows, None]).any(axis=0)
        real_balls_hit += (d2 < real_radii[k_dc][rows, None]).sum(axis=0)
        recalled[rows] = (d2 <= fake_radii[None, :]).any(axis=1)
        covered[rows] = d2.min(axis=1) < real_radii[k_dc][rows]
    return {"precision": float(on_real_manifold.mean()), "recall": float(recalled.mean()),
            "density": float(real_balls_hit.sum() / (k_dc * len(fake))),
            "coverage": float(covered.mean())}
