"""Exports a trained GAN as two SavedModel / TF-Hub modules.

    python -m ssgan_tf.export --model_dir=D [--export_dir=E] [--checkpoint=C] [--overwrite]

writes E/generator (z [+ labels] -> images in [0, 1]; the EMA weights when the GAN has them) and
E/discriminator (images in [0, 1] [+ labels] -> pooled block features, final features, GAN and
rotation logits). E defaults to D/export. Loading either needs only TensorFlow: hub.load(path),
hub.KerasLayer(path) (tf_keras) or keras.layers.TFSMLayer(path, call_endpoint="serving_default").
"""

from __future__ import annotations

import sys

from ssgan_tf.common import cli
from ssgan_tf.export.api import export_from_model_dir


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.export", __doc__)
    parser.add_argument("--model_dir", help="Training directory (model.json, checkpoints/).")
    parser.add_argument("--export_dir", help="Where to write generator/ and discriminator/ "
                        "(default: MODEL_DIR/export).")
    parser.add_argument("--checkpoint", help="Checkpoint prefix (default: the latest).")
    parser.add_bool("overwrite", help="Replace a non-empty --export_dir")
    return parser


def run(args) -> None:
    paths = export_from_model_dir(args.model_dir, args.export_dir, args.checkpoint,
                                  args.overwrite)
    print(f"exported {args.model_dir}: generator {paths['generator']} (signatures "
          f"serving_default, sample), discriminator {paths['discriminator']} "
          "(serving_default); load with hub.load(path), hub.KerasLayer(path) or "
          "keras.layers.TFSMLayer(path, call_endpoint='serving_default').")


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
