"""Checkpoint swapping (`GAN.swap_every` P, `GAN.swap_duration` L): D is trained, now and then,
against an older generator.

A snapshot of G (every weight, BN statistics included) is taken at the start of every period (G
steps t = 0, P, 2P, ... before that step's updates); in the last L steps of each period (t mod P
>= P - L) every D update of the step trains against fakes of the snapshot instead of the current
G, i.e. against a generator P - L .. P - 1 steps old, which keeps D from forgetting what older
generators produced ("keep checkpoints of G and D and occasionally swap them in for a few
iterations", the "use stability tricks from RL" tip of Chintala et al.'s ganhacks, 2016; cf. the
historical views of Salimans et al. 2016). The snapshot samples in inference mode (its BN moving
statistics); G's own update is unchanged. Checkpoint entry: `swap_generator`.
"""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.gans.tricks.base import Fakes, Trick, VariableDict, read
from ssgan_tf.gans.tricks.shadow import ShadowGenerator


class CheckpointSwapping(Trick):
    def __init__(self, every: int, duration: int = 1, **kwargs):
        super().__init__(**kwargs)
        if every < 0:
            raise ValueError(f"GAN.swap_every={every} must be >= 0 (0 = off).")
        if not 1 <= duration < every:
            raise ValueError(f"GAN.swap_duration={duration} must be in [1, swap_every={every}).")
        self.every = int(every)
        self.duration = int(duration)
        self.shadow = None


    def build_state(self, gan) -> None:
        if self.shadow is None:
            self.shadow = ShadowGenerator(gan.generator, copy_non_trainable=True,
                                          name=f"{gan.generator.name}_snapshot")
        self.shadow.initialize()
        self.built = True

    def checkpoint_state(self) -> dict:
        return {"swap_generator": VariableDict(self.shadow.shadow_variables())}

    def reset_state(self, gan) -> None:
        self.shadow.copy_from_source()

    def _phase(self, gan) -> tf.Tensor:
        return tf.cast(read(gan.step), tf.int64) % self.every

    def begin_step(self, gan) -> None:
        """Refreshes the snapshot at the start of each period."""

        def refresh():
            self.shadow.copy_from_source()
            return tf.constant(True)

        tf.cond(tf.equal(self._phase(gan), 0), refresh, lambda: tf.constant(False))

    def discriminator_fakes(self, gan, fakes: Fakes, fresh: Fakes, substep: int) -> Fakes:
        in_window = self._phase(gan) >= self.every - self.duration
        images = tf.cond(in_window, lambda: self.shadow(fresh.z, fresh.labels),
                         lambda: fakes.images)
        return fakes._replace(images=images)
