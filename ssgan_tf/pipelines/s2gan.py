"""S2GAN (Lucic et al., ICML 2019): a conditional GAN trained on k-means pseudo-labels of a
self-supervised encoder's features, end to end and resumable.

`python -m ssgan_tf.s2gan` is its command line.

Three stages, each skipped when its output exists (re-run the same command to resume):
1. `MODEL_DIR/pretrain`: a rotation-only model (`RotationTask.mode = "rotation_only"`: D learns
   to predict rotations of real images, no GAN loss), `S2GAN.pretrain_steps` steps, with the
   gin file's architecture, unconditional.
2. `MODEL_DIR/clusters.npz`: the pretrained D's `S2GAN.feature` features (`final` = the input of
   D's last layer, or `blockN`, pooled) of every training image, in dataset order, clustered
   into `S2GAN.num_clusters` groups by `ssgan_tf.pipelines.clustering.KMeans` (TensorFlow, under the
   strategy). Cluster purity and NMI against the true labels are printed when the dataset has
   labels (they are not used otherwise).
3. `MODEL_DIR/gan`: the gin file's conditional GAN (`train.*` bindings, class projection in D)
   with the cluster ids as labels (`train.pseudo_labels`), `train.num_steps` steps.

compare_gan has no clustering code (it reads pseudo-labels from files), and no S2GAN-CO
(clustering during GAN training); neither is reproduced here beyond this pipeline.
"""

from __future__ import annotations

import json
import os

import gin
import keras
import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from ssgan_tf import runs
from ssgan_tf.architectures import DEFAULT_RESOLUTION
from ssgan_tf.common import distribute
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.data import get_dataset
from ssgan_tf.data import labels as labels_lib
from ssgan_tf.evaluation import probe
from ssgan_tf.pipelines.clustering import KMeans
from ssgan_tf.training.config import current_config
from ssgan_tf.training.trainer import train

PRETRAIN_DIR, CLUSTERS_FILE, GAN_DIR = "pretrain", "clusters.npz", "gan"


@gin.configurable("S2GAN", module="ssgan_tf")
def s2gan_settings(pretrain_steps: int = gin.REQUIRED, num_clusters: int = gin.REQUIRED,
                   feature: str = "final", kmeans_iterations: int = 50,
                   max_cluster_examples: int | None = None, kmeans_seed: int = 0) -> dict:
    """The S2GAN-specific bindings (`S2GAN.pretrain_steps = ...` in the gin file)."""
    if pretrain_steps < 1 or num_clusters < 2:
        raise ValueError(f"S2GAN.pretrain_steps={pretrain_steps} must be >= 1 and "
                         f"S2GAN.num_clusters={num_clusters} >= 2.")
    return dict(pretrain_steps=pretrain_steps, num_clusters=num_clusters, feature=feature,
                kmeans_iterations=kmeans_iterations,
                max_cluster_examples=max_cluster_examples, kmeans_seed=kmeans_seed)


def cluster_purity(cluster_ids: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples whose label is the majority label of their cluster."""
    total = 0
    for c in np.unique(cluster_ids):
        total += np.bincount(labels[cluster_ids == c]).max()
    return float(total / len(labels))


def _stage(gin_files, gin_params, overrides):
    """Parses the user's config with a stage's overriding bindings (a fresh Keras session)."""

    gin.clear_config()
    keras.backend.clear_session()
    parse_gin(gin_files, list(gin_params) + list(overrides))


def pretrain(model_dir: str, gin_files, gin_params, settings: dict, print_fn=print) -> str:

    directory = os.path.join(model_dir, PRETRAIN_DIR)
    _stage(gin_files, gin_params, [])
    architecture = current_config().architecture
    # Unconditional: G's conditional BN of the GAN stage becomes plain BN (only D is used).
    _stage(gin_files, gin_params, [f"{architecture}.Generator.norm = 'batch_norm'",
                                   "RotationTask.mode = 'rotation_only'",
                                   "train.conditional = False",
                                   f"train.num_steps = {settings['pretrain_steps']}",
                                   "train.export_at_end = False", "train.labelled_fraction = None",
                                   "train.pseudo_labels = None"])
    summary = train(directory, print_fn=print_fn)
    if summary.get("stopped_by_signal"):
        raise KeyboardInterrupt(f"pre-training stopped by signal {summary['stopped_by_signal']}")
    return directory


def cluster(model_dir: str, gin_files, gin_params, settings: dict, print_fn=print) -> str:
    """Features of the pretrained D on every training image -> k-means -> clusters.npz."""

    _stage(gin_files, gin_params, [])
    config = current_config()
    spec = get_dataset(config.dataset, data_dir=config.data_dir, resolution=config.resolution,
                       default_resolution=DEFAULT_RESOLUTION.get(config.architecture))
    strategy = distribute.make_strategy(config.strategy)
    with strategy.scope():
        model, _ = runs.load_gan(os.path.join(model_dir, PRETRAIN_DIR))
    encoder = probe.DiscriminatorEncoder(model.discriminator)
    if settings["feature"] not in encoder.keys:
        raise ValueError(f"S2GAN.feature={settings['feature']!r}; the discriminator has "
                         f"{encoder.keys}.")
    features, labels = probe.extract_features(
        encoder, spec("train"), max_examples=settings["max_cluster_examples"], strategy=strategy)
    points = features[settings["feature"]]
    if settings["max_cluster_examples"] and len(points) < (spec.size or {}).get("train", 0):
        raise ValueError("S2GAN.max_cluster_examples must cover the whole training split: every "
                         "training image needs a pseudo-label.")
    # Standardize: feature scales differ per dimension; k-means uses Euclidean distance.
    points = (points - points.mean(0)) / (points.std(0) + 1e-6)
    kmeans = KMeans(settings["num_clusters"], iterations=settings["kmeans_iterations"],
                    seed=settings["kmeans_seed"], strategy=strategy)
    kmeans.fit(points.astype(np.float32))
    ids = kmeans.predict(points.astype(np.float32))
    extra = {}
    if labels is not None and labels.min() >= 0:
        extra = {"purity": cluster_purity(ids, labels),
                 "nmi": float(normalized_mutual_info_score(labels, ids))}
        print_fn(f"k-means on {settings['feature']} of {len(ids)} images: "
                 f"{settings['num_clusters']} clusters, purity {extra['purity']:.3f}, "
                 f"NMI {extra['nmi']:.3f} vs the true labels (not used for training)")
    path = os.path.join(model_dir, CLUSTERS_FILE)
    sizes = np.bincount(ids, minlength=settings["num_clusters"])
    labels_lib.save_pseudo_labels(path, ids, settings["num_clusters"], cluster_sizes=sizes,
                                  **extra)
    return path


def _read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def train_gan(model_dir: str, gin_files, gin_params, print_fn=print) -> dict:

    path = os.path.join(model_dir, CLUSTERS_FILE)
    _stage(gin_files, gin_params, ["train.conditional = True", f"train.pseudo_labels = '{path}'"])
    return train(os.path.join(model_dir, GAN_DIR), print_fn=print_fn)


def run_s2gan(model_dir: str, gin_files, gin_params=(), print_fn=print) -> dict:
    """All three stages; each one is skipped when its output exists. Returns the GAN summary."""
    _stage(gin_files, gin_params, [])
    settings = s2gan_settings()
    os.makedirs(model_dir, exist_ok=True)
    done = os.path.join(model_dir, PRETRAIN_DIR, "summary.json")
    finished = (os.path.isfile(done)
                and _read_json(done).get("step", 0) >= settings["pretrain_steps"])
    if not finished:
        print_fn(f"S2GAN stage 1/3: rotation-only pre-training ({settings['pretrain_steps']} "
                 "steps)")
        pretrain(model_dir, gin_files, gin_params, settings, print_fn)
    if not os.path.isfile(os.path.join(model_dir, CLUSTERS_FILE)):
        print_fn(f"S2GAN stage 2/3: k-means ({settings['num_clusters']} clusters) on the "
                 f"pretrained D's `{settings['feature']}` features")
        cluster(model_dir, gin_files, gin_params, settings, print_fn)
    print_fn("S2GAN stage 3/3: conditional GAN on the cluster ids")
    return train_gan(model_dir, gin_files, gin_params, print_fn)
