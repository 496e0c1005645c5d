"""Keras `fit` runs the same `train_step` as the project's loop: equal losses and weights for the
same seed, on one device and under MirroredStrategy (2 logical CPU devices), and a 2-replica fit
equals a 1-replica fit on the same global batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.gans import RotationTask
from ssgan_tf.training.trainer import make_train_loop
from tests.helpers import random_images, set_weights_from, tiny_gan

STEPS = 2


def dataset(images_per_step: int) -> tf.data.Dataset:
    images = tf.concat([random_images(images_per_step, seed=40 + i) for i in range(STEPS)], 0)
    return tf.data.Dataset.from_tensor_slices({"images": images}).batch(
        images_per_step, drop_remainder=True)


def fit_logs(model, data) -> list[dict]:
    records = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: records.append(
            {k: float(v) for k, v in logs.items()}))
    model.compile()
    model.fit(data, epochs=1, verbose=0, callbacks=[record])
    return records


def loop_logs(model, strategy, data) -> list[dict]:
    run_steps = make_train_loop(model, strategy)
    iterator = iter(strategy.experimental_distribute_dataset(data))
    return [{k: float(v) for k, v in run_steps(iterator, tf.constant(1, tf.int64)).items()}
            for _ in range(STEPS)]


def assert_same_run(a, b, logs_a, logs_b):
    assert len(logs_a) == len(logs_b) == STEPS
    for step, (x, y) in enumerate(zip(logs_a, logs_b)):
        for key in a.log_keys():
            np.testing.assert_allclose(x[key], y[key], rtol=1e-4, atol=1e-5,
                                       err_msg=f"step {step}: {key}")
    for net in ("generator", "discriminator"):
        for u, v in zip(getattr(a, net).weights, getattr(b, net).weights):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=u.path)
    assert a.current_step() == b.current_step() == STEPS


def test_fit_equals_the_project_loop_on_one_device():
    kwargs = dict(batch=4, rotation=RotationTask(rotated_batch_size=8), disc_iters=2,
                  g_ema_decay=0.5, ema_start_step=0)
    fitted, looped = tiny_gan(**kwargs), tiny_gan(**kwargs)
    set_weights_from(looped, fitted)
    looped.ema_generator.copy_from_source()
    fitted.ema_generator.copy_from_source()
    data = dataset(8)
    assert_same_run(fitted, looped, fit_logs(fitted, data),
                    loop_logs(looped, tf.distribute.get_strategy(), data))
    for u, v in zip(fitted.ema_generator.weights, looped.ema_generator.weights):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~20 s: three models, each fit / loop traced once
def test_two_replica_fit_equals_one_replica_fit_and_the_loop(strategy):
    # Cross-replica BN in G; Adam with lr = eps = 1 (the update g / (|g| + 1) cannot flip on
    # float noise, see test_distributed).
    kwargs = dict(rotation=RotationTask(rotated_batch_size=None), cross_replica_bn=True,
                  g_lr=1.0, adam_epsilon=1.0)
    single = tiny_gan(batch=8, **kwargs)
    with strategy.scope():
        mirrored = tiny_gan(batch=4, **kwargs)
        looped = tiny_gan(batch=4, **kwargs)
    set_weights_from(mirrored, single)
    set_weights_from(looped, single)
    data = dataset(8)
    single_logs = fit_logs(single, data)
    mirrored_logs = fit_logs(mirrored, data)
    assert_same_run(mirrored, single, mirrored_logs, single_logs)
    assert_same_run(mirrored, looped, mirrored_logs, loop_logs(looped, strategy, data))


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("interrupted")


@pytest.mark.slow
def test_fit_resumes_with_backup_and_restore(tmp_path):
    """An interrupted fit resumed by keras.callbacks.BackupAndRestore ends where an uninterrupted
    one does (weights, optimizer state and the z stream, which is keyed by G's step)."""
    kwargs = dict(batch=4, rotation=RotationTask(rotated_batch_size=8), g_ema_decay=0.5,
                  ema_start_step=0)
    straight, interrupted, resumed = tiny_gan(**kwargs), tiny_gan(**kwargs), tiny_gan(**kwargs)
    set_weights_from(interrupted, straight)
    interrupted.ema_generator.copy_from_source()
    data = dataset(8)
    for model in (straight, interrupted, resumed):
        model.compile()
    straight.fit(data, epochs=2, verbose=0)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted.fit(data, epochs=2, verbose=0, callbacks=[backup, _StopAfterFirstEpoch()])
    resumed.fit(data, epochs=2, verbose=0, callbacks=[backup])
    assert resumed.current_step() == straight.current_step() == 2 * STEPS
    for a, b in ((straight.generator, resumed.generator),
                 (straight.discriminator, resumed.discriminator),
                 (straight.ema_generator, resumed.ema_generator)):
        for u, v in zip(a.weights, b.weights):
            np.testing.assert_allclose(v.numpy(), u.numpy(), rtol=1e-5, atol=1e-6, err_msg=u.path)
