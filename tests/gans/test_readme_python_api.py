"""README's "Python API (Keras)" block runs as written: build, compile keras-io style, fit with
Keras' TensorBoard callback, save `.keras`, reload and sample."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_api_block() -> str:
    section = README.read_text().split("## Python API (Keras)", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_the_readme_python_api_block_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_python_api_block(), "README.md", "exec"), namespace)  # noqa: S102 - our README
    gan, samples = namespace["gan"], np.asarray(namespace["samples"])
    assert gan.current_step() == 8  # 64 images / batch 16 x 2 epochs
    assert samples.shape == (8, 16, 16, 3) and 0.0 <= samples.min() and samples.max() <= 1.0
    assert (tmp_path / "gan.keras").stat().st_size > 0
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").rglob("*"))
    # The reloaded model samples what the trained one does (EMA generator, same weights).
    z = np.random.RandomState(0).uniform(-1, 1, (8, 16)).astype("float32")
    reloaded = namespace["keras"].models.load_model("gan.keras")
    np.testing.assert_allclose(np.asarray(reloaded(z)), np.asarray(gan(z)), atol=1e-6)
