"""Feedback while evaluate, linear_eval and export run (issue 24): a progress bar when stderr is a
terminal (a pseudo-terminal here), nothing but line-based output on a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from ssgan_tf.evaluate import main as evaluate_main
from ssgan_tf.evaluation import evaluate
from ssgan_tf.evaluation.metrics import DomainFeatureExtractor, build_domain_classifier
from ssgan_tf.linear_eval import main as linear_eval_main
from tests.helpers.quickstart import REPO, quickstart_export, quickstart_run
from tests.helpers.terminal import (
    has_a_bar,
    run_with_stderr_on_a_terminal,
    stderr_on_a_terminal,
)
from tests.helpers.toy_extractor import ToyExtractor, toy_images


@pytest.fixture
def image_files(tmp_path):
    np.savez(tmp_path / "fake.npz", images=toy_images(48, 0))
    np.savez(tmp_path / "real.npz", images=toy_images(40, 1, shift=10))
    return str(tmp_path / "fake.npz"), str(tmp_path / "real.npz")


def _line_based(text: str) -> bool:
    return "\r" not in text and not has_a_bar(text)


def test_evaluate_shows_a_bar_on_a_terminal_only(image_files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(evaluate, "_build_extractors", lambda config, wanted: [ToyExtractor()])
    fake, real = image_files
    args = [f"--images={fake}", f"--reference={real}", "--metrics=fid,kid", "--inception=toy",
            "--cache_dir=none", "--batch_size=8", f"--output={tmp_path / 'm.json'}"]
    with stderr_on_a_terminal(monkeypatch) as terminal:
        assert evaluate_main(args) == 0
    assert has_a_bar(terminal[0])
    assert "evaluate: reference images" in terminal[0]
    assert "evaluate: generated images" in terminal[0]
    capsys.readouterr()
    assert evaluate_main(args) == 0
    piped = capsys.readouterr()
    assert piped.err == "" and _line_based(piped.out)
    lines = piped.out.splitlines()
    assert lines[0].startswith("fid ") and lines[-1] == f"wrote {tmp_path / 'm.json'}"


def test_linear_eval_shows_a_bar_on_a_terminal_only(monkeypatch, capsys):
    args = [f"--module={quickstart_export()}/discriminator", "--dataset=digits",
            "--max_train_examples=100", "--max_test_examples=50", "--batch_size=50"]
    with stderr_on_a_terminal(monkeypatch) as terminal:
        assert linear_eval_main(args) == 0
    assert has_a_bar(terminal[0])
    for phase in ("linear_eval: train features", "linear_eval: test features",
                  "linear_eval: probing block1", "linear_eval: probing final"):
        assert phase in terminal[0], phase
    capsys.readouterr()
    assert linear_eval_main(args) == 0
    piped = capsys.readouterr()
    assert piped.err == "" and _line_based(piped.out)
    assert piped.out.splitlines()[-1].startswith("best by validation accuracy: ")


def _tiny_domain_extractor(path) -> str:
    DomainFeatureExtractor(build_domain_classifier((4, 4, 3), 3, feature_dim=8)).save(str(path))
    return str(path)


@pytest.mark.slow
def test_each_cli_in_a_pseudo_terminal_and_on_a_pipe(image_files, tmp_path):
    """The real thing: `python -m ssgan_tf.<tool>` with stderr on a pty, then on a pipe."""
    fake, real = image_files
    extractor = _tiny_domain_extractor(tmp_path / "domain.keras")
    commands = {
        "evaluate": ["-m", "ssgan_tf.evaluate", f"--images={fake}", f"--reference={real}",
                     f"--domain_extractor={extractor}", "--metrics=fid", "--cache_dir=none"],
        "linear_eval": ["-m", "ssgan_tf.linear_eval",
                        f"--module={quickstart_export()}/discriminator", "--dataset=digits",
                        "--max_train_examples=100", "--max_test_examples=50"],
        "export": ["-m", "ssgan_tf.export", f"--model_dir={quickstart_run()}",
                   f"--export_dir={tmp_path / 'export'}"],
    }
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for tool, args in commands.items():
        code, out, terminal = run_with_stderr_on_a_terminal([sys.executable, *args], cwd=REPO,
                                                            env=env, timeout=600)
        assert code == 0, (tool, terminal[-2000:])
        assert has_a_bar(terminal) and f"{tool}: " in terminal, tool
        if tool == "export":
            args[-1] = f"--export_dir={tmp_path / 'export2'}"
        piped = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                               text=True, timeout=600)
        assert piped.returncode == 0, (tool, piped.stderr[-2000:])
        assert _line_based(piped.stdout) and _line_based(piped.stderr), tool
        assert "signature_serialization" not in piped.stderr and "Function `" not in (
            piped.stderr), tool
