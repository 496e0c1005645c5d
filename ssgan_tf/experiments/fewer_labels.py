"""GANs with fewer labels at CPU scale: S3GAN with 10% labels vs the same conditional GAN with all
labels, S2GAN (no labels, k-means pseudo-labels) and the unconditional SSGAN (Lucic et al. 2019).

    python -m ssgan_tf.experiments.fewer_labels --output_dir=runs/fewer_labels [--num_steps=1000]

Each variant trains in `output_dir/<variant>` with its gin file (re-running resumes / skips
finished work) and is scored with a small CNN classifier trained on the real training images
(`metrics.domain`, saved as `output_dir/domain.keras`):
- `domain_fd`: Fréchet distance between the classifier's penultimate features of generated and
  real test images (lower is better; not FID, only comparable within this experiment);
- `label_agreement`: how often the classifier sees the requested class in a conditional sample
  (chance = 1/10; for S2GAN the cluster id is mapped to its majority true class);
- `class_head_accuracy`: the S3GAN class head's top-1 accuracy on the real test images.
Writes `results.json` and `results.md` (a table) in `output_dir`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from ssgan_tf.common import cli
from ssgan_tf.evaluation.metrics.domain import DomainFeatureExtractor
from ssgan_tf.evaluation.metrics.frechet import frechet_distance_from_activations
from ssgan_tf.experiments.forgetting import load_arrays
from ssgan_tf.runs.restore import load_gan

VARIANTS = {
    # name: (module, gin file, extra bindings, description)
    "ssgan_unconditional": ("ssgan_tf.train", "gin/quickstart_quality.gin", [],
                            "SSGAN, no labels (unconditional)"),
    "s2gan": ("ssgan_tf.s2gan", "gin/digits_s2gan.gin", [],
              "S2GAN: no labels, 10 k-means clusters of a rotation-pretrained D"),
    "s3gan_10pct": ("ssgan_tf.train", "gin/digits_s3gan_10pct.gin", [],
                    "S3GAN, 10% labels (class head labels the rest)"),
    "conditional_100pct": ("ssgan_tf.train", "gin/digits_s3gan_10pct.gin",
                           ["train.labelled_fraction = None",
                            "sndcgan.Discriminator.class_head = False"],
                           "conditional SSGAN, all labels (upper bound)"),
}
NUM_SAMPLES = 2000


def train_variant(name: str, output_dir: str, num_steps: int, pretrain_steps: int,
                  seed: int) -> tuple[str, float]:
    """Runs the variant's CLI in a subprocess (clean gin state); returns (model_dir, seconds)."""
    module, gin_file, extra, _ = VARIANTS[name]
    run_dir = os.path.join(output_dir, name)
    params = list(extra) + [f"train.num_steps = {num_steps}", "train.sample_every = 250"]
    if module == "ssgan_tf.s2gan":
        params.append(f"S2GAN.pretrain_steps = {pretrain_steps}")
    command = [sys.executable, "-m", module, f"--gin_file={gin_file}", f"--model_dir={run_dir}",
               *[f"--gin_param={p}" for p in params]]
    if module == "ssgan_tf.train":
        command.append(f"--seed={seed}")
    else:
        command.append(f"--gin_param=train.seed = {seed}")
    start = time.time()
    subprocess.run(command, check=True, cwd=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    model_dir = os.path.join(run_dir, "gan") if module == "ssgan_tf.s2gan" else run_dir
    return model_dir, time.time() - start


def _uint8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def score(model_dir: str, classifier, x_test, y_test, cluster_to_class=None) -> dict:
    """domain_fd, label_agreement and (S3GAN) class_head_accuracy of a trained model_dir."""


    model, info = load_gan(model_dir)
    generator = model.inference_generator()
    num_classes = info["num_classes"]
    rng = np.random.RandomState(0)
    shape = [NUM_SAMPLES, model.z_dim]
    z = (rng.uniform(-1, 1, shape) if model.z_distribution == "uniform"
         else rng.normal(size=shape)).astype(np.float32)  # the model's own prior
    labels = (np.arange(NUM_SAMPLES) % num_classes).astype(np.int32) if num_classes else None
    samples = np.concatenate([
        generator(z[i:i + 250], None if labels is None else labels[i:i + 250],
                  training=False).numpy() for i in range(0, NUM_SAMPLES, 250)])
    fake_features = classifier(_uint8(samples))["features"]
    real_features = classifier(_uint8(x_test))["features"]
    result = {"step": info["step"],
              "domain_fd": frechet_distance_from_activations(fake_features, real_features)}
    if labels is not None:
        requested = labels if cluster_to_class is None else cluster_to_class[labels]
        result["label_agreement"] = classifier.accuracy(_uint8(samples), requested)
    if getattr(model.discriminator, "class_head", None) is not None:
        logits = np.concatenate([
            model.discriminator(tf.constant(x_test[i:i + 500]),
                                tf.fill([len(x_test[i:i + 500])], -1),
                                training=False)["class_logits"].numpy()
            for i in range(0, len(x_test), 500)])
        result["class_head_accuracy"] = float(np.mean(logits.argmax(-1) == y_test))
    return result


def majority_classes(output_dir: str, y_train: np.ndarray) -> np.ndarray:
    """S2GAN: each cluster's majority true class (to score label agreement; not for training)."""
    with np.load(os.path.join(output_dir, "s2gan", "clusters.npz")) as clusters:
        ids, k = clusters["cluster_ids"], int(clusters["num_clusters"])
    return np.array([np.bincount(y_train[ids == c], minlength=10).argmax() if np.any(ids == c)
                     else 0 for c in range(k)])


def run(output_dir: str, num_steps: int, pretrain_steps: int, seed: int,
        variants=tuple(VARIANTS)) -> dict:

    os.makedirs(output_dir, exist_ok=True)
    _, (x_train, y_train, x_test, y_test) = load_arrays("digits")
    classifier_path = os.path.join(output_dir, "domain.keras")
    if not os.path.isfile(classifier_path):
        DomainFeatureExtractor.train(_uint8(x_train), y_train, num_classes=10, epochs=5,
                                     seed=seed).save(classifier_path)
    classifier = DomainFeatureExtractor.load(classifier_path)
    results_path = os.path.join(output_dir, "results.json")
    results = json.load(open(results_path)) if os.path.isfile(results_path) else {}
    results["classifier_test_accuracy"] = classifier.accuracy(_uint8(x_test), y_test)
    for name in variants:
        if results.get(name, {}).get("step") == num_steps:
            continue
        model_dir, seconds = train_variant(name, output_dir, num_steps, pretrain_steps, seed)
        mapping = majority_classes(output_dir, y_train) if name == "s2gan" else None
        results[name] = {**score(model_dir, classifier, x_test, y_test, mapping),
                         "train_seconds_this_invocation": round(seconds, 1),
                         "description": VARIANTS[name][3]}
        if name == "s2gan":
            with np.load(os.path.join(output_dir, "s2gan", "clusters.npz")) as clusters:
                results[name]["cluster_purity"] = float(clusters["purity"])
                results[name]["cluster_nmi"] = float(clusters["nmi"])
        with open(results_path, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(markdown_table(results))
    return results


def markdown_table(results: dict) -> str:
    def cell(value, fmt="{:.3f}"):
        return fmt.format(value) if value is not None else "-"

    lines = ["| variant | labels | domain FD (lower is better) | label agreement | "
             "class head test acc. |", "|---|---|---|---|---|"]
    for name in VARIANTS:
        if name not in results:
            continue
        r = results[name]
        lines.append(f"| `{name}` | {r['description']} | {cell(r['domain_fd'], '{:.2f}')} | "
                     f"{cell(r.get('label_agreement'))} | {cell(r.get('class_head_accuracy'))} |")
    lines.append(f"\nScoring classifier's accuracy on the real test digits: "
                 f"{results['classifier_test_accuracy']:.3f}.\n")
    return "\n".join(lines)


def build_parser() -> cli.Parser:
    p = cli.Parser("ssgan_tf.experiments.fewer_labels", __doc__)
    p.add_argument("--output_dir", default="runs/fewer_labels", help="Where runs and results go.")
    p.add_argument("--num_steps", type=int, default=1000, help="G steps of every GAN.")
    p.add_argument("--pretrain_steps", type=int, default=1000,
                   help="S2GAN's rotation-only pre-training steps.")
    p.add_argument("--seed", type=int, default=0, help="Training seed.")
    p.add_list("variants", f"One of {tuple(VARIANTS)} (default: all)")
    return p


def run_from_args(args) -> None:
    results = run(args.output_dir, args.num_steps, args.pretrain_steps, args.seed,
                  args.variants or tuple(VARIANTS))
    print(markdown_table(results))


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
