"""MetricsHook reports precision / recall / density / coverage when asked (issue 24), in the same
features as its Fréchet distance, and refuses metrics it cannot compute."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.data import get_dataset
from ssgan_tf.evaluation.metrics import DomainFeatureExtractor, build_domain_classifier, prdc
from ssgan_tf.evaluation.metrics_hook import MetricsHook

SHAPE = (16, 16, 3)


@pytest.fixture
def model():
    _, discriminator_cls = get_architecture("sndcgan")
    d = discriminator_cls(SHAPE, ch=4)
    d(tf.zeros([1, *SHAPE]))

    def generator(z, y, training=False):
        return tf.sigmoid(tf.reshape(tf.tile(z, [1, 16 * 16 * 3 // 4]), [-1, *SHAPE]))

    return types.SimpleNamespace(discriminator=d, num_classes=0, z_dim=4,
                                 z_distribution="uniform", inference_generator=lambda: generator)


def test_the_hook_reports_prdc_in_its_features(model, tmp_path):
    path = tmp_path / "domain.keras"
    DomainFeatureExtractor(build_domain_classifier(SHAPE, 3, feature_dim=8)).save(str(path))
    hook = MetricsHook(every=2, domain_extractor=str(path), num_samples=24, num_real=30,
                       rotation_examples=8, kid_subsets=3, batch_size=12,
                       metrics=("fid", "prdc"))
    spec = get_dataset("synthetic", resolution=16)
    lines = []
    context = types.SimpleNamespace(spec=spec, model_dir=str(tmp_path / "run"), chief=True,
                                    print_fn=lines.append, model=model)
    logged = hook(2, context)
    extractor, reference = hook._extractors[0], hook._reference[0]
    expected = prdc(reference.features, extractor(hook.samples(model))["features"])
    for key, value in expected.items():
        assert logged[f"eval/domain_{key}"] == pytest.approx(value)
    assert "eval/domain_fd" in logged and "eval/domain_kid" not in logged
    curve = json.loads((tmp_path / "run" / "eval" / "metrics_curve.json").read_text())
    assert curve["records"][0]["domain_coverage"] == pytest.approx(expected["coverage"])
    assert curve["settings"]["prdc_n_real"] == 30 and curve["settings"]["prdc_n_fake"] == 24
    assert lines[0].startswith("eval at step 2: domain_fd ")
    assert np.isfinite(logged["eval/rotation_accuracy_real"])


def test_unknown_hook_metrics_are_refused():
    with pytest.raises(ValueError, match="subset of \\['fid', 'kid', 'prdc'\\]"):
        MetricsHook(metrics=("fid", "is"))


def test_small_n_warning_in_the_curve_and_printed_once(model, tmp_path, monkeypatch):
    from ssgan_tf.evaluation import metrics_hook
    from tests.helpers.toy_extractor import ToyExtractor

    weights = tmp_path / "weights.npz"
    weights.write_bytes(b"")
    monkeypatch.setattr(metrics_hook.InceptionExtractor, "from_path",
                        lambda path, batch_size=64: ToyExtractor())
    hook = MetricsHook(every=1, inception=str(weights), num_samples=24, num_real=30,
                       rotation_examples=4, kid_subsets=2, batch_size=12)
    lines = []
    context = types.SimpleNamespace(spec=get_dataset("synthetic", resolution=16),
                                    model_dir=str(tmp_path / "run"), chief=True,
                                    print_fn=lines.append, model=model)
    hook(1, context)
    hook(2, context)
    warnings = [line for line in lines if line.startswith("eval warning: ")]
    assert len(warnings) == 1 and "FID from 24 generated and 30 real images" in warnings[0]
    curve = json.loads((tmp_path / "run" / "eval" / "metrics_curve.json").read_text())
    assert curve["settings"]["warning"] == warnings[0][len("eval warning: "):]
