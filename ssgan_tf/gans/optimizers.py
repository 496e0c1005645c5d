"""G's and D's optimizers: the one function that builds the defaults from the `GAN.*` Adam
bindings, loss scaling under mixed_float16, and the pair Keras callbacks see as `model.optimizer`.
"""

from __future__ import annotations

import keras


def loss_scaled(optimizer, name: str):
    """`optimizer` wrapped in a LossScaleOptimizer under mixed_float16 (float16 gradients
    underflow: dynamic loss scaling; a step with non-finite scaled gradients is skipped, the step
    counter does not advance and the scale halves), else unchanged."""
    if (keras.mixed_precision.global_policy().name == "mixed_float16"
            and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
        return keras.optimizers.LossScaleOptimizer(optimizer, name=name)
    return optimizer


def make_optimizer(optimizer=None, prefix: str = "g", learning_rate: float = 2e-4,
                   beta1: float = 0.5, beta2: float = 0.999, epsilon: float = 1e-8):
    """`optimizer` (an instance, a Keras identifier such as "adam" or a config dict) or, when
    None, Adam(learning_rate, beta1, beta2, epsilon) named `<prefix>_adam` (the `GAN.g_lr`,
    `d_lr`, `beta1`, `beta2`, `adam_epsilon` bindings); loss-scaled under mixed_float16
    (`<prefix>_loss_scale`)."""
    if optimizer is None:
        optimizer = keras.optimizers.Adam(learning_rate, beta1, beta2, epsilon,
                                          name=f"{prefix}_adam")
    else:
        optimizer = keras.optimizers.get(optimizer)
    return loss_scaled(optimizer, f"{prefix}_loss_scale")


class OptimizerPair:
    """What Keras callbacks read as `model.optimizer`: `optimizers` (G's, D's: TensorBoard logs
    `learning_rate_<name>` for each, LearningRateScheduler / ReduceLROnPlateau set each) and
    `iterations` (G's: the GAN's step). Not an optimizer itself: the GAN applies its gradients."""

    def __init__(self, g_optimizer, d_optimizer):
        self.optimizers = [g_optimizer, d_optimizer]

    @property
    def iterations(self):
        return self.optimizers[0].iterations

    @property
    def built(self) -> bool:
        return all(o.built for o in self.optimizers)

    @property
    def variables(self) -> list:
        return [v for o in self.optimizers for v in o.variables]

    def __repr__(self) -> str:
        return f"OptimizerPair({', '.join(o.name for o in self.optimizers)})"
