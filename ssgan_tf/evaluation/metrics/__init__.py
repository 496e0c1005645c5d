"""GAN evaluation metrics: FID, KID, Inception Score and precision / recall / density / coverage
with the real 2015 Inception graph.

Offline by design: the FID Inception-v3 weights are read from a local file
(this project's .npz, TF's ``classify_image_graph_def.pb`` / its .tgz, or
pytorch-fid's .pth, read without torch) and never downloaded.

Typical use::

    from ssgan_tf.evaluation.metrics import InceptionExtractor, compute_metrics
    extractor = InceptionExtractor.from_path("fid_inception_v3_2015_12_05_weights.npz")
    scores = compute_metrics(fake_batches, real_batches, extractor, metrics=("fid", "kid"))
"""

from ssgan_tf.evaluation.metrics.domain import DomainFeatureExtractor, build_domain_classifier
from ssgan_tf.evaluation.metrics.evaluation import (
    SUPPORTED_METRICS,
    compute_metrics,
    compute_reference_statistics,
    metric_keys,
    parse_metrics,
)
from ssgan_tf.evaluation.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_activations,
    mean_and_covariance,
)
from ssgan_tf.evaluation.metrics.guard_rails import sample_size_warnings
from ssgan_tf.evaluation.metrics.hashing import file_sha256
from ssgan_tf.evaluation.metrics.inception import (
    EXTRACTOR_NAME,
    InceptionExtractor,
    build_inception_model,
    load_inception_extractor,
)
from ssgan_tf.evaluation.metrics.inception_score import InceptionScoreAccumulator, inception_score
from ssgan_tf.evaluation.metrics.inception_weights import (
    InceptionWeights,
    load_inception_weights,
    save_inception_npz,
)
from ssgan_tf.evaluation.metrics.kid import (
    FeatureReservoir,
    kernel_inception_distance,
    mmd2_unbiased,
)
from ssgan_tf.evaluation.metrics.prdc import kth_neighbour_radii, prdc
from ssgan_tf.evaluation.metrics.statistics import (
    FeatureStatistics,
    RunningMoments,
    cached_reference_statistics,
    reference_cache_path,
)
from ssgan_tf.evaluation.metrics.torch_pickle import load_torch_state_dict

__all__ = [
    "DomainFeatureExtractor",
    "EXTRACTOR_NAME",
    "FeatureReservoir",
    "FeatureStatistics",
    "InceptionExtractor",
    "InceptionScoreAccumulator",
    "InceptionWeights",
    "RunningMoments",
    "SUPPORTED_METRICS",
    "build_domain_classifier",
    "build_inception_model",
    "cached_reference_statistics",
    "compute_metrics",
    "compute_reference_statistics",
    "file_sha256",
    "frechet_distance",
    "frechet_distance_from_activations",
    "inception_score",
    "kernel_inception_distance",
    "kth_neighbour_radii",
    "load_inception_extractor",
    "load_inception_weights",
    "load_torch_state_dict",
    "mean_and_covariance",
    "metric_keys",
    "mmd2_unbiased",
    "parse_metrics",
    "prdc",
    "reference_cache_path",
    "sample_size_warnings",
    "save_inception_npz",
]
