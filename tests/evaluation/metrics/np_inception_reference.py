"""Plain-numpy (float64) forward pass of the FID Inception-v3, used as ground truth.

Written independently of ``ssgan_tf.evaluation.metrics.inception``: it reads the npz
(OIHW weights) directly, pads explicitly as the layer table says
(``padding_hw``), and implements the pools with PyTorch-style explicit padding
(avg pools exclude padding from the divisor; mixed_10's pool is a max pool).
"""

from __future__ import annotations

from typing import Dict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EPS = 0.001


def legacy_resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """TF1 ``resize_bilinear(align_corners=False)`` without half-pixel centers."""
    n, h, w, c = images.shape
    x = images.astype(np.float64)

    def coords(in_size: int):
        src = np.arange(size, dtype=np.float64) * (in_size / size)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, in_size - 1)
        return lo, hi, src - lo

    y0, y1, dy = coords(h)
    x0, x1, dx = coords(w)
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * dx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * dx[None, None, :, None]
    return top + (bottom - top) * dy[None, :, None, None]


def conv_bn_relu(x: np.ndarray, w: Dict[str, np.ndarray], name: str, stride: int, pad_hw) -> np.ndarray:
    weight = w[name + ".weight"].astype(np.float64)  # OIHW
    o, i, kh, kw = weight.shape
    ph, pw = pad_hw
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    if kh == 1 and kw == 1 and stride == 1:
        y = x @ weight[:, :, 0, 0].T
    else:
        win = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # N,Ho,Wo,C,kh,kw
        n, ho, wo = win.shape[:3]
        cols = np.ascontiguousarray(win).reshape(n * ho * wo, i * kh * kw)
        y = (cols @ weight.reshape(o, -1).T).reshape(n, ho, wo, o)
    y = (y - w[name + ".mean"]) / np.sqrt(w[name + ".var"].astype(np.float64) + EPS) + w[name + ".beta"]
    return np.maximum(y, 0.0)


def max_pool(x: np.ndarray, stride: int, pad: int) -> np.ndarray:
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
    return sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::stride, ::stride].max(axis=(-1, -2))


def avg_pool_exclude_pad(x: np.ndarray) -> np.ndarray:
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    sums = sliding_window_view(padded, (3, 3), axis=(1, 2)).sum(axis=(-1, -2))
    ones = np.pad(np.ones(x.shape[1:3]), 1)
    counts = sliding_window_view(ones, (3, 3)).sum(axis=(-1, -2))
    return sums / counts[None, :, :, None]


def forward_pool3(images_uint8: np.ndarray, w: Dict[str, np.ndarray]) -> np.ndarray:
    """[N,H,W,3] uint8 -> [N,2048] float64 pool_3 features."""
    x = legacy_resize_bilinear(images_uint8, 299)
    x = x / 255.0 * 1.9921875 - 1.0
    c = lambda t, n, s=1, p=(0, 0): conv_bn_relu(t, w, n, s, p)  # noqa: E731
    x = c(x, "conv", 2)
    x = c(x, "conv_1")
    x = c(x, "conv_2", 1, (1, 1))
    x = max_pool(x, 2, 0)
    x = c(x, "conv_3")
    x = c(x, "conv_4")
    x = max_pool(x, 2, 0)
    for b in ("mixed", "mixed_1", "mixed_2"):
        x = np.concatenate([
            c(x, b + ".conv"),
            c(c(x, b + ".tower.conv"), b + ".tower.conv_1", 1, (2, 2)),
            c(c(c(x, b + ".tower_1.conv"), b + ".tower_1.conv_1", 1, (1, 1)), b + ".tower_1.conv_2", 1, (1, 1)),
            c(avg_pool_exclude_pad(x), b + ".tower_2.conv"),
        ], axis=-1)
    b = "mixed_3"
    x = np.concatenate([
        c(x, b + ".conv", 2),
        c(c(c(x, b + ".tower.conv"), b + ".tower.conv_1", 1, (1, 1)), b + ".tower.conv_2", 2),
        max_pool(x, 2, 0),
    ], axis=-1)
    h, v = (0, 3), (3, 0)  # 1x7 and 7x1 paddings
    for b in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        t = c(c(c(x, b + ".tower.conv"), b + ".tower.conv_1", 1, h), b + ".tower.conv_2", 1, v)
        u = c(x, b + ".tower_1.conv")
        for name, pad in (("conv_1", v), ("conv_2", h), ("conv_3", v), ("conv_4", h)):
            u = c(u, f"{b}.tower_1.{name}", 1, pad)
        x = np.concatenate([c(x, b + ".conv"), t, u, c(avg_pool_exclude_pad(x), b + ".tower_2.conv")], axis=-1)
    b = "mixed_8"
    t = c(c(x, b + ".tower.conv"), b + ".tower.conv_1", 2)
    u = c(c(c(x, b + ".tower_1.conv"), b + ".tower_1.conv_1", 1, h), b + ".tower_1.conv_2", 1, v)
    u = c(u, b + ".tower_1.conv_3", 2)
    x = np.concatenate([t, u, max_pool(x, 2, 0)], axis=-1)
    for b, pool in (("mixed_9", "avg"), ("mixed_10", "max")):
        a = c(x, b + ".tower_conv")
        d = c(c(x, b + ".tower_1_conv"), b + ".tower_1_conv_1", 1, (1, 1))
        p = avg_pool_exclude_pad(x) if pool == "avg" else max_pool(x, 1, 1)
        x = np.concatenate([
            c(x, b + ".conv"),
            c(a, b + ".tower_mixed_conv", 1, (0, 1)),
            c(a, b + ".tower_mixed_conv_1", 1, (1, 0)),
            c(d, b + ".tower_1_mixed_conv", 1, (0, 1)),
            c(d, b + ".tower_1_mixed_conv_1", 1, (1, 0)),
            c(p, b + ".tower_2_conv"),
        ], axis=-1)
    return x.mean(axis=(1, 2))
