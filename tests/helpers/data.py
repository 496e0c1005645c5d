"""Where the optional shared data lives (../shared/data beside the repository, or
$SSGAN_SHARED_DATA); tests that need it skip cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    """../shared/data beside the repository, or $SSGAN_SHARED_DATA."""
    return Path(os.environ.get("SSGAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
