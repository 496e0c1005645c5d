"""What the training loop does when something goes wrong, so that a failed run never loses the
last good checkpoint (docs/faults.md lists every case and the test behind it):

- `all_finite`: no checkpoint is written while any variable is NaN/Inf.
- `StopSignals`: SIGTERM/SIGINT ask the loop to save and exit after the current chunk of steps.
- `disk_full_error`: a full disk becomes one clear message (free space, re-run to resume).
- `SSGAN_TF_FAULT=kill_during_save:STEP` (tests only): SIGKILL after writing checkpoint STEP's
  data but before committing it, as a crash in the middle of a save would.
- `SSGAN_TF_FAULT=sigterm_at:STEP` (tests only): the process sends itself SIGTERM once the chunk
  that reaches STEP has finished, so preemption tests need no sleeps or log-watching races.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from typing import Callable

import tensorflow as tf

from ssgan_tf.common.errors import SsganError


def all_finite(variables) -> bool:
    """True when every (float) variable holds only finite values."""
    checks = [tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v.value)))
              for v in variables if tf.as_dtype(v.dtype).is_floating]
    return bool(tf.reduce_all(tf.stack(checks)).numpy()) if checks else True


class StopSignals:
    """Context manager: SIGTERM / SIGINT set `.received` (the signal number) instead of killing
    the process; the loop checks it between chunks, saves and exits.

    `forward_to(fn)` also passes each signal on to `fn(signum, frame)`: a multi-worker run hands
    it to TF's PreemptionCheckpointHandler, which then coordinates the stop across workers."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received = None
        self._previous = {}
        self._forward = None

    def _handle(self, signum, frame):
        self.received = signum
        if self._forward is not None:
            self._forward(signum, frame)

    def forward_to(self, fn: Callable) -> None:
        """Re-installs this handler (a library may have replaced it) and forwards to `fn`."""
        self._forward = fn
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                previous = signal.signal(sig, self._handle)
                self._previous.setdefault(sig, previous)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._forward = None
        return False


def maybe_inject_signal(step: int) -> None:
    """`SSGAN_TF_FAULT=sigterm_at:STEP` (tests only): SIGTERM to this process at STEP."""
    if os.environ.get("SSGAN_TF_FAULT") == f"sigterm_at:{step}":
        os.kill(os.getpid(), signal.SIGTERM)


def save_checkpoint(manager: tf.train.CheckpointManager, checkpoint: tf.train.Checkpoint,
                    step: int) -> str:
    """`manager.save`: data files first, then the atomic `checkpoint` state file, so a crash
    mid-save leaves the previous checkpoint as the latest."""
    if os.environ.get("SSGAN_TF_FAULT") == f"kill_during_save:{step}":
        checkpoint.write(os.path.join(manager.directory, f"ckpt-{step}"))
        os.kill(os.getpid(), signal.SIGKILL)
    return manager.save(checkpoint_number=step)


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC from Python, or TensorFlow's ResourceExhausted "No space left on device"."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    return isinstance(error, tf.errors.OpError) and "No space left on device" in str(error)


def disk_full_error(error: BaseException, model_dir: str, last_good: str | None) -> SsganError:
    """The message for a write that failed on a full disk (raise it `from error`)."""
    return SsganError(
        f"No space left on device while writing in --model_dir={model_dir}. The last good "
        f"checkpoint ({last_good or 'none yet'}) is untouched: free some space and re-run the "
        "same command to resume from it (a half-written checkpoint is cleaned up then).")
