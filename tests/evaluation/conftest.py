"""Evaluation tests: `evaluate` caches reference statistics by default; point that cache at a
temporary directory of this test process (subprocesses inherit it), never the user's."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "SSGAN_TF_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="ssgan_tf_test_cache-")
    atexit.register(shutil.rmtree, _cache, True)
    os.environ["SSGAN_TF_CACHE_DIR"] = _cache
