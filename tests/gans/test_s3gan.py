"""S3GAN (class head + predicted labels for unlabelled reals) and the S2GAN pipeline."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.common import distribute
from ssgan_tf.data import labels as labels_lib
from ssgan_tf.gans.s3gan import class_loss_terms
from tests.helpers.training import run

S3GAN = ["train.conditional = True", "sndcgan.Discriminator.project_y = True",
         "sndcgan.Discriminator.class_head = True", "train.labelled_fraction = 0.25",
         "sndcgan.Generator.norm = 'conditional_batch_norm'"]


def _ce(logits, label):
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


LOGITS = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.5, 0.0]]
LABELS = [0, 2, -1, 1]


def test_class_loss_is_the_mean_over_labelled_examples():
    out = class_loss_terms(tf.constant(LOGITS), tf.constant(LABELS), global_batch_size=4)
    expected = (_ce(LOGITS[0], 0) + _ce(LOGITS[1], 2) + _ce(LOGITS[3], 1)) / 3  # -1 is skipped
    assert float(out["d_class_loss"]) == pytest.approx(expected, rel=1e-6)
    assert float(out["d_class_accuracy"]) == pytest.approx(1 / 3)  # only example 0 is right
    assert float(out["labelled_fraction"]) == pytest.approx(3 / 4)
    none = class_loss_terms(tf.constant(LOGITS), tf.constant([-1, -1, -1, -1]), 4)
    assert float(none["d_class_loss"]) == 0.0  # TF1's SUM_BY_NONZERO_WEIGHTS with no weight


def test_class_loss_averages_over_the_global_batch_across_replicas():
    """Replica 0 holds 2 labelled examples and replica 1 one: the sum of the replicas' shares is
    the mean over the 3, not the mean of per-replica means."""
    strategy = distribute.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    logits = tf.constant(LOGITS)
    labels = tf.constant([0, 2, -1, 1])
    values = strategy.experimental_distribute_values_from_function(
        lambda ctx: (logits[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2],
                     labels[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2]))
    per_replica = strategy.run(tf.function(lambda logit, y: class_loss_terms(logit, y, 4)), args=values)
    total = float(strategy.reduce("SUM", per_replica["d_class_loss"], axis=None))
    single = float(class_loss_terms(logits, labels, 4)["d_class_loss"])
    assert total == pytest.approx(single, rel=1e-6)


def _s3gan_discriminator(soft=False):
    _, discriminator_cls = get_architecture("sndcgan")
    d = discriminator_cls((16, 16, 3), num_classes=3, project_y=True, class_head=True,
                          soft_predictions=soft, ch=8)
    return d


def test_unlabelled_reals_are_projected_with_the_predicted_class():
    keras.utils.set_random_seed(3)
    d = _s3gan_discriminator()
    x = tf.random.stateless_uniform([4, 16, 16, 3], [1, 2])
    out = d(x, tf.constant([-1, 1, -1, 2]))
    predicted = tf.argmax(out["class_logits"], -1, output_type=tf.int32).numpy()
    filled = d(x, tf.constant([predicted[0], 1, predicted[2], 2]))
    np.testing.assert_allclose(out["logits"], filled["logits"], rtol=1e-5, atol=1e-6)
    # Labelled rows keep their label: another label changes the logit.
    other = d(x, tf.constant([-1, (1 + 1) % 3, -1, 2]))
    a, b = float(other["logits"][1]), float(out["logits"][1])  # tiny at init: compare relatively
    assert abs(a - b) > 1e-3 * max(abs(a), abs(b))
    # stop_gradient: the GAN logit trains the class head only through nothing.
    with tf.GradientTape() as tape:
        logits = d(x, tf.constant([-1, 1, -1, 2]))["logits"]
    grads = tape.gradient(tf.reduce_sum(logits), d.class_head.trainable_variables)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)


def test_soft_predictions_project_the_softmax():
    keras.utils.set_random_seed(4)
    d = _s3gan_discriminator(soft=True)
    x = tf.random.stateless_uniform([2, 16, 16, 3], [5, 6])
    out = d(x, tf.constant([-1, 0]))
    probs = tf.nn.softmax(out["class_logits"][0])
    features = out["features"][0]
    projected = d.projection(probs[None])[0]
    expected = float(d.final_fc(features[None])[0, 0] + tf.reduce_sum(features * projected))
    assert float(out["logits"][0]) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_class_head_needs_a_projection_discriminator():
    _, discriminator_cls = get_architecture("sndcgan")
    with pytest.raises(ValueError, match="project_y"):
        discriminator_cls((16, 16, 3), num_classes=3, project_y=False, class_head=True, ch=8)
    with pytest.raises(ValueError, match="conditional"):
        discriminator_cls((16, 16, 3), num_classes=0, project_y=True, class_head=True, ch=8)


def test_s3gan_trains_and_exports_class_logits(tmp_path):
    summary, lines = run(tmp_path, 4, extra=S3GAN + ["train.export_at_end = True"])
    assert any("256 of 1024 training images labelled" in line for line in lines)
    assert 0.0 < summary["labelled_fraction"] < 1.0
    assert np.isfinite(summary["d_class_loss"]) and summary["d_class_loss"] > 0
    assert any("class " in line for line in lines if line.startswith("step "))
    # The exported D outputs the class head's logits and accepts -1 (unlabelled).
    from ssgan_tf.runs.restore import load_gan
    model, _ = load_gan(str(tmp_path))
    module = tf.saved_model.load(str(tmp_path / "export" / "discriminator"))
    x = tf.random.stateless_uniform([3, 16, 16, 3], [7, 8])
    y = tf.constant([-1, 0, 2])
    exported = module({"images": x, "labels": y})
    live = model.discriminator(x, y)
    np.testing.assert_allclose(exported["class_logits"], live["class_logits"], rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(exported["gan_logits"], live["logits"], rtol=1e-4, atol=1e-5)


def test_label_options_need_a_conditional_model(tmp_path):
    with pytest.raises(ValueError, match="train.conditional = True"):
        run(tmp_path, 1, extra=["train.labelled_fraction = 0.1"])


def test_pseudo_label_files_are_validated(tmp_path):
    path = str(tmp_path / "c.npz")
    labels_lib.save_pseudo_labels(path, np.array([0, 1, 1, 0]), 2)
    ids, k = labels_lib.load_pseudo_labels(path)
    assert k == 2 and ids.tolist() == [0, 1, 1, 0]
    labels_lib.save_pseudo_labels(path, np.array([0, 3]), 2)
    with pytest.raises(ValueError, match=r"ids in \[0, 2\)"):
        labels_lib.load_pseudo_labels(path)
    with pytest.raises(FileNotFoundError, match="ssgan_tf.s2gan"):
        labels_lib.load_pseudo_labels(str(tmp_path / "missing.npz"))
    labels_lib.save_pseudo_labels(path, np.zeros(5, int), 2)  # synthetic has 1024 train images
    with pytest.raises(ValueError, match="another dataset"):
        run(tmp_path / "run", 1, extra=["train.conditional = True",
                                        f"train.pseudo_labels = '{path}'"])


@pytest.mark.slow
def test_s2gan_pipeline_runs_and_resumes(tmp_path):
    from ssgan_tf.pipelines.s2gan import run_s2gan
    from tests.helpers.training import TINY

    params = TINY + ["train.conditional = True", "sndcgan.Discriminator.project_y = True",
                     "sndcgan.Generator.norm = 'conditional_batch_norm'", "train.num_steps = 2",
                     "S2GAN.pretrain_steps = 4", "S2GAN.num_clusters = 3",
                     "S2GAN.kmeans_iterations = 5"]
    lines = []
    summary = run_s2gan(str(tmp_path), [], params, print_fn=lines.append)
    assert summary["step"] == 2
    pretrain = json.loads((tmp_path / "pretrain" / "summary.json").read_text())
    assert pretrain["step"] == 4 and "d_rotation_loss" in pretrain
    assert json.loads((tmp_path / "pretrain" / "model.json").read_text())["num_classes"] == 0
    with np.load(tmp_path / "clusters.npz") as clusters:
        assert clusters["cluster_ids"].shape == (1024,) and int(clusters["num_clusters"]) == 3
        assert 1 / 3 <= float(clusters["purity"]) <= 1.0
    assert json.loads((tmp_path / "gan" / "model.json").read_text())["num_classes"] == 3
    assert any("purity" in line for line in lines)
    # Re-running resumes: no stage is redone.
    lines = []
    run_s2gan(str(tmp_path), [], params, print_fn=lines.append)
    assert not any("stage 1/3" in line or "stage 2/3" in line for line in lines)


def test_s3gan_class_terms_do_not_depend_on_the_replica_count(tmp_path):
    """First step (initial D, same real batch): 1 replica and 2 mirrored replicas agree."""
    one, _ = run(tmp_path / "one", 1, extra=S3GAN + ["GAN.disc_iters = 1"])
    two, _ = run(tmp_path / "two", 1, extra=S3GAN + ["GAN.disc_iters = 1",
                                                   "train.strategy = 'mirrored'"])
    assert two["replicas"] == 2
    for key in ("d_class_loss", "d_class_accuracy", "labelled_fraction", "d_loss_real"):
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
