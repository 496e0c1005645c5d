"""Preemption of multi-worker runs: a SIGTERM to any one worker stops every worker at the same
step after a common save (`ClusterPreemption`)."""

from __future__ import annotations

import os
import signal
from typing import Callable, Protocol

import tensorflow as tf

from ssgan_tf.common.distribute import resolver_of


class SignalForwarder(Protocol):
    """What `ClusterPreemption` needs of `faults.StopSignals`."""

    def forward_to(self, fn: Callable) -> None: ...


class ClusterPreemption:
    """A SIGTERM (or SIGINT) to any one worker of a multi-worker run makes every worker save a
    checkpoint at the same step and stop: TF's `PreemptionCheckpointHandler` does the
    agreeing (it publishes "save after run N" through the coordination service and waits for
    every worker's acknowledgement), `save_fn` does our save, and `exit_fn` only flags the
    stop so `train()` returns and the CLI exits 128+SIGTERM (re-running resumes).

    Call `save_if_preempted()` once per chunk on every worker (the handler counts calls, so
    all workers must make the same number of calls; `train()` does, its chunks are identical).

    Why the handler gets its own empty `tf.train.Checkpoint` rather than ours: on construction
    it restores the newest checkpoint with no fallback (a corrupted latest one would crash the
    run, where `faults.restore_with_fallback` warns and uses the previous one) and it attaches a
    `checkpointed_runs` variable to the checkpoint, which would make multi-worker checkpoints
    unreadable by single-process runs. Its empty checkpoint is never written (`save_fn` saves);
    its call counter restarts at 0 in every process, identically on all workers.

    Limits (TF's): on GCP the handler does not watch SIGTERM (GPU VMs: it polls GCE
    maintenance events; CPU VMs and Cloud TPU: it does nothing). `active` is then False and a
    preempted run resumes from the last periodic checkpoint.
    """

    def __init__(self, strategy: tf.distribute.Strategy, write_dir: str,
                 save_fn: Callable[[], None], stop: SignalForwarder) -> None:
        """`write_dir`: this worker's model_dir (chief) or scratch dir; the handler's unused
        checkpoint directory is named under it (nothing is written there for the chief)."""
        self.preempted = False
        config = tf.distribute.experimental.TerminationConfig(
            exit_fn=self._exit, grace_period=0, save_fn=lambda *a, **k: save_fn())
        self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            resolver_of(strategy), tf.train.Checkpoint(),
            checkpoint_dir=os.path.join(write_dir, "preemption"), termination_config=config)
        # The handler installed its SIGTERM handler; keep recording the signal for the exit
        # code (StopSignals) and route SIGINT (Ctrl-C) through the handler too.
        installed = signal.getsignal(signal.SIGTERM)
        self.active = getattr(installed, "__self__", None) is self.handler
        if self.active:
            stop.forward_to(installed)

    def _exit(self) -> None:
        self.preempted = True

    def save_if_preempted(self) -> bool:
        """True when this worker (and so every worker) has saved and must stop now."""
        self.handler.save_checkpoint_if_preempted()
        return self.preempted
