"""Export never deletes a run (issue 20.4): an --export_dir that is, contains or lies inside a
model_dir is refused with or without --overwrite, and only a recognizable earlier export is ever
replaced."""

from __future__ import annotations

import os
import shutil

import pytest

from ssgan_tf.export.__main__ import main as export_main
from ssgan_tf.export.destination import (
    ExportError,
    check_destination,
    is_export,
    move_into_place,
)
from tests.helpers.export import trained_export


def _tree(root) -> dict:
    """{relative path: bytes} of every file under root: what must survive a refused export."""
    out = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _fake_export(path) -> None:
    for part in ("generator", "discriminator"):
        os.makedirs(os.path.join(path, part, "variables"))
        with open(os.path.join(path, part, "saved_model.pb"), "wb") as f:
            f.write(b"pb")


@pytest.fixture
def run_copy(tmp_path):
    """A copy of a tiny trained run: runs/quickstart/{model.json, checkpoints/, train/, ...}."""
    model_dir, _ = trained_export(False)
    target = tmp_path / "runs" / "quickstart"
    shutil.copytree(model_dir, target)
    (target / "notes.txt").write_text("my notes")
    return target


@pytest.mark.parametrize("where", ["model_dir", "parent", "grandparent", "inside",
                                   "checkpoints"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_export_into_a_run_is_refused_and_the_run_survives(run_copy, capsys, where, overwrite):
    export_dir = {"model_dir": run_copy, "parent": run_copy.parent,
                  "grandparent": run_copy.parent.parent, "inside": run_copy / "samples" / "e",
                  "checkpoints": run_copy / "checkpoints"}[where]
    before = _tree(run_copy.parent.parent)
    args = [f"--model_dir={run_copy}", f"--export_dir={export_dir}"]
    assert export_main(args + (["--overwrite"] if overwrite else [])) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "\n" not in err.strip()
    expected = {"model_dir": "is a training directory", "parent": "contains the training "
                "directory", "grandparent": "contains the training directory",
                "inside": "lies inside the training directory",
                "checkpoints": "lies inside the training directory"}[where]
    assert expected in err, err
    assert _tree(run_copy.parent.parent) == before  # nothing deleted, nothing written


def test_the_default_export_location_inside_the_run_works_and_is_replaced(run_copy, capsys):
    before = _tree(run_copy)
    assert export_main([f"--model_dir={run_copy}"]) == 0
    assert is_export(str(run_copy / "export"))
    assert export_main([f"--model_dir={run_copy}"]) == 1  # exists: needs --overwrite
    assert "pass --overwrite" in capsys.readouterr().err
    assert export_main([f"--model_dir={run_copy}", "--overwrite"]) == 0
    after = _tree(run_copy)
    assert {k: v for k, v in after.items() if not k.startswith("export/")} == before


def test_only_an_earlier_export_is_replaced(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "photo.png").write_bytes(b"x")
    with pytest.raises(ExportError, match="holds files that are not an earlier export"):
        check_destination(str(other), overwrite=True)
    extra = tmp_path / "export_plus"
    _fake_export(extra)
    (extra / "README").write_text("mine")
    with pytest.raises(ExportError, match="not an earlier export"):
        check_destination(str(extra), overwrite=True)
    earlier = tmp_path / "earlier"
    _fake_export(earlier)
    check_destination(str(earlier), overwrite=True)  # replaceable
    with pytest.raises(ExportError, match="exists and is not empty; pass --overwrite"):
        check_destination(str(earlier), overwrite=False)
    check_destination(str(tmp_path / "new"), overwrite=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        check_destination(str(tmp_path / "file"), overwrite=True)


def test_a_checkpoints_only_directory_counts_as_a_run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(ExportError, match="is a training directory"):
        check_destination(str(run), overwrite=True)
    with pytest.raises(ExportError, match=f"contains the training directory {run}"):
        check_destination(str(tmp_path), overwrite=True)


def test_move_into_place_never_removes_what_is_not_an_export(tmp_path):
    staging, target = tmp_path / "staging", tmp_path / "target"
    _fake_export(staging)
    target.mkdir()
    (target / "precious.txt").write_text("keep")
    with pytest.raises(ExportError, match="left untouched"):
        move_into_place(str(staging), str(target))
    assert (target / "precious.txt").read_text() == "keep"
    shutil.rmtree(target)
    _fake_export(target)
    (target / "generator" / "saved_model.pb").write_bytes(b"old")
    move_into_place(str(staging), str(target))
    assert (target / "generator" / "saved_model.pb").read_bytes() == b"pb"
    assert sorted(os.listdir(tmp_path)) == ["target"]
