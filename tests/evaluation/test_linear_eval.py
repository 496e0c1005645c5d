"""`python -m ssgan_tf.linear_eval` on a tiny trained model: module and checkpoint give the same
features and scores, the CLI writes the JSON, bad input is explained."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ssgan_tf import linear_eval as linear_eval_cli
from ssgan_tf.common import distribute
from ssgan_tf.data import get_dataset
from ssgan_tf.evaluation.probe import DiscriminatorEncoder, ModuleEncoder, extract_features
from ssgan_tf.runs.restore import load_gan
from tests.helpers.export import REPO, trained_export

BLOCKS = ["block1", "block2", "block3", "block4", "final"]
SMALL = ["--dataset=synthetic", "--resolution=16", "--max_train_examples=300",
         "--max_test_examples=200", "--batch_size=64"]


def test_module_and_checkpoint_give_the_same_features_per_block():
    model_dir, export_dir = trained_export(False)
    spec = get_dataset("synthetic", resolution=16)
    module = ModuleEncoder(f"{export_dir}/discriminator")
    model, info = load_gan(model_dir)
    live = DiscriminatorEncoder(model.discriminator, step=info["step"])
    assert module.keys == live.keys == BLOCKS and module.step == live.step == 2
    from_module, labels = extract_features(module, spec("test"), batch_size=50)
    from_checkpoint, labels_ckpt = extract_features(live, spec("test"), batch_size=64)
    np.testing.assert_array_equal(labels, labels_ckpt)
    assert len(labels) == spec.size["test"] and set(labels) == {0, 1, 2}
    for key in BLOCKS:
        assert from_module[key].shape == from_checkpoint[key].shape
        np.testing.assert_allclose(from_module[key], from_checkpoint[key], rtol=1e-4, atol=1e-6)
    assert from_module["block1"].std(axis=0).min() > 0  # real features, not a constant
    # The same module under a 2-replica MirroredStrategy (loaded in its scope).
    strategy = distribute.make_strategy("mirrored")
    with strategy.scope():
        mirrored = ModuleEncoder(f"{export_dir}/discriminator")
    from_mirrored, labels_mirrored = extract_features(mirrored, spec("test"), batch_size=50,
                                                      strategy=strategy)
    np.testing.assert_array_equal(labels_mirrored, labels)
    np.testing.assert_allclose(from_mirrored["final"], from_module["final"], rtol=1e-5,
                               atol=1e-6)


def test_cli_end_to_end_writes_the_json(tmp_path, capsys):
    model_dir, export_dir = trained_export(False)
    output = tmp_path / "probe.json"
    result = subprocess.run(
        [sys.executable, "-m", "ssgan_tf.linear_eval", f"--module={export_dir}/discriminator",
         *SMALL, f"--output={output}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(output.read_text())
    for key in BLOCKS:
        assert 0.0 <= scores[key] <= 1.0
    assert scores["best_block"] in BLOCKS and scores["best_accuracy"] == scores[
        scores["best_block"]]
    assert scores["dataset"] == "synthetic" and scores["module"] == f"{export_dir}/discriminator"
    assert scores["n_train"] == 300 and scores["n_test"] == 200 and scores["n_val"] == 60
    assert set(scores["l2"]) == set(BLOCKS) and scores["step"] == 2
    assert scores["feature_dim"] == {"block1": 8, "block2": 16, "block3": 32, "block4": 64,
                                     "final": 256}
    # Trained features beat chance (1/3) on the 3 shapes somewhere.
    assert max(scores[k] for k in BLOCKS) > 0.5
    table = result.stdout
    assert "best by validation accuracy" in table and all(k in table for k in BLOCKS)
    # The checkpoint gives the same scores (same features, deterministic classifier).
    assert linear_eval_cli.main([f"--model_dir={model_dir}", *SMALL,
                                f"--output={tmp_path / 'ckpt.json'}"]) == 0
    from_checkpoint = json.loads((tmp_path / "ckpt.json").read_text())
    assert from_checkpoint["source"] == "model_dir"
    for key in BLOCKS:
        assert from_checkpoint[key] == pytest.approx(scores[key], abs=0.011), key


def test_bad_input_exits_nonzero_with_a_clear_message(tmp_path, capsys):
    model_dir, export_dir = trained_export(False)
    module = f"--module={export_dir}/discriminator"
    cases = [
        ([module, "--dataset=digits"],
         "The discriminator expects 16x16x3 images but dataset 'digits' gives 32x32x1"),
        ([module, "--dataset=synthetic"],  # synthetic is 32x32 unless resized
         "pass --resolution=16"),
        ([f"--module={tmp_path / 'missing'}", "--dataset=digits"], "does not exist"),
        ([f"--module={export_dir}/generator", "--dataset=synthetic", "--resolution=16"],
         "looks like a generator module"),
        ([f"--module={tmp_path}", "--dataset=digits"], "is not a SavedModel"),
        (["--dataset=digits"], "pass exactly one of --module"),
        ([module, f"--model_dir={model_dir}"], "pass exactly one of --module"),
        ([f"--model_dir={tmp_path}", *SMALL], "not an ssgan_tf model_dir"),
        ([module, "--dataset=nope"], "Unknown dataset 'nope'"),
        ([module, *SMALL, "--test_split=validation"], "not 'validation'"),
        ([module, *SMALL, "--batch_size=0"], "--batch_size=0 must be >= 1"),
    ]
    for args, message in cases:
        assert linear_eval_cli.main([*args]) == 1, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, (args, err)
