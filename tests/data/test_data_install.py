"""Installable like a library: the gin configs ship in the wheel (ssgan_tf/gin), `--gin_file=
quickstart.gin` and `gin/quickstart.gin` resolve from a checkout, from an installed package and
as plain paths, and the wheel's quickstart trains in a fresh venv from an empty directory."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ssgan_tf.common import configs
from ssgan_tf.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GIN_FILES = sorted(p.name for p in (ROOT / "gin").glob("*.gin"))
TOP_LEVEL_SKIP = {".git", "build", "dist", "runs", "ssgan_tf.egg-info"}  # not ssgan_tf/runs


def skip(directory: str, names: list) -> set:
    top = os.path.abspath(directory) == str(ROOT)
    return {n for n in names if n in ("__pycache__", ".pytest_cache")
            or (top and n in TOP_LEVEL_SKIP)}


# --------------------------------------------------------------------------- resolution
def test_shipped_configs_resolve_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = ROOT / "gin" / "quickstart.gin"
    assert Path(configs.resolve_gin_file("quickstart.gin")) == expected
    assert Path(configs.resolve_gin_file("gin/quickstart.gin")) == expected
    assert "quickstart.gin" in configs.shipped_configs()


def test_a_file_given_as_a_path_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gin").mkdir()
    (tmp_path / "gin" / "quickstart.gin").write_text("train.num_steps = 3\n")
    assert configs.resolve_gin_file("gin/quickstart.gin") == "gin/quickstart.gin"
    mine = tmp_path / "mine.gin"
    mine.write_text("train.num_steps = 3\n")
    assert configs.resolve_gin_file(str(mine)) == str(mine)


def test_an_installed_package_resolves_its_own_copy(tmp_path, monkeypatch):
    """site-packages/ssgan_tf/gin: no checkout above the package (and site-packages/gin is the
    gin-config library, which must not be looked into)."""
    site = tmp_path / "site-packages"
    (site / "ssgan_tf" / "gin").mkdir(parents=True)
    (site / "ssgan_tf" / "gin" / "quickstart.gin").write_text("train.num_steps = 3\n")
    (site / "gin").mkdir()
    (site / "gin" / "other.gin").write_text("")
    monkeypatch.setattr(configs, "REPO_ROOT", str(site))
    monkeypatch.setattr(configs, "CHECKOUT_GIN_DIR", str(site / "gin"))
    monkeypatch.setattr(configs, "PACKAGE_GIN_DIR", str(site / "ssgan_tf" / "gin"))
    monkeypatch.chdir(tmp_path)
    for name in ("quickstart.gin", "gin/quickstart.gin"):
        assert configs.resolve_gin_file(name) == str(site / "ssgan_tf" / "gin" /
                                                     "quickstart.gin")
    with pytest.raises(ConfigError, match=r"--gin_file='other.gin' does not exist: it is "
                                          r"neither a file .* nor a shipped config "
                                          r"\(quickstart.gin\)"):
        configs.resolve_gin_file("other.gin")


def test_a_missing_config_names_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--gin_file='gin/quickstrat.gin' does not exist.*"
                                          "cifar10_ssgan.gin, .*quickstart.gin"):
        configs.resolve_gin_file("gin/quickstrat.gin")


# --------------------------------------------------------------------------- the wheel
def build_wheel(tmp: Path) -> Path:
    """`pip wheel . --no-deps` of a copy of the checkout (the checkout stays clean)."""
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), "-q"],
                   cwd=source, check=True, capture_output=True, text=True, timeout=600)
    return next((tmp / "dist").glob("ssgan_tf-*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_ships_every_gin_config_and_the_extras(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert {f"ssgan_tf/gin/{name}" for name in GIN_FILES} <= names
    package = {str(p.relative_to(ROOT)) for p in (ROOT / "ssgan_tf").rglob("*.py")}
    assert package <= names  # every module (ssgan_tf/runs too: a `runs/` ignore rule hid it)
    assert not any(n.startswith(("tests/", "gin/")) for n in names)
    assert 'Requires-Dist: tf-keras; extra == "hub"' in metadata
    assert 'Requires-Dist: pytest>=7; extra == "test"' in metadata


@pytest.mark.slow
def test_the_installed_wheel_runs_the_quickstart_from_an_empty_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    # --system-site-packages: TensorFlow & co. come from this interpreter; ssgan_tf only from
    # the wheel (it is not installed there, and the checkout is not on the path).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   check=True, timeout=600)
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    where = subprocess.run(
        [python, "-c", "import ssgan_tf, ssgan_tf.common.configs as c; print(ssgan_tf.__file__);"
                       "print(c.resolve_gin_file('quickstart.gin'))"],
        cwd=work, env=env, capture_output=True, text=True, check=True, timeout=300)
    package_file, resolved = where.stdout.split()
    assert package_file.startswith(str(venv)) and resolved.startswith(str(venv))
    assert resolved.endswith("ssgan_tf/gin/quickstart.gin")
    args = [python, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", "--model_dir=run",
            "--gin_param=train.num_steps = 2", "--gin_param=train.batch_size = 8",
            "--gin_param=RotationTask.rotated_batch_size = 8",
            "--gin_param=sndcgan.Generator.ch = 4", "--gin_param=sndcgan.Discriminator.ch = 4",
            "--gin_param=train.precision = 'float32'"]
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "done: step 2" in result.stdout
    assert (work / "run" / "summary.json").exists()
    assert sorted(os.listdir(work)) == ["run"]
