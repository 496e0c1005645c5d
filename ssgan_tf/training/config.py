"""`TrainConfig`: every setting of a training run, bound in gin as `train.*`.

A frozen dataclass registered with gin under the name `train`, so `train.num_steps = 1500` in a
gin file or `--gin_param='train.batch_size=8'` configures it as it always did. It checks every
value when it is built, before anything is written: a wrong type or an unknown choice names the
binding, the value and what was expected (`train.batch_size='x': expected a positive integer`).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Sequence

import gin

from ssgan_tf.common.distribute import STRATEGIES
from ssgan_tf.common.errors import ConfigError
from ssgan_tf.data import DatasetSpec
from ssgan_tf.training.precision import PRECISIONS

NAN_POLICIES = ("stop", "restore")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _expect(name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"train.{name}={value!r}: expected {expected}.")


@gin.configurable("train", module="ssgan_tf.training")
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What `train()` does. `num_steps` (generator updates, as the reference counts) is required.

    Data: `dataset` is a registry name (`digits`, `synthetic`, `npz:PATH`, `folder:PATH`,
    `tfds:NAME`, a registered tfds name; docs/data.md) read from `data_dir` at `resolution`
    (None: the dataset's own), or from Python a `DatasetSpec`; `max_train_examples` trains on the
    first N training examples only (a small-data regime; the rest is the split `heldout`). Model: `architecture`, `z_dim`,
    `conditional` (class-conditional G and projection D). S3GAN / S2GAN: `labelled_fraction`
    keeps the labels of that fraction of the training images (stratified, chosen by
    `label_seed`; the others get -1); `pseudo_labels` is an .npz of `ssgan_tf.s2gan` whose cluster
    ids replace the labels. `batch_size` is global (all replicas) and counts the real images of
    one D step. Scale: `strategy` (default | mirrored | multi_worker | tpu), `tpu`, `precision`
    (float32 | mixed_bfloat16 | mixed_float16 | auto), `jit_compile` (XLA; required on TPU).
    Loop: `steps_per_loop` steps per host call; logs, sample grids and checkpoints every
    `log_every` / `sample_every` / `save_every` steps, `keep_checkpoints` kept. `seed` fixes
    initialization, data order and z; `deterministic` turns on TF op determinism. Faults:
    `nan_policy` on a non-finite loss: `stop` (the last good checkpoint untouched) or `restore`
    (reload it, draw other z, go on; give up after `max_nan_restores` in a row). End:
    `export_at_end` writes `model_dir/export/{generator,discriminator}` (chief only). `hooks`:
    periodic evaluations (`callbacks.TrainHook`, e.g. `[@LinearProbeHook()]`).
    """

    num_steps: int = gin.REQUIRED
    dataset: str | DatasetSpec = "digits"
    data_dir: str | None = None
    resolution: int | None = None
    max_train_examples: int | None = None
    architecture: str = "sndcgan"
    batch_size: int = 64
    z_dim: int = 128
    conditional: bool = False
    labelled_fraction: float | None = None
    label_seed: int = 0
    pseudo_labels: str | None = None
    strategy: str = "default"
    tpu: str | None = None
    precision: str = "float32"
    steps_per_loop: int = 25
    log_every: int = 100
    sample_every: int = 500
    save_every: int = 500
    keep_checkpoints: int = 3
    seed: int = 0
    deterministic: bool = False
    nan_policy: str = "stop"
    max_nan_restores: int = 3
    export_at_end: bool = False
    hooks: Sequence[Any] = ()
    jit_compile: bool = False

    def __post_init__(self):
        object.__setattr__(self, "hooks", tuple(self.hooks or ()))
        self._check_numbers()
        self._check_choices()
        self._check_labels()
        for hook in self.hooks:
            _expect("hooks", self.hooks, callable(hook) and _is_int(getattr(hook, "every", None))
                    and hook.every >= 0, "a list of training hooks (callables with an integer "
                    "`every`, e.g. [@LinearProbeHook()])")

    def _check_numbers(self) -> None:
        for name in ("num_steps", "batch_size", "z_dim", "steps_per_loop", "log_every",
                     "sample_every", "save_every", "keep_checkpoints"):
            value = getattr(self, name)
            _expect(name, value, _is_int(value) and value > 0, "a positive integer")
        for name in ("seed", "label_seed", "max_nan_restores"):
            value = getattr(self, name)
            _expect(name, value, _is_int(value) and value >= 0, "an integer >= 0")
        _expect("resolution", self.resolution, self.resolution is None
                or (_is_int(self.resolution) and self.resolution > 0),
                "a positive integer or None (the dataset's own resolution)")
        _expect("max_train_examples", self.max_train_examples, self.max_train_examples is None
                or (_is_int(self.max_train_examples) and self.max_train_examples > 0),
                "a positive integer or None (the whole training split)")
        for name in ("conditional", "deterministic", "export_at_end", "jit_compile"):
            _expect(name, getattr(self, name), isinstance(getattr(self, name), bool),
                    "True or False")

    def _check_choices(self) -> None:
        _expect("dataset", self.dataset, (isinstance(self.dataset, str) and self.dataset)
                or isinstance(self.dataset, DatasetSpec),
                "a dataset name (digits, synthetic, npz:PATH, folder:PATH, tfds:NAME or a "
                "registered tfds name) or, from Python, a DatasetSpec")
        _expect("architecture", self.architecture, isinstance(self.architecture, str),
                "an architecture name")
        for name in ("data_dir", "pseudo_labels", "tpu"):
            value = getattr(self, name)
            _expect(name, value, value is None or isinstance(value, str), "a string or None")
        for name, choices in (("strategy", STRATEGIES), ("precision", PRECISIONS),
                              ("nan_policy", NAN_POLICIES)):
            _expect(name, getattr(self, name), getattr(self, name) in choices,
                    "one of " + ", ".join(repr(c) for c in choices))

    def _check_labels(self) -> None:
        fraction = self.labelled_fraction
        _expect("labelled_fraction", fraction, fraction is None
                or (_is_number(fraction) and 0 < fraction <= 1), "a number in (0, 1] or None")
        if (fraction is not None or self.pseudo_labels) and not self.conditional:
            raise ConfigError("train.labelled_fraction / train.pseudo_labels only make sense for "
                              "a conditional model: set train.conditional = True.")


def is_bound(name: str) -> bool:
    """True when the parsed gin config binds `train.<name>`."""
    try:
        gin.query_parameter(f"train.{name}")
    except ValueError:
        return False
    return True


def make_config(**overrides) -> TrainConfig:
    """The TrainConfig of the parsed gin bindings with `overrides` winning, or one `ConfigError`
    paragraph: an unknown setting, a missing `train.num_steps` (gin's own message is a
    RuntimeError without the fix), a value that does not fit (without the line gin appends)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"Unknown training settings {unknown}; TrainConfig has "
                          f"{', '.join(sorted(fields))}.")
    if "num_steps" not in overrides and not is_bound("num_steps"):
        raise ConfigError("train.num_steps is not set: expected a positive integer, the number "
                          "of generator updates (e.g. --gin_param='train.num_steps=1000').")
    try:
        return TrainConfig(**overrides)
    except ConfigError as e:
        raise ConfigError(str(e).splitlines()[0]) from None


def current_config(**overrides) -> TrainConfig:
    """The TrainConfig the parsed gin config gives (`overrides` win), for tools that build what
    training builds without running the loop (benchmark, s2gan's clustering, the study). They
    do not read `num_steps`, so it may be unbound there (it then reads 1)."""
    if "num_steps" not in overrides and not is_bound("num_steps"):
        overrides["num_steps"] = 1
    return make_config(**overrides)
