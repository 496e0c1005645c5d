"""One training per model_dir: `model_dir/.lock` names the process that trains there.

Two trainings on one model_dir would both write checkpoints, samples and TensorBoard events (the
last writer wins, the curves interleave). The lock file holds the host, the pid and the process
start time of its owner. A second training is refused while that process lives; a lock whose
process is gone on this host (a `kill -9`'d run, a crashed machine that rebooted) is stale and
taken over with a note, so nothing stays blocked forever.

Several hosts: only the chief of a multi-worker run takes the lock. A lock written on another
host cannot be checked from here (pids are per host): it is respected until it is removed by
hand, and the message says so. Delete `model_dir/.lock` only when that run is certainly over.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time

from ssgan_tf.common.errors import SsganError

LOCK_FILE = ".lock"


class ModelDirLocked(SsganError):
    """Another training holds the model_dir."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux /proc; None elsewhere or when it is gone): with
    the pid it identifies a process even after its pid was reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    now = _process_start(pid)
    return started is None or now is None or now == started


def owner_record() -> dict:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _process_start(pid),
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}


class RunLock:
    """`with RunLock(model_dir, print_fn):` holds `model_dir/.lock` for the body."""

    def __init__(self, model_dir: str, print_fn=print):
        self.model_dir = model_dir
        self.path = os.path.join(model_dir, LOCK_FILE)
        self.print_fn = print_fn
        self.record = owner_record()
        self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        for _ in range(2):  # a second try after removing a stale lock
            if self._create():
                self.held = True
                return
            holder = self._read()
            if holder is not None and not self._stale(holder):
                raise ModelDirLocked(self._locked_message(holder))
            self.print_fn(f"Removing a stale lock {self.path} ("
                          + (f"pid {holder['pid']} on {holder['host']} is no longer running"
                             if holder else "unreadable") + ").")
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        raise ModelDirLocked(f"--model_dir={self.model_dir}: could not take {self.path} "
                             "(another training took it at the same moment).")

    def release(self) -> None:
        if self.held and self._read() == self.record:
            os.remove(self.path)
        self.held = False

    def _create(self) -> bool:
        """Writes the record to a temp file and hard-links it into place: the lock file never
        exists half-written, and the link fails if it exists."""
        tmp = f"{self.path}.{self.record['pid']}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.record, f)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            finally:
                os.remove(tmp)
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
                raise SsganError(f"--model_dir={self.model_dir}: cannot write there "
                                 f"({e.strerror}). Use a directory on a writable file system "
                                 "with free space. Nothing was written.") from e
            raise
        return True

    def _read(self) -> dict | None:
        try:
            with open(self.path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and {"host", "pid"} <= set(record) else None

    def _stale(self, holder: dict) -> bool:
        if holder["host"] != self.record["host"]:
            return False
        return not _alive(int(holder["pid"]), holder.get("started"))

    def _locked_message(self, holder: dict) -> str:
        where = ("this host" if holder["host"] == self.record["host"]
                 else f"host {holder['host']} (which cannot be checked from here)")
        return (f"--model_dir={self.model_dir} is in use by another training: pid "
                f"{holder['pid']} on {where}, since {holder.get('since', '?')} ({self.path}). "
                "Wait for it to finish or stop it, or train into another --model_dir; if that "
                f"run is certainly over, delete {self.path}. Nothing was written.")
