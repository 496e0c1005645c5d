"""Latent-space tools: interpolations and latent vector arithmetic, rendered as PNG grids.

    python -m ssgan_tf.latent --model_dir=D --mode=samples --num_samples=64 --output=sheet.png
    python -m ssgan_tf.latent --model_dir=D --mode=interpolate --output=grid.png \\
        [--rows=8 --steps=8 --seed=0 --spherical]
    python -m ssgan_tf.latent --model_dir=D --mode=arithmetic --a=3,17,40 --b=5,9,21 --c=11,12 \\
        --output=arithmetic.png [--num_samples=64 --seed=0 --variations=7 --jitter=0.25]
    python -m ssgan_tf.latent --module=E/generator ...   # an exported generator instead

- `samples`: the `num_samples` latents drawn with `seed`, in index order (row-major), so you can
  pick the indices of example groups for `arithmetic`. z is drawn exactly as the training sample
  grids draw it (`stateless_uniform([n, z_dim], [seed, 0], -1, 1)`, or normal for
  `z_distribution="normal"`): `--seed=1234 --num_samples=64` shows the z of `samples/*.png`.
- `interpolate`: `rows` rows, each from one random latent to another in `steps` steps, linearly
  (`lerp`) or along the great circle (`slerp`, White 2016, "Sampling Generative Networks"; keeps
  the norm for endpoints of equal norm, which suits a Gaussian prior).
- `arithmetic` (Radford et al. 2016, DCGAN §6.3): the mean latent of each group of samples a, b,
  c (indices into the `samples` sheet with the same seed and num_samples), then a - b + c. Rows:
  group a's samples and the image of their mean, likewise b and c, then the result and
  `variations` images of result + U[-jitter, jitter] noise.

A model_dir is loaded with `ssgan_tf.runs.restore.load_gan` and sampled with the GAN's inference
generator (the EMA generator when `GAN.g_ema_decay` is set). A `--module` is a SavedModel with a
`serving_default` signature taking `z` (and `labels` for conditional models) and returning
`images`. Conditional models: samples use labels i mod num_classes, interpolation row r uses
r mod num_classes, arithmetic uses `--label` (default 0); `--label` fixes one label everywhere.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.evaluation.latent import MODES, LatentConfig
from ssgan_tf.evaluation.latent import run as render

HELP = {
    "model_dir": "Training directory (checkpoints, model.json).",
    "module": "Exported generator SavedModel directory.",
    "mode": "What to render.",
    "output": "PNG path.",
    "steps": "interpolate: images per row (endpoints included).",
    "rows": "interpolate: number of interpolations.",
    "seed": "Seed of the latents (1234 = the training grids' z).",
    "spherical": "interpolate: slerp instead of lerp",
    "num_samples": "samples / arithmetic: sheet size.",
    "a": "arithmetic: sample indices of group a (comma-separated).",
    "b": "arithmetic: sample indices of group b (subtracted).",
    "c": "arithmetic: sample indices of group c (added).",
    "variations": "arithmetic: jittered copies of a-b+c.",
    "jitter": "arithmetic: U[-jitter, jitter] noise of variations.",
    "label": "Conditional models: one label for all (-1: auto).",
}


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.latent", __doc__)
    parser.add_fields(LatentConfig, HELP, choices={"mode": MODES})
    return parser


def run(args) -> None:
    summary = render(cli.args_to(LatentConfig, args))
    print(f"wrote {summary['output']}: {summary['mode']}, {summary['images']} images "
          f"({summary['columns']} per row) from {summary['source']}")


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
