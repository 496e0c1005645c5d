"""A pseudo-terminal for the progress-bar tests: stderr on a pty (raw mode, so every "\\r" in the
output is the bar's own), in this process or for a subprocess."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import tty
from typing import Iterator, List


def _open_terminal() -> tuple[int, int]:
    """(master, slave) of a raw 24 x 100 pty (a fresh pty is 0 x 0: tqdm would draw nothing)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    return master, slave


class _Drain:
    """Reads the master side of a pty until it closes (a full pty buffer would block writers)."""

    def __init__(self, master: int):
        self.master, self.chunks = master, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the slave side is closed
                return
            if not data:
                return
            self.chunks.append(data)

    def text(self) -> str:
        self.thread.join(timeout=30)
        os.close(self.master)
        return b"".join(self.chunks).decode("utf-8", "replace")


@contextlib.contextmanager
def stderr_on_a_terminal(monkeypatch) -> Iterator[List[str]]:
    """sys.stderr is a terminal inside the block; the list holds its output afterwards."""
    monkeypatch.delenv("SSGAN_TF_PROGRESS", raising=False)
    master, slave = _open_terminal()
    drain = _Drain(master)
    stream = os.fdopen(slave, "w", buffering=1)
    out: List[str] = []
    saved, sys.stderr = sys.stderr, stream
    try:
        yield out
    finally:
        sys.stderr = saved
        stream.close()
        out.append(drain.text())


def run_with_stderr_on_a_terminal(args: List[str], **kwargs) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a subprocess whose stderr is a pty."""
    master, slave = _open_terminal()
    drain = _Drain(master)
    env = {k: v for k, v in kwargs.pop("env", os.environ).items() if k != "SSGAN_TF_PROGRESS"}
    try:
        result = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, text=True, env=env,
                                **kwargs)
    finally:
        os.close(slave)
    return result.returncode, result.stdout, drain.text()


def has_a_bar(text: str) -> bool:
    """tqdm's redrawn line: a carriage return and a rate or a percentage."""
    return "\r" in text and ("/s" in text or "%|" in text)
