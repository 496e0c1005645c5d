"""The train step's side of `GAN.augment` (DiffAugment / ADA; a mixin of gans/gan.py, which calls
it; docs/augment.md): which images are augmented, with which key and which p.

- D update (D sub-step i): the reals and D's fakes (after swap / replay), keys
  `_key(REAL_SALT, i)` and `_key(FAKE_SALT, i)`.
- G update: G's fakes with `_key(GENERATOR_SALT, i)` (a draw of their own, as DiffAugment), i the
  last D sub-step; the reals (fed when D is batch-dependent) and the fakes a trick's simulated D
  trains on (unrolled) with the last D update's keys, i.e. exactly what that update saw.
Keys are stateless (seed + salt, G step, D sub-step), the same on every replica; each replica
augments its rows of the global draw. p is ADA's (constant within a train step,
gans/tricks/ada.py) or the fixed `Augment.probability`. Augmentation comes before the rotated
copies are made (augment first, then rotate). Off: every function returns its input itself, and
the step has no augmentation op.
"""

from __future__ import annotations

from ssgan_tf.gans import tricks as tricks_lib
from ssgan_tf.gans.augment import FAKE_SALT, GENERATOR_SALT, REAL_SALT


class StepAugmentation:
    """Augmentation helpers of `GAN` (which defines `augment`, `tricks`, `_key`)."""

    def augment_probability(self):
        """The p augmentations use now: ADA's (a tensor), or None (`Augment.probability`)."""
        ada = self.trick(tricks_lib.AdaptiveAugment)
        return None if ada is None else ada.probability()

    def augment_images(self, images, salt: int, substep: int = 0):
        """`GAN.augment` of `images` with the step's key for (salt, D sub-step)."""
        if not self.augment.enabled:
            return images
        return self.augment(images, self._key(salt, substep), self.augment_probability())

    def _augment_discriminator_inputs(self, real, fake, substep: int):
        """(reals, fakes) of a D update, augmented."""
        return (self.augment_images(real, REAL_SALT, substep),
                self.augment_images(fake, FAKE_SALT, substep))

    def _augment_generator_inputs(self, real, fake, substep: int):
        """(reals, fakes as D's update saw them, G's fakes) of the G update, augmented."""
        real, d_fake = self._augment_discriminator_inputs(real, fake, substep)
        return real, d_fake, self.augment_images(fake, GENERATOR_SALT, substep)
