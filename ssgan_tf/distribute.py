"""Strategy factory (gin binding `train.strategy`): default | mirrored | multi_worker | tpu, and
preemption handling for multi-worker runs (`ClusterPreemption`).

Only tf.distribute engines; nothing home-made.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Callable, Protocol
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
            _resolver(strategy), tf.train.Checkpoint(),
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
