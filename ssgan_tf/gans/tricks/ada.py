"""ADA's adaptive augmentation probability p as trick state (`GAN.augment` with
`Augment.adaptive = True`; docs/augment.md, gans/augment.py `AdaptiveProbability`).

After each D update `observe_real_logits` accumulates sign(D) of the D update's upright augmented
reals (all replicas); after the G update, once `interval` D updates are accumulated, p moves by
sign(r_t - target) x images / (ada_kimg x 1000) within [0, maximum]. So p changes only between
train steps: every D sub-step and the G update of a step augment with the same p (and a
batch-dependent D sees in the G update exactly the reals of the last D update). With
`disc_iters` > 1 an interval ends at the first step boundary after `interval` D updates and
r_t averages all of them. Logged as `augment_p` and `augment_rt` (the last interval's r_t), the
values after the step. Checkpoint entry: `augment` (p, the interval's running sums, the last r_t),
so a resumed run continues with the same p; a checkpoint written without it restarts p at 0.
"""

from __future__ import annotations

import tensorflow as tf

from ssgan_tf.gans.augment import AdaptiveProbability
from ssgan_tf.gans.sampling import num_replicas
from ssgan_tf.gans.tricks.base import Trick, VariableDict, read


class AdaptiveAugment(Trick):
    log_keys = ("augment_p", "augment_rt")

    def __init__(self, target: float = 0.6, interval: int = 4, ada_kimg: float = 500.0,
                 maximum: float = 1.0, **kwargs):
        kwargs.setdefault("name", "adaptive_augment")
        super().__init__(**kwargs)
        self.target, self.interval = float(target), int(interval)
        self.ada_kimg, self.maximum = float(ada_kimg), float(maximum)
        self.adaptive = None

    def build_state(self, gan) -> None:
        if self.adaptive is None:
            self.adaptive = AdaptiveProbability(self.target, self.interval, self.ada_kimg,
                                                initial=0.0, maximum=self.maximum)
            # Attributes Keras tracks: the state is in `gan.weights` and `.keras` files too.
            self.state = list(self.adaptive.variables().values())
        self.built = True

    def checkpoint_state(self) -> dict:
        return {"augment": VariableDict(self.adaptive.variables())}

    def reset_state(self, gan) -> None:
        for variable in self.adaptive.variables().values():
            variable.assign(tf.zeros_like(read(variable)))

    def probability(self) -> tf.Tensor:
        return self.adaptive.value()

    def observe_real_logits(self, gan, logits) -> None:
        self.adaptive.accumulate(logits)

    def after_generator_update(self, gan) -> None:
        self.adaptive.update()

    def step_logs(self, gan) -> dict:
        replicas = num_replicas()  # per-replica shares: the step sums them over replicas
        return {"augment_p": self.adaptive.value() / replicas,
                "augment_rt": read(self.adaptive.rt) / replicas}
