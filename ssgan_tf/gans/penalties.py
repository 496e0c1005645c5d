"""Discriminator penalties (compare_gan `penalty_lib`, plus R1) and historical averaging.

A penalty is bound with `GAN.penalty_fn = @wgangp` and weighted by `GAN.penalty_weight` (the
reference's `lambda`); the GAN adds `penalty_weight * P` to L_D (times 0 in `rotation_only` mode,
as the reference). Penalties see only the un-rotated real/fake batch, and D is conditioned on the
*real* labels. Signature:

    fn(discriminator, real, fake, y=None, *, key, replica_id=0, num_replicas=1) -> tf.Tensor

returning either per-example values [B] (gradient penalties; the GAN averages them over the global
batch) or a scalar that is the same on every replica (weight penalties; the GAN divides it by the
number of replicas, so the gradients summed across replicas are those of P). `key` is a stateless
RNG key that is the same on every replica for a given (seed, step, D sub-step).

- `wgangp` (Gulrajani et al. 2017): mean_i (||grad_x D(x_hat_i)||_eps - 1)^2 with
  x_hat = x + alpha (x_fake - x), alpha ~ U[0, 1) per example.
- `dragan` (Kodali et al. 2017): mean_i (||grad_x D(x_tilde_i)||_eps - 1)^2 with
  x_tilde = clip(x + std(x) (U[0, 1) - 0.5), 0, 1), std(x) one scalar over the batch.
- `r1` (Mescheder et al. 2018): mean_i 0.5 ||grad_x D(x_i)||^2 on reals (`penalty_weight` is
  R1's gamma).
- `l2` (compare_gan `l2_penalty`): mean over D's kernels of sum(w^2) / 2 (`tf.nn.l2_loss`).

||g||_eps = sqrt(1e-4 + sum_{HWC} g^2), compare_gan's slope. D runs in training mode for the
penalty (so spectral norm's `u` takes one more power-iteration step, 2 per D step as in the
reference) and the gradient w.r.t. the input is taken inside D's tape (a nested `GradientTape`), so
L_D's gradient includes the second-order term.

Replica invariance: wgangp's alpha is drawn for the whole global batch from the
replica-independent key and each replica takes its slice, and dragan's std(x) is the
*global*-batch std (an all-reduce of three scalars), so a 2-replica step equals a 1-replica step
(tested for wgangp). dragan's pixel noise is drawn per replica (drawing the global batch's noise on
every replica would cost R x the memory).

Historical averaging, a weight penalty with state, is a trick: gans/tricks/historical.py.
"""

from __future__ import annotations

import gin
import tensorflow as tf

SLOPE_EPSILON = 1e-4  # compare_gan: slopes = sqrt(1e-4 + sum(grad^2))


def _per_example_uniform(key, batch: int, replica_id=0, num_replicas: int = 1) -> tf.Tensor:
    """U[0, 1) per example of this replica: the global batch's draw, sliced (replica invariant)."""
    u = tf.random.stateless_uniform([batch * num_replicas], key, alg="philox")
    start = tf.cast(replica_id, tf.int32) * batch
    return u[start:start + batch]


def wgangp_interpolates(real, fake, key, replica_id=0, num_replicas: int = 1):
    """(x_hat, alpha): x_hat = real + alpha * (fake - real), alpha ~ U[0,1) per example."""
    real = tf.cast(real, tf.float32)
    alpha = _per_example_uniform(key, real.shape[0], replica_id, num_replicas)
    return real + alpha[:, None, None, None] * (tf.cast(fake, tf.float32) - real), alpha


def dragan_perturbed(real, key, replica_id=0, num_replicas: int = 1):
    """(x_tilde, std): x_tilde = clip(x + std(x) * (U[0,1) - 0.5), 0, 1), std over the global batch
    (all pixels of all images), noise per replica."""
    real = tf.cast(real, tf.float32)
    stats = tf.stack([tf.reduce_sum(real), tf.reduce_sum(tf.square(real)),
                      tf.cast(tf.size(real), tf.float32)])
    ctx = tf.distribute.get_replica_context()
    if num_replicas > 1 and ctx is not None:
        stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
    mean = stats[0] / stats[2]
    std = tf.stop_gradient(tf.sqrt(tf.maximum(stats[1] / stats[2] - tf.square(mean), 0.0)))
    replica_key = tf.random.experimental.stateless_fold_in(key, tf.cast(replica_id, tf.int32))
    noise = tf.random.stateless_uniform(tf.shape(real), replica_key, alg="philox")
    return tf.clip_by_value(real + std * (noise - 0.5), 0.0, 1.0), std


def input_gradients(discriminator, x, y=None) -> tf.Tensor:
    """d sum(logits) / dx (float32), D in training mode; recorded by any enclosing tape."""
    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = discriminator(x, y, training=True)["logits"]
    return tf.cast(tape.gradient(logits, x), tf.float32)


def gradient_slopes(gradients) -> tf.Tensor:
    """sqrt(1e-4 + sum over H, W, C of grad^2), per example."""
    return tf.sqrt(SLOPE_EPSILON + tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))


@gin.configurable(module="ssgan_tf.gans.penalties")
def wgangp(discriminator, real, fake, y=None, *, key, replica_id=0, num_replicas: int = 1):
    """WGAN-GP (Gulrajani et al. 2017): per-example (slope(x_hat) - 1)^2."""
    x_hat, _ = wgangp_interpolates(real, fake, key, replica_id, num_replicas)
    return tf.square(gradient_slopes(input_gradients(discriminator, x_hat, y)) - 1.0)


@gin.configurable(module="ssgan_tf.gans.penalties")
def dragan(discriminator, real, fake=None, y=None, *, key, replica_id=0, num_replicas: int = 1):
    """DRAGAN (Kodali et al. 2017): per-example (slope(x_tilde) - 1)^2 around perturbed reals."""
    del fake
    x_tilde, _ = dragan_perturbed(real, key, replica_id, num_replicas)
    return tf.square(gradient_slopes(input_gradients(discriminator, x_tilde, y)) - 1.0)


@gin.configurable(module="ssgan_tf.gans.penalties")
def r1(discriminator, real, fake=None, y=None, *, key=None, replica_id=0,
       num_replicas: int = 1):
    """R1 (Mescheder et al. 2018): per-example 0.5 ||grad D(x_real)||^2; gamma = penalty_weight."""
    del fake, key, replica_id, num_replicas
    grads = input_gradients(discriminator, real, y)
    return 0.5 * tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])


def kernel_variables(network) -> list:
    """The trainable kernels of a network (variables named `kernel`, as compare_gan's
    `/kernel:0` filter): conv and dense kernels, not biases, norms or spectral-norm `u`."""
    return [v for v in network.trainable_variables if v.path.rsplit("/", 1)[-1] == "kernel"]


@gin.configurable(module="ssgan_tf.gans.penalties")
def l2(discriminator, real=None, fake=None, y=None, **unused):
    """compare_gan `l2_penalty`: mean over D's kernels of tf.nn.l2_loss(w) = sum(w^2) / 2.

    A scalar, identical on every replica."""
    del real, fake, y, unused
    kernels = kernel_variables(discriminator)
    if not kernels:
        raise ValueError(f"{discriminator.name} has no kernel variables to penalize.")
    return tf.add_n([tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in kernels]) / len(kernels)


PENALTIES = {f.__name__: f for f in (wgangp, dragan, r1, l2)}


def is_per_example(penalty_value: tf.Tensor) -> bool:
    """True for [B] gradient penalties, False for replica-identical scalars (weight penalties)."""
    rank = penalty_value.shape.rank
    if rank not in (0, 1):
        raise ValueError(f"A penalty must return [B] or a scalar, got shape {penalty_value.shape}.")
    return rank == 1
