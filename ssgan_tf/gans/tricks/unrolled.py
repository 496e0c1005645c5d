"""Unrolled GAN (Metz et al. 2017; `GAN.unrolled_steps` k, `GAN.unrolled_optimizer`): G's loss is
computed against D after k simulated D updates on the last D step's batch (fakes with their
gradient path), and G's gradient flows back through the simulated updates. D's variables are
never written (the simulation uses `stateless_call`). The simulated loss is D's GAN + rotation
(+ class) loss: no penalty, no historical term.

The simulated optimizer reads D's optimizer through public Keras API only: a
`LossScaleOptimizer`'s `inner_optimizer` (mixed_float16), Adam's `beta_1` / `beta_2` / `epsilon` /
`iterations` / `learning_rate`, and its slot variables by the names Keras documents for
`add_variable_from_reference` (`<variable path with "/" -> "_">_momentum` / `_velocity`).
Gradients of the simulated loss are scaled like the real D step's (`optimizer.scale_loss`) and
unscaled, so float16 gradients do not underflow.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.gans.sampling import num_replicas
from ssgan_tf.gans.tricks.base import Trick, read

UNROLLED_OPTIMIZERS = ("adam", "sgd")


class UnrolledDiscriminator(Trick):
    def __init__(self, steps: int, optimizer: str = "adam", **kwargs):
        super().__init__(**kwargs)
        if steps < 0:
            raise ValueError(f"GAN.unrolled_steps={steps} must be >= 0.")
        if optimizer not in UNROLLED_OPTIMIZERS:
            raise ValueError(f"GAN.unrolled_optimizer={optimizer!r}; expected one of "
                             f"{UNROLLED_OPTIMIZERS}.")
        self.steps = int(steps)
        self.kind = optimizer


    def unrolled_weights(self, gan, real, fake, real_y=None, fake_y=None):
        """(trainable, non_trainable) tensors of D after the simulated updates on (real, fake)."""
        b = real.shape[0]
        n = gan._rotations_per_replica(b)
        x, y = gan._d_inputs(real, fake, real_y, fake_y, n)
        return unrolled_weights(gan.discriminator, gan.d_optimizer, x, y,
                                lambda out: gan._d_objective(out, b, n, real_y)[0],
                                self.steps, self.kind, num_replicas())

    def generator_discriminator(self, gan, real, fake, real_y=None, fake_y=None):
        weights, state = self.unrolled_weights(gan, real, fake, real_y, fake_y)

        def d_call(x, y):
            out, _ = gan.discriminator.stateless_call(weights, state, x, y, training=True)
            return out

        return d_call


def adam_state(optimizer, variables):
    """(moments, velocities, beta_1, beta_2, epsilon, iterations) of the Adam behind `optimizer`
    for `variables`, through public Keras API (see the module docstring)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(inner, keras.optimizers.Adam):
        raise SsganError(f"GAN.unrolled_optimizer='adam' simulates D's Adam, but D's optimizer is "
                         f"{type(inner).__name__}; use GAN.unrolled_optimizer='sgd' or an Adam.")
    slots = {v.name: v for v in inner.variables}

    def slot(variable, kind):
        name = f"{variable.path.replace('/', '_')}_{kind}"
        if name not in slots:
            raise SsganError(f"D's optimizer has no {kind} for {variable.path}: build it on the "
                             "discriminator's trainable variables (GAN.build_all does).")
        return read(slots[name])

    moments = [slot(v, "momentum") for v in variables]
    velocities = [slot(v, "velocity") for v in variables]
    iterations = tf.cast(read(inner.iterations), tf.float32)
    return moments, velocities, float(inner.beta_1), float(inner.beta_2), inner.epsilon, iterations


def _gradients(discriminator, weights, state, x, y, loss_fn, scale, replicas: int):
    """Gradients of the simulated loss (scaled by `scale` inside the tape and unscaled after, as
    a LossScaleOptimizer does; scale None: 1), summed across replicas."""
    with tf.GradientTape() as tape:
        tape.watch(weights)
        outputs, state = discriminator.stateless_call(weights, state, x, y, training=True)
        loss = loss_fn(outputs)
        if scale is not None:
            loss = loss * scale
    grads = tape.gradient(loss, weights)
    grads = [tf.zeros_like(w) if g is None else tf.cast(g, w.dtype) for g, w in zip(grads, weights)]
    if scale is not None:
        grads = [g / tf.cast(scale, g.dtype) for g in grads]
    if replicas > 1:
        grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
    return grads, state


def unrolled_weights(discriminator, optimizer, x, y, loss_fn, steps: int, kind: str = "adam",
                     replicas: int = 1):
    """Simulates `steps` updates of D and returns (trainable, non_trainable) tensors after them.

    Each simulated update minimizes `loss_fn(outputs)` (D's loss, the per-replica share of the
    global mean) for `outputs = D(x, y, training=True)` evaluated with the current simulated
    weights; `x` keeps the fakes' gradient path to G. Gradients are summed across replicas (as
    the real optimizer does), and the update is recorded by any enclosing tape, so the gradient of
    a loss on the unrolled D flows back through the simulated updates (Metz et al. 2017).
    kind="adam": the update rule of D's Keras Adam, starting from copies of its moments and
    iteration count (the denominator sqrt(v) + eps is held constant for the backward pass, which
    avoids the infinite derivative of sqrt at v = 0); kind="sgd": w -= lr * grad with D's lr.
    D's variables (weights, Adam moments, spectral-norm u) are never written.
    """
    if kind not in UNROLLED_OPTIMIZERS:
        raise ValueError(f"GAN.unrolled_optimizer={kind!r}; expected one of "
                         f"{UNROLLED_OPTIMIZERS}.")
    variables = list(discriminator.trainable_variables)
    weights = [read(v) for v in variables]
    state = [read(v) for v in discriminator.non_trainable_variables]
    lr = tf.cast(read(optimizer.learning_rate), tf.float32)
    scale = optimizer.scale_loss(1.0)  # the loss scale (a LossScaleOptimizer's; else 1.0)
    scale = None if isinstance(scale, float) else tf.stop_gradient(tf.cast(scale, tf.float32))
    if kind == "adam":
        moments, velocities, beta1, beta2, epsilon, iterations = adam_state(optimizer, variables)
    for step in range(steps):
        grads, new_state = _gradients(discriminator, weights, state, x, y, loss_fn, scale,
                                      replicas)
        if kind == "sgd":
            new = ([w - lr * g for w, g in zip(weights, grads)],)
            old = (weights,)
        else:
            t = iterations + float(step + 1)
            alpha = lr * tf.sqrt(1.0 - tf.pow(beta2, t)) / (1.0 - tf.pow(beta1, t))
            m_new = [m + (g - m) * (1.0 - beta1) for m, g in zip(moments, grads)]
            v_new = [v + (tf.square(g) - v) * (1.0 - beta2) for v, g in zip(velocities, grads)]
            new = ([w - alpha * m / tf.stop_gradient(tf.sqrt(v) + epsilon)
                    for w, m, v in zip(weights, m_new, v_new)], m_new, v_new)
            old = (weights, moments, velocities)
        if scale is not None:  # as the LossScaleOptimizer: an overflowing update is skipped
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
            new = [[tf.where(finite, a, b) for a, b in zip(n, o)] for n, o in zip(new, old)]
            new_state = [tf.where(finite, a, b) for a, b in zip(new_state, state)]
        weights, state = new[0], new_state
        if kind == "adam":
            moments, velocities = new[1], new[2]
    return weights, state
