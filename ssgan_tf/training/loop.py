"""The compiled inner loop: `n` train steps per host call, and where each call stops."""

from __future__ import annotations

import tensorflow as tf


def make_train_loop(model, strategy: tf.distribute.Strategy, jit_compile: bool = False):
    """A tf.function running `n` train steps per host call (tf.range loop, simclr-tf2 style);
    returns the mean of each metric over those steps (each step's logs are already global: the
    same on every replica). `jit_compile` compiles the step with XLA
    (measured, not assumed: it was slower on CPU in a first probe)."""
    keys = model.log_keys()
    step_fn = (tf.function(model.train_step, jit_compile=True) if jit_compile
               else model.train_step)

    @tf.function(reduce_retracing=True)  # n is a tensor: one trace for every chunk length
    def run_steps(iterator, n):
        sums = {k: tf.constant(0.0) for k in keys}
        for _ in tf.range(n):
            per_replica = strategy.run(step_fn, args=(next(iterator),))
            sums = {k: sums[k] + strategy.reduce("MEAN", per_replica[k], axis=None)
                    for k in keys}
        return {k: v / tf.cast(n, tf.float32) for k, v in sums.items()}

    return run_steps


def chunk_length(step: int, num_steps: int, steps_per_loop: int, everies,
                 first: bool = False) -> int:
    """How many steps the next host call runs from `step`.

    The `first` call of a new run is one step, so the first progress line (and the time spent tracing
    the step) shows within seconds. After that, chunks end on multiples of `steps_per_loop` and
    of every interval in `everies` (logs, samples, saves, hooks) and at `num_steps`: the grid
    does not depend on where a run started, so a resumed run averages its log lines over the
    same steps as an uninterrupted one.
    """
    if first:
        return 1
    boundaries = [num_steps] + [(step // every + 1) * every
                                for every in (steps_per_loop, *everies) if every]
    return min(boundaries) - step
