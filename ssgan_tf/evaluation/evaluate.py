"""FID / KID / IS of images, an exported generator or a checkpoint (`python -m
ssgan_tf.evaluate`; see ssgan_tf/evaluate.py for the command line).

Everything goes through one streaming pass (``compute_metrics``); the JSON records n_real,
n_fake, the real source and split, and the extractor's name and weights sha256 next to every
score.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.evaluation.metrics.domain import DomainFeatureExtractor
from ssgan_tf.evaluation.metrics.evaluation import (
    compute_metrics,
    compute_reference_statistics,
    parse_metrics,
)
from ssgan_tf.evaluation.metrics.inception import InceptionExtractor
from ssgan_tf.evaluation.metrics.statistics import cached_reference_statistics
from ssgan_tf.runs.restore import load_gan

IMAGE_KEYS: Tuple[str, ...] = ("images", "x_train", "x_test")


class EvaluationError(SsganError):
    """Bad user input; reported as a single paragraph by the CLI."""


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


# --------------------------------------------------------------------------- image files
def _open_npz(path: str, role: str) -> np.lib.npyio.NpzFile:
    if not path:
        raise EvaluationError(f"--{role} is required")
    if not os.path.isfile(path):
        raise EvaluationError(f"{role} file not found: '{path}'")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise EvaluationError(f"cannot read {role} file '{path}' as .npz ({exc})") from None


def _check_images(array: np.ndarray, path: str, key: str) -> np.ndarray:
    shape = array.shape
    if not ((array.ndim == 3) or (array.ndim == 4 and shape[-1] in (1, 3))) or shape[0] < 1:
        raise EvaluationError(f"'{path}' key '{key}' has shape {shape}; expected uint8 images "
                              "[N,H,W,3] (RGB), [N,H,W,1] or [N,H,W] (grayscale) with N >= 1")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise EvaluationError(f"'{path}' key '{key}' has dtype {array.dtype}; expected uint8 or float in [0,255]")
    if array.dtype != np.uint8 and (array.min() < 0 or array.max() > 255 or not np.isfinite(array).all()):
        raise EvaluationError(f"'{path}' key '{key}' has values in [{array.min()}, {array.max()}]; "
                              "expected [0, 255] (scale [0,1] images by 255 first)")
    return array


def load_image_npz(path: str, role: str, split: Optional[str] = None) -> Tuple[np.ndarray, str]:
    """Return (images, split name). ``split`` picks ``x_<split>`` when present."""
    with _open_npz(path, role) as data:
        keys = list(data.files)
        order = ([f"x_{split}"] if split else []) + list(IMAGE_KEYS)
        key = next((k for k in order if k in keys), None)
        if key is None:
            raise EvaluationError(f"'{path}' has no image array: expected key 'images', 'x_train' or 'x_test' "
                                  f"(found: {', '.join(keys) or 'none'})")
        images = _check_images(data[key], path, key)
    name = split or (key[2:] if key.startswith("x_") else "train")
    return images, name


def _is_stats_file(path: str) -> bool:
    with _open_npz(path, "reference") as data:
        return "mu" in data.files and "sigma" in data.files


def _batches(images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, images.shape[0], batch_size):
        yield images[start:start + batch_size]


# --------------------------------------------------------------------------- generators
def _scalar_attr(module: Any, name: str) -> Optional[int]:
    value = getattr(module, name, None)
    if value is None:
        return None
    return int(value.numpy()) if hasattr(value, "numpy") else int(value)


def _load_module_sampler(path: str, num_samples: int, batch_size: int, seed: int,
                         quantize: bool) -> Iterator[np.ndarray]:
    """Validate an exported generator SavedModel and return a generator of image batches."""

    if not os.path.isdir(path):
        raise EvaluationError(f"generator module directory not found: '{path}' (expected an exported SavedModel)")
    try:
        module = tf.saved_model.load(path)
    except Exception as exc:  # TF raises several types for a broken SavedModel
        raise EvaluationError(f"cannot load the SavedModel at '{path}' ({exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    signature = getattr(module, "signatures", {}).get("serving_default")
    if signature is None:
        raise EvaluationError(f"the SavedModel at '{path}' has no 'serving_default' signature")
    inputs = signature.structured_input_signature[1]
    if "z" not in inputs:
        raise EvaluationError(f"the generator signature at '{path}' takes {sorted(inputs)}, not 'z'")
    z_dim = _scalar_attr(module, "z_dim") or inputs["z"].shape[-1]
    num_classes = _scalar_attr(module, "num_classes") or 0
    if not z_dim:
        raise EvaluationError(f"cannot tell z_dim of the generator at '{path}'")
    if num_classes > 0 and "labels" not in inputs:
        raise EvaluationError(f"generator at '{path}' has num_classes={num_classes} but no 'labels' input")
    if num_samples < 1:
        raise EvaluationError(f"--num_samples must be >= 1, got {num_samples}")
    rng = np.random.default_rng(seed)

    def generate() -> Iterator[np.ndarray]:
        remaining = num_samples
        while remaining > 0:
            b = min(batch_size, remaining)
            kwargs = {"z": tf.constant(rng.uniform(-1.0, 1.0, (b, z_dim)).astype(np.float32))}
            if num_classes > 0:
                kwargs["labels"] = tf.constant(rng.integers(0, num_classes, b).astype(np.int32))
            out = signature(**kwargs)
            if "images" not in out:
                raise EvaluationError(f"generator signature returned {sorted(out)}, expected key 'images'")
            images = np.asarray(out["images"].numpy(), np.float32)
            if images.ndim != 4 or images.shape[0] != b or images.shape[-1] not in (1, 3):
                raise EvaluationError(f"generator returned images of shape {images.shape}; "
                                      f"expected [{b},H,W,3] or [{b},H,W,1] in [0,1]")
            images = np.clip(images * 255.0, 0.0, 255.0)
            yield np.rint(images).astype(np.uint8) if quantize else images
            remaining -= b

    return generate()


def _load_checkpoint_sampler(model_dir: str, num_samples: int, batch_size: int, seed: int,
                             quantize: bool) -> Iterator[np.ndarray]:
    """Sample from the latest checkpoint of a training model_dir (the EMA generator when the
    model has one), with the model's own z distribution and uniform labels."""


    if num_samples < 1:
        raise EvaluationError(f"--num_samples must be >= 1, got {num_samples}")
    try:
        model, _ = load_gan(model_dir)
    except FileNotFoundError as exc:
        raise EvaluationError(str(exc)) from None
    generator = model.inference_generator()
    sample = tf.function(lambda z, y: generator(z, y, training=False))
    rng = np.random.default_rng(seed)

    def generate() -> Iterator[np.ndarray]:
        remaining = num_samples
        while remaining > 0:
            b = min(batch_size, remaining)
            if model.z_distribution == "uniform":
                z = rng.uniform(-1.0, 1.0, (b, model.z_dim))
            else:
                z = rng.normal(size=(b, model.z_dim))
            y = (tf.constant(rng.integers(0, model.num_classes, b).astype(np.int32))
                 if model.num_classes else None)
            images = np.clip(sample(tf.constant(z.astype(np.float32)), y).numpy() * 255.0,
                             0.0, 255.0)
            yield np.rint(images).astype(np.uint8) if quantize else images
            remaining -= b

    return generate()


# --------------------------------------------------------------------------- main logic
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


def run(config: EvalConfig) -> Dict[str, Any]:
    """Validate inputs, evaluate, write ``config.output`` (if set) and return the result dict."""

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

    # Validate all file inputs before the (slow) network is built.
    fake_images = None
    if config.images:
        fake_images, _ = load_image_npz(config.images, "images")
    need_real = "fid" in wanted or "kid" in wanted
    real_images, real_split, stats_path = None, config.real_split or "", None
    if need_real:
        if not config.reference:
            raise EvaluationError("FID/KID need --reference (npz of real images, or a statistics npz)")
        if _is_stats_file(config.reference):
            stats_path = config.reference
            real_split = config.real_split or "stats"
        else:
            real_images, real_split = load_image_npz(config.reference, "reference", config.real_split)
            if config.num_real > 0:
                real_images = real_images[:config.num_real]
            if real_images.shape[0] < 2:
                raise EvaluationError(f"--reference has {real_images.shape[0]} image(s); FID/KID need at least 2")

    extractors = _build_extractors(config, wanted)
    if config.images:
        fake_batches, n_fake, fake_source = _batches(fake_images, config.batch_size), fake_images.shape[0], config.images
    elif config.module:
        fake_batches = _load_module_sampler(config.module, config.num_samples, config.batch_size, config.seed,
                                            config.quantize)
        n_fake, fake_source = config.num_samples, config.module
    else:
        fake_batches = _load_checkpoint_sampler(config.model_dir, config.num_samples,
                                                config.batch_size, config.seed, config.quantize)
        n_fake, fake_source = config.num_samples, config.model_dir

    reference_stats = None
    cache_hits: List[bool] = []
    if real_images is not None and config.cache_dir:
        dataset = os.path.splitext(os.path.basename(config.reference))[0]
        reference_stats = []
        for e in extractors:
            stats, hit = cached_reference_statistics(
                config.cache_dir, dataset, real_split, real_images.shape[0], e.sha256,
                lambda e=e: compute_reference_statistics(_batches(real_images, config.batch_size), e,
                                                         config.kid_reservoir_size, config.seed),
                require_features="kid" in wanted)
            reference_stats.append(stats)
            cache_hits.append(hit)
        real_images = None

    result = compute_metrics(
        fake_batches,
        _batches(real_images, config.batch_size) if real_images is not None else None,
        extractors if len(extractors) > 1 else extractors[0],
        metrics=wanted,
        reference_stats_path=stats_path,
        reference_stats=reference_stats,
        num_fake=n_fake,
        is_splits=config.is_splits,
        kid_subsets=config.kid_subsets,
        kid_subset_size=config.kid_subset_size,
        kid_reservoir_size=config.kid_reservoir_size,
        seed=config.seed,
        real_source=config.reference if need_real else None,
        real_split=real_split if need_real else None,
    )
    result["fake_source"] = fake_source
    if config.module:
        result.update(quantize=bool(config.quantize), sampling="z~U[-1,1]")
    if cache_hits:
        result["reference_cache_hit"] = all(cache_hits)
    if config.output:
        directory = os.path.dirname(os.path.abspath(config.output))
        os.makedirs(directory, exist_ok=True)
        with open(config.output, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")
    return result
