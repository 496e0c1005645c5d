"""The state behind the GAN stabilization tricks of `GAN` (gans/gan.py):

- `ShadowGenerator`: a generator that runs the live generator's code with its own copy of the
  weights (Keras `stateless_call`, so it is always the same class and configuration as G). Used
  for the EMA generator (`GAN.g_ema_decay`) and for the checkpoint-swapping snapshot
  (`GAN.swap_every`).
- `ReplayBuffer`: experience replay of past fakes (`GAN.replay_buffer_size`, `GAN.replay_fraction`).
- `unrolled_weights`: the discriminator after k simulated updates (`GAN.unrolled_steps`).
- `VariableDict`: a trackable {name: variable} map for checkpoints.

Distribution: every piece of state here is a mirrored variable with the default (NONE)
aggregation that each replica updates with the *same* value, computed from mirrored inputs or from
values gathered across replicas. Such a replica-context `assign` is a local write (no
communication, no `merge_call`, so it also works inside `tf.cond`), the copies stay equal, and
checkpoints save one copy.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf


def variable_key(variable) -> str:
    """A variable's path inside its model, without the model's name, "/" -> "." ."""
    return variable.path.split("/", 1)[-1].replace("/", ".")


class VariableDict(tf.Module):
    """Trackable {name: variable} map (the layout of checkpoints.VariableMap)."""

    def __init__(self, variables: dict):
        super().__init__(name=None)
        self.variables_by_path = dict(variables)


def _replica_context():
    return tf.distribute.get_replica_context()


def _read(variable) -> tf.Tensor:
    return tf.convert_to_tensor(variable)


def _local(variable) -> tf.Variable:
    """The tf.Variable behind a Keras variable; this replica's copy of a mirrored one."""
    v = variable.value
    get_local = getattr(v, "_get_on_device_or_primary", None)
    return get_local() if get_local is not None else v


# ----------------------------------------------------------------------------- shadow generator
class _Reference:
    """Holds an object without making it a tracked attribute (of Keras or tf.train)."""

    def __init__(self, target):
        self.target = target


class ShadowGenerator(keras.Model):
    """`source`'s network evaluated with shadow copies of its weights, in inference mode.

    `copy_non_trainable=False` (EMA): shadows of the trainable weights only; the batch-norm moving
    statistics, spectral-norm `u` and any other non-trainable state are read from the live
    generator (compare_gan averages only the trainable variables; its BN statistics are the live
    ones). `copy_non_trainable=True` (snapshot): every weight is copied, so the snapshot is the
    generator exactly as it was. Calls always run in inference mode (BN moving statistics, no
    state update), whatever `training` says, so they never write state.

    Call `initialize()` once the source is built (GAN.build_all does).
    """

    def __init__(self, source, copy_non_trainable: bool = False, **kwargs):
        kwargs.setdefault("dtype", source.dtype_policy)
        super().__init__(**kwargs)
        # Not tracked as a sub-model: this model's weights are its shadows (and, for the EMA, the
        # live non-trainable state it reads), never the live trainable weights.
        self._source_ref = _Reference(source)
        self.copy_non_trainable = copy_non_trainable
        self.shadow_trainable: list = []
        self.shadow_non_trainable: list = []
        self.live_state: list = []

    @property
    def source(self):
        return self._source_ref.target

    # The generator contract, delegated.
    @property
    def z_dim(self) -> int:
        return self.source.z_dim

    @property
    def num_classes(self) -> int:
        return self.source.num_classes

    @property
    def image_shape(self) -> tuple:
        return self.source.image_shape

    def initialize(self) -> None:
        """Creates the shadow variables, equal to the source's current weights."""
        if self.built:
            return
        if not self.source.built:
            raise ValueError(f"{self.name}: build the source generator first.")

        def shadows(variables):
            # Each shadow's path mirrors its source's ("<this name>/fc/kernel" for
            # "generator/fc/kernel"), so code that maps weights by path treats this model
            # like the generator.
            out = []
            for v in variables:
                *scopes, leaf = v.path.split("/", 1)[-1].split("/")
                with contextlib.ExitStack() as stack:
                    for scope in [self.name, *scopes]:
                        stack.enter_context(keras.name_scope(scope))
                    out.append(keras.Variable(tf.zeros(v.shape, v.dtype), dtype=v.dtype,
                                              trainable=False, autocast=False, name=leaf))
            return out

        self.shadow_trainable = shadows(self.source.trainable_variables)
        if self.copy_non_trainable:
            self.shadow_non_trainable = shadows(self.source.non_trainable_variables)
        else:
            self.live_state = list(self.source.non_trainable_variables)
        self.built = True
        self.copy_from_source()

    def build(self, *args, **kwargs):  # variables come from initialize(), not from a call
        self.initialize()

    def shadow_variables(self) -> dict:
        return {variable_key(v): s for v, s in
                zip(self.source.trainable_variables, self.shadow_trainable)} | (
            {variable_key(v): s for v, s in
             zip(self.source.non_trainable_variables, self.shadow_non_trainable)})

    def _pairs(self):
        pairs = list(zip(self.shadow_trainable, self.source.trainable_variables))
        return pairs + list(zip(self.shadow_non_trainable, self.source.non_trainable_variables))

    def copy_from_source(self) -> None:
        for shadow, live in self._pairs():
            shadow.assign(_read(live))

    def ema_update(self, decay) -> None:
        """shadow = decay * shadow + (1 - decay) * live for the trainable weights (decay = 0 copies
        exactly); non-trainable shadows, if any, are copied."""
        decay = tf.convert_to_tensor(decay, tf.float32)
        for shadow, live in zip(self.shadow_trainable, self.source.trainable_variables):
            d = tf.cast(decay, shadow.dtype)
            shadow.assign(d * _read(shadow) + (1.0 - d) * _read(live))
        for shadow, live in zip(self.shadow_non_trainable, self.source.non_trainable_variables):
            shadow.assign(_read(live))

    def call(self, z, y=None, training=False):
        del training  # always inference mode: no state writes
        trainable = [_read(s) for s in self.shadow_trainable]
        if self.copy_non_trainable:
            non_trainable = [_read(s) for s in self.shadow_non_trainable]
        else:
            non_trainable = [_read(v) for v in self.live_state]
        images, _ = self.source.stateless_call(trainable, non_trainable, z, y, training=False)
        return images


# ---------------------------------------------------------------------------------- replay
class ReplayBuffer:
    """Experience replay (Shrivastava et al. 2017, "Learning from Simulated and Unsupervised
    Images through Adversarial Training", §2.3; Pfau & Vinyals 2016; the "use stability tricks
    from RL" tip of Chintala et al.'s ganhacks, 2016): a ring buffer of the last `size` fakes of
    the *global* batch.

    `mix(fresh, labels, keys)`: exactly round(fraction * global batch) examples of the global fake
    batch, chosen by a seeded random permutation, are replaced by buffer images drawn uniformly
    (with replacement) among those stored; until something is stored the batch is unchanged. Each
    replica keeps its slice of the global batch, so the result does not depend on the number of
    replicas (the number replaced on one replica varies; the global count is exact).
    `insert(fresh, labels)`: every fresh fake of the global batch (all-gathered across replicas) is
    written at the ring positions (count + i) mod size. Every replica holds the same buffer (a
    mirrored variable, size x H x W x C float32, written identically everywhere); it is
    checkpointed with the count, so a resumed run replays exactly.
    """

    def __init__(self, size: int, fraction: float, image_shape, conditional: bool):
        if size < 1:
            raise ValueError(f"GAN.replay_buffer_size={size} must be >= 1.")
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"GAN.replay_fraction={fraction} must be in (0, 1].")
        self.size = int(size)
        self.fraction = float(fraction)
        self.images = keras.Variable(tf.zeros([self.size, *image_shape]), trainable=False,
                                     name="replay_images")
        self.labels = (keras.Variable(tf.zeros([self.size], tf.int32), trainable=False,
                                      dtype="int32", name="replay_labels")
                       if conditional else None)
        self.count = keras.Variable(tf.zeros([], tf.int64), trainable=False, dtype="int64",
                                    name="replay_count")

    def variables(self) -> dict:
        out = {"images": self.images, "count": self.count}
        if self.labels is not None:
            out["labels"] = self.labels
        return out

    def num_replaced(self, global_batch: int) -> int:
        return int(round(self.fraction * global_batch))

    def selection(self, global_batch: int, key_mask, key_index):
        """(mask [global_batch] bool, indices [global_batch] int64): which examples of the global
        batch are replaced and by which stored image (valid only where mask is True)."""
        k = self.num_replaced(global_batch)
        u = tf.random.stateless_uniform([global_batch], key_mask, alg="philox")
        ranks = tf.argsort(tf.argsort(u))
        mask = ranks < k
        filled = tf.maximum(tf.minimum(_read(self.count), self.size), 1)
        v = tf.random.stateless_uniform([global_batch], key_index, alg="philox")
        indices = tf.minimum(tf.cast(tf.floor(v * tf.cast(filled, tf.float32)), tf.int64),
                             filled - 1)
        return mask, indices

    def mix(self, fresh, labels, key_mask, key_index, replica_id=0, num_replicas: int = 1):
        b = fresh.shape[0]
        mask, indices = self.selection(b * num_replicas, key_mask, key_index)
        start = tf.cast(replica_id, tf.int32) * b
        mask = tf.logical_and(mask[start:start + b], _read(self.count) > 0)
        indices = indices[start:start + b]
        # Gather the rows from the variable itself (reading the whole buffer could copy it).
        replayed = tf.gather(_local(self.images), indices)
        mixed = tf.where(mask[:, None, None, None], replayed, tf.cast(fresh, tf.float32))
        if labels is not None and self.labels is not None:
            labels = tf.where(mask, tf.gather(_local(self.labels), indices), labels)
        return mixed, labels

    def insert(self, fresh, labels, num_replicas: int = 1) -> None:
        b = fresh.shape[0]
        total = b * num_replicas
        if total > self.size:
            raise ValueError(f"GAN.replay_buffer_size={self.size} must be at least the global "
                             f"batch ({total}): each D step stores all its fakes.")
        fresh = tf.cast(fresh, tf.float32)
        ctx = _replica_context()
        if num_replicas > 1:
            fresh = ctx.all_gather(fresh, axis=0)
            if labels is not None:
                labels = ctx.all_gather(labels, axis=0)
        positions = (_read(self.count) + tf.range(total, dtype=tf.int64)) % self.size
        self.images.value.scatter_update(tf.IndexedSlices(fresh, positions))
        if self.labels is not None and labels is not None:
            self.labels.value.scatter_update(
                tf.IndexedSlices(tf.cast(labels, tf.int32), positions))
        self.count.assign(_read(self.count) + total)


# -------------------------------------------------------------------------------- unrolling
UNROLLED_OPTIMIZERS = ("adam", "sgd")


def unrolled_weights(discriminator, optimizer, x, y, loss_fn, steps: int, kind: str = "adam",
                     num_replicas: int = 1):
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
    weights = [_read(v) for v in variables]
    state = [_read(v) for v in discriminator.non_trainable_variables]
    lr = tf.cast(_read(optimizer.learning_rate), tf.float32)
    if kind == "adam":
        index = [optimizer._get_variable_index(v) for v in variables]
        moments = [_read(optimizer._momentums[i]) for i in index]
        velocities = [_read(optimizer._velocities[i]) for i in index]
        beta1, beta2 = float(optimizer.beta_1), float(optimizer.beta_2)
        iterations = tf.cast(_read(optimizer.iterations), tf.float32)
    ctx = _replica_context()
    for step in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            outputs, state = discriminator.stateless_call(weights, state, x, y, training=True)
            loss = loss_fn(outputs)
        grads = tape.gradient(loss, weights)
        grads = [tf.zeros_like(w) if g is None else tf.cast(g, w.dtype)
                 for g, w in zip(grads, weights)]
        if num_replicas > 1:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if kind == "sgd":
            weights = [w - lr * g for w, g in zip(weights, grads)]
            continue
        t = iterations + float(step + 1)
        alpha = lr * tf.sqrt(1.0 - tf.pow(beta2, t)) / (1.0 - tf.pow(beta1, t))
        moments = [m + (g - m) * (1.0 - beta1) for m, g in zip(moments, grads)]
        velocities = [v + (tf.square(g) - v) * (1.0 - beta2) for v, g in zip(velocities, grads)]
        weights = [w - alpha * m / tf.stop_gradient(tf.sqrt(v) + optimizer.epsilon)
                   for w, m, v in zip(weights, moments, velocities)]
    return weights, state
