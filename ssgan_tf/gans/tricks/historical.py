"""Historical averaging (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.3;
`GAN.historical_weight_d`, `GAN.historical_weight_g`, `GAN.historical_decay`): lambda *
sum_w ||w - avg(w)||^2 is added to L_D and/or L_G, where avg is an online average of the weights.

One `HistoricalAveraging` trick per network; checkpoint entries `d_history` / `g_history`, log
keys `d_historical` / `g_historical`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.common.variables import variable_key
from ssgan_tf.gans.tricks.base import Trick, VariableDict, read


class HistoricalAverage(keras.layers.Layer):
    """An online average of `variables`, one non-trainable copy per variable (initialized to the
    weights), and the penalty sum_w ||w - avg(w)||^2.

    `update(count)` runs after each optimizer step: with `decay=None` it is the running mean of
    all the values the weights have taken (the initial ones included), `avg += (w - avg) / count`
    where `count` = updates so far + 1; with a float it is an exponential average `avg = decay *
    avg + (1 - decay) * w`. The penalty is identical on every replica (the weights and averages
    are mirrored and updated with the same value everywhere).
    """

    def __init__(self, variables, decay: float | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if decay is not None and not 0.0 <= decay < 1.0:
            raise ValueError(f"historical_decay={decay} must be None (running mean) or in [0, 1).")
        self.decay = decay
        self._watched = [_Untracked(v) for v in variables]
        self.averages = {}  # {variable key: average}, what the checkpoint stores
        for v in variables:
            key = variable_key(v)
            self.averages[key] = keras.Variable(tf.convert_to_tensor(v), dtype=v.dtype,
                                                trainable=False, name=f"avg.{key}")
        self.built = True

    def _pairs(self):
        return [(w.target, a) for w, a in zip(self._watched, self.averages.values())]

    def reset(self) -> None:
        """Restarts the average at the current weights."""
        for v, a in self._pairs():
            a.assign(read(v))

    def penalty(self) -> tf.Tensor:
        return tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32) - tf.cast(a, tf.float32)))
                         for v, a in self._pairs()])

    def update(self, count) -> None:
        if self.decay is None:
            rate = 1.0 / tf.cast(count, tf.float32)
        else:
            rate = tf.constant(1.0 - self.decay, tf.float32)
        for v, a in self._pairs():
            avg = read(a)
            a.assign(avg + tf.cast(rate, avg.dtype) * (read(v) - avg))


class _Untracked:
    """Holds a network's variable without Keras tracking it as this layer's own."""

    def __init__(self, target):
        self.target = target


NETWORKS = {"discriminator": "d", "generator": "g"}


class HistoricalAveraging(Trick):
    def __init__(self, network: str, weight: float, decay: float | None = None, **kwargs):
        kwargs.setdefault("name", f"{NETWORKS.get(network, network)}_historical_averaging")
        super().__init__(**kwargs)
        if network not in NETWORKS:
            raise ValueError(f"HistoricalAveraging.network={network!r}; expected one of "
                             f"{tuple(NETWORKS)}.")
        if weight < 0:
            raise ValueError("GAN.historical_weight_d / historical_weight_g must be >= 0.")
        if decay is not None and not 0.0 <= decay < 1.0:
            raise ValueError(f"GAN.historical_decay={decay} must be None or in [0, 1).")
        self.network = network
        self.weight = float(weight)
        self.decay = decay
        self.prefix = NETWORKS[network]
        self.log_keys = (f"{self.prefix}_historical",)
        self.history = None


    def build_state(self, gan) -> None:
        if self.history is None:
            self.history = HistoricalAverage(getattr(gan, self.network).trainable_variables,
                                             self.decay, name="average")
        self.built = True

    def checkpoint_state(self) -> dict:
        return {f"{self.prefix}_history": VariableDict(self.history.averages)}

    def reset_state(self, gan) -> None:
        self.history.reset()

    def _terms(self, gan) -> dict:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return {self.log_keys[0]: (self.weight, self.history.penalty() / replicas)}

    def _update(self, optimizer) -> None:
        self.history.update(read(optimizer.iterations) + 1)

    def discriminator_terms(self, gan) -> dict:
        return self._terms(gan) if self.network == "discriminator" else {}

    def generator_terms(self, gan) -> dict:
        return self._terms(gan) if self.network == "generator" else {}

    def after_discriminator_update(self, gan) -> None:
        if self.network == "discriminator":
            self._update(gan.d_optimizer)

    def after_generator_update(self, gan) -> None:
        if self.network == "generator":
            self._update(gan.g_optimizer)
