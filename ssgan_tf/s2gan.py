"""S2GAN end to end: rotation-only pre-training, k-means pseudo-labels of D's features, then a
conditional GAN on them (Lucic et al., ICML 2019).

    python -m ssgan_tf.s2gan --gin_file=gin/digits_s2gan.gin --model_dir=runs/s2gan

Writes MODEL_DIR/pretrain, MODEL_DIR/clusters.npz and MODEL_DIR/gan; each stage is skipped when
its output exists, so re-running the same command resumes.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.pipelines.s2gan import run_s2gan


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.s2gan", __doc__)
    parser.add_list("gin_file", "Gin config file (the GAN stage's config plus S2GAN.* bindings)")
    parser.add_list("gin_param", "Gin binding")
    parser.add_argument("--model_dir", help="Output directory (pretrain/, clusters.npz, gan/).")
    return parser


def run(args) -> int:
    if not args.model_dir:
        raise cli.UsageError("--model_dir is required (pretrain/, clusters.npz, gan/ go there).")
    summary = run_s2gan(args.model_dir, args.gin_file, args.gin_param)
    return 128 + summary["stopped_by_signal"] if summary.get("stopped_by_signal") else 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
