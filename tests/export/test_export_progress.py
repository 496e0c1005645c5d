"""`python -m ssgan_tf.export` feedback (issue 24): a progress bar when stderr is a terminal, one
result line on a pipe, and no flood of TensorFlow INFO lines even when absl logs at INFO."""

from __future__ import annotations

import logging

from ssgan_tf.export.__main__ import main as export_main
from tests.helpers.quickstart import quickstart_run
from tests.helpers.terminal import has_a_bar, stderr_on_a_terminal

NOISE = ("contains input name(s)", "Writing fingerprint", "Sharding callback", "Assets written")


def test_export_shows_a_bar_on_a_terminal_only(tmp_path, monkeypatch, capsys):
    model_dir = quickstart_run()
    with stderr_on_a_terminal(monkeypatch) as terminal:
        assert export_main([f"--model_dir={model_dir}", f"--export_dir={tmp_path / 'a'}"]) == 0
    assert has_a_bar(terminal[0])
    for phase in ("export: tracing the generator", "export: saving the discriminator"):
        assert phase in terminal[0], phase
    capsys.readouterr()
    assert export_main([f"--model_dir={model_dir}", f"--export_dir={tmp_path / 'b'}"]) == 0
    piped = capsys.readouterr()
    assert piped.err == "" and "\r" not in piped.out
    assert piped.out.startswith(f"exported {model_dir}: generator {tmp_path / 'b'}/generator")
    assert len(piped.out.splitlines()) == 1


def test_no_tensorflow_info_flood_when_absl_logs_at_info(tmp_path, caplog):
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.INFO)  # as in a notebook or under absl.app with --verbosity=0
    try:
        with caplog.at_level(logging.INFO):
            assert export_main([f"--model_dir={quickstart_run()}",
                                f"--export_dir={tmp_path / 'e'}"]) == 0
        assert absl.level == logging.INFO  # restored after the export
    finally:
        absl.setLevel(level)
    noisy = [r.getMessage() for r in caplog.records if any(n in r.getMessage() for n in NOISE)]
    assert noisy == []
