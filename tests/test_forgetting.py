"""The task-switching forgetting experiment runs end to end (tiny scale) and writes its outputs."""

import json

import pytest

from ssgan_tf.experiments.forgetting import run, switch_drops


def test_switch_drops():
    curve = {"task": [0, 0, 1, 1, 2], "current_task_accuracy": [0.5, 0.9, 0.6, 0.8, 0.7]}
    assert switch_drops(curve) == pytest.approx([0.3, 0.1])


@pytest.mark.slow
def test_forgetting_experiment_end_to_end(tmp_path):
    result = run("digits", str(tmp_path), num_tasks=3, iterations_per_task=20, eval_every=10,
                 batch=16, ch=8, print_fn=lambda *_: None)
    saved = json.loads((tmp_path / "forgetting.json").read_text())
    assert (tmp_path / "forgetting.png").stat().st_size > 1000
    for name in ("without rotation loss", "with rotation loss"):
        curve = saved["curves"][name]
        assert curve["iteration"] == [10, 20, 30, 40, 50, 60]
        assert curve["task"] == [0, 0, 1, 1, 2, 2]
        assert all(0.0 <= a <= 1.0 for a in curve["current_task_accuracy"])
    assert "plain_mean_switch_drop" in result and "rotation_mean_switch_drop" in result
    # The classifier learns the first task well above chance within 20 steps.
    assert saved["curves"]["without rotation loss"]["current_task_accuracy"][1] > 0.6
