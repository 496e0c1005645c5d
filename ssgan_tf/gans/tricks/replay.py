"""Experience replay (`GAN.replay_buffer_size`, `GAN.replay_fraction`; Shrivastava et al. 2017,
"Learning from Simulated and Unsupervised Images through Adversarial Training", §2.3; Pfau &
Vinyals 2016; the "use stability tricks from RL" tip of Chintala et al.'s ganhacks, 2016): D
trains on fakes of which a fixed fraction are replayed from a buffer of past fakes.

`ReplayBuffer` is a ring buffer of the last `size` fakes of the *global* batch.
`mix(fresh, labels, keys)`: exactly round(fraction * global batch) examples of the global fake
batch, chosen by a seeded random permutation, are replaced by buffer images drawn uniformly (with
replacement) among those stored; until something is stored the batch is unchanged. Each replica
keeps its slice of the global batch, so the result does not depend on the number of replicas (the
number replaced on one replica varies; the global count is exact).
`insert(fresh, labels)`: every fresh fake of the global batch (all-gathered across replicas) is
written at the ring positions (count + i) mod size. Every replica holds the same buffer (a
mirrored variable, size x H x W x C float32, written identically everywhere); it is checkpointed
with the count (entry `replay`), so a resumed run replays exactly.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.gans.sampling import num_replicas, replica_id
from ssgan_tf.gans.tricks.base import Fakes, Trick, VariableDict, read
from ssgan_tf.layers.config import Configurable

# Salts of the stateless keys of the replay draws (GAN._key).
MASK_SALT = 130363
INDEX_SALT = 155921


def _local(variable) -> tf.Variable:
    """The tf.Variable behind a Keras variable; this replica's copy of a mirrored one."""
    v = variable.value
    get_local = getattr(v, "_get_on_device_or_primary", None)
    return get_local() if get_local is not None else v


class ReplayBuffer(Configurable, keras.layers.Layer):
    """The buffer of past fakes (see the module docstring)."""

    def __init__(self, size: int, fraction: float, image_shape, conditional: bool, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
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
        self.built = True

    def variables_by_name(self) -> dict:
        """{checkpoint key: variable} (`images`, `count`, and `labels` when conditional)."""
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
        filled = tf.maximum(tf.minimum(read(self.count), self.size), 1)
        v = tf.random.stateless_uniform([global_batch], key_index, alg="philox")
        indices = tf.minimum(tf.cast(tf.floor(v * tf.cast(filled, tf.float32)), tf.int64),
                             filled - 1)
        return mask, indices

    def mix(self, fresh, labels, key_mask, key_index, replica_id=0, num_replicas: int = 1):
        b = fresh.shape[0]
        mask, indices = self.selection(b * num_replicas, key_mask, key_index)
        start = tf.cast(replica_id, tf.int32) * b
        mask = tf.logical_and(mask[start:start + b], read(self.count) > 0)
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
        if num_replicas > 1:
            context = tf.distribute.get_replica_context()
            fresh = context.all_gather(fresh, axis=0)
            if labels is not None:
                labels = context.all_gather(labels, axis=0)
        positions = (read(self.count) + tf.range(total, dtype=tf.int64)) % self.size
        self.images.value.scatter_update(tf.IndexedSlices(fresh, positions))
        if self.labels is not None and labels is not None:
            self.labels.value.scatter_update(
                tf.IndexedSlices(tf.cast(labels, tf.int32), positions))
        self.count.assign(read(self.count) + total)


class ExperienceReplay(Trick):
    def __init__(self, size: int, fraction: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if size < 0:
            raise ValueError(f"GAN.replay_buffer_size={size} must be >= 0 (0 = off).")
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"GAN.replay_fraction={fraction} must be in (0, 1].")
        self.size = int(size)
        self.fraction = float(fraction)
        self.buffer = None


    def build_state(self, gan) -> None:
        if self.buffer is None:
            self.buffer = ReplayBuffer(self.size, self.fraction, gan.generator.image_shape,
                                       conditional=bool(gan.num_classes), name="buffer")
        self.built = True

    def checkpoint_state(self) -> dict:
        return {"replay": VariableDict(self.buffer.variables_by_name())}

    def reset_state(self, gan) -> None:
        self.buffer.count.assign(tf.zeros([], tf.int64))

    def discriminator_fakes(self, gan, fakes: Fakes, fresh: Fakes, substep: int) -> Fakes:
        """The fakes with the selected fraction replayed; the fresh fakes go into the buffer."""
        replicas = num_replicas()
        images, labels = self.buffer.mix(fakes.images, fakes.labels,
                                         gan._key(MASK_SALT, substep),
                                         gan._key(INDEX_SALT, substep), replica_id(), replicas)
        self.buffer.insert(fresh.images, fresh.labels, replicas)
        return fakes._replace(images=images, labels=labels)
