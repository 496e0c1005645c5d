"""Throughput benchmark of the gin-configured training step.

    python -m ssgan_tf.benchmark --gin_file=F --precision=float32|mixed_bfloat16 --steps=N \\
        --output=bench.json [--gin_param=...] [--mirrored_devices=2] [--compare_rotation] \\
        [--multi_worker_processes=2] [--inception=fid_inception_v3_2015_12_05_weights.npz]

Reports img/s, s/step and the fraction of this machine's measured matmul/conv peak (never a
timing assertion); the extra flags add rotation cost, mirrored / multi-worker scaling and
Inception feature throughput, each measured in the same run. Prints one line, writes flat JSON.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.perf.benchmark import PRECISIONS, BenchmarkOptions, summary_line
from ssgan_tf.perf.benchmark import run as run_benchmark

HELP = {
    "precision": "Keras dtype policy.",
    "steps": "Timed steps (after warm-up).",
    "warmup": "Untimed steps after compilation.",
    "batch_size": "Overrides train.batch_size.",
    "mirrored_devices": "If > 1: also time MirroredStrategy on this many logical CPU devices.",
    "jit_compile": "Compile the step with XLA",
    "compare_rotation": "Also time the step with RotationTask.mode='none' (rotation_cost_ratio)",
    "multi_worker_processes": "If > 1: also time that many MultiWorkerMirroredStrategy "
                              "processes.",
    "kernels": "Also time every conv/matmul of the step in isolation: kernel_peak_fraction "
               "and kernel_share",
    "inception": "FID Inception weights (.npz/.pb): time feature extraction "
                 "(eval_inception_img_per_s).",
    "peak_seconds": "Length of each of the 3 timing windows of the matmul and conv peaks "
                    "(shorter is quicker and noisier).",
    "strategy": "Internal: the strategy of this process (multi_worker children).",
    "output": "JSON output path.",
}


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.benchmark", __doc__)
    parser.add_list("gin_file", "Gin config of the model to benchmark")
    parser.add_list("gin_param", "Extra gin binding")
    parser.add_fields(BenchmarkOptions, HELP, choices={
        "precision": PRECISIONS, "strategy": ("default", "multi_worker")})
    return parser


def run(args) -> None:
    result = run_benchmark(cli.args_to(BenchmarkOptions, args))
    if args.strategy == "default":
        print(summary_line(result))


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
