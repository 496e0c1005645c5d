"""`GAN`: a keras.Model whose `train_step` runs `disc_iters` D updates then one G update, with the
SSGAN rotation task and the GAN stabilization toolbox, under any tf.distribute strategy.

`train_step` is the per-replica unit of work: the training loop calls it through `strategy.run`
inside a `tf.function` (the simclr-tf2 pattern; Keras 3 `fit()` with a GAN `train_step` is broken
under MirroredStrategy, keras#20164). Every loss is averaged over the *global* batch, so results do
not depend on the number of replicas, and the Keras optimizers sum gradients across replicas.

Batch layout per replica: `data["images"]` holds `disc_iters` consecutive batches of B images; D
step i uses the i-th with fresh z. As on compare_gan's GPU path, the G update reuses the z (and the
generator forward pass) of the last D step instead of generating twice; D is re-run on the fakes
with its updated weights. z ~ U[-1, 1] (or N(0, 1)) is drawn with a stateless RNG keyed by
(seed, G step, D sub-step): each replica takes its own rows of the global draw, so replicas draw
different z, the stream does not depend on the topology, and a resumed run draws the same z as an
uninterrupted one; `data["z"]` overrides it (tests).

Stabilization tricks (all gin bindings on `GAN`, all off by default, and then they add no op to
the step):
- `penalty_fn`, `penalty_weight`: a D penalty of penalties.py (wgangp, dragan, r1, l2).
- `g_ema_decay`, `ema_start_step`: an exponential moving average of G's weights, updated after
  every G update (decay 0, i.e. a copy, while step <= ema_start_step); `inference_generator()`
  returns it, so samples, evaluation and export use it.
- `replay_buffer_size`, `replay_fraction`: experience replay of past fakes (tricks.ReplayBuffer).
- `swap_every`, `swap_duration`: checkpoint swapping. A snapshot of G (every weight, BN
  statistics included) is taken at the start of every `swap_every`-step period (G steps t = 0, P,
  2P, ... before that step's updates); in the last `swap_duration` steps of each period (t mod P
  >= P - L) every D update of the step trains against fakes of the snapshot instead of the current
  G, i.e. against a generator P - L .. P - 1 steps old, which keeps D from forgetting what older
  generators produced ("keep checkpoints of G and D and occasionally swap them in for a few
  iterations", the "use stability tricks from RL" tip of Chintala et al.'s ganhacks, 2016; cf. the
  historical views of Salimans et al. 2016). The snapshot samples in inference mode (its BN moving
  statistics); G's own update is unchanged.
- `unrolled_steps`, `unrolled_optimizer`: unrolled GAN (Metz et al. 2017). G's loss is computed
  against D after k simulated D updates on the last D step's batch (fakes with their gradient
  path), and G's gradient flows back through the simulated updates; D's variables are untouched
  (the simulation uses `stateless_call`). The simulated loss is D's GAN + rotation loss (no
  penalty, no historical term).
- `historical_weight_d`, `historical_weight_g`, `historical_decay`: historical averaging
  (Salimans et al. 2016, penalties.HistoricalAverage), lambda * sum ||w - avg(w)||^2 added to L_D
  and/or L_G.
- TTUR (Heusel et al. 2017): `g_lr` and `d_lr`.
- Minibatch discrimination / minibatch stddev live in the discriminator
  (`<arch>.Discriminator.minibatch`, layers/minibatch.py).

S3GAN (gans/s3gan.py): with a discriminator class head, L_D gets `class_loss_weight` x the class
head's cross-entropy on the labelled real images (label -1 = unlabelled).
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf.gans import losses as losses_lib
from ssgan_tf.gans import penalties as penalties_lib
from ssgan_tf.gans.s3gan import class_loss_terms
from ssgan_tf.gans.ssgan import RotationTask, rotation_labels, with_rotations
from ssgan_tf.gans.tricks import (
    UNROLLED_OPTIMIZERS,
    ReplayBuffer,
    ShadowGenerator,
    VariableDict,
    unrolled_weights,
)

Z_DISTRIBUTIONS = ("uniform", "normal")
# Stateless draws in the step use Philox explicitly: the default ("auto_select") picks another
# generator under XLA, so a TPU / jit_compile run would see another z stream than CPU/GPU.
RNG_ALG = "philox"
# Salts of the stateless RNG keys (z uses 0, fake labels 7919).
_PENALTY_SALT = 104729
_REPLAY_MASK_SALT = 130363
_REPLAY_INDEX_SALT = 155921


def _replica_id() -> tf.Tensor:
    ctx = tf.distribute.get_replica_context()
    rid = ctx.replica_id_in_sync_group if ctx is not None else 0
    return tf.cast(rid, tf.int64)


def _num_replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def _read(variable) -> tf.Tensor:
    return tf.convert_to_tensor(variable)


@gin.configurable(module="ssgan_tf.gans")
class GAN(keras.Model):
    """Generator + discriminator + their optimizers, a GAN loss, the rotation task and the
    stabilization tricks (see the module docstring)."""

    def __init__(self, generator, discriminator, loss_fn=losses_lib.non_saturating,
                 self_supervision: RotationTask | None = None, disc_iters: int = 1,
                 g_lr: float = 2e-4, d_lr: float | None = None, beta1: float = 0.5,
                 beta2: float = 0.999, adam_epsilon: float = 1e-8,
                 z_distribution: str = "uniform", seed: int = 0,
                 penalty_fn=None, penalty_weight: float = 1.0,
                 g_ema_decay: float | None = None, ema_start_step: int = 40000,
                 replay_buffer_size: int = 0, replay_fraction: float = 0.5,
                 swap_every: int = 0, swap_duration: int = 1,
                 unrolled_steps: int = 0, unrolled_optimizer: str = "adam",
                 historical_weight_d: float = 0.0, historical_weight_g: float = 0.0,
                 historical_decay: float | None = None, class_loss_weight: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        if z_distribution not in Z_DISTRIBUTIONS:
            raise ValueError(f"GAN.z_distribution={z_distribution!r}; expected one of "
                             f"{Z_DISTRIBUTIONS}.")
        if disc_iters < 1:
            raise ValueError(f"GAN.disc_iters={disc_iters} must be >= 1.")
        self.generator = generator
        self.discriminator = discriminator
        self.loss_fn = loss_fn
        self.rotation = self_supervision if self_supervision is not None else RotationTask()
        self.disc_iters = int(disc_iters)
        self.z_distribution = z_distribution
        self.seed = int(seed)
        if class_loss_weight < 0:
            raise ValueError(f"GAN.class_loss_weight={class_loss_weight} must be >= 0.")
        self.class_loss_weight = float(class_loss_weight)
        self.g_optimizer = keras.optimizers.Adam(g_lr, beta1, beta2, adam_epsilon,
                                                 name="g_adam")
        self.d_optimizer = keras.optimizers.Adam(d_lr if d_lr is not None else g_lr, beta1,
                                                 beta2, adam_epsilon, name="d_adam")
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            # float16 gradients underflow: dynamic loss scaling; a step with non-finite scaled
            # gradients is skipped (the step counter does not advance) and the scale halves.
            self.g_optimizer = keras.optimizers.LossScaleOptimizer(self.g_optimizer,
                                                                   name="g_loss_scale")
            self.d_optimizer = keras.optimizers.LossScaleOptimizer(self.d_optimizer,
                                                                   name="d_loss_scale")
        self._configure_tricks(penalty_fn, penalty_weight, g_ema_decay, ema_start_step,
                               replay_buffer_size, replay_fraction, swap_every, swap_duration,
                               unrolled_steps, unrolled_optimizer, historical_weight_d,
                               historical_weight_g, historical_decay)

    def _configure_tricks(self, penalty_fn, penalty_weight, g_ema_decay, ema_start_step,
                          replay_buffer_size, replay_fraction, swap_every, swap_duration,
                          unrolled_steps, unrolled_optimizer, historical_weight_d,
                          historical_weight_g, historical_decay) -> None:
        if isinstance(penalty_fn, str):
            if penalty_fn not in penalties_lib.PENALTIES:
                raise ValueError(f"GAN.penalty_fn={penalty_fn!r}; expected one of "
                                 f"{tuple(penalties_lib.PENALTIES)}.")
            penalty_fn = penalties_lib.PENALTIES[penalty_fn]
        checks = [(penalty_weight >= 0, f"GAN.penalty_weight={penalty_weight} must be >= 0."),
                  (g_ema_decay is None or 0.0 <= g_ema_decay < 1.0,
                   f"GAN.g_ema_decay={g_ema_decay} must be None (off) or in [0, 1)."),
                  (ema_start_step >= 0, f"GAN.ema_start_step={ema_start_step} must be >= 0."),
                  (replay_buffer_size >= 0,
                   f"GAN.replay_buffer_size={replay_buffer_size} must be >= 0 (0 = off)."),
                  (not replay_buffer_size or 0.0 < replay_fraction <= 1.0,
                   f"GAN.replay_fraction={replay_fraction} must be in (0, 1]."),
                  (swap_every >= 0, f"GAN.swap_every={swap_every} must be >= 0 (0 = off)."),
                  (not swap_every or 1 <= swap_duration < swap_every,
                   f"GAN.swap_duration={swap_duration} must be in [1, swap_every={swap_every})."),
                  (unrolled_steps >= 0, f"GAN.unrolled_steps={unrolled_steps} must be >= 0."),
                  (unrolled_optimizer in UNROLLED_OPTIMIZERS,
                   f"GAN.unrolled_optimizer={unrolled_optimizer!r}; expected one of "
                   f"{UNROLLED_OPTIMIZERS}."),
                  (historical_weight_d >= 0 and historical_weight_g >= 0,
                   "GAN.historical_weight_d / historical_weight_g must be >= 0."),
                  (historical_decay is None or 0.0 <= historical_decay < 1.0,
                   f"GAN.historical_decay={historical_decay} must be None or in [0, 1).")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.penalty_fn = penalty_fn
        self.penalty_weight = float(penalty_weight)
        self.g_ema_decay = None if g_ema_decay is None else float(g_ema_decay)
        self.ema_start_step = int(ema_start_step)
        self.replay_buffer_size = int(replay_buffer_size)
        self.replay_fraction = float(replay_fraction)
        self.swap_every = int(swap_every)
        self.swap_duration = int(swap_duration)
        self.unrolled_steps = int(unrolled_steps)
        self.unrolled_optimizer = unrolled_optimizer
        self.historical_weight_d = float(historical_weight_d)
        self.historical_weight_g = float(historical_weight_g)
        self.historical_decay = historical_decay
        name = self.generator.name
        self.ema_generator = (ShadowGenerator(self.generator, name=f"{name}_ema")
                              if self.g_ema_decay is not None else None)
        self.swap_generator = (ShadowGenerator(self.generator, copy_non_trainable=True,
                                               name=f"{name}_snapshot")
                               if self.swap_every else None)
        # Created in build_all (they need built networks / the strategy scope).
        self.replay = None
        self.d_history = None
        self.g_history = None

    # ----------------------------------------------------------------------------- properties
    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    @property
    def step(self) -> tf.Variable:
        """Generator updates done (the reference's `global_step`); checkpointed with G's Adam."""
        return self.g_optimizer.iterations

    @property
    def has_class_head(self) -> bool:
        """True for S3GAN: the discriminator predicts classes (and is trained to)."""
        return getattr(self.discriminator, "class_head", None) is not None

    def inference_generator(self):
        """The generator used for samples, evaluation and export (the EMA copy when enabled)."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def current_step(self) -> int:
        """The step as a Python int (works for mirrored variables too)."""
        return int(tf.convert_to_tensor(self.step.value).numpy())

    def log_keys(self) -> tuple[str, ...]:
        keys = ["d_loss", "d_loss_real", "d_loss_fake", "g_loss", "g_loss_gan"]
        if self.rotation.enabled:
            keys += ["d_rotation_loss", "d_rotation_accuracy", "g_rotation_loss",
                     "g_rotation_accuracy"]
        if self.has_class_head:
            keys += ["d_class_loss", "d_class_accuracy", "labelled_fraction"]
        if self.penalty_fn is not None:
            keys.append("d_penalty")
        if self.historical_weight_d:
            keys.append("d_historical")
        if self.historical_weight_g:
            keys.append("g_historical")
        return tuple(keys)

    @property
    def _gan_weight(self) -> float:
        """0 in `rotation_only` mode (GAN terms and penalty zeroed, as the reference), else 1."""
        return 0.0 if self.rotation.mode == "rotation_only" else 1.0

    # ---------------------------------------------------------------------------------- setup
    def build_all(self, per_replica_batch: int = 2) -> None:
        """Creates every variable eagerly (call inside `strategy.scope()`, before tracing)."""
        image_shape = self.generator.image_shape
        if getattr(self.generator, "uses_virtual_batch_norm", False):
            # The virtual-BN reference batch: z from the model's own distribution (fixed seed).
            n = int(self.generator.vbn_reference_size)
            self.generator.set_reference_batch(self.sample_z(n, substep=63, step=0),
                                               self.sample_labels(n, substep=63, step=0))
        z = tf.zeros([per_replica_batch, self.z_dim])
        y = tf.zeros([per_replica_batch], tf.int32) if self.num_classes else None
        self.generator(z, y, training=False)
        self.discriminator(tf.zeros([per_replica_batch, *image_shape]), y, training=False)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        for shadow in (self.ema_generator, self.swap_generator):
            if shadow is not None:
                shadow.initialize()
        if self.replay_buffer_size and self.replay is None:
            self.replay = ReplayBuffer(self.replay_buffer_size, self.replay_fraction,
                                       image_shape, conditional=bool(self.num_classes))
        if self.historical_weight_d and self.d_history is None:
            self.d_history = penalties_lib.HistoricalAverage(
                self.discriminator.trainable_variables, self.historical_decay)
        if self.historical_weight_g and self.g_history is None:
            self.g_history = penalties_lib.HistoricalAverage(
                self.generator.trainable_variables, self.historical_decay)

    def checkpoint_extras(self) -> dict:
        """Trick state to checkpoint besides G, D and the optimizers (after `build_all`)."""
        extras = {}
        if self.ema_generator is not None:
            extras["ema_generator"] = VariableDict(self.ema_generator.shadow_variables())
        if self.swap_generator is not None:
            extras["swap_generator"] = VariableDict(self.swap_generator.shadow_variables())
        if self.replay is not None:
            extras["replay"] = VariableDict(self.replay.variables())
        if self.d_history is not None:
            extras["d_history"] = VariableDict(self.d_history.averages)
        if self.g_history is not None:
            extras["g_history"] = VariableDict(self.g_history.averages)
        return extras

    def reset_trick_state(self) -> None:
        """Restarts the trick state from the networks: EMA and snapshot = G, historical averages =
        the current weights, empty replay buffer (e.g. after restoring a checkpoint written
        before a trick was turned on, with `make_checkpoint(model, with_extras=False)`)."""
        for shadow in (self.ema_generator, self.swap_generator):
            if shadow is not None:
                shadow.copy_from_source()
        for history in (self.d_history, self.g_history):
            if history is not None:
                history.reset()
        if self.replay is not None:
            self.replay.count.assign(tf.zeros([], tf.int64))

    def _key(self, salt: int, substep: int = 0, step=None) -> tf.Tensor:
        """A stateless RNG key for (seed + salt, step, substep), the same on every replica."""
        step = self.step if step is None else step
        return tf.stack([tf.constant(self.seed + salt, tf.int64),
                         tf.cast(step, tf.int64) * 64 + substep])

    def _replica_rows(self, draw, n, substep, step, salt):
        """Rows of a *global* draw for this replica: replica r gets rows [r*n, (r+1)*n) of the
        (seed, step, substep)-keyed global batch, so z does not depend on the topology (one
        process with 1 replica and 2 workers with 1 replica each draw the same z)."""
        key = self._key(salt, substep, step)
        replicas = _num_replicas()
        rows = draw(n * replicas, key)
        return rows[_replica_id() * n:(_replica_id() + 1) * n] if replicas > 1 else rows

    def sample_z(self, n, substep=0, step=None) -> tf.Tensor:
        """Stateless z keyed by (seed, step, D sub-step); each replica takes its own rows."""
        if self.z_distribution == "uniform":
            draw = lambda m, key: tf.random.stateless_uniform([m, self.z_dim], key, -1.0, 1.0,
                                                              alg=RNG_ALG)
        else:
            draw = lambda m, key: tf.random.stateless_normal([m, self.z_dim], key, alg=RNG_ALG)
        return self._replica_rows(draw, n, substep, step, salt=0)

    def sample_labels(self, n, substep=0, step=None):
        """Uniform fake labels (conditional models), keyed like z."""
        if not self.num_classes:
            return None
        draw = lambda m, key: tf.random.stateless_uniform([m], key, 0, self.num_classes,
                                                          dtype=tf.int32, alg=RNG_ALG)
        return self._replica_rows(draw, n, substep, step, salt=7919)

    # ------------------------------------------------------------------------------ the step
    def _average(self, per_example, per_replica_count: int):
        return tf.nn.compute_average_loss(
            per_example, global_batch_size=per_replica_count * _num_replicas())

    def _rotated_labels(self, y, n):
        """Labels of `with_rotations(images, n)`: the rotated copies keep their image's label."""
        if y is None or n == 0:
            return y
        return tf.concat([y, tf.tile(y[-n:], [3])], axis=0)

    def _rotation_terms(self, rotation_logits, n):
        labels = rotation_labels(n)
        ce = losses_lib.rotation_cross_entropy(rotation_logits, labels)
        correct = tf.cast(tf.equal(tf.argmax(rotation_logits, -1, output_type=tf.int32),
                                   labels), tf.float32)
        return self._average(ce, 4 * n), self._average(correct, 4 * n)

    def _rotations_per_replica(self, b: int) -> int:
        return self.rotation.images_per_replica(b * _num_replicas(), _num_replicas())

    def _d_inputs(self, real, fake, real_y, fake_y, n):
        x = tf.concat([with_rotations(real, n), with_rotations(fake, n)], axis=0)
        y = None
        if self.num_classes:
            y = tf.concat([self._rotated_labels(real_y, n), self._rotated_labels(fake_y, n)], 0)
        return x, y

    def _d_objective(self, out, b: int, n: int, real_y=None):
        """L_D's GAN, rotation and (S3GAN) class terms from one D call on `_d_inputs(...)`, and
        their logs."""
        half = b + 3 * n
        terms = self.loss_fn(out["logits"][:b], out["logits"][half:half + b])
        loss_real = self._average(terms.d_real, b)
        loss_fake = self._average(terms.d_fake, b)
        loss = self._gan_weight * (loss_real + loss_fake)
        logs = {"d_loss_real": loss_real, "d_loss_fake": loss_fake}
        if self.rotation.enabled:
            rot_loss, rot_acc = self._rotation_terms(out["rotation_logits"][half - 4 * n:half], n)
            loss += self.rotation.weight_d * rot_loss
            logs.update(d_rotation_loss=rot_loss, d_rotation_accuracy=rot_acc)
        if self.has_class_head and real_y is not None:
            class_logs = class_loss_terms(out["class_logits"][:b], real_y, b * _num_replicas())
            loss += self.class_loss_weight * class_logs["d_class_loss"]
            logs.update(class_logs)
        return loss, logs

    def penalty(self, real, fake, real_y=None, substep: int = 0) -> tf.Tensor:
        """The D penalty P (per-replica share of its global value; not yet weighted)."""
        value = self.penalty_fn(self.discriminator, real, fake, real_y,
                                key=self._key(_PENALTY_SALT, substep),
                                replica_id=_replica_id(), num_replicas=_num_replicas())
        value = tf.cast(value, tf.float32)
        if penalties_lib.is_per_example(value):
            return self._average(value, real.shape[0])
        return value / _num_replicas()

    def discriminator_step(self, real, fake, real_y=None, fake_y=None, substep: int = 0) -> dict:
        """One D update on a real and a (stop-gradient) fake batch."""
        b = real.shape[0]
        n = self._rotations_per_replica(b)
        x, y = self._d_inputs(real, fake, real_y, fake_y, n)
        with tf.GradientTape() as tape:
            out = self.discriminator(x, y, training=True)
            loss, logs = self._d_objective(out, b, n, real_y)
            if self.penalty_fn is not None:
                penalty = self.penalty(real, fake, real_y, substep)
                loss += self._gan_weight * self.penalty_weight * penalty
                logs["d_penalty"] = penalty
            if self.d_history is not None:
                historical = self.d_history.penalty() / _num_replicas()
                loss += self.historical_weight_d * historical
                logs["d_historical"] = historical
            scaled_loss = self.d_optimizer.scale_loss(loss)  # x loss scale (float16 only)
        variables = self.discriminator.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        if self.d_history is not None:
            self.d_history.update(_read(self.d_optimizer.iterations) + 1)
        logs["d_loss"] = loss
        return logs

    def generator_loss(self, fake, fake_y=None, real=None, real_y=None, d_call=None) -> dict:
        """L_G on fakes (D in training mode, as the reference); reals only if D is batch-dependent.

        `d_call(x, y) -> outputs` replaces the discriminator call (the unrolled D)."""
        if d_call is None:
            d_call = lambda x, y: self.discriminator(x, y, training=True)  # noqa: E731
        b = fake.shape[0]
        n = self._rotations_per_replica(b)
        x = with_rotations(fake, n)
        y = self._rotated_labels(fake_y, n)
        offset = 0
        if self.discriminator.batch_dependent:
            x = tf.concat([with_rotations(real, n), x], axis=0)
            if y is not None:
                y = tf.concat([self._rotated_labels(real_y, n), y], axis=0)
            offset = b + 3 * n
        out = d_call(x, y)
        fake_logits = out["logits"][offset:offset + b]
        terms = self.loss_fn(tf.zeros_like(fake_logits), fake_logits)
        gan_loss = self._average(terms.g, b)
        logs = {"g_loss_gan": gan_loss, "g_loss": self._gan_weight * gan_loss}
        if self.rotation.enabled:
            rot_loss, rot_acc = self._rotation_terms(out["rotation_logits"][-4 * n:], n)
            logs["g_loss"] += self.rotation.weight_g * rot_loss
            logs.update(g_rotation_loss=rot_loss, g_rotation_accuracy=rot_acc)
        return logs

    def unrolled_discriminator(self, real, fake, real_y=None, fake_y=None):
        """(trainable, non_trainable) tensors of D after `unrolled_steps` simulated updates on
        (real, fake); differentiable w.r.t. `fake`."""
        b = real.shape[0]
        n = self._rotations_per_replica(b)
        x, y = self._d_inputs(real, fake, real_y, fake_y, n)
        return unrolled_weights(self.discriminator, self.d_optimizer, x, y,
                                lambda out: self._d_objective(out, b, n, real_y)[0],
                                self.unrolled_steps, self.unrolled_optimizer, _num_replicas())

    def unrolled_generator_loss(self, fake, fake_y=None, real=None, real_y=None) -> dict:
        """L_G against the unrolled D (Metz et al. 2017); D's variables are not written."""
        weights, state = self.unrolled_discriminator(real, fake, real_y, fake_y)

        def d_call(x, y):
            out, _ = self.discriminator.stateless_call(weights, state, x, y, training=True)
            return out

        return self.generator_loss(fake, fake_y, real, real_y, d_call=d_call)

    def _swap_window(self):
        """Refreshes the G snapshot at the start of each period; True in the swap window."""
        t = tf.cast(_read(self.step), tf.int64)
        phase = t % self.swap_every

        def refresh():
            self.swap_generator.copy_from_source()
            return tf.constant(True)

        tf.cond(tf.equal(phase, 0), refresh, lambda: tf.constant(False))
        return phase >= self.swap_every - self.swap_duration

    def _discriminator_fakes(self, z, fake, fake_y, in_swap, substep: int):
        """The fakes D trains on: G's (or the snapshot's in the swap window), with replay."""
        d_fake, d_fake_y = tf.stop_gradient(fake), fake_y
        if in_swap is not None:
            d_fake = tf.cond(in_swap, lambda: self.swap_generator(z, fake_y), lambda: d_fake)
        if self.replay is not None:
            replicas = _num_replicas()
            mixed, mixed_y = self.replay.mix(d_fake, d_fake_y,
                                             self._key(_REPLAY_MASK_SALT, substep),
                                             self._key(_REPLAY_INDEX_SALT, substep),
                                             _replica_id(), replicas)
            self.replay.insert(tf.stop_gradient(fake), fake_y, replicas)
            d_fake, d_fake_y = mixed, mixed_y
        return d_fake, d_fake_y

    def _after_generator_update(self) -> None:
        if self.g_history is not None:
            self.g_history.update(_read(self.g_optimizer.iterations) + 1)
        if self.ema_generator is not None:
            step = _read(self.step)  # G updates done, this one included
            decay = tf.where(step > self.ema_start_step, self.g_ema_decay, 0.0)
            self.ema_generator.ema_update(decay)

    def train_step(self, data) -> dict:
        """Per-replica: `disc_iters` D updates then one G update. Returns per-replica shares of the
        global-batch means (sum them over replicas with `strategy.reduce(SUM)`)."""
        images = tf.convert_to_tensor(data["images"])
        total = images.shape[0]
        if total is None or total % self.disc_iters:
            raise ValueError(f"train_step needs a static per-replica batch of disc_iters x B "
                             f"images (disc_iters={self.disc_iters}), got {images.shape}.")
        b = total // self.disc_iters
        labels = data.get("labels") if self.num_classes else None
        z_all = data.get("z")
        in_swap = self._swap_window() if self.swap_generator is not None else None
        d_logs = []
        with tf.GradientTape() as g_tape:
            for i in range(self.disc_iters):
                last = i == self.disc_iters - 1
                z = (z_all[i * b:(i + 1) * b] if z_all is not None
                     else self.sample_z(b, substep=i))
                fake_y = self.sample_labels(b, substep=i)
                real = images[i * b:(i + 1) * b]
                real_y = None if labels is None else labels[i * b:(i + 1) * b]
                if last:
                    fake = self.generator(z, fake_y, training=True)
                else:
                    with g_tape.stop_recording():
                        fake = self.generator(z, fake_y, training=True)
                with g_tape.stop_recording():
                    d_fake, d_fake_y = self._discriminator_fakes(z, fake, fake_y, in_swap, i)
                    d_logs.append(self.discriminator_step(real, d_fake, real_y, d_fake_y,
                                                          substep=i))
            if self.unrolled_steps:
                g_logs = self.unrolled_generator_loss(fake, fake_y, real, real_y)
            else:
                g_logs = self.generator_loss(fake, fake_y, real, real_y)
            if self.g_history is not None:
                historical = self.g_history.penalty() / _num_replicas()
                g_logs["g_loss"] += self.historical_weight_g * historical
                g_logs["g_historical"] = historical
            scaled_loss = self.g_optimizer.scale_loss(g_logs["g_loss"])
        variables = self.generator.trainable_variables
        gradients = g_tape.gradient(scaled_loss, variables)
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        self._after_generator_update()
        logs = {k: tf.add_n([d[k] for d in d_logs]) / self.disc_iters for k in d_logs[0]}
        logs.update(g_logs)
        return logs
