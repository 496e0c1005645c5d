"""k-means in TensorFlow (S2GAN: cluster self-supervised features into pseudo-labels).

Lloyd iterations with k-means++ initialisation. Each iteration streams the features in batches
under a tf.distribute strategy: every replica assigns its points to the nearest centre and sums
them per cluster; the per-cluster sums and counts are all-reduced, so it scales across replicas
and workers and never needs all points on one device. Empty clusters are re-seeded with the point
farthest from its centre.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def kmeans_plus_plus(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) on (a sample of) the points."""
    rng = np.random.RandomState(seed)
    centres = [points[rng.randint(len(points))]]
    dist = np.sum((points - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        probs = dist / dist.sum() if dist.sum() > 0 else np.full(len(points), 1 / len(points))
        centres.append(points[rng.choice(len(points), p=probs)])
        dist = np.minimum(dist, np.sum((points - centres[-1]) ** 2, axis=1))
    return np.stack(centres).astype(np.float32)


def _assign(x: tf.Tensor, centres: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre and squared distance, via ||x||^2 - 2 x.c + ||c||^2."""
    d = (tf.reduce_sum(x * x, 1, keepdims=True) - 2.0 * tf.matmul(x, centres, transpose_b=True)
         + tf.reduce_sum(centres * centres, 1)[None])
    return tf.argmin(d, axis=1, output_type=tf.int32), tf.reduce_min(d, axis=1)


class KMeans:
    """`fit(points)` -> centres; `predict(points)` -> cluster ids. `points` is an array or a
    tf.data.Dataset of [batch, dim] float batches (re-iterated every iteration)."""

    def __init__(self, k: int, iterations: int = 50, seed: int = 0, batch_size: int = 4096,
                 init_sample: int = 20_000, tolerance: float = 1e-6,
                 strategy: tf.distribute.Strategy | None = None):
        self.k, self.iterations, self.seed = k, iterations, seed
        self.batch_size, self.init_sample, self.tolerance = batch_size, init_sample, tolerance
        self.strategy = strategy or tf.distribute.get_strategy()
        self.centres: np.ndarray | None = None
        self.inertia: float | None = None

    def _dataset(self, points) -> tf.data.Dataset:
        if isinstance(points, tf.data.Dataset):
            return points
        return tf.data.Dataset.from_tensor_slices(np.asarray(points, np.float32)).batch(
            self.batch_size)

    def _init_sample(self, points) -> np.ndarray:
        sample, n = [], 0
        for batch in self._dataset(points):
            sample.append(batch.numpy())
            n += len(sample[-1])
            if n >= self.init_sample:
                break
        return np.concatenate(sample)[:self.init_sample]

    def _step_fn(self):
        k = self.k

        @tf.function
        def step(batch, centres):
            def replica(x):
                ids, dist = _assign(x, centres)
                onehot = tf.one_hot(ids, k, dtype=tf.float32)
                far = tf.argmax(dist)
                return (tf.matmul(onehot, x, transpose_a=True), tf.reduce_sum(onehot, 0),
                        tf.reduce_sum(dist), tf.reduce_max(dist), x[far])

            sums, counts, inertia, far_dist, far_point = self.strategy.run(replica, (batch,))
            reduce = lambda v: self.strategy.reduce("SUM", v, axis=None)  # noqa: E731
            local = self.strategy.experimental_local_results
            best = tf.argmax(tf.stack(local(far_dist)))
            return (reduce(sums), reduce(counts), reduce(inertia),
                    tf.gather(tf.stack(local(far_point)), best), tf.reduce_max(local(far_dist)))

        return step

    def fit(self, points) -> np.ndarray:
        sample = self._init_sample(points)
        if len(sample) < self.k:
            raise ValueError(f"k-means needs at least k={self.k} points, got {len(sample)}.")
        centres = kmeans_plus_plus(sample, self.k, self.seed)
        step = self._step_fn()
        dataset = self.strategy.experimental_distribute_dataset(self._dataset(points))
        for _ in range(self.iterations):
            total_sums = np.zeros_like(centres, np.float64)
            total_counts = np.zeros(self.k, np.float64)
            inertia, far_point, far_dist = 0.0, None, -1.0
            c = tf.constant(centres)
            for batch in dataset:
                sums, counts, part, point, dist = step(batch, c)
                total_sums += sums.numpy()
                total_counts += counts.numpy()
                inertia += float(part)
                if float(dist) > far_dist:
                    far_dist, far_point = float(dist), point.numpy()
            new = centres.copy()
            filled = total_counts > 0
            new[filled] = (total_sums[filled] / total_counts[filled, None]).astype(np.float32)
            for empty in np.flatnonzero(~filled):  # re-seed an empty cluster
                new[empty] = far_point
            shift = float(np.sum((new - centres) ** 2))
            centres, self.inertia = new, inertia
            if shift <= self.tolerance:
                break
        self.centres = centres
        return centres

    def predict(self, points) -> np.ndarray:
        if self.centres is None:
            raise ValueError("KMeans.predict before fit.")
        c = tf.constant(self.centres)
        return np.concatenate([_assign(tf.cast(b, tf.float32), c)[0].numpy()
                               for b in self._dataset(points)])
