"""A weights file never runs code (issue 20.1): pickles whose `__reduce__` would create a file,
passed as `--inception` to evaluate, to the benchmark's Inception timing and to the metrics hook,
under a `.npz` and a `.pth` name, in every pickle of a torch file. Each must fail with an error
naming the file, and the marker file must not exist afterwards."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ssgan_tf.evaluate import main as evaluate_main
from ssgan_tf.evaluation.metrics.inception_weights import detect_format, load_inception_weights
from ssgan_tf.evaluation.metrics.torch_pickle import TorchPickleError, load_torch_state_dict

REPO = Path(__file__).resolve().parents[2]
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class Payload:
    """Unpickling this runs `touch marker` (what an attacker's file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=2)


def _legacy(parts) -> bytes:
    return b"".join(parts)


def evil_files(root: Path, marker: Path) -> dict[str, Path]:
    """Every place a pickle hides in the formats we read, each with the payload."""
    evil = _dumps(Payload(marker))
    header = [_dumps(LEGACY_MAGIC), _dumps(1001), _dumps({"little_endian": True})]
    files = {
        "evil.npz": evil,                                     # a pickle named like an npz
        "evil.pth": evil,                                     # a plain pickle named .pth
        "legacy_sys_info.pth": _legacy(header[:2] + [evil]),  # the header's third pickle
        "legacy_state.pth": _legacy(header + [evil]),         # the state dict pickle
        "legacy_keys.pth": _legacy(header + [_dumps({}), evil]),  # the storage key list
    }
    paths = {}
    for name, data in files.items():
        paths[name] = root / name
        paths[name].write_bytes(data)
    paths["zip.pth"] = root / "zip.pth"
    with zipfile.ZipFile(paths["zip.pth"], "w") as archive:
        archive.writestr("archive/data.pkl", evil)
    paths["zip_as.npz"] = root / "zip_as.npz"  # a torch zip named .npz: np.load, no pickle
    with zipfile.ZipFile(paths["zip_as.npz"], "w") as archive:
        archive.writestr("archive/data.pkl", evil)
    return paths


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(_dumps(Payload(marker)))  # the payload works when unpickled the usual way
    assert marker.exists()
    marker.unlink()
    return marker, evil_files(tmp_path, marker)


def test_every_hostile_file_is_refused_without_running_code(evil):
    marker, paths = evil
    for name, path in paths.items():
        with pytest.raises(ValueError) as info:
            load_inception_weights(path)
        assert str(path) in str(info.value), name
        assert not marker.exists(), f"{name} ran its payload"


def test_the_name_decides_the_format_not_the_content(evil, tmp_path):
    _, paths = evil
    with pytest.raises(ValueError, match="a .npz must be a NumPy zip archive, but this file is "
                                         "a pickle stream"):
        detect_format(str(paths["evil.npz"]))
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(_dumps(1))
    with pytest.raises(ValueError, match="unrecognised file name suffix"):
        detect_format(str(unknown))
    assert detect_format(str(paths["evil.pth"])) == "torch_pth"


def test_legacy_headers_hold_plain_data_only(evil):
    marker, paths = evil
    for name in ("legacy_sys_info.pth", "legacy_keys.pth"):
        with pytest.raises(TorchPickleError, match="refusing to unpickle posix.system"):
            load_torch_state_dict(str(paths[name]))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["evil.npz", "evil.pth", "legacy_state.pth"])
def test_evaluate_cli_refuses_hostile_inception(evil, tmp_path, capsys, name):
    marker, paths = evil
    images = tmp_path / "images.npz"
    np.savez(images, images=np.zeros((4, 8, 8, 3), np.uint8))
    code = evaluate_main([f"--images={images}", f"--reference={images}", "--metrics=fid",
                          f"--inception={paths[name]}"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and str(paths[name]) in err
    assert not marker.exists()


def test_evaluate_subprocess_refuses_a_pickle_named_npz(evil, tmp_path):
    marker, paths = evil
    images = tmp_path / "images.npz"
    np.savez(images, images=np.zeros((4, 8, 8, 3), np.uint8))
    result = subprocess.run(
        [sys.executable, "-m", "ssgan_tf.evaluate", f"--images={images}",
         f"--reference={images}", f"--inception={paths['evil.npz']}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pickles are never loaded from a .npz" in result.stderr
    assert not marker.exists()


def test_benchmark_inception_timing_refuses_hostile_weights(evil):
    from ssgan_tf.perf.benchmark import measure_inception

    marker, paths = evil
    for name in ("evil.npz", "zip.pth"):
        with pytest.raises(ValueError, match=name):
            measure_inception(str(paths[name]), batch=2, repeats=1)
    assert not marker.exists()


def test_metrics_hook_refuses_hostile_weights(evil, tmp_path):
    from ssgan_tf.evaluation.metrics_hook import MetricsHook

    marker, paths = evil
    context = types.SimpleNamespace(model_dir=str(tmp_path), chief=True, spec=None,
                                    print_fn=print, model=None)
    for name in ("evil.npz", "legacy_state.pth"):
        hook = MetricsHook(every=1, inception=str(paths[name]), num_samples=4)
        with pytest.raises(ValueError, match=name):
            hook(1, context)
    assert not marker.exists()
