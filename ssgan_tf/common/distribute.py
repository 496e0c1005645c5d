"""Strategy factory (gin binding `train.strategy`, `--strategy` of the evaluation tools):
default | mirrored | multi_worker | tpu; and the one "am I the chief" decision.

Only tf.distribute engines; nothing home-made.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

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
        return _tpu_strategy(tpu)
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES} "
                     "(gin binding `train.strategy`).")


def _tpu_strategy(tpu: str | None) -> tf.distribute.TPUStrategy:
    """TPUStrategy via TPUClusterResolver; any failure to find or reach the TPU becomes one
    actionable ValueError (the resolver's own errors name neither our flag nor what was tried)."""
    tried = repr(tpu) if tpu else "'' (auto-detect: $TPU_NAME or the GCE metadata server)"
    how = ("Set --tpu=NAME (or --gin_param=\"train.tpu='NAME'\"): the Cloud TPU's name, "
           "'local' on a TPU VM, or grpc://HOST:8470 for a TPU node; with "
           "train.strategy='tpu'. Without a TPU use train.strategy='default' or 'mirrored'.")
    if tpu and tpu.startswith("grpc://"):
        # connect_to_cluster retries an unreachable grpc address forever; fail fast instead.
        address = urlparse(tpu)
        try:
            socket.create_connection((address.hostname, address.port or 8470), timeout=10).close()
        except OSError as e:
            raise ValueError(f"train.strategy='tpu': cannot reach the TPU at train.tpu={tpu!r} "
                             f"({e}). {how}") from e
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as e:  # noqa: BLE001 - ValueError, URLError, OpError, ... from the resolver
        reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"train.strategy='tpu': no TPU found for train.tpu={tried} "
                         f"({type(e).__name__}: {reason}). {how}") from e


def resolver_of(strategy: tf.distribute.Strategy):
    return getattr(strategy, "cluster_resolver", None)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The worker that writes summaries, samples, exports and the kept checkpoints."""
    resolver = resolver_of(strategy)
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
    resolver = resolver_of(strategy)
    return os.path.join(model_dir, ".workers", f"{resolver.task_type}_{resolver.task_id}")


def remove_worker_scratch_dir(path: str) -> None:
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)
