"""`GAN`: a keras.Model whose `train_step` runs `disc_iters` D updates then one G update, with the
SSGAN rotation task, a D penalty and the stabilization tricks (gans/tricks/), under any
tf.distribute strategy.

One step for every driver: the project's loop (`training.trainer.make_train_loop`) and Keras
`fit()` both call `train_step`. Losses are averaged over the *global* batch (results do not depend
on the number of replicas; optimizers sum gradients across replicas); the returned logs are the
global values, the same on every replica.

Batch layout per replica (accepted forms: gans/inputs.py): `disc_iters` consecutive batches of B
images; D step i uses the i-th with fresh z. As on compare_gan's GPU path, the G update reuses the
z (and the generator forward pass) of the last D step; D is re-run on the fakes with its updated
weights. z comes from gans/sampling.py keyed by (seed, G step, D sub-step): each replica takes its
rows of the global draw, the stream does not depend on the topology and a resumed run draws the
same z; `data["z"]` overrides it (tests).

Keras-native (gans/keras_api.py): keras-io style `compile`, `fit`, configs and `.keras` files;
`gan(z, labels)` samples the inference generator. Optimizers may be passed in; by default Adam
from `g_lr`, `d_lr` (TTUR), `beta1`, `beta2`, `adam_epsilon` (gans/optimizers.py).

DiffAugment / ADA (`augment`: a policy string or an `Augment`; gans/augmenting.py): the images D
sees in both updates are augmented before their rotated copies are made (docs/augment.md).

S3GAN (gans/s3gan.py): with a discriminator class head, L_D gets `class_loss_weight` x the class
head's cross-entropy on the labelled real images (label -1 = unlabelled). Minibatch
discrimination / stddev live in the discriminator (layers/minibatch.py).
"""

from __future__ import annotations

import contextlib

import gin
import keras
import tensorflow as tf

from ssgan_tf.gans import functions, sampling
from ssgan_tf.gans import losses as losses_lib
from ssgan_tf.gans import penalties as penalties_lib
from ssgan_tf.gans import tricks as tricks_lib
from ssgan_tf.gans.augment import as_augment
from ssgan_tf.gans.augmenting import StepAugmentation
from ssgan_tf.gans.inputs import unpack_batch
from ssgan_tf.gans.keras_api import KerasGanApi
from ssgan_tf.gans.optimizers import OptimizerPair, make_optimizer
from ssgan_tf.gans.s3gan import class_loss_terms
from ssgan_tf.gans.ssgan import RotationTask, rotation_labels, with_rotations

PENALTY_SALT = 104729  # salt of the penalties' stateless key
TRICK_SETTINGS = ("g_ema_decay", "ema_start_step", "replay_buffer_size", "replay_fraction",
                  "swap_every", "swap_duration", "unrolled_steps", "unrolled_optimizer",
                  "historical_weight_d", "historical_weight_g", "historical_decay")
SCALAR_SETTINGS = ("disc_iters", "g_lr", "d_lr", "beta1", "beta2", "adam_epsilon",
                   "z_distribution", "seed", "penalty_weight", "class_loss_weight")


@keras.saving.register_keras_serializable(package="ssgan_tf")
@gin.configurable(module="ssgan_tf.gans")
class GAN(KerasGanApi, StepAugmentation, keras.Model):
    """Generator + discriminator + their optimizers, a GAN loss, the rotation task, a penalty
    and the enabled stabilization tricks (see the module docstring and gans/tricks/)."""

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
                 augment=None, g_optimizer=None, d_optimizer=None, extra_tricks=(), **kwargs):
        super().__init__(**kwargs)
        if disc_iters < 1:
            raise ValueError(f"GAN.disc_iters={disc_iters} must be >= 1.")
        for name, value in (("penalty_weight", penalty_weight),
                            ("class_loss_weight", class_loss_weight)):
            if value < 0:
                raise ValueError(f"GAN.{name}={value} must be >= 0.")
        self.generator, self.discriminator = generator, discriminator
        self.loss_fn = functions.resolve(loss_fn, "loss_fn")
        self.penalty_fn = functions.resolve(penalty_fn, "penalty_fn")
        self.rotation = self_supervision if self_supervision is not None else RotationTask()
        self.z_distribution = sampling.check_distribution(z_distribution)
        self.augment = as_augment(augment)
        self.disc_iters, self.seed = int(disc_iters), int(seed)
        self.penalty_weight, self.class_loss_weight = float(penalty_weight), float(class_loss_weight)
        adam = dict(beta1=beta1, beta2=beta2, epsilon=adam_epsilon)
        self.g_optimizer = make_optimizer(g_optimizer, "g", g_lr, **adam)
        self.d_optimizer = make_optimizer(d_optimizer, "d", g_lr if d_lr is None else d_lr, **adam)
        self.optimizer = OptimizerPair(self.g_optimizer, self.d_optimizer)
        local = locals()
        self._settings = {k: local[k] for k in SCALAR_SETTINGS + TRICK_SETTINGS}
        self.tricks = tricks_lib.assemble_tricks(**{k: local[k] for k in TRICK_SETTINGS},
                                                 augment=self.augment, extra=extra_tricks)
        self._extra_tricks = len(extra_tricks)

    # ----------------------------------------------------------------------------- properties
    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    @property
    def step(self) -> tf.Variable:
        """Generator updates done (the reference's `global_step`); checkpointed with G's optimizer."""
        return self.g_optimizer.iterations

    @property
    def has_class_head(self) -> bool:
        """True for S3GAN: the discriminator predicts classes (and is trained to)."""
        return getattr(self.discriminator, "class_head", None) is not None

    def current_step(self) -> int:
        """The step as a Python int (works for mirrored variables too)."""
        return int(tf.convert_to_tensor(self.step.value).numpy())

    def trick(self, kind, network: str | None = None):
        """The enabled trick of class `kind` (for historical averaging: of `network`), or None."""
        return next((t for t in self.tricks if isinstance(t, kind)
                     and (network is None or getattr(t, "network", None) == network)), None)

    # The enabled tricks' state under its usual names (None when the trick is off).
    @property
    def ema_generator(self):
        return getattr(self.trick(tricks_lib.GeneratorEma), "shadow", None)

    @property
    def swap_generator(self):
        return getattr(self.trick(tricks_lib.CheckpointSwapping), "shadow", None)

    @property
    def replay(self):
        return getattr(self.trick(tricks_lib.ExperienceReplay), "buffer", None)

    @property
    def d_history(self):
        return getattr(self.trick(tricks_lib.HistoricalAveraging, "discriminator"), "history", None)

    @property
    def g_history(self):
        return getattr(self.trick(tricks_lib.HistoricalAveraging, "generator"), "history", None)

    def inference_generator(self):
        """The generator used for samples, evaluation and export (the EMA copy when enabled)."""
        candidates = [t.inference_generator() for t in self.tricks]
        return next((g for g in reversed(candidates) if g is not None), self.generator)

    def log_keys(self) -> tuple[str, ...]:
        keys = ["d_loss", "d_loss_real", "d_loss_fake", "g_loss", "g_loss_gan"]
        if self.rotation.enabled:
            keys += ["d_rotation_loss", "d_rotation_accuracy", "g_rotation_loss",
                     "g_rotation_accuracy"]
        if self.has_class_head:
            keys += ["d_class_loss", "d_class_accuracy", "labelled_fraction"]
        if self.penalty_fn is not None:
            keys.append("d_penalty")
        return tuple(keys) + tuple(k for t in self.tricks for k in t.log_keys)

    @property
    def _gan_weight(self) -> float:
        """0 in `rotation_only` mode (GAN terms and penalty zeroed, as the reference), else 1."""
        return 0.0 if self.rotation.mode == "rotation_only" else 1.0

    # ---------------------------------------------------------------------------------- setup
    def build_all(self, per_replica_batch: int = 2) -> None:
        """Creates every variable eagerly (call inside `strategy.scope()`, before tracing)."""
        if getattr(self, "_built_all", False):
            return
        if getattr(self.generator, "uses_virtual_batch_norm", False):
            # The virtual-BN reference batch: z from the model's own distribution (fixed seed).
            n = int(self.generator.vbn_reference_size)
            self.generator.set_reference_batch(self.sample_z(n, substep=63, step=0),
                                               self.sample_labels(n, substep=63, step=0))
        y = tf.zeros([per_replica_batch], tf.int32) if self.num_classes else None
        self.generator(tf.zeros([per_replica_batch, self.z_dim]), y, training=False)
        self.discriminator(tf.zeros([per_replica_batch, *self.generator.image_shape]), y,
                           training=False)
        self.build_optimizers()
        for trick in self.tricks:
            trick.build_state(self)
        self._built_all = self.built = True

    def build_optimizers(self) -> None:
        """Creates the optimizers' state (once: a LossScaleOptimizer cannot be built twice)."""
        for optimizer, network in ((self.g_optimizer, self.generator),
                                   (self.d_optimizer, self.discriminator)):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)

    def checkpoint_extras(self) -> dict:
        """Trick state to checkpoint besides G, D and the optimizers (after `build_all`)."""
        return {name: state for t in self.tricks for name, state in t.checkpoint_state().items()}

    def reset_trick_state(self) -> None:
        """Restarts the trick state from the networks: EMA and snapshot = G, historical averages =
        the current weights, empty replay buffer (e.g. after restoring a checkpoint written
        before a trick was turned on, with `make_checkpoint(model, with_extras=False)`)."""
        for trick in self.tricks:
            trick.reset_state(self)

    # ------------------------------------------------------------------------------- keras
    def call(self, z, y=None, training=False):
        """Samples of the inference generator (the EMA copy when enabled)."""
        return self.inference_generator()(z, y, training=False)

    # ------------------------------------------------------------------------------ sampling
    def _key(self, salt: int, substep: int = 0, step=None) -> tf.Tensor:
        """A stateless RNG key for (seed + salt, step, substep), the same on every replica."""
        return sampling.step_key(self.seed, salt, self.step if step is None else step, substep)

    def sample_z(self, n: int, substep: int = 0, step=None) -> tf.Tensor:
        """This replica's z: its rows of the global draw keyed by (seed, step, D sub-step)."""
        key = self._key(sampling.Z_SALT, substep, step)
        return sampling.replica_rows(
            lambda m: sampling.draw_z(m, self.z_dim, self.z_distribution, key), n)

    def sample_labels(self, n: int, substep: int = 0, step=None):
        """Uniform fake labels (conditional models), keyed like z."""
        if not self.num_classes:
            return None
        key = self._key(sampling.LABEL_SALT, substep, step)
        return sampling.replica_rows(lambda m: sampling.draw_labels(m, self.num_classes, key), n)

    # ------------------------------------------------------------------------------ the step
    def _average(self, per_example, per_replica_count: int):
        return tf.nn.compute_average_loss(
            per_example, global_batch_size=per_replica_count * sampling.num_replicas())

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
        replicas = sampling.num_replicas()
        return self.rotation.images_per_replica(b * replicas, replicas)

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
            class_logs = class_loss_terms(out["class_logits"][:b], real_y,
                                          b * sampling.num_replicas())
            loss += self.class_loss_weight * class_logs["d_class_loss"]
            logs.update(class_logs)
        return loss, logs

    def penalty(self, real, fake, real_y=None, substep: int = 0) -> tf.Tensor:
        """The D penalty P (per-replica share of its global value; not yet weighted)."""
        value = self.penalty_fn(self.discriminator, real, fake, real_y,
                                key=self._key(PENALTY_SALT, substep),
                                replica_id=sampling.replica_id(),
                                num_replicas=sampling.num_replicas())
        value = tf.cast(value, tf.float32)
        if penalties_lib.is_per_example(value):
            return self._average(value, real.shape[0])
        return value / sampling.num_replicas()

    def discriminator_step(self, real, fake, real_y=None, fake_y=None, substep: int = 0) -> dict:
        """One D update on a real and a (stop-gradient) fake batch, augmented first (`augment`;
        the penalty sees them augmented)."""
        b = real.shape[0]
        n = self._rotations_per_replica(b)
        real, fake = self._augment_discriminator_inputs(real, fake, substep)
        x, y = self._d_inputs(real, fake, real_y, fake_y, n)
        with tf.GradientTape() as tape:
            out = self.discriminator(x, y, training=True)
            loss, logs = self._d_objective(out, b, n, real_y)
            if self.penalty_fn is not None:
                penalty = self.penalty(real, fake, real_y, substep)
                loss += self._gan_weight * self.penalty_weight * penalty
                logs["d_penalty"] = penalty
            for trick in self.tricks:
                loss = tricks_lib.add_terms(loss, logs, trick.discriminator_terms(self))
            scaled_loss = self.d_optimizer.scale_loss(loss)  # x loss scale (float16 only)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))
        for trick in self.tricks:
            trick.observe_real_logits(self, out["logits"][:b])
            trick.after_discriminator_update(self)
        logs["d_loss"] = loss
        return logs

    def generator_loss(self, fake, fake_y=None, real=None, real_y=None, d_call=None) -> dict:
        """L_G on fakes (D in training mode, as the reference); reals only if D is batch-dependent.

        `d_call(x, y) -> outputs` replaces the discriminator call (the unrolled D)."""
        if d_call is None:
            d_call = lambda x, y: self.discriminator(x, y, training=True)  # noqa: E731
        b = fake.shape[0]
        n = self._rotations_per_replica(b)
        x, y, offset = with_rotations(fake, n), self._rotated_labels(fake_y, n), 0
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

    def _discriminator_update(self, real, real_y, fresh: tricks_lib.Fakes, substep: int) -> dict:
        """One D update on the fakes the tricks make of G's fresh ones (swap, replay)."""
        fakes = fresh
        for trick in self.tricks:
            fakes = trick.discriminator_fakes(self, fakes, fresh, substep)
        return self.discriminator_step(real, fakes.images, real_y, fakes.labels, substep)

    def _generator_objective(self, fake, fake_y, real, real_y, substep: int = 0) -> dict:
        """L_G against D (or against the D a trick substitutes) plus the tricks' G terms, on
        images augmented as gans/augmenting.py says (`substep`: the last D update's)."""
        real, d_fake, fake = self._augment_generator_inputs(real, fake, substep)
        d_call = None
        for trick in self.tricks:
            d_call = trick.generator_discriminator(self, real, d_fake, real_y, fake_y) or d_call
        logs = self.generator_loss(fake, fake_y, real, real_y, d_call=d_call)
        for trick in self.tricks:
            logs["g_loss"] = tricks_lib.add_terms(logs["g_loss"], logs,
                                                  trick.generator_terms(self))
        return logs

    def train_step(self, data) -> dict:
        """Per replica: `disc_iters` D updates then one G update. Returns the global-batch means
        (all-reduced: the same on every replica)."""
        images, labels, z_all = unpack_batch(data)
        b = self._batch_per_d_step(images)
        labels = labels if self.num_classes else None
        for trick in self.tricks:
            trick.begin_step(self)
        d_logs = []
        with tf.GradientTape() as g_tape:
            for i in range(self.disc_iters):
                rows = slice(i * b, (i + 1) * b)
                real, real_y = images[rows], None if labels is None else labels[rows]
                z = z_all[rows] if z_all is not None else self.sample_z(b, substep=i)
                fake_y = self.sample_labels(b, substep=i)
                last = i == self.disc_iters - 1  # only the last fakes feed G's update
                with contextlib.nullcontext() if last else g_tape.stop_recording():
                    fake = self.generator(z, fake_y, training=True)
                with g_tape.stop_recording():
                    fresh = tricks_lib.Fakes(tf.stop_gradient(fake), fake_y, z)
                    d_logs.append(self._discriminator_update(real, real_y, fresh, i))
            g_logs = self._generator_objective(fake, fake_y, real, real_y, self.disc_iters - 1)
            scaled_loss = self.g_optimizer.scale_loss(g_logs["g_loss"])
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled_loss, variables), variables))
        for trick in self.tricks:
            trick.after_generator_update(self)
        logs = {k: tf.add_n([d[k] for d in d_logs]) / self.disc_iters for k in d_logs[0]}
        logs.update(g_logs)
        for trick in self.tricks:
            logs.update(trick.step_logs(self))
        return sampling.global_sum(logs)

    def _batch_per_d_step(self, images) -> int:
        total = images.shape[0]
        if total is None or total % self.disc_iters:
            raise ValueError(f"train_step needs a static per-replica batch of disc_iters x B "
                             f"images (disc_iters={self.disc_iters}), got {images.shape}.")
        return total // self.disc_iters
