"""The Keras-facing half of `GAN` (a mixin of gans/gan.py): keras-io style `compile`, `fit` on
arrays or datasets (also under MirroredStrategy), and the configs `.keras` save / load use.

- `compile(g_optimizer=..., d_optimizer=..., loss_fn=...)`: what is not given keeps the GAN's
  (gin-configured) value; `model.optimizer` becomes the G/D pair Keras callbacks read
  (gans/optimizers.py), so TensorBoard logs `learning_rate_<G's name>` and `..._<D's name>`.
- `fit(x, y=None, batch_size=..., epochs=..., callbacks=[...])`: the forms of gans/inputs.py. The
  model is built (every variable, inside its strategy's scope) before Keras looks at it, which is
  what Keras' automatic build cannot do for a GAN under a distribution strategy (keras#20164).
  Epoch logs are the last step's values (the step returns tensors, not Keras metrics).
- `get_config` / `from_config`: G and D by their own configs, the loss and penalty by name, the
  rotation task, the augmentation (`augment`: every `Augment` field; ADA's p is a weight), every
  scalar and trick setting, the optimizers (with their state in the weights file) and
  `extra_tricks`. Gin-bound arguments of a loss (e.g. `non_saturating.label_smoothing`) are not
  part of it.
"""

from __future__ import annotations

import dataclasses

import keras

from ssgan_tf.gans import functions
from ssgan_tf.gans.augment import Augment
from ssgan_tf.gans.inputs import training_dataset
from ssgan_tf.gans.optimizers import OptimizerPair, make_optimizer
from ssgan_tf.gans.ssgan import RotationTask


class KerasGanApi:
    """compile / fit / configs for `GAN` (which defines the attributes used here)."""

    def compile(self, g_optimizer=None, d_optimizer=None, loss_fn=None, jit_compile=False,
                **kwargs) -> None:
        """keras-io style: G's and D's optimizers (instances or Keras identifiers) and the GAN
        loss (a function or a name of gans/losses.py); what is not given keeps its current
        (gin-configured) value. Other keyword arguments go to `keras.Model.compile` (e.g.
        `run_eagerly`, `steps_per_execution`); XLA is off unless `jit_compile=True`. New
        optimizers start a new step count (the step is G's optimizer's `iterations`)."""
        if g_optimizer is not None:
            self.g_optimizer = make_optimizer(g_optimizer, "g")
        if d_optimizer is not None:
            self.d_optimizer = make_optimizer(d_optimizer, "d")
        if loss_fn is not None:
            self.loss_fn = functions.resolve(loss_fn, "loss_fn")
        if getattr(self, "_built_all", False):
            with self.distribute_strategy.scope():
                self.build_optimizers()
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.optimizer = OptimizerPair(self.g_optimizer, self.d_optimizer)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, shuffle=True,
            **kwargs) -> keras.callbacks.History:
        """Keras `fit` with `train_step`, on arrays or a dataset of images in [0, 1] (accepted
        forms: gans/inputs.py); `batch_size` counts the images of one G step. Builds the model
        (inside its strategy's scope) first, so fit works under MirroredStrategy too."""
        multiple = self.disc_iters * self.distribute_strategy.num_replicas_in_sync
        dataset = training_dataset(x, y, batch_size, shuffle, seed=self.seed, multiple=multiple)
        with self.distribute_strategy.scope():
            self.build_all()
        return super().fit(dataset, epochs=epochs, shuffle=False, **kwargs)  # shuffled above

    def get_config(self) -> dict:
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name, "generator": serialize(self.generator),
                "discriminator": serialize(self.discriminator),
                "loss_fn": functions.to_config(self.loss_fn, "loss_fn"),
                "penalty_fn": functions.to_config(self.penalty_fn, "penalty_fn"),
                "self_supervision": dataclasses.asdict(self.rotation),
                "augment": dataclasses.asdict(self.augment), **self._settings,
                "g_optimizer": serialize(self.g_optimizer),
                "d_optimizer": serialize(self.d_optimizer),
                "extra_tricks": [serialize(t) for t in self.tricks[len(self.tricks)
                                                                  - self._extra_tricks:]]}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        deserialize = keras.saving.deserialize_keras_object
        for key in ("generator", "discriminator", "g_optimizer", "d_optimizer"):
            config[key] = deserialize(config[key]) if config.get(key) is not None else None
        config["extra_tricks"] = [deserialize(t) for t in config.get("extra_tricks", ())]
        config["self_supervision"] = RotationTask(**config["self_supervision"])
        if isinstance(config.get("augment"), dict):
            config["augment"] = Augment(**config["augment"])
        return cls(**config)

    def get_build_config(self) -> dict | None:
        return {"built": True} if getattr(self, "_built_all", False) else None

    def build_from_config(self, config: dict) -> None:
        with self.distribute_strategy.scope():
            self.build_all()

    def get_compile_config(self) -> dict | None:
        if not self.compiled:
            return None
        return {"jit_compile": bool(self.jit_compile), "run_eagerly": bool(self.run_eagerly),
                "steps_per_execution": int(self.steps_per_execution)}

    def compile_from_config(self, config: dict) -> None:
        self.compile(**config)

