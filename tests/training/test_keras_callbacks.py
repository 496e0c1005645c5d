"""Keras callbacks for `GAN.fit` run the training loop's own sample grid, hooks and scalars, on the
GAN's step counter (so a second fit keeps the schedule)."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ssgan_tf.common.errors import SsganError
from ssgan_tf.evaluation.metrics.frechet import frechet_distance_from_activations
from ssgan_tf.gans.ssgan import rotation_accuracy
from ssgan_tf.training import HookCallback, SampleGrid, TrainScalars
from ssgan_tf.training.callbacks import SampleWriter
from tests.helpers import random_images, set_weights_from, tiny_gan
from tests.helpers.toy_extractor import ToyExtractor

BATCH = 8


def images(steps: int, seed: int = 0) -> np.ndarray:
    """Float images in [0, 1] for `steps` G steps of BATCH images."""
    return random_images(steps * BATCH, seed=seed).numpy()


def tensorboard(directory) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    events.Reload()
    return events


def scalars(events: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def png(path) -> np.ndarray:
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


class RecordingHook:
    """A training hook recording the steps it ran at and returning the step."""

    def __init__(self, every: int):
        self.every = every
        self.calls: list[int] = []

    def __call__(self, step, context):
        assert context.model.current_step() == step and context.chief
        self.calls.append(step)
        return {"recorded_step": float(step)}


def test_sample_grid_writes_the_loops_grid_of_the_ema_generator(tmp_path):
    kwargs = dict(batch=BATCH, g_ema_decay=0.5, ema_start_step=0, g_lr=0.01)  # EMA lags G
    gan = tiny_gan(**kwargs)
    gan.compile()
    grid = SampleGrid(tmp_path, every_steps=2, num_images=16)
    gan.fit(images(5), batch_size=BATCH, epochs=1, verbose=0, callbacks=[grid])
    assert gan.current_step() == 5
    # At the start of a fresh model, every 2 G steps and at the end (as the loop does).
    names = sorted(os.listdir(tmp_path / "samples"))
    assert names == [f"step_00000{s}.png" for s in (0, 2, 4, 5)]
    assert grid.paths == [str(tmp_path / "samples" / name) for name in names]
    # The CLI's SampleWriter on a twin with the same weights (G, D and the EMA copy) and the
    # same z renders the same grid.
    twin = tiny_gan(**kwargs)
    set_weights_from(twin, gan)
    for target, source in zip(twin.ema_generator.weights, gan.ema_generator.weights):
        target.assign(source)
    cli = SampleWriter(twin, str(tmp_path / "cli"), tf.summary.create_noop_writer(),
                       num_images=16)
    expected = png(cli(5))
    np.testing.assert_array_equal(png(tmp_path / "samples" / "step_000005.png"), expected)
    # ... the EMA generator's: the same G without its EMA copy renders another grid.
    plain = tiny_gan(batch=BATCH)
    set_weights_from(plain, gan)
    raw = png(SampleWriter(plain, str(tmp_path / "raw"), tf.summary.create_noop_writer(),
                           num_images=16)(5))
    assert (raw != expected).mean() > 0.1
    events = tensorboard(tmp_path / "train")
    assert [e.step for e in events.Tensors("samples")] == [0, 2, 4, 5]


def test_hooks_and_scalars_follow_the_gans_step_across_fits(tmp_path):
    gan = tiny_gan(batch=BATCH)
    gan.compile()
    hook = RecordingHook(every=2)
    hooks = HookCallback(hook, tmp_path)
    train_scalars = TrainScalars(tmp_path, every_steps=2)
    batch_logs = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_logs
                                            .append({k: float(v) for k, v in logs.items()}))
    callbacks = [hooks, train_scalars, record]
    gan.fit(images(5), batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)
    assert hook.calls == [2, 4, 5]  # at k, 2k and at the end
    assert hooks.results == {"recorded_step": 5.0}
    # A second fit continues the G step count (6..10): the schedule goes on from there, and
    # step 10 (a multiple and the end) runs the hook once.
    gan.fit(images(5, seed=1), batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)
    assert hook.calls == [2, 4, 5, 6, 8, 10]
    events = tensorboard(tmp_path / "train")
    assert scalars(events, "hooks/recorded_step") == [(s, float(s)) for s in (2, 4, 5, 6, 8, 10)]
    # The loop's tags; each value the mean of the steps since the previous write.
    assert {"losses/d_loss", "losses/g_loss", "losses/d_rotation_loss",
            "accuracy/d_rotation_accuracy"} <= set(events.Tags()["tensors"])
    d_loss = [log["d_loss"] for log in batch_logs]
    expected = [(2, np.mean(d_loss[0:2])), (4, np.mean(d_loss[2:4])), (5, d_loss[4]),
                (6, d_loss[5]), (8, np.mean(d_loss[6:8])), (10, np.mean(d_loss[8:10]))]
    got = scalars(events, "losses/d_loss")
    assert [s for s, _ in got] == [s for s, _ in expected]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-5)


def test_steps_per_execution_fires_at_the_first_batch_end_past_a_multiple(tmp_path):
    gan = tiny_gan(batch=BATCH)
    gan.compile(steps_per_execution=2)
    hook = RecordingHook(every=3)
    gan.fit(images(6), batch_size=BATCH, epochs=1, verbose=0,
            callbacks=[HookCallback(hook, tmp_path)])
    assert hook.calls == [4, 6]  # batch ends at 2, 4, 6: 3 is passed at 4, 6 is a multiple


def test_metrics_hook_runs_from_fit(tmp_path, monkeypatch):
    from ssgan_tf.evaluation import metrics_hook
    from ssgan_tf.evaluation.metrics_hook import MetricsHook

    monkeypatch.setattr(metrics_hook.InceptionExtractor, "from_path",
                        lambda path, batch_size=64: ToyExtractor())
    weights = tmp_path / "weights.npz"
    weights.write_bytes(b"")
    hook = MetricsHook(every=2, inception=str(weights), num_samples=24, num_real=30,
                       rotation_examples=8, kid_subsets=2, batch_size=12, plot=False)
    gan = tiny_gan(batch=BATCH, g_ema_decay=0.5, ema_start_step=0)
    gan.compile()
    data = images(4)
    lines = []
    callback = HookCallback([hook], tmp_path / "run", data=data, print_fn=lines.append)
    gan.fit(data, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback])
    results = callback.results
    assert set(results) == {"eval/fid", "eval/kid", "eval/rotation_accuracy_real",
                            "eval/rotation_accuracy_fake"}
    # The values of the model at the end (step 4), computed here without the hook's pipeline.
    real = np.rint(data[:30] * 255.0).astype(np.uint8)
    fake = hook.samples(gan)  # the EMA generator's samples of the hook's fixed z
    toy = ToyExtractor()
    assert results["eval/fid"] == pytest.approx(frechet_distance_from_activations(
        toy(real)["features"], toy(fake)["features"]), rel=1e-6)
    assert results["eval/fid"] > 0 and np.isfinite(results["eval/kid"])
    assert results["eval/rotation_accuracy_real"] == rotation_accuracy(
        gan.discriminator, real[:8].astype(np.float32) / 255.0)
    assert results["eval/rotation_accuracy_fake"] == rotation_accuracy(
        gan.discriminator, fake[:8].astype(np.float32) / 255.0)
    curve = json.loads((tmp_path / "run" / "eval" / "metrics_curve.json").read_text())
    assert [r["step"] for r in curve["records"]] == [2, 4]
    assert curve["records"][1]["fid"] == pytest.approx(results["eval/fid"])
    assert [line.split(":")[0] for line in lines if line.startswith("eval at")] == [
        "eval at step 2", "eval at step 4"]
    events = tensorboard(tmp_path / "run" / "train")
    fid = scalars(events, "hooks/eval/fid")
    assert [s for s, _ in fid] == [2, 4]
    assert fid[1][1] == pytest.approx(results["eval/fid"], rel=1e-6)


def test_a_hook_that_reads_images_without_data_says_so(tmp_path):
    from ssgan_tf.evaluation.metrics_hook import MetricsHook

    gan = tiny_gan(batch=BATCH)
    gan.compile()
    with pytest.raises(SsganError, match=r"HookCallback\(data=None\)"):
        gan.fit(images(1), batch_size=BATCH, epochs=1, verbose=0,
                callbacks=[HookCallback(MetricsHook(every=1, num_samples=8), tmp_path)])
    with pytest.raises(ValueError, match="integer `every`"):
        HookCallback(lambda step, context: {}, tmp_path)


def test_linear_probe_hook_runs_from_fit(tmp_path):
    from ssgan_tf.evaluation.probe_hook import LinearProbeHook

    data = images(4)
    labels = np.arange(len(data)) % 2  # a labelled dataset: the probe needs classes
    hook = LinearProbeHook(every=2, num_train=16, num_test=16, batch_size=16, plot=False)
    gan = tiny_gan(batch=BATCH)
    gan.compile()
    callback = HookCallback([hook], tmp_path / "run", data=(data, labels),
                            print_fn=lambda line: None)
    gan.fit(data, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback])
    results = callback.results
    assert results and all(k.startswith("probe/block") for k in results)
    # The values of D at the end (step 4), probed again here on the same subsets.
    again = hook.probe(gan.discriminator, callback.spec)
    assert results == {f"probe/{k}": r["accuracy"] for k, r in again.items()}
    curve = json.loads((tmp_path / "run" / "probe" / "probe_curve.json").read_text())
    assert [r["step"] for r in curve["records"]] == [2, 4]
