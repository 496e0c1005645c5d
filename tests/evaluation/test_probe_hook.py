"""LinearProbeHook / MetricsHook inside the training loop: the curves they write, and a
known-answer check of the probe on the synthetic shapes."""

from __future__ import annotations

import json

import gin
import keras
import numpy as np
import pytest

from ssgan_tf import runs
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.evaluation.probe_hook import LinearProbeHook, append_record, read_curve
from ssgan_tf.training.trainer import train
from tests.helpers.training import TINY


@pytest.fixture(autouse=True)
def _clean_global_state():
    """Leave no gin bindings or dtype policy behind for the tests that run after these."""
    yield
    import gin
    import keras

    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")


def _train(model_dir, num_steps, hooks, extra=()):
    gin.clear_config()
    keras.backend.clear_session(free_memory=False)
    parse_gin([], TINY + [f"train.num_steps = {num_steps}", "train.log_every = 100",
                             "train.sample_every = 100", "train.save_every = 2", *extra])
    lines = []
    summary = train(str(model_dir), hooks=hooks, print_fn=lines.append)
    return summary, lines


def test_probe_hook_writes_the_accuracy_curve_at_its_steps(tmp_path):
    hook = LinearProbeHook(every=2, num_train=60, num_test=30, batch_size=64)
    summary, lines = _train(tmp_path, 4, [hook])
    curve = json.loads((tmp_path / "probe" / "probe_curve.json").read_text())
    assert [r["step"] for r in curve["records"]] == [2, 4]
    blocks = [k for k in curve["records"][0] if k.startswith("block")]
    assert blocks == ["block1", "block2", "block3", "block4"]  # SNDCGAN's four blocks
    for record in curve["records"]:
        assert all(0.0 <= record[b] <= 1.0 for b in blocks)
    assert set(summary["hooks"]) == {f"probe/{b}" for b in blocks}
    assert summary["hooks"]["probe/block1"] == curve["records"][-1]["block1"]
    assert curve["settings"]["subsets"] == "train[:60] / test[:30]"
    png = tmp_path / "probe" / "probe_curve.png"
    assert png.stat().st_size > 2000 and png.read_bytes()[:4] == b"\x89PNG"
    assert any(line.startswith("probe at step 4: block1") for line in lines)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tmp_path / "train"))
    events.Reload()
    assert [e.step for e in events.Tensors("hooks/probe/block1")] == [2, 4]


@pytest.mark.slow
def test_probe_curve_continues_when_training_resumes(tmp_path):
    _train(tmp_path, 2, [LinearProbeHook(every=2, num_train=60, num_test=30)])
    _train(tmp_path, 4, [LinearProbeHook(every=2, num_train=60, num_test=30)])
    assert [r["step"] for r in read_curve(str(tmp_path / "probe" / "probe_curve.json"))] == [
        2, 4]


def test_probe_of_a_random_discriminator_beats_chance_on_the_shapes():
    """Known answer: rectangles / discs / crosses are linearly separable from the pooled
    features of even a random conv net well above chance (1/3); shuffled labels give chance."""
    from ssgan_tf.data import get_dataset
    from ssgan_tf.evaluation.probe_hook import random_init_probe

    gin.clear_config()
    parse_gin([], ["sndcgan.Discriminator.ch = 8"])
    spec = get_dataset("synthetic", resolution=16)
    hook = LinearProbeHook(num_train=400, num_test=200)
    accuracy = random_init_probe(spec, "sndcgan", seed=0, hook=hook)
    assert max(accuracy.values()) > 0.6
    # The same features with labels that carry no information: chance.
    from ssgan_tf.evaluation import probe as probe_lib
    from ssgan_tf.evaluation.probe_hook import _Float32Encoder
    keras.utils.set_random_seed(0)
    _, discriminator = runs.build_networks(runs.model_info(spec, "sndcgan", 16, 0,
                                                                 "float32", "uniform"))
    train_set, test_set, _ = hook.datasets(spec)
    encoder = _Float32Encoder(discriminator)
    x, _ = probe_lib.extract_features(encoder, train_set)
    xt, _ = probe_lib.extract_features(encoder, test_set)
    rng = np.random.RandomState(0)
    acc, _ = probe_lib.fit_linear_probe(x["block4"], rng.randint(0, 3, 400), xt["block4"],
                                        rng.randint(0, 3, 200))
    assert acc < 0.5


def test_dataset_without_test_split_uses_a_disjoint_tail_and_bad_settings_fail(tmp_path):
    from ssgan_tf.data import get_dataset

    images = np.random.RandomState(0).randint(0, 255, (50, 8, 8, 3)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.arange(50) % 2)
    spec = get_dataset(f"npz:{tmp_path / 'd.npz'}")
    train_set, test_set, description = LinearProbeHook(num_train=30, num_test=20).datasets(spec)
    train_images = np.stack([e["images"].numpy() for e in train_set])
    test_images = np.stack([e["images"].numpy() for e in test_set])
    np.testing.assert_allclose(test_images * 255, images[30:], atol=1e-3)
    assert len(train_images) == 30 and description == "train[:30] / train[30:50]"
    with pytest.raises(ValueError, match="every"):
        LinearProbeHook(every=0)


def test_append_record_replaces_a_repeated_step(tmp_path):
    path = str(tmp_path / "c.json")
    append_record(path, {"step": 4, "a": 1.0})
    append_record(path, {"step": 2, "a": 0.5})
    records = append_record(path, {"step": 4, "a": 2.0})
    assert records == [{"step": 2, "a": 0.5}, {"step": 4, "a": 2.0}]
    assert read_curve(path) == records


@pytest.mark.slow
def test_metrics_hook_records_rotation_accuracy_and_domain_scores(tmp_path):
    """Without Inception weights the hook still reports the domain scores (a tiny in-memory
    domain extractor) and D's rotation accuracy, at the hook's steps."""
    from ssgan_tf.data import get_dataset
    from ssgan_tf.evaluation.metrics import DomainFeatureExtractor
    from ssgan_tf.evaluation.metrics_hook import MetricsHook, real_images

    spec = get_dataset("synthetic", resolution=16)
    images, labels = real_images(spec, "train", 200)
    DomainFeatureExtractor.train(images, labels, 3, epochs=1).save(str(tmp_path / "dom.keras"))
    hook = MetricsHook(every=2, domain_extractor=str(tmp_path / "dom.keras"), num_samples=40,
                       num_real=60, rotation_examples=16, kid_subsets=5,
                       cache_dir=str(tmp_path / "cache"))
    summary, _ = _train(tmp_path / "run", 4, [hook])
    curve = json.loads((tmp_path / "run" / "eval" / "metrics_curve.json").read_text())
    assert [r["step"] for r in curve["records"]] == [2, 4]
    last = curve["records"][-1]
    assert last["domain_fd"] > 0 and np.isfinite(last["domain_kid"])
    assert 0.0 <= last["rotation_accuracy_real"] <= 1.0
    assert 0.0 <= last["rotation_accuracy_fake"] <= 1.0
    assert curve["settings"]["num_samples"] == 40 and curve["settings"]["num_real"] == 60
    assert summary["hooks"]["eval/domain_fd"] == pytest.approx(last["domain_fd"])
    assert (tmp_path / "run" / "eval" / "metrics_curve.png").stat().st_size > 2000
    assert list((tmp_path / "cache").glob("*.npz"))  # the real statistics are cached
