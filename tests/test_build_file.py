"""BUILD lists a target for every module and test, and nothing that is gone."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_build_is_in_step_with_the_tree():
    result = subprocess.run([sys.executable, "tools/build_targets.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_python_file_has_a_target_and_every_target_exists():
    build = (ROOT / "BUILD").read_text()
    srcs = set(re.findall(r'srcs = \["([^"]+)"\]', build))
    on_disk = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("ssgan_tf/**/*.py")}
    on_disk |= {p.relative_to(ROOT).as_posix() for p in ROOT.glob("tests/**/*.py")}
    assert on_disk == srcs
