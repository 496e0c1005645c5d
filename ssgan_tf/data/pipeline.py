"""The training input pipeline: cache, repeat, shuffle, batch, split across replicas, prefetch.

In-memory datasets (digits, synthetic, npz) are read as one seeded global stream: every input
pipeline (worker) builds the same stream of global batches and keeps the rows of its own
replicas. So the images a replica sees at a step do not depend on the topology (one process or
several workers train on the same global batches), and a resumed run replays the seeded stream and
skips the batches already consumed, continuing exactly as an uninterrupted run.

Streaming (tfds, large folders) datasets are sharded per worker instead (the reference seeds
host i with 547 + i) and reseeded on resume, which avoids decoding the skipped data.

Random training crops (`DatasetSpec.augment`) run after the cache, with stateless seeds drawn from
the example's position in the repeated stream: new crops every epoch, the same on every worker
and after a resume.
"""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.data.registry import DatasetSpec


def _split_global_batch(batch: dict, disc_iters: int, replicas: int, first: int,
                        count: int) -> dict:
    """[disc_iters * replicas * b, ...] -> [count, disc_iters * b, ...] for replicas
    first..first+count-1: replica r gets rows [r*b, (r+1)*b) of every D sub-step's batch."""

    def split(x):
        per_replica = x.shape[0] // (disc_iters * replicas)
        x = tf.reshape(x, [disc_iters, replicas, per_replica, *x.shape[1:]])
        x = tf.transpose(x[:, first:first + count], [1, 0, 2, *range(3, len(x.shape))])
        return tf.reshape(x, [count, disc_iters * per_replica, *x.shape[3:]])

    return {k: split(v) for k, v in batch.items()}


def _augment(ds: tf.data.Dataset, spec: DatasetSpec, seed: int) -> tf.data.Dataset:
    """The spec's random training transform, seeded by (seed, position in the stream)."""
    if spec.augment is None:
        return ds
    base = tf.constant(seed, tf.int64)
    return ds.enumerate().map(lambda i, ex: spec.augment(ex, tf.stack([base, i])),
                              num_parallel_calls=tf.data.AUTOTUNE)


def train_dataset(spec: DatasetSpec, global_batch_size: int, disc_iters: int = 1, seed: int = 0,
                  input_context: tf.distribute.InputContext | None = None,
                  start_step: int = 0, shuffle_buffer: int = 10_000,
                  split: str = "train") -> tf.data.Dataset:
    """Endless per-replica batches of `disc_iters * global_batch_size / replicas` images."""
    replicas = input_context.num_replicas_in_sync if input_context else 1
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    local = replicas // pipelines
    per_replica = global_batch_size // replicas
    ds = spec.source(split)
    if spec.in_memory:
        ds = _augment(ds.cache().repeat(), spec, seed + 547)
        ds = ds.shuffle(shuffle_buffer, seed=seed + 547)
        ds = ds.batch(global_batch_size * disc_iters, drop_remainder=True)
        if start_step:
            ds = ds.skip(start_step)
        ds = ds.map(lambda b: _split_global_batch(b, disc_iters, replicas, pipeline_id * local,
                                                  local))
        ds = ds.unbatch()
    else:
        if pipelines > 1:
            ds = ds.shard(pipelines, pipeline_id)
        if getattr(spec, "cacheable", True):  # not ImageNet-size data or random crops
            ds = ds.cache()
        stream_seed = seed + 547 + pipeline_id + 1_000_003 * start_step
        ds = _augment(ds.repeat(), spec, stream_seed)
        ds = ds.shuffle(shuffle_buffer, seed=stream_seed)
        ds = ds.batch(per_replica * disc_iters, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)
