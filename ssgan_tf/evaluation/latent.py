"""Latent-space tools: interpolations and latent vector arithmetic, rendered as PNG grids (the
command line and the modes are described in ssgan_tf/latent.py)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from ssgan_tf.common.files import image_grid, save_png
from ssgan_tf.gans.sampling import Z_DISTRIBUTIONS, fixed_z
from ssgan_tf.runs.restore import load_gan

MODES = ("samples", "interpolate", "arithmetic")


# ------------------------------------------------------------------------------- vector math
def lerp(a, b, t) -> np.ndarray:
    """(1 - t) a + t b; t a scalar or a vector [T] (-> [T, D])."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    if t.ndim == 0:
        return (1.0 - t) * a + t * b
    return (1.0 - t)[:, None] * a[None] + t[:, None] * b[None]


def slerp(a, b, t, eps: float = 1e-7) -> np.ndarray:
    """Spherical interpolation sin((1-t) W)/sin W a + sin(t W)/sin W b, cos W = <a, b>/(|a||b|)
    (Shoemake 1985); falls back to lerp for (anti)parallel endpoints (sin W < eps)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    if sin < eps:
        return lerp(a, b, t)
    wa, wb = np.sin((1.0 - t) * omega) / sin, np.sin(t * omega) / sin
    if t.ndim == 0:
        return wa * a + wb * b
    return wa[:, None] * a[None] + wb[:, None] * b[None]


def interpolation_grid(starts, ends, steps: int, spherical: bool = False) -> np.ndarray:
    """[R, D] starts and ends -> [R * steps, D]: row r goes from starts[r] to ends[r] in `steps`
    evenly spaced steps (both endpoints included), rows concatenated."""
    starts, ends = np.atleast_2d(starts), np.atleast_2d(ends)
    if starts.shape != ends.shape:
        raise ValueError(f"starts {starts.shape} and ends {ends.shape} differ.")
    if steps < 2:
        raise ValueError(f"steps={steps} must be >= 2 (both endpoints are shown).")
    t = np.linspace(0.0, 1.0, steps)
    fn = slerp if spherical else lerp
    return np.concatenate([fn(s, e, t) for s, e in zip(starts, ends)], axis=0)


def group_mean(z, indices) -> np.ndarray:
    """Mean latent of the samples z[indices]."""
    z = np.asarray(z, np.float64)
    indices = list(indices)
    if not indices:
        raise ValueError("A latent group needs at least one sample index.")
    bad = [i for i in indices if not 0 <= i < len(z)]
    if bad:
        raise ValueError(f"Sample indices {bad} are out of range [0, {len(z)}).")
    return z[indices].mean(axis=0)


def arithmetic(a, b, c) -> np.ndarray:
    """a - b + c (e.g. smiling woman - neutral woman + neutral man)."""
    return np.asarray(a, np.float64) - np.asarray(b, np.float64) + np.asarray(c, np.float64)


def sample_latents(n: int, z_dim: int, distribution: str = "uniform", seed: int = 0):
    """The z the training sample grids use (`gans.sampling.fixed_z`, stream 0)."""
    if distribution not in Z_DISTRIBUTIONS:
        raise ValueError(f"Unknown z distribution {distribution!r}.")
    return fixed_z(n, z_dim, distribution, seed).numpy().astype(np.float64)


# -------------------------------------------------------------------------------- generators
@dataclasses.dataclass
class LoadedGenerator:
    render: object          # (z float32 [N, D], labels int32 [N] or None) -> images [N, H, W, C]
    z_dim: int
    num_classes: int
    z_distribution: str
    source: str

    def __call__(self, z, labels=None, batch_size: int = 256) -> np.ndarray:
        z = np.asarray(z, np.float32)
        out = []
        for start in range(0, len(z), batch_size):
            y = None if labels is None else np.asarray(labels[start:start + batch_size],
                                                       np.int32)
            out.append(np.asarray(self.render(z[start:start + batch_size], y), np.float32))
        return np.concatenate(out, axis=0)


def load_from_model_dir(model_dir: str) -> LoadedGenerator:

    model, info = load_gan(model_dir)
    generator = model.inference_generator()

    def render(z, y):
        return generator(z, y, training=False).numpy()

    return LoadedGenerator(render, model.z_dim, model.num_classes, model.z_distribution,
                           f"{model_dir} (step {info['step']}"
                           + (", EMA generator)" if generator is not model.generator else ")"))


def _module_attribute(loaded, name: str, default):
    """A module attribute as a Python value (exported modules store them as tf.Variables)."""
    value = getattr(loaded, name, None)
    if value is None:
        return default
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, bytes):
        value = value.decode()
    return value.item() if hasattr(value, "item") else value


def load_from_module(path: str) -> LoadedGenerator:
    """An exported generator (see export/README.md): `serving_default` takes `z` [N, z_dim]
    (and `labels` [N] for conditional models) and returns `images`."""

    if not os.path.isdir(path):
        raise FileNotFoundError(f"--module={path!r} is not a directory (an exported generator "
                                "SavedModel, e.g. export/NAME/generator).")
    loaded = tf.saved_model.load(path)
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path} has no serving_default signature.")
    signature = loaded.signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    if "z" not in inputs:
        raise ValueError(f"{path}: serving_default takes {sorted(inputs)}, expected `z`.")
    z_dim = _module_attribute(loaded, "z_dim", None)
    if z_dim is None:
        z_dim = inputs["z"].shape[-1] if inputs["z"].shape.rank else None
    if z_dim is None:
        raise ValueError(f"{path}: cannot tell z_dim (no z_dim attribute, z shape unknown).")
    conditional = "labels" in inputs
    num_classes = int(_module_attribute(loaded, "num_classes", 0)) if conditional else 0
    if conditional and not num_classes:
        raise ValueError(f"{path}: the generator takes labels but has no num_classes attribute.")
    distribution = str(_module_attribute(loaded, "z_distribution", "uniform"))

    def render(z, y):
        kwargs = {"z": tf.constant(z)}
        if conditional:
            kwargs["labels"] = tf.constant(y if y is not None else np.zeros(len(z), np.int32))
        return signature(**kwargs)["images"].numpy()

    return LoadedGenerator(render, int(z_dim), num_classes, distribution, path)


# ------------------------------------------------------------------------------------ grids
@dataclasses.dataclass
class LatentConfig:
    model_dir: str | None = None
    module: str | None = None
    mode: str = "interpolate"
    output: str = "latent.png"
    steps: int = 8
    rows: int = 8
    seed: int = 0
    spherical: bool = False
    num_samples: int = 64
    a: str = ""
    b: str = ""
    c: str = ""
    variations: int = 7
    jitter: float = 0.25
    label: int = -1


def _parse_indices(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(f"--{name}={text!r}: expected comma-separated sample indices, e.g. "
                         "--a=3,17,40.") from None


def _labels(generator: LoadedGenerator, pattern, fixed: int):
    if not generator.num_classes:
        return None
    pattern = np.asarray(pattern)
    if fixed >= 0:
        if fixed >= generator.num_classes:
            raise ValueError(f"--label={fixed} is out of range [0, {generator.num_classes}).")
        return np.full(pattern.shape, fixed, np.int32)
    return (pattern % generator.num_classes).astype(np.int32)


def _blank(shape) -> np.ndarray:
    return np.ones(shape, np.float32)


def build_grid(generator: LoadedGenerator, config: LatentConfig) -> tuple[np.ndarray, int]:
    """(images [N, H, W, C], columns) for the configured mode."""
    if config.mode == "samples":
        if config.num_samples < 1:
            raise ValueError(f"--num_samples={config.num_samples} must be >= 1.")
        z = sample_latents(config.num_samples, generator.z_dim, generator.z_distribution,
                           config.seed)
        images = generator(z, _labels(generator, np.arange(len(z)), config.label))
        return images, int(np.ceil(np.sqrt(len(z))))
    if config.mode == "interpolate":
        if config.rows < 1:
            raise ValueError(f"--rows={config.rows} must be >= 1.")
        ends = sample_latents(2 * config.rows, generator.z_dim, generator.z_distribution,
                              config.seed)
        z = interpolation_grid(ends[0::2], ends[1::2], config.steps, config.spherical)
        rows = np.repeat(np.arange(config.rows), config.steps)
        return generator(z, _labels(generator, rows, config.label)), config.steps
    if config.mode == "arithmetic":
        groups = [_parse_indices(getattr(config, name), name) for name in ("a", "b", "c")]
        if not all(groups):
            raise ValueError("--mode=arithmetic needs --a, --b and --c: sample indices from the "
                             "--mode=samples sheet (same --seed and --num_samples).")
        z = sample_latents(config.num_samples, generator.z_dim, generator.z_distribution,
                           config.seed)
        means = [group_mean(z, g) for g in groups]
        result = arithmetic(*means)
        rng = np.random.default_rng(config.seed)
        noise = rng.uniform(-config.jitter, config.jitter, [config.variations, generator.z_dim])
        label = max(config.label, 0)
        columns = max(max(len(g) for g in groups) + 1, 1 + config.variations)
        rows_z = [np.concatenate([z[g], m[None]]) for g, m in zip(groups, means)]
        rows_z.append(np.concatenate([result[None], result[None] + noise]))
        cells = []
        for row in rows_z:
            images = generator(row, _labels(generator, np.zeros(len(row), int), label))
            cells.extend(list(images))
            cells.extend([_blank(images.shape[1:])] * (columns - len(row)))
        return np.stack(cells), columns
    raise ValueError(f"--mode={config.mode!r}; expected one of {MODES}.")


def run(config: LatentConfig) -> dict:
    """Loads the generator, renders the grid, writes the PNG; returns a summary dict."""
    if bool(config.model_dir) == bool(config.module):
        raise ValueError("Pass exactly one of --model_dir (a training directory) or --module "
                         "(an exported generator SavedModel).")
    if config.mode not in MODES:
        raise ValueError(f"--mode={config.mode!r}; expected one of {MODES}.")
    if config.mode == "arithmetic":
        for name in ("a", "b", "c"):
            if not _parse_indices(getattr(config, name), name):
                raise ValueError("--mode=arithmetic needs --a, --b and --c: sample indices from "
                                 "the --mode=samples sheet (same --seed and --num_samples).")

    generator = (load_from_model_dir(config.model_dir) if config.model_dir
                 else load_from_module(config.module))
    images, columns = build_grid(generator, config)
    grid = image_grid(images, columns=columns)
    save_png(grid, config.output)
    return {"output": config.output, "mode": config.mode, "images": int(len(images)),
            "columns": int(columns), "grid_shape": list(grid.shape), "source": generator.source}


# ---------------------------------------------------------------------------------------- CLI
