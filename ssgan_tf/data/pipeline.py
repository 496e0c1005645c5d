"""The training input pipeline: shard per worker, cache, repeat, shuffle, batch, prefetch."""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.data.registry import DatasetSpec


def train_dataset(spec: DatasetSpec, batch_size: int, seed: int = 0,
                  input_context: tf.distribute.InputContext | None = None,
                  start_batch: int = 0, shuffle_buffer: int = 10_000,
                  split: str = "train") -> tf.data.Dataset:
    """Endless shuffled batches of `batch_size` (per replica) from one split.

    With an `input_context` (from `distribute_datasets_from_function`) each input pipeline reads
    its own shard with a seed of its own (the reference seeds host i with 547 + i). `start_batch`
    is where a resumed run continues: in-memory datasets replay the same seeded stream and skip
    the batches already consumed, so a resumed run sees exactly the batches an uninterrupted one
    would; streaming (tfds) datasets are reseeded instead, which avoids decoding the skipped data.
    """
    ds = spec(split)
    pipeline_id = 0
    if input_context is not None and input_context.num_input_pipelines > 1:
        pipeline_id = input_context.input_pipeline_id
        ds = ds.shard(input_context.num_input_pipelines, pipeline_id)
    shuffle_seed = seed + 547 + pipeline_id
    if not spec.in_memory:
        shuffle_seed += 1_000_003 * start_batch
    ds = ds.cache().repeat().shuffle(shuffle_buffer, seed=shuffle_seed)
    ds = ds.batch(batch_size, drop_remainder=True)
    if spec.in_memory and start_batch:
        ds = ds.skip(start_batch)
    return ds.prefetch(tf.data.AUTOTUNE)
