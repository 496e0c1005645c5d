"""The protocol of a stabilization trick: what state it owns and where it hooks into the step.

A trick is a Keras layer (so `GAN` tracks it: its state is in `gan.weights` and in `.keras`
files; `get_config` is its constructor arguments) that overrides only the hooks it needs; every default does nothing, and `GAN`
calls the hooks of the tricks it holds, in order:

    build_state(gan)                    once, inside the strategy scope, after G and D are built
    begin_step(gan)                     at the start of each train step, before the D updates
    discriminator_fakes(gan, d, fresh, substep) -> Fakes     the fakes a D update trains on
    discriminator_terms(gan) -> {log key: (weight, value)}   added to L_D (inside D's tape)
    observe_real_logits(gan, logits)    D's GAN logits on the upright (augmented) reals (ADA)
    after_discriminator_update(gan)
    generator_discriminator(gan, real, fake, real_y, fake_y) -> d_call | None   D as G sees it
    generator_terms(gan) -> {log key: (weight, value)}       added to L_G (inside G's tape)
    after_generator_update(gan)
    step_logs(gan) -> {log key: value}  logged after the step (per-replica shares, summed)

plus `checkpoint_state()` ({checkpoint name: trackable}, keyed as the run's checkpoints store
it), `reset_state(gan)` (restart from the networks, for a checkpoint written before the trick was
on), `inference_generator()` (the generator samples and exports use, or None) and `log_keys`.

Distribution: trick state is mirrored variables that every replica updates with the same value,
computed from mirrored inputs or from values gathered across replicas; such a replica-context
`assign` is a local write (no `merge_call`, so it also works inside `tf.cond`), the copies stay
equal, and checkpoints save one copy. Values added to a loss are per-replica shares of the global
value (the optimizers sum gradients across replicas).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable


class Fakes(NamedTuple):
    """A batch of generated images, their labels (None: unconditional) and latents."""
    images: tf.Tensor
    labels: tf.Tensor | None
    z: tf.Tensor


class VariableDict(tf.Module):
    """A trackable {name: variable} map: the layout of checkpoint entries (`variables_by_path`)."""

    def __init__(self, variables: dict):
        super().__init__(name=None)
        self.variables_by_path = dict(variables)


def add_terms(loss, logs: dict, terms: dict):
    """loss + sum of weight * value over a trick's {log key: (weight, value)} terms (logged)."""
    for key, (weight, value) in terms.items():
        loss += weight * value
        logs[key] = value
    return loss


def read(variable) -> tf.Tensor:
    """The value of a (possibly mirrored) Keras variable as a tensor."""
    return tf.convert_to_tensor(variable)


class Trick(Configurable, keras.layers.Layer):
    """Base class of the stabilization tricks (see the module docstring)."""

    log_keys: tuple[str, ...] = ()

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")  # state, not computation: never mixed precision
        super().__init__(**kwargs)

    # ------------------------------------------------------------------------------ state
    def build_state(self, gan) -> None:
        self.built = True

    def checkpoint_state(self) -> dict[str, tf.Module]:
        return {}

    def reset_state(self, gan) -> None:
        pass

    def inference_generator(self):
        return None

    # ------------------------------------------------------------------------------ hooks
    def begin_step(self, gan) -> None:
        pass

    def discriminator_fakes(self, gan, fakes: Fakes, fresh: Fakes, substep: int) -> Fakes:
        return fakes

    def discriminator_terms(self, gan) -> dict[str, tuple[float, tf.Tensor]]:
        return {}

    def observe_real_logits(self, gan, logits) -> None:
        pass

    def after_discriminator_update(self, gan) -> None:
        pass

    def generator_discriminator(self, gan, real, fake, real_y=None,
                                fake_y=None) -> Callable | None:
        return None

    def generator_terms(self, gan) -> dict[str, tuple[float, tf.Tensor]]:
        return {}

    def after_generator_update(self, gan) -> None:
        pass

    def step_logs(self, gan) -> dict[str, tf.Tensor]:
        return {}
