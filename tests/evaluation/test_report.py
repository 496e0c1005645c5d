"""`python -m ssgan_tf.report`: one self-contained HTML page of a tiny quickstart run, with its
training curves, the hooks' curves and the latest sample grid embedded."""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from ssgan_tf.evaluation.probe_hook import append_record
from ssgan_tf.evaluation.report import curve_groups, read_scalars, scalar_groups
from ssgan_tf.report import main as report_main
from tests.helpers.quickstart import quickstart_run


@pytest.fixture(scope="module")
def run_with_hooks(tmp_path_factory):
    """A copy of the tiny quickstart run plus the curve files the two evaluation hooks write."""
    model_dir = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(quickstart_run(), model_dir)
    for step, fid in ((2, 300.0), (4, 250.0)):
        append_record(str(model_dir / "eval" / "metrics_curve.json"),
                      {"step": step, "fid": fid, "kid": fid / 1000, "precision": 0.1,
                       "recall": 0.2, "rotation_accuracy_real": 0.3,
                       "rotation_accuracy_fake": 0.4, "seconds": 1.0},
                      {"num_samples": 100, "warning": "FID from 100 generated images"})
        append_record(str(model_dir / "probe" / "probe_curve.json"),
                      {"step": step, "block1": 0.5, "block2": 0.6}, {"subsets": "x"})
    return model_dir


def _images(page: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data)))
            for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_the_report_has_the_curves_and_the_grid(run_with_hooks, capsys):
    assert report_main([f"--model_dir={run_with_hooks}"]) == 0
    out = capsys.readouterr().out
    path = run_with_hooks / "report.html"
    assert out.startswith(f"wrote {path}: ") and "the latest sample grid" in out
    page = path.read_text()
    for caption in ("discriminator losses", "generator losses", "accuracy", "perf",
                    "Fréchet distance (lower is better) (eval/metrics_curve.json)",
                    "rotation accuracy of D&#x27;s head",
                    "linear probe accuracy per D block (probe/probe_curve.json)",
                    "samples/step_000004.png", "summary.json", "operative_config.gin",
                    "sndcgan.Generator.ch = 4", "FID from 100 generated images"):
        assert caption in page, caption
    images = _images(page)
    grid = np.asarray(Image.open(run_with_hooks / "samples" / "step_000004.png"))
    assert any(np.array_equal(np.asarray(im), grid) for im in images)  # the grid itself
    assert sum(im.size == (504, 306) for im in images) >= 9  # the figures
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_the_training_curves_are_the_logged_scalars(run_with_hooks):
    series = read_scalars(str(run_with_hooks))
    assert [step for step, _ in series["losses/d_loss"]] == [1, 2, 4]  # every chunk; the first is 1 step
    groups = scalar_groups(series)
    assert set(groups["discriminator losses"]) >= {"d_loss", "d_rotation_loss"}
    assert set(groups["generator losses"]) >= {"g_loss", "g_rotation_loss"}
    titles = [title for title, _, _ in curve_groups(
        [{"step": 1, "fid": 2.0, "domain_fd": 3.0, "recall": 0.5, "seconds": 9.0}])]
    assert titles == ["Fréchet distance (lower is better)",
                      "precision / recall / density / coverage"]


def test_bad_model_dir_is_one_error_line(tmp_path, capsys):
    assert report_main([f"--model_dir={tmp_path / 'nope'}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not an ssgan_tf training directory" in err
