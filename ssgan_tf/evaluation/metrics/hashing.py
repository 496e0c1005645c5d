"""Memoized sha256 of files: identifies the exact feature extractor in every report.

Hashing 90 MB of weights takes ~0.3 s; evaluations and cache look-ups ask for
it repeatedly, so it is computed once per (path, size, mtime).
"""

from __future__ import annotations

import functools
import hashlib
import os


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: "str | os.PathLike[str]") -> str:
    """Hex sha256 of a file's bytes, memoized until the file changes."""
    real = os.path.realpath(os.fspath(path))
    stat = os.stat(real)
    return _sha256_cached(real, stat.st_size, stat.st_mtime_ns)
