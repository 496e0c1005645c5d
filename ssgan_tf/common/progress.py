"""Progress bars for anything long (training, evaluation, export, probes, the study): a tqdm bar
with rate and ETA on an interactive terminal, nothing on a pipe or a log file (where the tools
keep printing one line per interval)."""

from __future__ import annotations

import os
import sys
from typing import Callable, TextIO

from tqdm import tqdm


def interactive(stream: TextIO | None = None) -> bool:
    """True when `stream` (default stderr) is a terminal; SSGAN_TF_PROGRESS=0/1 overrides."""
    forced = os.environ.get("SSGAN_TF_PROGRESS")
    if forced is not None:
        return forced not in ("0", "", "false", "no")
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """`with Progress(total, "evaluating", unit="img") as bar: bar.update(n, fid=...)`.

    Does nothing unless the stream is interactive, so callers need no TTY checks."""

    def __init__(self, total: int | None, description: str, unit: str = "it",
                 stream: TextIO | None = None, initial: int = 0):
        self.stream = stream or sys.stderr
        self.bar = (tqdm(total=total, desc=description, unit=unit, file=self.stream,
                         initial=initial, dynamic_ncols=True, leave=False)
                    if interactive(self.stream) else None)

    def update(self, n: int = 1, **postfix) -> None:
        if self.bar is None:
            return
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def describe(self, description: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(description)

    def write(self, line: str, print_fn: Callable[[str], None] | None = None) -> None:
        """Prints a line above the bar (or plainly when there is no bar): to the bar's stream,
        or with `print_fn` (e.g. `print`, for a log that goes to stdout)."""
        emit = print_fn or (lambda text: print(text, file=self.stream, flush=True))
        if self.bar is None:
            emit(line)
            return
        with self.bar.external_write_mode(file=sys.stdout if print_fn else self.stream):
            emit(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
