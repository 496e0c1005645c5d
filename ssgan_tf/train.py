"""Trains (or resumes) an SSGAN.

    python -m ssgan_tf.train --gin_file=gin/quickstart.gin [--gin_file=F2 ...] \\
        [--gin_param='train.num_steps=20' ...] --model_dir=runs/quickstart [--seed=N] [--tpu=T]

Every hyperparameter is a gin binding (`train.*`, `GAN.*`, `RotationTask.*`, `<arch>.*`); see
docs/training.md. Re-running the same command resumes from the latest checkpoint. A gin file is
code (gin can import modules and call functions): use gin files you trust.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.training.trainer import train  # noqa: F401 - `ssgan_tf.train.train`, the Python API


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.train", __doc__)
    parser.add_list("gin_file", "Gin config file, applied in order")
    parser.add_list("gin_param", "Gin binding, e.g. 'train.num_steps=20', applied after the files")
    parser.add_argument("--model_dir", help="Directory for checkpoints, samples and logs.")
    parser.add_argument("--seed", type=int, help="Overrides train.seed and turns on op "
                        "determinism (bit-identical runs).")
    parser.add_argument("--tpu", help="Cloud TPU name, 'local' (TPU VM) or grpc://HOST:PORT; "
                        "sets train.tpu and train.strategy='tpu'.")
    return parser


def run(args) -> int:
    if not args.model_dir:
        raise cli.UsageError("--model_dir is required (where checkpoints, samples and logs go).")
    params = list(args.gin_param)
    if args.seed is not None:
        params += [f"train.seed = {args.seed}", "train.deterministic = True"]
    if args.tpu is not None:
        params += [f"train.tpu = {args.tpu!r}", "train.strategy = 'tpu'"]
    parse_gin(args.gin_file, params)
    summary = train(args.model_dir)
    return 128 + summary["stopped_by_signal"] if summary.get("stopped_by_signal") else 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
