"""The input pipeline: per-replica split of global batches, independent of the topology."""

import numpy as np
import tensorflow as tf

from ssgan_tf.data import DatasetSpec, train_dataset


def numbered_spec(n=64):
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones([1, 2, 2, 1])

    def load(split):
        return tf.data.Dataset.from_tensor_slices(
            {"images": images.astype(np.float32), "labels": np.arange(n, dtype=np.int32)})

    return DatasetSpec("numbered", (2, 2, 1), 0, load)


def ids(batch):
    return batch["labels"].numpy().tolist()


def test_replicas_take_their_rows_of_each_substep():
    spec = numbered_spec()
    single = next(iter(train_dataset(spec, 4, disc_iters=2, seed=3)))
    ctx = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                     num_replicas_in_sync=2)
    it = iter(train_dataset(spec, 4, disc_iters=2, seed=3, input_context=ctx))
    r0, r1 = next(it), next(it)
    s = ids(single)  # [substep0 (4), substep1 (4)]
    assert ids(r0) == s[0:2] + s[4:6] and ids(r1) == s[2:4] + s[6:8]
    np.testing.assert_array_equal(r0["images"].numpy()[:, 0, 0, 0], ids(r0))


def test_two_workers_see_the_global_batch_of_one_process():
    spec = numbered_spec()
    single = iter(train_dataset(spec, 4, seed=1))
    workers = [iter(train_dataset(spec, 4, seed=1, input_context=tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=w, num_replicas_in_sync=2))) for w in (0, 1)]
    for _ in range(20):  # several epochs: reshuffled identically everywhere
        assert ids(next(workers[0])) + ids(next(workers[1])) == ids(next(single))


def test_resume_skips_consumed_batches():
    spec = numbered_spec()
    straight = iter(train_dataset(spec, 8, seed=2))
    for _ in range(5):
        next(straight)
    resumed = iter(train_dataset(spec, 8, seed=2, start_step=5))
    for _ in range(5):
        assert ids(next(resumed)) == ids(next(straight))
