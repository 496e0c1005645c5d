"""What a training run is made of, built from a `TrainConfig`: the training data (a registry
dataset or the user's own, with S3GAN / S2GAN label options) and the model. Tools that build
what training builds without its loop (benchmark, s2gan, the study) use these too."""

from __future__ import annotations

from ssgan_tf import runs
from ssgan_tf.architectures import DEFAULT_RESOLUTION
from ssgan_tf.common.errors import ConfigError
from ssgan_tf.data import DatasetSpec, first_examples, get_dataset
from ssgan_tf.data import labels as labels_lib
from ssgan_tf.gans import GAN
from ssgan_tf.training.config import TrainConfig
from ssgan_tf.training.user_data import data_spec


def training_data(config: TrainConfig, data=None, print_fn=print) -> DatasetSpec:
    """`data` (arrays, a tf.data.Dataset or a DatasetSpec, see `user_data`) or else
    `train.dataset`, cut to `train.max_train_examples`, with `train.pseudo_labels` /
    `train.labelled_fraction` applied."""
    if data is not None:
        spec = data_spec(data, conditional=config.conditional, resolution=config.resolution)
    else:
        spec = get_dataset(config.dataset, data_dir=config.data_dir,
                           resolution=config.resolution,
                           default_resolution=DEFAULT_RESOLUTION.get(config.architecture))
    if config.max_train_examples is not None:
        try:
            spec = first_examples(spec, config.max_train_examples)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    for note in spec.notes:
        print_fn(note)
    if spec.size is not None and not spec.size.get("train"):
        raise ConfigError(f"Dataset {spec.name!r} has no training examples.")
    return apply_label_options(spec, config, print_fn)


def apply_label_options(spec: DatasetSpec, config: TrainConfig, print_fn=print) -> DatasetSpec:
    """The dataset with S2GAN pseudo-labels and/or S3GAN partial labels applied."""
    if config.pseudo_labels:
        spec = labels_lib.with_pseudo_labels(
            spec, *labels_lib.load_pseudo_labels(config.pseudo_labels))
        print_fn(f"labels: {spec.num_classes} k-means clusters of {config.pseudo_labels}")
    if config.conditional and spec.num_classes:
        labels_lib.check_labels(spec, spec.num_classes)
    if config.labelled_fraction is not None:
        spec, mask = labels_lib.with_partial_labels(spec, config.labelled_fraction,
                                                    seed=config.label_seed)
        print_fn(f"labels: {int(mask.sum())} of {len(mask)} training images labelled "
                 f"(train.labelled_fraction={config.labelled_fraction:g}, label_seed="
                 f"{config.label_seed}); the others are -1")
    return spec


def build_model(spec: DatasetSpec, architecture: str, z_dim: int, conditional: bool, seed: int,
                precision: str = "float32") -> tuple[GAN, dict]:
    """G, D and the GAN for a dataset spec (call inside `strategy.scope()`), and model.json."""
    num_classes = spec.num_classes if conditional else 0
    if conditional and not num_classes:
        raise ConfigError(f"train.conditional=True but dataset {spec.name!r} has no labels.")
    info = runs.model_info(spec, architecture, z_dim, num_classes, precision, "uniform")
    info.update({"class_names": list(spec.class_names)} if spec.class_names else {})
    generator, discriminator = runs.build_networks(info)
    model = GAN(generator, discriminator, seed=seed)
    info["z_distribution"] = model.z_distribution
    return model, info
