"""Strategy factory (gin binding `train.strategy`): default | mirrored | multi_worker | tpu.

Only tf.distribute engines; nothing home-made.
"""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str = "default", tpu: str | None = None) -> tf.distribute.Strategy:
    """`mirrored` uses every local GPU (or, without GPUs, every logical CPU device);
    `multi_worker` reads the cluster from TF_CONFIG; `tpu` resolves `tpu` (name or grpc address)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES} "
                     "(gin binding `train.strategy`).")
