"""A cheap deterministic feature extractor with the extractors' interface, counting the images
it sees (to tell which side of an evaluation was extracted)."""

from __future__ import annotations

import numpy as np


class ToyExtractor:
    """6 features per image that depend on the pixel scale ([0, 255] expected)."""

    def __init__(self, prefix: str = "", sha: str = "a" * 64, logits: bool = False) -> None:
        self.key_prefix, self.has_logits, self.sha256 = prefix, logits, sha
        self.name, self.feature_dim = f"toy{prefix}", 6
        self.seen = 0

    def settings(self):
        return {f"{self.key_prefix}extractor": self.name,
                f"{self.key_prefix}extractor_sha256": self.sha256}

    def __call__(self, images):
        x = np.asarray(images, np.float64).reshape(len(images), -1)
        self.seen += len(images)
        out = {"features": np.sin(x[:, :6] / 40.0) + x[:, 6:12] / 255.0}
        if self.has_logits:
            out["logits"] = x[:, :5] / 60.0
        return out


def toy_images(n: int, seed: int, size: int = 4, shift: float = 0.0) -> np.ndarray:
    """uint8 [n, size, size, 3] images around gray 120 + shift."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(120 + shift, 40, (n, size, size, 3)), 0, 255).astype(np.uint8)
