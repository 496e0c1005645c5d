"""Strategy factory (gin binding `train.strategy`): default | mirrored | multi_worker | tpu.

Only tf.distribute engines; nothing home-made.
"""

from __future__ import annotations

import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
_MIRRORED: dict = {}


def make_strategy(name: str = "default", tpu: str | None = None) -> tf.distribute.Strategy:
    """`mirrored` uses every local GPU (or, without GPUs, every logical CPU device);
    `multi_worker` reads the cluster from TF_CONFIG; `tpu` resolves `tpu` (name or grpc address)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        # One strategy per device set and process: a second MirroredStrategy in the same process
        # collides with the first one's collective instance keys (synchronized BN, all-gather).
        if tuple(devices) not in _MIRRORED:
            _MIRRORED[tuple(devices)] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[tuple(devices)]
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES} "
                     "(gin binding `train.strategy`).")


def _resolver(strategy: tf.distribute.Strategy):
    return getattr(strategy, "cluster_resolver", None)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The worker that writes summaries, samples, exports and the kept checkpoints."""
    resolver = _resolver(strategy)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def num_workers(strategy: tf.distribute.Strategy) -> int:
    return strategy.extended._num_workers if hasattr(strategy.extended, "_num_workers") else 1


def worker_scratch_dir(model_dir: str, strategy: tf.distribute.Strategy) -> str:
    """Where a non-chief worker writes the checkpoints it must write but nobody keeps."""
    resolver = _resolver(strategy)
    return os.path.join(model_dir, ".workers", f"{resolver.task_type}_{resolver.task_id}")


def remove_worker_scratch_dir(path: str) -> None:
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)
