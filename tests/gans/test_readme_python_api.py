"""README's "Python API (Keras)" block runs as written: digits as arrays, build, compile keras-io
style, fit with callbacks, save `.keras`, reload, sample and export; the export serves what the
reloaded model computes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_api_block() -> str:
    section = README.read_text().split("## Python API (Keras)", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


@pytest.mark.slow  # ~30 s (62 real steps); fit, .keras, callbacks, export_gan are fast elsewhere
def test_the_readme_python_api_block_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_python_api_block(), "README.md", "exec"), namespace)  # noqa: S102 - our README
    gan, samples = namespace["gan"], np.asarray(namespace["samples"])
    assert namespace["images"].shape == (4000, 32, 32, 1)
    assert gan.current_step() == 62  # 4,000 // 64 full batches of one epoch, restored from .keras
    assert samples.shape == (8, 32, 32, 1) and 0.0 <= samples.min() and samples.max() <= 1.0
    assert (tmp_path / "fit" / "gan.keras").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "fit" / "samples").glob("*.png")) == [
        "step_000000.png", "step_000050.png", "step_000062.png"]
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "fit").rglob("*"))

    # The export serves the reloaded model: the EMA generator and D's features, float32.
    z = np.random.RandomState(0).uniform(-1, 1, (4, 64)).astype("float32")
    generator = tf.saved_model.load(namespace["paths"]["generator"])
    np.testing.assert_allclose(generator(z), gan(z), atol=1e-5)
    discriminator = tf.saved_model.load(namespace["paths"]["discriminator"])
    x = tf.convert_to_tensor(namespace["images"][:4])
    live = gan.discriminator(x, training=False)
    np.testing.assert_allclose(discriminator(x)["final"], live["features"], rtol=1e-5, atol=1e-5)
    info = json.loads((Path(namespace["paths"]["generator"]) / "assets" / "ssgan_tf_info.json")
                      .read_text())
    assert (info["architecture"], info["step"], info["z_dim"], info["ema"]) == ("sndcgan", 62, 64, True)
