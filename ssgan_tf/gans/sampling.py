"""The one z sampler: every latent and fake label the project draws comes from here (the train
step, sample grids, latent-space tools, the metrics hook).

Draws are stateless Philox streams keyed by an int64 pair, so they do not depend on the device,
the topology or what was drawn before: a resumed run draws what the uninterrupted one did. (Philox
is named explicitly: the default "auto_select" picks another generator under XLA / on TPU.)

- `draw_z(n, z_dim, distribution, key)`: U[-1, 1] (the reference's prior) or N(0, 1).
- `draw_labels(n, num_classes, key)`: uniform fake labels.
- `fixed_z(n, z_dim, distribution, seed, stream)`: the fixed z of sample grids (stream 0) and
  evaluations (the metrics hook uses stream 7); `grid_labels(n, num_classes)` their labels.
- `step_key(seed, salt, step, substep)`: the key of a train-step draw, (seed + salt, 64 step +
  substep); `replica_rows(draw, n, key)`: this replica's rows of a draw for the *global* batch.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

RNG_ALG = "philox"
Z_DISTRIBUTIONS = ("uniform", "normal")
Z_SALT = 0          # salt of the train step's z key
LABEL_SALT = 7919   # salt of the train step's fake-label key
SUBSTEPS = 64       # a G step's D sub-steps (and set-up draws) index keys within it


def check_distribution(distribution: str) -> str:
    if distribution not in Z_DISTRIBUTIONS:
        raise ValueError(f"GAN.z_distribution={distribution!r}; expected one of "
                         f"{Z_DISTRIBUTIONS}.")
    return distribution


def _shape(*dims):
    """A static shape for Python ints (so traced steps keep static batch sizes), else a tensor."""
    if all(isinstance(d, int) for d in dims):
        return list(dims)
    return tf.stack([tf.cast(d, tf.int32) for d in dims])


def draw_z(n, z_dim: int, distribution: str, key) -> tf.Tensor:
    """[n, z_dim] float32 latents (n may be a tensor) from the stateless key."""
    shape = _shape(n, int(z_dim))
    key = tf.cast(key, tf.int64)
    if check_distribution(distribution) == "normal":
        return tf.random.stateless_normal(shape, key, alg=RNG_ALG)
    return tf.random.stateless_uniform(shape, key, -1.0, 1.0, alg=RNG_ALG)


def draw_labels(n, num_classes: int, key) -> tf.Tensor:
    """[n] int32 labels uniform in [0, num_classes)."""
    return tf.random.stateless_uniform(_shape(n), tf.cast(key, tf.int64), 0, int(num_classes),
                                       dtype=tf.int32, alg=RNG_ALG)


def fixed_z(n: int, z_dim: int, distribution: str = "uniform", seed: int = 0,
            stream: int = 0) -> tf.Tensor:
    """The same z at every call for (seed, stream): sample grids use stream 0."""
    return draw_z(n, z_dim, distribution, tf.constant([seed, stream], tf.int64))


def grid_labels(n: int, num_classes: int) -> tf.Tensor | None:
    """0, 1, ..., num_classes - 1, 0, 1, ... (None for an unconditional model)."""
    return tf.range(n, dtype=tf.int32) % num_classes if num_classes else None


def step_key(seed: int, salt: int, step, substep: int = 0) -> tf.Tensor:
    """The key of a draw at G step `step` (a tensor or int), D sub-step `substep`."""
    return tf.stack([tf.constant(int(seed) + int(salt), tf.int64),
                     tf.cast(step, tf.int64) * SUBSTEPS + substep])


def replica_id() -> tf.Tensor:
    context = tf.distribute.get_replica_context()
    rid = context.replica_id_in_sync_group if context is not None else 0
    return tf.cast(rid, tf.int64)


def num_replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_rows(draw: Callable[[int], tf.Tensor], n: int) -> tf.Tensor:
    """Replica r's rows [r n, (r + 1) n) of `draw(n x replicas)`: each replica draws different
    values and the stream does not depend on the topology (1 replica x 2 workers = 2 replicas)."""
    replicas = num_replicas()
    rows = draw(n * replicas)
    if replicas == 1:
        return rows
    start = replica_id() * n
    return rows[start:start + n]


def global_sum(values: dict) -> dict:
    """The sum over replicas of each value (per-replica shares of global values): every replica
    gets the global values."""
    if num_replicas() == 1:
        return values
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, values)
