"""FID / KID / IS / PRDC of images, an exported generator or a checkpoint (`python -m
ssgan_tf.evaluate`; see ssgan_tf/evaluate.py for the command line).

Everything goes through one streaming pass (``compute_metrics``); the JSON records n_real,
n_fake, the real source and split, the pixel range found in each image file, the extractor's
name and weights sha256 next to every score, and a ``warning`` when a count is below the
published protocol's.

The reference side is cached: its statistics and feature sample are written to
``--cache_dir`` (default: ``$SSGAN_TF_CACHE_DIR``, else ``~/.cache/ssgan_tf/reference``), keyed
by the sha256 of the reference images and of the extractor's weights, so evaluating again
against the same reference extracts only the generated side. ``--cache_dir=none`` turns it off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from ssgan_tf.common.progress import Progress
from ssgan_tf.evaluation.images import (
    EvaluationError,
    batches,
    is_stats_file,
    load_image_npz,
)
from ssgan_tf.evaluation.metrics.domain import DomainFeatureExtractor
from ssgan_tf.evaluation.metrics.evaluation import (
    NEEDS_REAL,
    NEEDS_ROWS,
    compute_metrics,
    compute_reference_statistics,
    parse_metrics,
)
from ssgan_tf.evaluation.metrics.inception import InceptionExtractor
from ssgan_tf.evaluation.metrics.statistics import (
    FeatureStatistics,
    cached_reference_statistics,
    reference_cache_path,
)
from ssgan_tf.evaluation.samplers import checkpoint_sampler, module_sampler

__all__ = ["EvalConfig", "EvaluationError", "default_cache_dir", "run"]

NO_CACHE = ("none", "off", "false", "0")


@dataclasses.dataclass
class EvalConfig:
    """All options of the CLI (flags map 1:1 onto these fields)."""

    images: str = ""
    module: str = ""
    model_dir: str = ""
    reference: str = ""
    metrics: str = "fid,kid"
    inception: str = ""
    domain_extractor: str = ""
    num_samples: int = 10000
    batch_size: int = 64
    seed: int = 42
    real_split: Optional[str] = None
    num_real: int = 0
    output: str = ""
    is_splits: int = 10
    is_logits: str = "unbiased"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_reservoir_size: int = 10000
    cache_dir: str = ""
    quantize: bool = True


@dataclasses.dataclass
class _Reference:
    """The real side: images (with their sha256) or a statistics file."""

    images: Optional[np.ndarray] = None
    split: str = ""
    pixels: str = ""
    sha256: str = ""
    stats_path: Optional[str] = None


def default_cache_dir() -> str:
    """``$SSGAN_TF_CACHE_DIR``, else ``$XDG_CACHE_HOME/ssgan_tf/reference``, else
    ``~/.cache/ssgan_tf/reference``."""
    if os.environ.get("SSGAN_TF_CACHE_DIR"):
        return os.environ["SSGAN_TF_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ssgan_tf", "reference")


def images_sha256(images: np.ndarray) -> str:
    """sha256 of an image array's dtype, shape and bytes (the reference cache key)."""
    digest = hashlib.sha256(f"{images.dtype.str}{images.shape}".encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


# --------------------------------------------------------------------------- inputs
def _check_config(config: EvalConfig) -> Tuple[str, ...]:
    try:
        wanted = parse_metrics(config.metrics)
    except ValueError as exc:
        raise EvaluationError(f"--metrics: {exc}") from None
    sources = [name for name in ("images", "module", "model_dir") if getattr(config, name)]
    if len(sources) != 1:
        raise EvaluationError("pass exactly one of --images (npz of generated images), --module (exported "
                              f"generator) or --model_dir (checkpoint); got {len(sources) or 'none'}")
    if config.batch_size < 1:
        raise EvaluationError(f"--batch_size must be >= 1, got {config.batch_size}")
    return wanted


def _reference(config: EvalConfig, wanted: Tuple[str, ...]) -> Optional[_Reference]:
    if not any(m in wanted for m in NEEDS_REAL):
        return None
    if not config.reference:
        raise EvaluationError("FID/KID/PRDC need --reference (npz of real images, or a statistics npz)")
    if is_stats_file(config.reference):
        return _Reference(split=config.real_split or "stats", stats_path=config.reference)
    images, split, pixels = load_image_npz(config.reference, "reference", config.real_split)
    if config.num_real > 0:
        images = images[:config.num_real]
    if images.shape[0] < 2:
        raise EvaluationError(f"--reference has {images.shape[0]} image(s); FID/KID/PRDC need at least 2")
    return _Reference(images, split, pixels, images_sha256(images))


def _build_extractors(config: EvalConfig, wanted: Tuple[str, ...]) -> List[Any]:
    extractors: List[Any] = []
    if config.inception:
        if not os.path.isfile(config.inception):
            raise EvaluationError(f"--inception weights file not found: '{config.inception}' "
                                  "(.npz, classify_image_graph_def.pb, inception-2015-12-05.tgz or "
                                  "pt_inception-2015-12-05-6726825d.pth)")
        extractors.append(InceptionExtractor.from_path(config.inception, batch_size=config.batch_size,
                                                       is_logits=config.is_logits))
        if "is" in wanted and not extractors[0].has_logits:
            raise EvaluationError(
                f"IS requested but the Inception weights '{config.inception}' have no logits layer "
                "(the project's .npz stops at pool_3): pass classify_image_graph_def.pb, "
                "inception-2015-12-05.tgz or pytorch-fid's .pth with --inception, or drop 'is' from --metrics")
    if config.domain_extractor:
        extractors.append(DomainFeatureExtractor.load(config.domain_extractor, batch_size=max(config.batch_size, 256)))
    if not extractors:
        raise EvaluationError("no feature extractor: pass --inception=PATH (FID Inception weights) "
                              "and/or --domain_extractor=PATH")
    return extractors


def _fake_side(config: EvalConfig, images: Optional[np.ndarray]
               ) -> Tuple[Iterator[np.ndarray], int, str]:
    """(batches of generated images in [0, 255], how many, where they come from)."""
    if images is not None:
        return batches(images, config.batch_size), images.shape[0], config.images
    if config.module:
        return (module_sampler(config.module, config.num_samples, config.batch_size,
                               config.seed, config.quantize), config.num_samples, config.module)
    return (checkpoint_sampler(config.model_dir, config.num_samples, config.batch_size,
                               config.seed, config.quantize), config.num_samples, config.model_dir)


# --------------------------------------------------------------------------- evaluation
def _counted(items: Iterable[np.ndarray], total: int, description: str) -> Iterator[np.ndarray]:
    """Yields the batches, advancing a progress bar (on a terminal) as each one is consumed."""
    with Progress(total, description, unit="img") as bar:
        for batch in items:
            yield batch
            bar.update(len(batch))


def _cache_dir(config: EvalConfig) -> Optional[str]:
    if config.cache_dir.lower() in NO_CACHE:
        return None
    return config.cache_dir or default_cache_dir()


def _reference_statistics(config: EvalConfig, reference: _Reference, extractors: List[Any],
                          wanted: Tuple[str, ...]) -> Tuple[List[FeatureStatistics], Dict]:
    """The reference side's statistics per extractor, from the cache when it has them."""
    cache_dir, capacity = _cache_dir(config), config.kid_reservoir_size
    dataset = os.path.splitext(os.path.basename(config.reference))[0]
    n = reference.images.shape[0]
    stats, hits = [], []
    for e in extractors:
        def compute(e=e) -> FeatureStatistics:
            real = _counted(batches(reference.images, config.batch_size), n,
                            "evaluate: reference images")
            return compute_reference_statistics(real, e, capacity, config.seed)

        if cache_dir is None:
            stats.append(compute())
            continue
        found, hit = cached_reference_statistics(
            cache_dir, dataset, reference.split, n, e.sha256, compute,
            require_features=any(m in wanted for m in NEEDS_ROWS),
            data_sha256=reference.sha256, reservoir_size=capacity, seed=config.seed + 1)
        stats.append(found)
        hits.append(hit)
    info: Dict[str, Any] = {"reference_sha256": reference.sha256}
    if hits:
        info["reference_cache_hit"] = all(hits)
        info["reference_cache"] = str(reference_cache_path(
            cache_dir, dataset, reference.split, n, extractors[0].sha256, reference.sha256))
    return stats, info


def run(config: EvalConfig) -> Dict[str, Any]:
    """Validate inputs, evaluate, write ``config.output`` (if set) and return the result dict."""
    wanted = _check_config(config)
    # Validate all file inputs before the (slow) network is built.
    fake_images, fake_pixels = None, ""
    if config.images:
        fake_images, _, fake_pixels = load_image_npz(config.images, "images")
    reference = _reference(config, wanted)
    extractors = _build_extractors(config, wanted)
    fake_batches, n_fake, fake_source = _fake_side(config, fake_images)
    reference_stats, extra = None, {}
    if reference is not None and reference.images is not None:
        reference_stats, extra = _reference_statistics(config, reference, extractors, wanted)
    result = compute_metrics(
        _counted(fake_batches, n_fake, "evaluate: generated images"), None,
        extractors if len(extractors) > 1 else extractors[0], metrics=wanted,
        reference_stats_path=reference.stats_path if reference else None,
        reference_stats=reference_stats, num_fake=n_fake, is_splits=config.is_splits,
        kid_subsets=config.kid_subsets, kid_subset_size=config.kid_subset_size,
        kid_reservoir_size=config.kid_reservoir_size, seed=config.seed,
        real_source=config.reference if reference else None,
        real_split=reference.split if reference else None)
    result.update(fake_source=fake_source, **extra)
    if fake_pixels:
        result["images_pixels"] = fake_pixels
    if reference is not None and reference.pixels:
        result["reference_pixels"] = reference.pixels
    if config.module:
        result.update(quantize=bool(config.quantize), sampling="z~U[-1,1]")
    if config.output:
        _write(result, config.output)
    return result


def _write(result: Dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


def summary_lines(result: Dict[str, Any]) -> List[str]:
    """What the CLI prints besides the JSON: the scores with their n, pixel notes, warnings."""
    names = [k for k in ("fid", "kid_mean", "is_mean", "precision", "recall", "density",
                         "coverage", "domain_fd", "domain_kid_mean") if k in result]
    scores = ", ".join(f"{k.replace('_mean', '')} {result[k]:.4g}" for k in names)
    counts = f"n_fake {result['n_fake']}" + (f", n_real {result['n_real']}"
                                              if "n_real" in result else "")
    extractor = result.get("extractor") or result.get("domain_extractor", "")
    lines = [f"{scores} ({counts}; {extractor})"]
    for key in ("images_pixels", "reference_pixels"):
        if "scaled" in result.get(key, ""):
            lines.append(f"note: --{key.split('_')[0]} holds {result[key]} (the metrics read "
                         "[0, 255])")
    if "warning" in result:
        lines.append(f"warning: {result['warning']}")
    return lines
