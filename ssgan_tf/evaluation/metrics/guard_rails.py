"""Guard rails: a `warning` in every metric JSON whose sample counts are below what published
numbers use, so a small-n score is never compared with a paper's silently.

Only the Inception scores (no key prefix) are compared with published numbers; domain scores
(`domain_fd`, ...) are comparable only between runs of one saved extractor anyway.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

# Sample counts of the published protocols (compare_gan / TTUR FID: 10k-50k; KID: 100 subsets
# of 1,000; IS: 50k images in 10 splits; precision / recall / density / coverage: 10k each).
FID_MIN_SAMPLES = 10_000
KID_MIN_SUBSET = 1_000
IS_MIN_SAMPLES = 50_000
PRDC_MIN_SAMPLES = 10_000


def sample_size_warnings(result: Dict[str, Any], wanted: Sequence[str],
                         prefixes: Sequence[str]) -> List[str]:
    """One sentence per metric of `wanted` whose counts in `result` are below the published
    protocol's (for the Inception extractor, key prefix "")."""
    if "" not in prefixes:
        return []
    out = []
    n_fake, n_real = result.get("n_fake", 0), result.get("n_real", 0)
    if "fid" in wanted and min(n_fake, n_real) < FID_MIN_SAMPLES:
        out.append(f"FID from {n_fake} generated and {n_real} real images (fewer than "
                   f"{FID_MIN_SAMPLES:,}) is biased upward (the bias shrinks as 1/n): compare it "
                   "only with FIDs at the same n, not with published numbers (10k-50k).")
    if "kid" in wanted and result.get("kid_subset_size", 0) < KID_MIN_SUBSET:
        out.append(f"KID from subsets of {result.get('kid_subset_size')} images (fewer than the "
                   f"published {KID_MIN_SUBSET:,}) is unbiased but noisier: compare kid_std.")
    if "is" in wanted and n_fake < IS_MIN_SAMPLES:
        out.append(f"IS from {n_fake} images (fewer than the published {IS_MIN_SAMPLES:,} in "
                   "10 splits) is not comparable with published numbers.")
    rows = min(result.get("prdc_n_real", 0), result.get("prdc_n_fake", 0))
    if "prdc" in wanted and rows < PRDC_MIN_SAMPLES:
        out.append(f"precision / recall / density / coverage from {result.get('prdc_n_real')} "
                   f"real and {result.get('prdc_n_fake')} generated feature rows (fewer than "
                   f"{PRDC_MIN_SAMPLES:,}) depend on n (the k-NN balls shrink as n grows): "
                   "compare them only at the same n.")
    return out
