"""A training hook recording sample quality and rotation accuracy over training.

Every `every` G steps (and at the last step) it draws `num_samples` images from the inference
generator (a fixed z, the same at every evaluation, quantized to uint8 as saved images are) and
reports, against `num_real` real images of the training dataset:
- `eval/fid`, `eval/kid` with the real 2015 FID Inception network (`inception`: a local weights
  file; skipped when not given), reference statistics cached in `cache_dir`;
- `eval/domain_fd`, `eval/domain_kid` with a small classifier trained on the dataset
  (`domain_extractor`: a `.keras` file from `DomainFeatureExtractor.save`; skipped when not given).
  Not FID: comparable only between runs that use the same saved extractor;
- with `metrics` including "prdc": `eval/precision`, `eval/recall` (Kynkaanniemi et al. 2019,
  k = 3), `eval/density`, `eval/coverage` (Naeem et al. 2020, k = 5) in the same features;
- `eval/rotation_accuracy_real`, `eval/rotation_accuracy_fake`: D's rotation head (inference
  mode) on `rotation_examples` real images and as many samples, each in all four orientations
  (`gans.ssgan.rotation_accuracy`; a D that projects labels gets the images' labels). For a
  model trained without the rotation task (`RotationTask.mode = "none"`) the head is untrained
  and this is chance (0.25).
- `eval/d_logit_train`, `eval/d_logit_heldout`, `eval/d_logit_gap`: D's mean GAN logit on
  `rotation_examples` training reals and as many held-out reals, and their difference (the
  overfitting signal, `evaluation.overfitting`). Held out (`heldout_split="auto"`): the split
  `heldout` of a run with `train.max_train_examples`, else `test`; none, no gap.

Why a hook: the SSGAN paper compares FID *over training*; the study (`experiments.study`) reads
`model_dir/eval/metrics_curve.json` (one record per step, also redrawn as metrics_curve.png).

FID from a few thousand images is biased upward (the bias shrinks as 1/n): compare runs only at
equal `num_samples` / `num_real`. KID is unbiased. All counts and the extractors' sha256 are
recorded with every score, and the curve's settings carry the `warning` of `compute_metrics` when
the counts are below the published protocols'. The hook computes on the chief only (no
collectives).
"""

from __future__ import annotations

import os
import time

import gin
import numpy as np
import tensorflow as tf

from ssgan_tf.data import HELDOUT
from ssgan_tf.evaluation.metrics import (
    DomainFeatureExtractor,
    InceptionExtractor,
    cached_reference_statistics,
    compute_metrics,
    compute_reference_statistics,
    parse_metrics,
)
from ssgan_tf.evaluation.metrics.evaluation import PRDC_KEYS
from ssgan_tf.evaluation.overfitting import logit_gap
from ssgan_tf.evaluation.probe_hook import append_record, plot_curves
from ssgan_tf.gans.sampling import fixed_z
from ssgan_tf.gans.ssgan import rotation_accuracy

HOOK_METRICS = ("fid", "kid", "prdc")
# Scalars of compute_metrics' result the hook reports (kid_mean is reported as kid).
REPORTED = ("fid", "kid_mean", "domain_fd", "domain_kid_mean", *PRDC_KEYS,
            *(f"domain_{k}" for k in PRDC_KEYS))


def _to_uint8(images) -> np.ndarray:
    return np.rint(np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def real_images(spec, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` images (uint8 NHWC) and labels of a split of a registry dataset."""
    xs, ys = [], []
    for batch in spec(split).take(n).batch(500):
        xs.append(_to_uint8(batch["images"].numpy()))
        ys.append(batch["labels"].numpy())
    if not xs:
        raise ValueError(f"Dataset {spec.name!r} split {split!r} is empty.")
    return np.concatenate(xs), np.concatenate(ys)


@gin.configurable
class MetricsHook:
    """Every `every` G steps: FID / KID (Inception), domain FD / KID and rotation accuracy."""

    def __init__(self, every: int = 500, inception: str | None = None,
                 domain_extractor: str | None = None, inception_every: int | None = None,
                 num_samples: int = 1000,
                 num_real: int | None = None, real_split: str = "train",
                 rotation_examples: int = 256, cache_dir: str | None = None,
                 kid_subset_size: int = 500, kid_subsets: int = 50, batch_size: int = 100,
                 seed: int = 1234, plot: bool = True, metrics=("fid", "kid"),
                 heldout_split: str | None = "auto"):
        self.metrics = parse_metrics(metrics)
        if set(self.metrics) - set(HOOK_METRICS):
            raise ValueError(f"MetricsHook.metrics={list(metrics)}: the hook computes a subset "
                             f"of {list(HOOK_METRICS)}.")
        if every < 1 or num_samples < 2:
            raise ValueError(f"MetricsHook: every={every} must be >= 1 and num_samples="
                             f"{num_samples} >= 2.")
        for name, path in (("inception", inception), ("domain_extractor", domain_extractor)):
            if path and not os.path.isfile(path):
                raise ValueError(f"MetricsHook.{name}={path!r} does not exist (relative paths "
                                 "are relative to the current directory).")
        if inception_every is not None and (inception_every < every or inception_every % every):
            raise ValueError(f"MetricsHook.inception_every={inception_every} must be a multiple "
                             f"of every={every}.")
        self.every = every
        self.inception_every = inception_every or every
        self.inception_path, self.domain_path = inception, domain_extractor
        self.num_samples = num_samples
        self.num_real = num_real or num_samples
        self.real_split = real_split
        self.heldout_split = heldout_split
        self.rotation_examples = rotation_examples
        self.cache_dir = cache_dir
        self.kid_subset_size = min(kid_subset_size, num_samples, self.num_real)
        self.kid_subsets = kid_subsets
        self.batch_size = batch_size
        self.seed = seed
        self.plot = plot
        self.seconds = 0.0
        self._extractors = None
        self._reference = None
        self._real_rotation = None
        self._real_labels = None
        self._warned = False

    # ----------------------------------------------------------------------- setup
    def _setup(self, context) -> None:

        extractors = []
        if self.inception_path:
            extractors.append(InceptionExtractor.from_path(self.inception_path,
                                                           batch_size=self.batch_size))
        if self.domain_path:
            extractors.append(DomainFeatureExtractor.load(self.domain_path))
        spec = context.spec
        real, labels = real_images(spec, self.real_split, self.num_real)
        self.num_real = len(real)
        cache_dir = self.cache_dir or os.path.join(context.model_dir, "eval", "cache")
        reference = []
        for extractor in extractors:
            def compute(e=extractor):
                return compute_reference_statistics(
                    (real[i:i + self.batch_size] for i in range(0, len(real), self.batch_size)),
                    e, kid_reservoir_size=len(real), seed=self.seed)
            stats, _ = cached_reference_statistics(cache_dir, spec.name, self.real_split,
                                                   len(real), extractor.sha256, compute,
                                                   require_features=True)
            reference.append(stats)
        self._extractors, self._reference = extractors, reference
        self._real_rotation = real[:self.rotation_examples].astype(np.float32) / 255.0
        self._real_labels = labels[:self.rotation_examples]
        self._heldout = None
        split = self._heldout_split(spec)
        if split is not None:
            heldout, heldout_labels = real_images(spec, split, self.rotation_examples)
            self._heldout = (heldout.astype(np.float32) / 255.0, heldout_labels)
        self.heldout_split = split

    def _heldout_split(self, spec) -> str | None:
        if self.heldout_split != "auto":
            if self.heldout_split is not None and self.heldout_split not in spec.splits:
                raise ValueError(f"MetricsHook.heldout_split={self.heldout_split!r}: dataset "
                                 f"{spec.name!r} has splits {spec.splits}.")
            return self.heldout_split
        if HELDOUT in spec.splits:
            return HELDOUT
        return "test" if "test" in spec.splits and self.real_split != "test" else None

    def sample_labels(self, model):
        """The labels of `samples` (i mod num_classes), or None for unconditional models."""
        if not model.num_classes:
            return None
        return np.arange(self.num_samples, dtype=np.int32) % model.num_classes

    def samples(self, model) -> np.ndarray:
        """`num_samples` uint8 images from a fixed z (the same at every evaluation)."""
        z = fixed_z(self.num_samples, model.z_dim, model.z_distribution, self.seed, stream=7)
        labels = self.sample_labels(model)
        generator = model.inference_generator()
        chunks = []
        for i in range(0, self.num_samples, self.batch_size):
            y = tf.constant(labels[i:i + self.batch_size]) if labels is not None else None
            images = generator(z[i:i + self.batch_size], y, training=False)
            chunks.append(_to_uint8(tf.cast(images, tf.float32).numpy()))
        return np.concatenate(chunks)

    # ------------------------------------------------------------------------ call
    def _scores(self, fake: np.ndarray, step: int | None) -> dict[str, float]:
        """FID / KID / PRDC of the extractors due at `step` (all when step is None)."""
        use = [i for i, e in enumerate(self._extractors)
               if e.key_prefix or step is None or step % self.inception_every == 0]
        if not use:
            return {}
        batches = [fake[i:i + self.batch_size] for i in range(0, len(fake), self.batch_size)]
        result = compute_metrics(batches, extractor=[self._extractors[i] for i in use],
                                 metrics=self.metrics,
                                 reference_stats=[self._reference[i] for i in use],
                                 kid_subsets=self.kid_subsets,
                                 kid_subset_size=self.kid_subset_size, seed=self.seed)
        keys = ("extractor_sha256", "domain_extractor_sha256", "kid_subset_size",
                "kid_subsets", "prdc_n_real", "prdc_n_fake", "warning")
        self.provenance = {**getattr(self, "provenance", {}),
                           **{k: result[k] for k in keys if k in result}}
        return {k.replace("_mean", ""): float(result[k]) for k in REPORTED if k in result}

    def evaluate(self, model, context, step: int | None = None) -> dict[str, float]:
        """The scalars of one evaluation of `model` (no files written)."""
        if self._extractors is None:
            self._setup(context)
        fake = self.samples(model)
        scalars = self._scores(fake, step)
        fake_rotation = fake[:self.rotation_examples].astype(np.float32) / 255.0
        fake_labels = self.sample_labels(model)
        scalars["rotation_accuracy_real"] = rotation_accuracy(
            model.discriminator, self._real_rotation, self._real_labels)
        scalars["rotation_accuracy_fake"] = rotation_accuracy(
            model.discriminator, fake_rotation,
            None if fake_labels is None else fake_labels[:self.rotation_examples])
        if self._heldout is not None:
            scalars.update(logit_gap(model.discriminator, self._real_rotation, self._heldout[0],
                                     self._real_labels, self._heldout[1]))
        return scalars

    def __call__(self, step: int, context) -> dict[str, float]:
        if not context.chief:
            return {}
        start = time.time()
        scalars = self.evaluate(context.model, context, step)
        seconds = time.time() - start
        directory = os.path.join(context.model_dir, "eval")
        settings = {"dataset": context.spec.name, "num_samples": self.num_samples,
                    "num_real": self.num_real, "real_split": self.real_split,
                    "inception": os.path.basename(self.inception_path or "") or None,
                    "inception_every": self.inception_every,
                    "domain_extractor": os.path.basename(self.domain_path or "") or None,
                    "rotation_examples": self.rotation_examples, "z_seed": self.seed,
                    "heldout_split": self.heldout_split,
                    **getattr(self, "provenance", {})}
        records = append_record(os.path.join(directory, "metrics_curve.json"),
                                {"step": int(step), **scalars, "seconds": round(seconds, 2)},
                                settings)
        if self.plot:
            keys = [k for k in ("fid", "domain_fd") if k in scalars]
            if keys:
                plot_curves(records, keys, os.path.join(directory, "metrics_curve.png"),
                            f"sample quality ({context.spec.name}, n={self.num_samples})",
                            "Frechet distance (lower is better)")
        context.print_fn(f"eval at step {step}: " + ", ".join(
            f"{k} {v:.4g}" for k, v in scalars.items()) + f" ({seconds:.1f} s)")
        warning = getattr(self, "provenance", {}).get("warning")
        if warning and not self._warned:  # once per run: the counts do not change
            context.print_fn(f"eval warning: {warning}")
            self._warned = True
        self.seconds += seconds
        return {f"eval/{k}": v for k, v in scalars.items()}


__all__ = ["MetricsHook", "real_images"]
