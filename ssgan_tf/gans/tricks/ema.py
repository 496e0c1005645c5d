"""EMA of G (`GAN.g_ema_decay`, `GAN.ema_start_step`): an exponential moving average of the
generator's weights, updated after every G update, and the generator samples, evaluation and
export use (`GAN.inference_generator()`).

While the step (G updates done, this one included) is <= `ema_start_step` the decay is 0, i.e.
the average is a copy of G; afterwards ema = decay * ema + (1 - decay) * w. Only the trainable
weights are averaged (as compare_gan); batch-norm statistics are the live G's.
Checkpoint entry: `ema_generator` (keyed like the generator's weights).
"""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.gans.tricks.base import Trick, VariableDict, read
from ssgan_tf.gans.tricks.shadow import ShadowGenerator


class GeneratorEma(Trick):
    def __init__(self, decay: float, start_step: int = 40000, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"GAN.g_ema_decay={decay} must be None (off) or in [0, 1).")
        if start_step < 0:
            raise ValueError(f"GAN.ema_start_step={start_step} must be >= 0.")
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.shadow = None


    def build_state(self, gan) -> None:
        if self.shadow is None:
            self.shadow = ShadowGenerator(gan.generator, name=f"{gan.generator.name}_ema")
        self.shadow.initialize()
        self.built = True

    def checkpoint_state(self) -> dict:
        return {"ema_generator": VariableDict(self.shadow.shadow_variables())}

    def reset_state(self, gan) -> None:
        self.shadow.copy_from_source()

    def inference_generator(self):
        return self.shadow

    def after_generator_update(self, gan) -> None:
        step = read(gan.step)  # G updates done, this one included
        self.shadow.ema_update(tf.where(step > self.start_step, self.decay, 0.0))
