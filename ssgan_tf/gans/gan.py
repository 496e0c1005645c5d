"""`GAN`: a keras.Model whose `train_step` runs `disc_iters` D updates then one G update, with the
SSGAN rotation task, under any tf.distribute strategy.

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
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf

from ssgan_tf import losses as losses_lib
from ssgan_tf.gans.ssgan import RotationTask, rotation_labels, with_rotations

Z_DISTRIBUTIONS = ("uniform", "normal")


def _replica_id() -> tf.Tensor:
    ctx = tf.distribute.get_replica_context()
    rid = ctx.replica_id_in_sync_group if ctx is not None else 0
    return tf.cast(rid, tf.int64)


def _num_replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


@gin.configurable(module="ssgan_tf.gans")
class GAN(keras.Model):
    """Generator + discriminator + their optimizers, a GAN loss and the rotation task."""

    def __init__(self, generator, discriminator, loss_fn=losses_lib.non_saturating,
                 self_supervision: RotationTask | None = None, disc_iters: int = 1,
                 g_lr: float = 2e-4, d_lr: float | None = None, beta1: float = 0.5,
                 beta2: float = 0.999, adam_epsilon: float = 1e-8,
                 z_distribution: str = "uniform", seed: int = 0, **kwargs):
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
        self.g_optimizer = keras.optimizers.Adam(g_lr, beta1, beta2, adam_epsilon,
                                                 name="g_adam")
        self.d_optimizer = keras.optimizers.Adam(d_lr if d_lr is not None else g_lr, beta1,
                                                 beta2, adam_epsilon, name="d_adam")

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

    def inference_generator(self):
        """The generator used for samples, evaluation and export (the EMA copy when enabled)."""
        return self.generator

    def current_step(self) -> int:
        """The step as a Python int (works for mirrored variables too)."""
        return int(tf.convert_to_tensor(self.step.value).numpy())

    def log_keys(self) -> tuple[str, ...]:
        keys = ["d_loss", "d_loss_real", "d_loss_fake", "g_loss", "g_loss_gan"]
        if self.rotation.enabled:
            keys += ["d_rotation_loss", "d_rotation_accuracy", "g_rotation_loss",
                     "g_rotation_accuracy"]
        return tuple(keys)

    # ---------------------------------------------------------------------------------- setup
    def build_all(self, per_replica_batch: int = 2) -> None:
        """Creates every variable eagerly (call inside `strategy.scope()`, before tracing)."""
        image_shape = self.generator.image_shape
        z = tf.zeros([per_replica_batch, self.z_dim])
        y = tf.zeros([per_replica_batch], tf.int32) if self.num_classes else None
        self.generator(z, y, training=False)
        self.discriminator(tf.zeros([per_replica_batch, *image_shape]), y, training=False)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _replica_rows(self, draw, n, substep, step, salt):
        """Rows of a *global* draw for this replica: replica r gets rows [r*n, (r+1)*n) of the
        (seed, step, substep)-keyed global batch, so z does not depend on the topology (one
        process with 1 replica and 2 workers with 1 replica each draw the same z)."""
        step = self.step if step is None else step
        key = tf.stack([tf.constant(self.seed + salt, tf.int64),
                        tf.cast(step, tf.int64) * 64 + substep])
        replicas = _num_replicas()
        rows = draw(n * replicas, key)
        return rows[_replica_id() * n:(_replica_id() + 1) * n] if replicas > 1 else rows

    def sample_z(self, n, substep=0, step=None) -> tf.Tensor:
        """Stateless z keyed by (seed, step, D sub-step); each replica takes its own rows."""
        if self.z_distribution == "uniform":
            draw = lambda m, key: tf.random.stateless_uniform([m, self.z_dim], key, -1.0, 1.0)
        else:
            draw = lambda m, key: tf.random.stateless_normal([m, self.z_dim], key)
        return self._replica_rows(draw, n, substep, step, salt=0)

    def sample_labels(self, n, substep=0, step=None):
        """Uniform fake labels (conditional models), keyed like z."""
        if not self.num_classes:
            return None
        draw = lambda m, key: tf.random.stateless_uniform([m], key, 0, self.num_classes,
                                                          dtype=tf.int32)
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

    def discriminator_step(self, real, fake, real_y=None, fake_y=None) -> dict:
        """One D update on a real and a (stop-gradient) fake batch."""
        b = real.shape[0]
        n = self.rotation.images_per_replica(b * _num_replicas(), _num_replicas())
        x = tf.concat([with_rotations(real, n), with_rotations(fake, n)], axis=0)
        y = None
        if self.num_classes:
            y = tf.concat([self._rotated_labels(real_y, n), self._rotated_labels(fake_y, n)], 0)
        half = b + 3 * n
        with tf.GradientTape() as tape:
            out = self.discriminator(x, y, training=True)
            terms = self.loss_fn(out["logits"][:b], out["logits"][half:half + b])
            loss_real = self._average(terms.d_real, b)
            loss_fake = self._average(terms.d_fake, b)
            gan_weight = 0.0 if self.rotation.mode == "rotation_only" else 1.0
            loss = gan_weight * (loss_real + loss_fake)
            logs = {"d_loss_real": loss_real, "d_loss_fake": loss_fake}
            if self.rotation.enabled:
                rot_loss, rot_acc = self._rotation_terms(
                    out["rotation_logits"][half - 4 * n:half], n)
                loss += self.rotation.weight_d * rot_loss
                logs.update(d_rotation_loss=rot_loss, d_rotation_accuracy=rot_acc)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        logs["d_loss"] = loss
        return logs

    def generator_loss(self, fake, fake_y=None, real=None, real_y=None) -> dict:
        """L_G on fakes (D in training mode, as the reference); reals only if D is batch-dependent."""
        b = fake.shape[0]
        n = self.rotation.images_per_replica(b * _num_replicas(), _num_replicas())
        x = with_rotations(fake, n)
        y = self._rotated_labels(fake_y, n)
        offset = 0
        if self.discriminator.batch_dependent:
            x = tf.concat([with_rotations(real, n), x], axis=0)
            if y is not None:
                y = tf.concat([self._rotated_labels(real_y, n), y], axis=0)
            offset = b + 3 * n
        out = self.discriminator(x, y, training=True)
        fake_logits = out["logits"][offset:offset + b]
        terms = self.loss_fn(tf.zeros_like(fake_logits), fake_logits)
        gan_loss = self._average(terms.g, b)
        gan_weight = 0.0 if self.rotation.mode == "rotation_only" else 1.0
        logs = {"g_loss_gan": gan_loss, "g_loss": gan_weight * gan_loss}
        if self.rotation.enabled:
            rot_loss, rot_acc = self._rotation_terms(out["rotation_logits"][-4 * n:], n)
            logs["g_loss"] += self.rotation.weight_g * rot_loss
            logs.update(g_rotation_loss=rot_loss, g_rotation_accuracy=rot_acc)
        return logs

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
                    d_logs.append(self.discriminator_step(real, tf.stop_gradient(fake),
                                                          real_y, fake_y))
            g_logs = self.generator_loss(fake, fake_y, real, real_y)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(
            zip(g_tape.gradient(g_logs["g_loss"], variables), variables))
        logs = {k: tf.add_n([d[k] for d in d_logs]) / self.disc_iters for k in d_logs[0]}
        logs.update(g_logs)
        return logs
