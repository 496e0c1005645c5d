"""One streaming pass over image batches -> a flat dict of FID / KID / IS / PRDC plus settings.

Images are consumed batch by batch and dropped: per extractor we keep running
moments (FID), a bounded feature reservoir (KID, precision / recall / density /
coverage) and IS sums, never the images.  Every score is reported with what is
needed to reproduce or compare it: sample counts, the extractor's name and
weights sha256, the KID/IS/PRDC settings and the real data's source; and a
``warning`` when a sample count is below what published numbers use
(``guard_rails.py``).

Images are [0, 255] (uint8 or float).  A side whose float batches all lie in
(0, 1] is refused: that is the [0, 1] convention, and read as [0, 255] it
would give a silently wrong score.

Extractors are duck-typed: ``extractor(images) -> {'features': [B, D],
'logits': [B, C] (optional)}`` plus attributes ``key_prefix``, ``has_logits``,
``sha256`` and ``settings()``.  ``InceptionExtractor`` has prefix ``""`` (keys
``fid``, ``kid_mean``, ``is_mean``); ``DomainFeatureExtractor`` has prefix
``"domain_"`` (keys ``domain_fd``, ``domain_kid_mean``, ``domain_is_mean``)
so a domain score can never be mistaken for FID.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ssgan_tf.evaluation.metrics.frechet import frechet_distance
from ssgan_tf.evaluation.metrics.guard_rails import sample_size_warnings
from ssgan_tf.evaluation.metrics.inception_score import InceptionScoreAccumulator
from ssgan_tf.evaluation.metrics.kid import (
    DEFAULT_RESERVOIR_SIZE,
    FeatureReservoir,
    kernel_inception_distance,
)
from ssgan_tf.evaluation.metrics.prdc import K_DENSITY_COVERAGE, K_PRECISION_RECALL, prdc
from ssgan_tf.evaluation.metrics.statistics import FeatureStatistics, RunningMoments

SUPPORTED_METRICS: Tuple[str, ...] = ("fid", "kid", "is", "prdc")
PRDC_KEYS: Tuple[str, ...] = ("precision", "recall", "density", "coverage")
# Metrics that compare with the real side, and those that need feature rows (not only moments).
NEEDS_REAL = ("fid", "kid", "prdc")
NEEDS_ROWS = ("kid", "prdc")


def parse_metrics(metrics: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """'fid,kid' or ['fid', 'kid'] -> validated, de-duplicated tuple."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [m for m in names if m]
    unknown = sorted(set(names) - set(SUPPORTED_METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; supported: {', '.join(SUPPORTED_METRICS)}")
    if not names:
        raise ValueError(f"no metric requested; supported: {', '.join(SUPPORTED_METRICS)}")
    return tuple(dict.fromkeys(names))


def metric_keys(prefix: str) -> Dict[str, str]:
    """Output key names for one extractor ('' -> fid/kid_mean/..., 'domain_' -> domain_fd/...)."""
    keys = {"fid": "fid" if prefix == "" else f"{prefix}fd",
            "kid_mean": f"{prefix}kid_mean", "kid_std": f"{prefix}kid_std",
            "is_mean": f"{prefix}is_mean", "is_std": f"{prefix}is_std"}
    keys.update({k: f"{prefix}{k}" for k in PRDC_KEYS})
    return keys


class _PixelRange:
    """Whether a side's batches were all floats, and their largest value: a side of floats in
    (0, 1] is the [0, 1] convention, which the extractors would read as a nearly black set."""

    def __init__(self) -> None:
        self.all_float, self.high = True, 0.0

    def update(self, batch: np.ndarray) -> None:
        self.all_float &= bool(np.issubdtype(batch.dtype, np.floating))
        if self.all_float:
            self.high = max(self.high, float(np.max(batch)))

    def check(self, side: str) -> None:
        if self.all_float and 0.0 < self.high <= 1.0:
            raise ValueError(f"the {side} images are floats in [0, {self.high:g}]: that looks "
                             "like the [0, 1] convention, but the metrics read [0, 255] (uint8 "
                             "or float). Multiply by 255 (or pass uint8).")


class _SideAccumulator:
    """Streaming state of one extractor on one side (real or fake)."""

    def __init__(self, extractor: Any, reservoir_size: int, seed: int,
                 is_splits: Optional[int] = None, is_total: Optional[int] = None) -> None:
        self.extractor = extractor
        self.moments = RunningMoments()  # always: cheap next to the network, and saved with the stats
        self.reservoir = FeatureReservoir(reservoir_size, seed) if reservoir_size else None
        self.reservoir_size, self.seed = reservoir_size, seed
        self.inception_score = InceptionScoreAccumulator(is_splits, is_total) if is_splits else None
        self.count = 0

    def update(self, images: np.ndarray) -> None:
        out = self.extractor(images)
        feats = out["features"]
        self.count += feats.shape[0]
        self.moments.update(feats)
        if self.reservoir is not None:
            self.reservoir.update(feats)
        if self.inception_score is not None:
            self.inception_score.update(out["logits"])

    def statistics(self) -> FeatureStatistics:
        if self.count < 2:
            raise ValueError(f"need at least 2 images to estimate statistics, got {self.count}")
        metadata = {"extractor_sha256": self.extractor.sha256}
        if self.reservoir is not None:
            metadata.update(reservoir_size=int(self.reservoir_size), seed=int(self.seed))
        return FeatureStatistics(mu=self.moments.mean, sigma=self.moments.covariance, n=self.count,
                                 features=None if self.reservoir is None else self.reservoir.features.copy(),
                                 metadata=metadata)


def _as_list(extractor: Any) -> List[Any]:
    extractors = list(extractor) if isinstance(extractor, (list, tuple)) else [extractor]
    if not extractors or any(e is None for e in extractors):
        raise ValueError("an extractor is required (InceptionExtractor or DomainFeatureExtractor)")
    prefixes = [e.key_prefix for e in extractors]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"extractors must have distinct key prefixes, got {prefixes}")
    return extractors


def _stream(batches: Iterable[np.ndarray], accumulators: Sequence[_SideAccumulator],
            side: str = "fake") -> int:
    n, pixels = 0, _PixelRange()
    for batch in batches:
        batch = np.asarray(batch)
        if batch.shape[0] == 0:
            continue
        pixels.update(batch)
        for acc in accumulators:
            acc.update(batch)
        n += batch.shape[0]
    if n:
        pixels.check(side)
    return n


def compute_reference_statistics(real_batches: Iterable[np.ndarray], extractor: Any,
                                 kid_reservoir_size: int = DEFAULT_RESERVOIR_SIZE,
                                 seed: int = 0) -> FeatureStatistics:
    """Moments (+ a feature reservoir for KID / PRDC unless ``kid_reservoir_size=0``) of real
    images."""
    acc = _SideAccumulator(extractor, kid_reservoir_size, seed + 1)
    _stream(real_batches, [acc], "real")
    return acc.statistics()


def _check_request(wanted: Tuple[str, ...], extractors: List[Any], sources: int) -> None:
    if "is" in wanted:
        for e in extractors:
            if not e.has_logits:
                raise ValueError(f"Inception Score requested but the extractor '{e.name}' has no logits layer "
                                 "(the shipped .npz stops at pool_3): pass the TF graph (.pb/.tgz) or "
                                 "pytorch-fid's .pth, or drop 'is' from the metrics")
    if any(m in wanted for m in NEEDS_REAL) and sources != 1:
        raise ValueError("FID/KID/PRDC need exactly one real-data source: real_batches, "
                         f"reference_stats or reference_stats_path (got {sources})")


def _given_reference(extractors: List[Any], wanted: Tuple[str, ...], reference_stats_path,
                     reference_stats) -> Optional[List[FeatureStatistics]]:
    """The real side from statistics (a file or objects), checked against the extractors."""
    if reference_stats_path is not None:
        if len(extractors) != 1:
            raise ValueError("reference_stats_path holds statistics of one extractor; pass reference_stats "
                             "(one per extractor) or real_batches instead")
        real_stats = [FeatureStatistics.load(reference_stats_path)]
    elif reference_stats is not None:
        real_stats = [reference_stats] if isinstance(reference_stats, FeatureStatistics) else list(reference_stats)
        if len(real_stats) != len(extractors):
            raise ValueError(f"{len(real_stats)} reference statistics for {len(extractors)} extractors")
    else:
        return None
    for stats, e in zip(real_stats, extractors):
        recorded = stats.metadata.get("extractor_sha256")
        if recorded and recorded != e.sha256:
            raise ValueError(f"reference statistics were computed with extractor sha256 {recorded[:16]}..., "
                             f"not {e.sha256[:16]}... ('{e.name}'): recompute them with this extractor")
        for metric in NEEDS_ROWS:
            if metric in wanted and stats.features is None:
                raise ValueError(f"{metric.upper()} requested but the reference statistics hold no "
                                 "feature sample (only mu/sigma): pass real images instead, or "
                                 f"drop '{metric}'")
        if "fid" in wanted and stats.mu.shape[0] != e.feature_dim:
            raise ValueError(f"reference statistics have dimension {stats.mu.shape[0]}, "
                             f"extractor '{e.name}' gives {e.feature_dim}")
    return real_stats


def _scores(extractor: Any, fake: _SideAccumulator, real: Optional[FeatureStatistics],
            wanted: Tuple[str, ...], kid_subsets: int, kid_subset_size: int,
            seed: int) -> Dict[str, Any]:
    """The scores of one extractor, under its key names, with their settings."""
    keys, out = metric_keys(extractor.key_prefix), dict(extractor.settings())
    if "fid" in wanted:
        fake_stats = fake.statistics()
        out[keys["fid"]] = frechet_distance(fake_stats.mu, fake_stats.sigma, real.mu, real.sigma)
        out["fid_method"] = "eigh"
    if "kid" in wanted:
        mean, std, m = kernel_inception_distance(real.features, fake.reservoir.features,
                                                 kid_subsets, kid_subset_size, seed)
        out[keys["kid_mean"]], out[keys["kid_std"]] = mean, std
        out.update(kid_subsets=int(kid_subsets), kid_subset_size=int(m))
    if "prdc" in wanted:
        values = prdc(real.features, fake.reservoir.features)
        out.update({keys[k]: v for k, v in values.items()})
        out.update(prdc_k_precision_recall=K_PRECISION_RECALL,
                   prdc_k_density_coverage=K_DENSITY_COVERAGE,
                   prdc_n_real=int(real.features.shape[0]),
                   prdc_n_fake=int(fake.reservoir.features.shape[0]))
    if "is" in wanted:
        out[keys["is_mean"]], out[keys["is_std"]] = fake.inception_score.result()
        if hasattr(extractor, "is_logits"):
            out["is_logits"] = extractor.is_logits
    return out


def compute_metrics(
    fake_batches: Iterable[np.ndarray],
    real_batches: Optional[Iterable[np.ndarray]] = None,
    extractor: Any = None,
    metrics: Union[str, Sequence[str]] = ("fid", "kid", "is"),
    reference_stats_path: Optional["str | os.PathLike[str]"] = None,
    *,
    reference_stats: Optional[Union[FeatureStatistics, Sequence[FeatureStatistics]]] = None,
    num_fake: Optional[int] = None,
    is_splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    kid_reservoir_size: int = DEFAULT_RESERVOIR_SIZE,
    seed: int = 0,
    real_source: Optional[str] = None,
    real_split: Optional[str] = None,
) -> Dict[str, Any]:
    """Stream fake (and real) batches through the extractor(s) and return a flat dict.

    Real data comes from exactly one of ``real_batches`` (uint8/float [0,255]
    NHWC or NHW batches), ``reference_stats`` (one ``FeatureStatistics`` per
    extractor) or ``reference_stats_path`` (a saved statistics .npz, also
    TTUR's ``mu``/``sigma`` files; single extractor only; KID and PRDC
    additionally need the file's ``features``).  ``kid_reservoir_size`` bounds
    the feature rows kept per side for KID and PRDC.  ``num_fake``, when known,
    lets IS stream in O(splits x classes) memory.
    """
    wanted = parse_metrics(metrics)
    extractors = _as_list(extractor)
    _check_request(wanted, extractors,
                   sum(x is not None for x in (real_batches, reference_stats, reference_stats_path)))
    real_stats = _given_reference(extractors, wanted, reference_stats_path, reference_stats)
    reservoir = kid_reservoir_size if any(m in wanted for m in NEEDS_ROWS) else 0
    fake_acc = [_SideAccumulator(e, reservoir, seed,
                                 is_splits if "is" in wanted else None, num_fake) for e in extractors]
    n_fake = _stream(fake_batches, fake_acc, "fake")
    if n_fake == 0:
        raise ValueError("no fake images were given")
    if num_fake is not None and n_fake != num_fake:
        raise ValueError(f"declared num_fake={num_fake} but received {n_fake} images")
    need_real = any(m in wanted for m in NEEDS_REAL)
    if need_real and real_stats is None:
        real_acc = [_SideAccumulator(e, reservoir, seed + 1) for e in extractors]
        _stream(real_batches, real_acc, "real")
        real_stats = [acc.statistics() for acc in real_acc]

    result: Dict[str, Any] = {"n_fake": int(n_fake), "metrics": ",".join(wanted), "seed": int(seed)}
    if need_real:
        result.update(n_real=int(real_stats[0].n), real_split=real_split or "", real_source=(
            real_source or (os.fspath(reference_stats_path) if reference_stats_path else "")))
    result.update({"kid_reservoir_size": int(kid_reservoir_size)} if reservoir else {},
                  **({"is_splits": int(is_splits)} if "is" in wanted else {}))
    for index, (e, acc) in enumerate(zip(extractors, fake_acc)):
        result.update(_scores(e, acc, real_stats[index] if need_real else None, wanted,
                              kid_subsets, kid_subset_size, seed))
    warnings = sample_size_warnings(result, wanted, [e.key_prefix for e in extractors])
    if warnings:
        result["warning"] = " ".join(warnings)
    return result
