"""`ShadowGenerator`: the live generator's network with its own copy of the weights (Keras
`stateless_call`, so it is always the same class and configuration as G). The EMA generator and
the checkpoint-swapping snapshot are shadows."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from ssgan_tf.common.variables import variable_key
from ssgan_tf.gans.tricks.base import read


class _Reference:
    """Holds an object without making it a tracked attribute (of Keras or tf.train)."""

    def __init__(self, target):
        self.target = target


class ShadowGenerator(keras.Model):
    """`source`'s network evaluated with shadow copies of its weights, in inference mode.

    `copy_non_trainable=False` (EMA): shadows of the trainable weights only; the batch-norm moving
    statistics, spectral-norm `u` and any other non-trainable state are read from the live
    generator (compare_gan averages only the trainable variables; its BN statistics are the live
    ones). `copy_non_trainable=True` (snapshot): every weight is copied, so the snapshot is the
    generator exactly as it was. Calls always run in inference mode (BN moving statistics, no
    state update), whatever `training` says, so they never write state.

    Call `initialize()` once the source is built (the tricks' `build_state` does).
    """

    def __init__(self, source, copy_non_trainable: bool = False, **kwargs):
        kwargs.setdefault("dtype", source.dtype_policy)
        super().__init__(**kwargs)
        # Not tracked as a sub-model: this model's weights are its shadows (and, for the EMA, the
        # live non-trainable state it reads), never the live trainable weights.
        self._source_ref = _Reference(source)
        self.copy_non_trainable = copy_non_trainable
        self.shadow_trainable: list = []
        self.shadow_non_trainable: list = []
        self.live_state: list = []

    def source_generator(self):
        """The live generator (a method, not a property: `.keras` saving walks properties)."""
        return self._source_ref.target

    # The generator contract, delegated.
    @property
    def z_dim(self) -> int:
        return self.source_generator().z_dim

    @property
    def num_classes(self) -> int:
        return self.source_generator().num_classes

    @property
    def image_shape(self) -> tuple:
        return self.source_generator().image_shape

    def initialize(self) -> None:
        """Creates the shadow variables, equal to the source's current weights."""
        if self.built:
            return
        source = self.source_generator()
        if not source.built:
            raise ValueError(f"{self.name}: build the source generator first.")
        self.shadow_trainable = self._shadows(source.trainable_variables)
        if self.copy_non_trainable:
            self.shadow_non_trainable = self._shadows(source.non_trainable_variables)
        else:
            self.live_state = list(source.non_trainable_variables)
        self.built = True
        self.copy_from_source()

    def _shadows(self, variables) -> list:
        # Each shadow's path mirrors its source's ("<this name>/fc/kernel" for
        # "generator/fc/kernel"), so code that maps weights by path treats this model like G.
        out = []
        for v in variables:
            *scopes, leaf = v.path.split("/", 1)[-1].split("/")
            with contextlib.ExitStack() as stack:
                for scope in [self.name, *scopes]:
                    stack.enter_context(keras.name_scope(scope))
                out.append(keras.Variable(tf.zeros(v.shape, v.dtype), dtype=v.dtype,
                                          trainable=False, autocast=False, name=leaf))
        return out

    def build(self, *args, **kwargs):  # variables come from initialize(), not from a call
        self.initialize()

    def shadow_variables(self) -> dict:
        """{checkpoint key: shadow}, keyed by the source variables' keys."""
        source = self.source_generator()
        pairs = list(zip(source.trainable_variables, self.shadow_trainable))
        pairs += list(zip(source.non_trainable_variables, self.shadow_non_trainable))
        return {variable_key(v): s for v, s in pairs}

    def _pairs(self):
        source = self.source_generator()
        pairs = list(zip(self.shadow_trainable, source.trainable_variables))
        return pairs + list(zip(self.shadow_non_trainable, source.non_trainable_variables))

    def copy_from_source(self) -> None:
        for shadow, live in self._pairs():
            shadow.assign(read(live))

    def ema_update(self, decay) -> None:
        """shadow = decay * shadow + (1 - decay) * live for the trainable weights (decay = 0 copies
        exactly); non-trainable shadows, if any, are copied."""
        decay = tf.convert_to_tensor(decay, tf.float32)
        source = self.source_generator()
        for shadow, live in zip(self.shadow_trainable, source.trainable_variables):
            d = tf.cast(decay, shadow.dtype)
            shadow.assign(d * read(shadow) + (1.0 - d) * read(live))
        for shadow, live in zip(self.shadow_non_trainable, source.non_trainable_variables):
            shadow.assign(read(live))

    def call(self, z, y=None, training=False):
        del training  # always inference mode: no state writes
        trainable = [read(s) for s in self.shadow_trainable]
        if self.copy_non_trainable:
            non_trainable = [read(s) for s in self.shadow_non_trainable]
        else:
            non_trainable = [read(v) for v in self.live_state]
        images, _ = self.source_generator().stateless_call(trainable, non_trainable, z, y,
                                                           training=False)
        return images
