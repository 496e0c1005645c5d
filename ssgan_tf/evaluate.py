"""Command-line evaluation: FID / KID / IS / precision-recall-density-coverage of images, an
exported generator or a checkpoint.

    python -m ssgan_tf.evaluate --images=A.npz --reference=B.npz --metrics=fid,kid,prdc \\
        --inception=fid_inception_v3_2015_12_05_weights.npz --output=m.json
    python -m ssgan_tf.evaluate --module=EXPORT/generator --num_samples=10000 \\
        --reference=B.npz --metrics=fid,kid,is --inception=PATH --output=metrics.json
    python -m ssgan_tf.evaluate --model_dir=D ...        (checkpoints; wired by the trainer)

Image files are .npz with key ``images`` (or ``x_train`` / ``x_test``), NHWC RGB or grayscale
[N,H,W]: uint8, or floats in [0, 1] (scaled by 255, with a note) or [0, 255]; anything else
(e.g. [-1, 1]) is refused. ``--reference`` may also be a statistics .npz (keys ``mu``/``sigma``,
e.g. TTUR's ``fid_stats_*.npz`` or one saved by this library; KID and PRDC additionally need its
``features``). The reference's statistics and features are cached (--cache_dir), keyed by the
sha256 of its images and of the extractor, so a second evaluation against it extracts only the
generated images.

prdc: precision and recall (Kynkaanniemi et al. 2019, k = 3) and density and coverage (Naeem
et al. 2020, k = 5) in the same Inception pool_3 features, on up to --kid_reservoir_size feature
rows per side.

The JSON records n_real, n_fake, the real source and split, and the extractor's name and
weights sha256 next to every score, and a ``warning`` when n is below what published numbers
use (FID from fewer than 10,000 images is biased upward). The scores, notes and warnings are
also printed. Bad input ends the process with exit code 1 and a one-paragraph message, no
traceback. A weights file (--inception) is never unpickled beyond plain tensors.
"""

from __future__ import annotations

import json
import sys

from ssgan_tf.common import cli
from ssgan_tf.evaluation.evaluate import EvalConfig, summary_lines
from ssgan_tf.evaluation.evaluate import run as evaluate

HELP = {
    "images": "npz of generated images (key images/x_train/x_test).",
    "module": "Exported generator SavedModel directory.",
    "model_dir": "Training directory with checkpoints.",
    "reference": "npz of real images, or statistics npz (mu, sigma).",
    "metrics": "Comma-separated subset of fid,kid,is,prdc.",
    "inception": "Local FID Inception weights: .npz, .pb, .tgz or .pth.",
    "domain_extractor": "Optional .keras domain extractor (scores reported as domain_fd / "
                        "domain_kid / domain_is).",
    "num_samples": "Images to sample from --module/--model_dir.",
    "batch_size": "Batch size for sampling and feature extraction.",
    "seed": "Seed for z, labels and KID subsets.",
    "real_split": "Split recorded in the JSON; picks x_<split> if present.",
    "num_real": "Use only the first N reference images (0 = all).",
    "output": "JSON output path (default: print to stdout).",
    "is_splits": "Inception Score splits.",
    "is_logits": "IS logits: pool_3@W (original IS code) or with the softmax bias.",
    "kid_subsets": "KID subsets.",
    "kid_subset_size": "KID subset size (capped at sample counts).",
    "kid_reservoir_size": "Max feature rows kept per side for KID and PRDC.",
    "cache_dir": "Cache the reference's statistics and features here, keyed by the sha256 of "
                 "its images and of the extractor ('': $SSGAN_TF_CACHE_DIR or "
                 "~/.cache/ssgan_tf/reference; 'none': no cache).",
    "quantize": "Round generator outputs to uint8 like saved images",
}


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.evaluate", __doc__)
    parser.add_fields(EvalConfig, HELP, choices={"is_logits": ("unbiased", "biased")})
    return parser


def run(args) -> None:
    config = cli.args_to(EvalConfig, args)
    result = evaluate(config)
    # The JSON goes to stdout unless --output; the human summary then goes to stderr.
    stream = sys.stdout if config.output else sys.stderr
    for line in summary_lines(result):
        print(line, file=stream, flush=True)
    if config.output:
        print(f"wrote {config.output}")
    else:
        print(json.dumps(result, indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
