"""One HTML page of a training run: open it instead of starting TensorBoard.

    python -m ssgan_tf.report --model_dir=D [--output=D/report.html]

The page is self-contained (figures embedded as PNG): the loss and accuracy curves of
D/train's TensorBoard events, the FID / KID / PRDC / rotation-accuracy and linear-probe curves
when the evaluation hooks ran (D/eval/metrics_curve.json, D/probe/probe_curve.json), the latest
sample grid, summary.json, model.json and the operative gin config.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.evaluation.report import write_report


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.report", __doc__)
    parser.add_argument("--model_dir", required=True, help="Training directory.")
    parser.add_argument("--output", help="HTML path (default: MODEL_DIR/report.html).")
    return parser


def run(args) -> None:
    path, counts = write_report(args.model_dir, args.output)
    print(f"wrote {path}: {counts['training_figures']} training figures, "
          f"{counts['hook_figures']} evaluation figures, "
          f"{'the latest sample grid' if counts['samples'] else 'no sample grid'}")


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
