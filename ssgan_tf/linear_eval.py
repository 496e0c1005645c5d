"""Linear evaluation of a discriminator's frozen features, block by block.

    python -m ssgan_tf.linear_eval --module=E/discriminator --dataset=digits --output=probe.json
    python -m ssgan_tf.linear_eval --model_dir=D [--checkpoint=C] --dataset=digits ...

For each D block (and `final`), fits a multinomial logistic regression on the frozen, pooled
features of --split (its L2 strength chosen on a held-out part) and reports top-1 accuracy on
--test_split. Prints a table and writes a flat JSON: {"block1": 0.71, ..., "best_block":
"block3", "dataset": "digits", ...}; best_block is chosen on validation accuracy.
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.evaluation.linear_eval import linear_eval


def build_parser() -> cli.Parser:
    p = cli.Parser("ssgan_tf.linear_eval", __doc__)
    p.add_argument("--module", help="Exported discriminator module (E/discriminator).")
    p.add_argument("--model_dir", help="Training directory (instead of --module).")
    p.add_argument("--checkpoint", help="With --model_dir: checkpoint prefix (default: latest).")
    p.add_argument("--dataset", default="digits",
                   help="Registry dataset: digits, synthetic, npz:PATH, cifar10, ...")
    p.add_argument("--data_dir", help="TFDS data directory.")
    p.add_argument("--resolution", type=int, help="Resize the dataset (synthetic and tfds).")
    p.add_argument("--split", default="train", help="Split the classifier is trained on (a "
                   "validation part of it picks the L2 strength).")
    p.add_argument("--test_split", default="test", help="Split the accuracy is measured on.")
    p.add_argument("--batch_size", type=int, default=256,
                   help="Global batch of the feature extraction.")
    p.add_argument("--max_train_examples", type=int, default=0,
                   help="Use only the first N training examples (0: all).")
    p.add_argument("--max_test_examples", type=int, default=0,
                   help="Use only the first N test examples (0: all).")
    p.add_argument("--val_fraction", type=float, default=0.2,
                   help="Part of the training split held out to choose L2.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the validation split.")
    p.add_argument("--strategy", default="default",
                   help="default | mirrored | multi_worker | tpu.")
    p.add_argument("--output", help="Write the results JSON here.")
    return p


def run(args) -> None:
    linear_eval(module=args.module, model_dir=args.model_dir, checkpoint=args.checkpoint,
                dataset=args.dataset, data_dir=args.data_dir, resolution=args.resolution,
                split=args.split, test_split=args.test_split, batch_size=args.batch_size,
                max_train_examples=args.max_train_examples,
                max_test_examples=args.max_test_examples, val_fraction=args.val_fraction,
                seed=args.seed, strategy=args.strategy, output=args.output)


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
