"""The GAN stabilization tricks as components of `GAN` (protocol: tricks/base.py), one module
each: EMA of G (ema.py), experience replay (replay.py), checkpoint swapping (swapping.py),
unrolled D (unrolled.py), historical averaging (historical.py), and ADA's adaptive augmentation
probability (ada.py, on with `GAN.augment` and `Augment.adaptive`).

`assemble_tricks` turns the `GAN.*` bindings into the list of enabled tricks, in the order their
hooks run. A new trick is a `Trick` subclass in its own module (with a gin-configurable factory
that returns None when it is off, e.g. `@gin.configurable def my_trick(weight=0.0)`) plus one
line in the list below; or, without touching the package, an instance in `GAN.extra_tricks`
(saved with the GAN in `.keras` files).
"""

from __future__ import annotations

from ssgan_tf.gans.tricks.ada import AdaptiveAugment
from ssgan_tf.gans.tricks.base import Fakes, Trick, VariableDict, add_terms
from ssgan_tf.gans.tricks.ema import GeneratorEma
from ssgan_tf.gans.tricks.historical import HistoricalAverage, HistoricalAveraging
from ssgan_tf.gans.tricks.replay import ExperienceReplay, ReplayBuffer
from ssgan_tf.gans.tricks.shadow import ShadowGenerator
from ssgan_tf.gans.tricks.swapping import CheckpointSwapping
from ssgan_tf.gans.tricks.unrolled import UNROLLED_OPTIMIZERS, UnrolledDiscriminator

__all__ = ["UNROLLED_OPTIMIZERS", "AdaptiveAugment", "CheckpointSwapping", "ExperienceReplay",
           "Fakes", "GeneratorEma", "HistoricalAverage", "HistoricalAveraging", "ReplayBuffer",
           "ShadowGenerator", "Trick", "UnrolledDiscriminator", "VariableDict", "add_terms",
           "assemble_tricks"]


def assemble_tricks(g_ema_decay=None, ema_start_step=40000, replay_buffer_size=0,
                    replay_fraction=0.5, swap_every=0, swap_duration=1, unrolled_steps=0,
                    unrolled_optimizer="adam", historical_weight_d=0.0, historical_weight_g=0.0,
                    historical_decay=None, augment=None, extra=()) -> list[Trick]:
    """The enabled tricks (a setting of 0 / None is off) followed by `extra`; the D-fakes hooks
    run in this order (swapping picks the snapshot's fakes, then replay mixes in old ones).
    `augment` (an `Augment`): ADA's p when it is enabled and adaptive."""
    if unrolled_optimizer not in UNROLLED_OPTIMIZERS:
        raise ValueError(f"GAN.unrolled_optimizer={unrolled_optimizer!r}; expected one of "
                         f"{UNROLLED_OPTIMIZERS}.")
    candidates = [
        CheckpointSwapping(swap_every, swap_duration) if swap_every else None,
        ExperienceReplay(replay_buffer_size, replay_fraction) if replay_buffer_size else None,
        HistoricalAveraging("discriminator", historical_weight_d, historical_decay)
        if historical_weight_d else None,
        HistoricalAveraging("generator", historical_weight_g, historical_decay)
        if historical_weight_g else None,
        UnrolledDiscriminator(unrolled_steps, unrolled_optimizer) if unrolled_steps else None,
        GeneratorEma(g_ema_decay, ema_start_step) if g_ema_decay is not None else None,
        AdaptiveAugment(augment.target, augment.interval, augment.ada_kimg, augment.probability)
        if augment is not None and augment.enabled and augment.adaptive else None,
    ]
    return [t for t in candidates if t is not None] + list(extra)
