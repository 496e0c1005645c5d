"""The results study runner end to end at toy scale: runs, per-run JSON, aggregation (mean ± std
over seeds), plots, the markdown table, and resumability (a second invocation trains nothing)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ssgan_tf.experiments import study


@pytest.fixture(autouse=True)
def _clean_global_state():
    """Leave no gin bindings or dtype policy behind for the tests that run after these."""
    yield
    import gin
    import keras

    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")


GIN = """train.dataset = "synthetic"
train.resolution = 16
train.num_steps = 4
train.batch_size = 8
train.z_dim = 16
train.precision = "float32"
train.steps_per_loop = 2
train.log_every = 2
train.sample_every = 2
train.save_every = 2
sndcgan.Generator.ch = 8
sndcgan.Discriminator.ch = 8
RotationTask.rotated_batch_size = 8
RotationTask.mode = "{mode}"
import ssgan_tf.evaluation.probe_hook
import ssgan_tf.evaluation.metrics_hook
LinearProbeHook.every = 2
LinearProbeHook.num_train = 60
LinearProbeHook.num_test = 30
MetricsHook.every = 2
MetricsHook.num_samples = 16
MetricsHook.num_real = 24
MetricsHook.rotation_examples = 8
MetricsHook.kid_subset_size = 8
MetricsHook.kid_subsets = 5
"""


def test_mean_std_and_curve_aggregation():
    assert study.mean_std([1.0, 3.0, None]) == pytest.approx((2.0, 2 ** 0.5, 2))
    runs = [{"c": [{"step": 2, "a": 1.0}, {"step": 4, "a": 2.0}]},
            {"c": [{"step": 2, "a": 3.0}, {"step": 4, "a": 2.0, "seconds": 9.0}]}]
    agg = study.aggregate_curves(runs, "c")
    assert agg["a"]["step"] == [2, 4] and agg["a"]["mean"] == [2.0, 2.0]
    assert agg["a"]["std"][1] == 0.0 and "seconds" not in agg


@pytest.mark.slow
def test_study_runs_aggregates_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSGAN_TF_PROGRESS", "1")  # as on a terminal: a bar over the runs
    gin_dir = tmp_path / "gin"
    gin_dir.mkdir()
    for variant, mode in (("gan", "none"), ("ssgan", "rotation_gan")):
        (gin_dir / f"results_toy_{variant}.gin").write_text(GIN.format(mode=mode))
    out = tmp_path / "out"
    lines = []
    parallel = min(2, len(os.sched_getaffinity(0)))  # both runs at once, one core each
    results = study.run_study(str(out), None, datasets=["toy"], variants=["gan", "ssgan"],
                              seeds=[0], gin_dir=str(gin_dir), print_fn=lines.append,
                              parallel=parallel)
    cpus = [json.loads((out / "toy" / v / "seed0" / "attempts.json").read_text())[0]["cpus"]
            for v in ("gan", "ssgan")]
    if parallel == 2:
        assert sorted(len(c) for c in cpus) == [1, 1] and cpus[0] != cpus[1]
    for variant in ("gan", "ssgan"):
        run = json.loads((out / "toy" / variant / "seed0" / "run.json").read_text())
        assert run["final_step"] == 4 and run["train_img_per_s"] > 0
        assert [r["step"] for r in run["probe_curve"]] == [2, 4]
        assert 0.0 <= run["probe_block1"] <= 1.0 and run["domain_fd"] > 0
        assert "--gin_file=" in run["command"] and "train.seed = 0" in run["command"]
    final = results["datasets"]["toy"]["final"]
    assert set(final) == {"gan", "ssgan"} and final["ssgan"]["domain_fd"][2] == 1
    assert set(json.loads((out / "toy" / "random_init_probe.json").read_text())) == {"0"}
    for name in ("toy_quality.png", "toy_probe.png", "toy_rotation.png"):
        assert (out / "plots" / name).stat().st_size > 2000
    table = (out / "results.md").read_text()
    assert "| SSGAN |" in table and "random init" in table
    bar = capsys.readouterr().err
    assert "study: toy " in bar and "2/2" in bar and ("run/s" in bar or "s/run" in bar)
    started = [line for line in lines if re.match(r"\[[\d:]+\] train( \(cores [\d,]+\))?: ", line)]
    assert len(started) == 2 and (parallel == 1 or all("(cores " in line for line in started))
    # Second invocation: nothing is trained again.
    lines.clear()
    study.run_study(str(out), None, datasets=["toy"], variants=["gan", "ssgan"], seeds=[0],
                    gin_dir=str(gin_dir), print_fn=lines.append)
    assert not any("] train" in line for line in lines)
    attempts = json.loads((out / "toy" / "ssgan" / "seed0" / "attempts.json").read_text())
    assert len(attempts) == 1


def test_parallel_runs_get_disjoint_cores_and_failures_surface_after_all_ran(monkeypatch):
    monkeypatch.setattr(study.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 5})
    assert study.core_slots(1) == [None]
    assert study.core_slots(2) == [[0, 1], [2, 3]]
    assert study.core_slots(5) == [[0], [1], [2], [3], [5]]
    for bad in (0, 6, 1.5):
        with pytest.raises(study.StudyError, match="--parallel"):
            study.core_slots(bad)
    ran, done = [], []

    def job(name, fail=False):
        def run(cpus):
            ran.append((name, tuple(cpus)))
            if fail:
                raise RuntimeError(f"{name} failed")
        return run

    with pytest.raises(RuntimeError, match="b failed"):
        study.run_jobs([job("a"), job("b", fail=True), job("c")], [[0], [1]],
                       on_done=lambda: done.append(1))
    assert sorted(name for name, _ in ran) == ["a", "b", "c"] and len(done) == 3
    assert {cpus for _, cpus in ran} <= {(0,), (1,)}
    assert study.pinned_env([2, 3]) == {"OMP_NUM_THREADS": "2", "TF_NUM_INTRAOP_THREADS": "2",
                                        "TF_NUM_INTEROP_THREADS": "1"}
    assert study.pinned_env(None) == {}


def test_a_preset_sets_its_flags_and_the_command_line_wins():
    from ssgan_tf.experiments.presets import PRESETS

    parser = study.build_parser()
    argv = ["--preset=small_data", "--seeds=7"]
    args = parser.parse_args(argv)
    study.apply_preset(args, study.given_flags(argv))
    flags = PRESETS["small_data"]["flags"]
    assert args.datasets == flags["datasets"] and args.variants == flags["variants"]
    assert args.output_dir == flags["output_dir"] and args.seeds == ["7"]
    # A flag given with its default value still wins (--datasets=digits is the default).
    argv = ["--preset=forgetting", "--datasets=digits", "--gin_param=train.num_steps = 3"]
    args = parser.parse_args(argv)
    study.apply_preset(args, study.given_flags(argv))
    assert args.datasets == ["digits"] and args.gin_param == ["train.num_steps = 3"]
    assert args.variants == PRESETS["forgetting"]["flags"]["variants"]
    for name, preset in PRESETS.items():  # every preset names gin files that exist
        for dataset in preset["flags"]["datasets"]:
            for variant in preset["flags"]["variants"]:
                assert (Path(study.REPO_ROOT) / study.gin_file(dataset, variant)).is_file(), name
    with pytest.raises(study.StudyError, match="unknown; the presets are small_data"):
        study.apply_preset(parser.parse_args(["--preset=nope"]), set())


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(study.StudyError, match="variant"):
        study.run_study(str(tmp_path), None, variants=["nope"])
    with pytest.raises(study.StudyError, match="does not exist"):
        study.run_study(str(tmp_path), None, datasets=["no_such_dataset"])
    assert study.main(["--output_dir", str(tmp_path)]) == 1  # --inception missing


def test_random_init_baselines_are_built_with_the_studys_gin_params(tmp_path, monkeypatch):
    """The step-0 baseline must be the trained Ds' architecture: a study that narrows D with
    --gin_param (the forgetting preset: ch 16) compares against a random D of that width, and
    a baseline cached under other settings is recomputed, not reused."""
    import gin

    widths = []

    def fake_probe(spec, architecture, seed, hook):
        widths.append(gin.query_parameter("sndcgan.Discriminator.ch"))
        return {"block1": 0.5}

    monkeypatch.setattr(study, "random_init_probe", fake_probe)
    monkeypatch.setattr(study, "get_dataset", lambda name: None)
    quiet = dict(print_fn=lambda message: None)
    study.random_init_probes(str(tmp_path), "digits", [0], **quiet,
                             gin_params=["sndcgan.Discriminator.ch = 8"])
    study.random_init_probes(str(tmp_path), "digits", [0], **quiet,
                             gin_params=["sndcgan.Discriminator.ch = 8"])  # cached
    study.random_init_probes(str(tmp_path), "digits", [0], **quiet)  # the gin file's own: 32
    assert widths == [8, 32]

    built = []
    monkeypatch.setattr(study, "random_init_discriminator", lambda spec, architecture, seed: (
        built.append(gin.query_parameter("sndcgan.Discriminator.ch"))))
    monkeypatch.setattr(study, "_probe_blocks", lambda discriminator, spec, step: {"block1": 0.5})
    study.full_linear_eval(str(tmp_path), "digits", [], [0], **quiet,
                           gin_params=["sndcgan.Discriminator.ch = 8"])
    study.full_linear_eval(str(tmp_path), "digits", [], [0], **quiet)
    assert built == [8, 32]
