"""GAN as a Keras user meets it: keras-io style compile, fit on arrays, the learning rates Keras
callbacks see, get_config / from_config and `.keras` save / load (trick state included)."""

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.gans import GAN, RotationTask, losses
from ssgan_tf.gans.inputs import training_dataset, unpack_batch
from ssgan_tf.gans.tricks import ExperienceReplay, GeneratorEma
from tests.helpers import random_images, tiny_gan

ROTATION = RotationTask(rotated_batch_size=4)


def test_optimizers_are_passed_in_or_built_from_the_gin_settings():
    gin.parse_config("GAN.g_lr = 1e-3\nGAN.d_lr = 4e-3\nGAN.beta1 = 0.0")
    model = tiny_gan(batch=2)
    assert model.g_optimizer.name == "g_adam" and model.d_optimizer.name == "d_adam"
    np.testing.assert_allclose([float(model.g_optimizer.learning_rate),
                                float(model.d_optimizer.learning_rate),
                                model.d_optimizer.beta_1], [1e-3, 4e-3, 0.0])
    sgd = keras.optimizers.SGD(0.5)
    model = tiny_gan(batch=2, d_optimizer=sgd)
    assert model.d_optimizer is sgd and sgd.built and model.g_optimizer.name == "g_adam"


def test_compile_keras_io_style():
    model = tiny_gan(batch=4, rotation=ROTATION)
    g_adam = model.g_optimizer
    model.compile()  # defaults: the gin-configured optimizers and loss
    assert model.g_optimizer is g_adam and model.loss_fn is losses.non_saturating
    g, d = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(4e-3)
    model.compile(g_optimizer=g, d_optimizer=d, loss_fn="hinge")
    assert model.g_optimizer is g and model.d_optimizer is d and model.loss_fn is losses.hinge
    assert g.built and d.built  # the GAN was built: the new optimizers are too
    assert model.optimizer.optimizers == [g, d] and model.optimizer.iterations is g.iterations
    model.train_step({"images": random_images(4)})
    assert int(g.iterations) == 1 and int(d.iterations) == 1


def test_compile_wraps_float16_optimizers_in_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = tiny_gan(batch=4, rotation=ROTATION)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer="sgd")
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


def test_tensorboard_reports_g_and_d_learning_rates(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = tiny_gan(batch=4, rotation=ROTATION, g_lr=1e-3, d_lr=4e-3)
    model.compile()
    history = model.fit(random_images(8).numpy(), batch_size=4, epochs=1, verbose=0,
                        callbacks=[keras.callbacks.TensorBoard(str(tmp_path))])
    assert set(model.log_keys()) <= set(history.history)
    events = EventAccumulator(str(tmp_path / "train"))
    events.Reload()
    rates = {tag: float(tf.make_ndarray(events.Tensors(tag)[-1].tensor_proto))
             for tag in events.Tags()["tensors"] if "learning_rate" in tag}
    assert rates == pytest.approx({"epoch_learning_rate_g_adam": 1e-3,
                                   "epoch_learning_rate_d_adam": 4e-3})


def test_training_dataset_forms():
    """Arrays as x (+ y), a dict or a tuple become batches of {"images", "labels"}; a batched
    dataset passes through; unpack_batch reads every form a train step can get."""
    images, labels = random_images(8).numpy(), np.arange(8) % 3
    for x, y in ((images, labels), ({"images": images, "labels": labels}, None),
                 ((images, labels), None)):
        batch = next(iter(training_dataset(x, y, batch_size=4, shuffle=False)))
        np.testing.assert_array_equal(batch["images"].numpy(), images[:4])
        np.testing.assert_array_equal(batch["labels"].numpy(), labels[:4])
    assert len(list(training_dataset(images, batch_size=3))) == 2  # incomplete batch dropped
    ready = tf.data.Dataset.from_tensor_slices(images).batch(4, drop_remainder=True)
    assert training_dataset(ready) is ready
    x, y, z = tf.constant(images[:2]), tf.constant(labels[:2]), tf.zeros([2, 16])
    for batch, want in (({"images": x, "labels": y, "z": z}, (x, y, z)), ((x, y), (x, y, None)),
                        ((x,), (x, None, None)), (x, (x, None, None)),
                        (({"images": x}, y), (x, y, None))):
        for got, expected in zip(unpack_batch(batch), want):
            assert got is expected or np.array_equal(np.asarray(got), np.asarray(expected))


def test_fit_on_arrays_with_labels_trains_a_conditional_gan():
    from ssgan_tf.architectures import get_architecture

    g_cls, d_cls = get_architecture("sndcgan")
    model = GAN(g_cls((16, 16, 3), z_dim=16, num_classes=3, ch=4),
                d_cls((16, 16, 3), num_classes=3, project_y=True, ch=4),
                self_supervision=ROTATION)
    model.compile()
    images, labels = random_images(8).numpy(), np.arange(8) % 3
    history = model.fit(images, labels, batch_size=4, epochs=2, verbose=0)
    assert model.current_step() == 4 and len(history.history["d_loss"]) == 2


@pytest.mark.parametrize("data, message", [
    (np.zeros([8, 16, 16, 3], np.uint8), "floats in \\[0, 1\\].*images / 255"),
    (np.full([8, 16, 16, 3], 2.0, np.float32), "in \\[0, 1\\]; got values in \\[2, 2\\]"),
    (tf.data.Dataset.from_tensor_slices(np.zeros([8, 16, 16, 3], np.float32)).batch(4),
     "drop_remainder=True"),
])
def test_fit_data_that_cannot_be_trained_on_is_a_clear_error(data, message):
    with pytest.raises(SsganError, match=message):
        training_dataset(data, batch_size=4)


def test_fit_checks_the_batch_against_disc_iters():
    model = tiny_gan(batch=4, rotation=ROTATION, disc_iters=2)
    model.compile()
    with pytest.raises(SsganError, match="batch_size=3 must be a multiple of disc_iters"):
        model.fit(np.zeros([8, 16, 16, 3], np.float32), batch_size=3)


# -------------------------------------------------------------------------------- configs
def test_config_round_trip_keeps_every_setting():
    gin.parse_config("sndcgan.Generator.norm = 'layer_norm'\n"
                     "sndcgan.Discriminator.spectral_norm = False")
    model = tiny_gan(batch=2, rotation=RotationTask(mode="rotation_only", weight_g=0.5),
                     loss_fn=losses.hinge, penalty_fn="r1", penalty_weight=3.0, disc_iters=2,
                     g_ema_decay=0.9, replay_buffer_size=8, swap_every=3, historical_weight_d=0.1,
                     unrolled_steps=1, unrolled_optimizer="sgd", seed=11, d_lr=1e-3)
    config = model.get_config()
    assert config["loss_fn"] == "hinge" and config["penalty_fn"] == "r1"
    assert config["generator"]["config"]["norm"] == "layer_norm"  # what gin gave it
    assert config["discriminator"]["config"]["spectral_norm"] is False
    gin.clear_config()
    clone = GAN.from_config(config)
    assert clone.get_config() == config
    assert [type(t) for t in clone.tricks] == [type(t) for t in model.tricks]
    assert clone.rotation == model.rotation and clone.loss_fn is losses.hinge
    assert float(clone.d_optimizer.learning_rate) == pytest.approx(1e-3)


@pytest.fixture(scope="module")
def trained_with_tricks():
    """A GAN with EMA and replay after two steps (module-scoped: built once)."""
    model = tiny_gan(batch=4, rotation=ROTATION, g_ema_decay=0.5, ema_start_step=0,
                     replay_buffer_size=8)
    model.compile()
    for i in range(2):  # eager: cheaper than tracing for two steps
        model.train_step({"images": random_images(4, seed=i)})
    return model


def test_keras_file_round_trip_with_ema_and_replay(trained_with_tricks, tmp_path):
    """`.keras` save / load_model: same samples (EMA), same trick state, same optimizer state,
    and the next train step gives the same losses and weights."""
    model = trained_with_tricks
    path = str(tmp_path / "gan.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GAN) and loaded.compiled
    assert isinstance(loaded.trick(GeneratorEma), GeneratorEma)
    assert loaded.current_step() == model.current_step() == 2
    z = tf.random.stateless_uniform([3, 16], [4, 4], -1.0, 1.0)
    np.testing.assert_array_equal(loaded(z).numpy(), model(z).numpy())
    assert loaded.inference_generator() is loaded.ema_generator
    for a, b in ((model.replay.images, loaded.replay.images),
                 (model.replay.count, loaded.replay.count)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    data = {"images": random_images(4, seed=9)}
    want, got = model.train_step(data), loaded.train_step(data)
    for key in want:
        np.testing.assert_allclose(float(got[key]), float(want[key]), rtol=1e-5, err_msg=key)
    for a, b in zip(model.generator.weights, loaded.generator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_extra_tricks_are_saved_with_the_gan(tmp_path):
    model = tiny_gan(batch=4, rotation=ROTATION, extra_tricks=[ExperienceReplay(8, 0.25)])
    assert model.replay.fraction == 0.25
    path = str(tmp_path / "extra.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.tricks[-1], ExperienceReplay) and loaded.replay.fraction == 0.25
