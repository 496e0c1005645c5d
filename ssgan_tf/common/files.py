"""Small file helpers shared by every layer: atomic JSON and PNG writes, so a reader (or a
resumed run) never sees half a file."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
from PIL import Image


def write_json(path: str, payload: Any) -> None:
    """Atomic JSON write (temp file + rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """[N, H, W, C] floats in [0, 1] -> one uint8 [rows*H, cols*W, C] grid (1 px gaps)."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    grid = np.ones([rows * (h + 1) - 1, columns * (w + 1) - 1, c], np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = images[i]
    return np.round(grid * 255).astype(np.uint8)


def save_png(array: np.ndarray, path: str) -> None:
    """Writes a uint8 [H, W, 1|3] array as PNG (atomically), creating the directory."""
    array = np.asarray(array, np.uint8)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(tmp, format="PNG")
    os.replace(tmp, path)
