"""`python -m ssgan_tf.benchmark` writes the contract's JSON (no timing assertions)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_cli_writes_flat_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "ssgan_tf.benchmark", "--gin_file=gin/quickstart.gin",
         "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
         "--gin_param=RotationTask.rotated_batch_size = 8", "--batch_size=8",
         "--precision=float32", "--steps=2", "--warmup=0", "--peak_seconds=0.05",
         f"--output={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    bench = json.loads(out.read_text())
    for key in ("img_per_s", "step_s", "precision", "peak_fraction", "gflops_per_step",
                "achieved_gflops", "peak_gflops", "pipeline_img_per_s", "sample_img_per_s",
                "conv_peak_fraction", "pipeline_vs_step"):
        assert key in bench, key
    assert bench["precision"] == "float32" and bench["batch_size"] == 8
    assert bench["img_per_s"] > 0 and 0 < bench["peak_fraction"]
    # FLOPs of a step: more than D's forward pass on the 2 x (8 + 6) images alone.
    assert bench["gflops_per_step"] > 0.001
    assert all(isinstance(v, (int, float, str, bool)) for v in bench.values())
    assert "img/s" in result.stdout and "of measured peak" in result.stdout


from tests.helpers.data import shared_data_dir  # noqa: E402

INCEPTION = shared_data_dir() / "inception" / "fid_inception_v3_2015_12_05_weights.npz"


@pytest.mark.slow
def test_benchmark_reports_rotation_cost_scaling_and_eval_throughput(tmp_path):
    out = tmp_path / "bench.json"
    extra = [f"--inception={INCEPTION}"] if INCEPTION.exists() else []
    result = subprocess.run(
        [sys.executable, "-m", "ssgan_tf.benchmark", "--gin_file=gin/quickstart.gin",
         "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
         "--gin_param=RotationTask.rotated_batch_size = 8", "--batch_size=8",
         "--precision=float32", "--steps=2", "--warmup=0", "--compare_rotation",
         "--multi_worker_processes=2", f"--output={out}", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    bench = json.loads(out.read_text())
    assert bench["rotation"] == "rotation_gan" and bench["plain_gan_step_s"] > 0
    assert bench["rotation_cost_ratio"] == bench["step_s"] / bench["plain_gan_step_s"]
    assert bench["multi_worker_processes"] == 2 and bench["multi_worker_img_per_s"] > 0
    if extra:
        assert bench["eval_inception_img_per_s"] > 0
    assert "rotation costs" in result.stdout and "2 workers" in result.stdout
