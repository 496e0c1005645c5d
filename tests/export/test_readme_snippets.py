"""export/README.md's loading snippets run as written (issue 26): every Python block of its
"Loading" section, in order, in a fresh process that cannot import ssgan_tf, from a directory
holding `export/quickstart` (a tiny quickstart run exported with the CLI). The Keras 3 classifier
on TFSMLayer features fits; the ExportedModule layer fine-tunes the encoder's own variables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.quickstart import quickstart_export

README = Path(__file__).resolve().parents[2] / "export" / "README.md"

# Run after the README's code, in the same process: what the snippets did.
CHECKS = textwrap.dedent("""
    import json as _json, sys as _sys
    _fresh = tf.saved_model.load("export/quickstart/discriminator")
    _report = {
        "ssgan_tf_loaded": "ssgan_tf" in _sys.modules,
        "frozen_classifier_trainable": len(classifier.trainable_weights),
        "generator_shape": list(generator(np.zeros((2, 128), "float32")).shape),
        "tuned_trainable": len(tuned.trainable_weights),
        "module_trainable": len(_fresh.trainable_variables),
        "tuned_changed": sum(not np.allclose(a.numpy(), b.numpy()) for a, b in
                             zip(encoder.module.trainable_variables, _fresh.trainable_variables)),
        "state_changed": sum(not np.allclose(a.numpy(), b.numpy()) for a, b in
                             zip(encoder.module.variables, _fresh.variables) if not a.trainable),
        "tuned_same_objects": all(w.value is v for w, v in
                                  zip(encoder.module_variables, encoder.module.variables)),
    }
    with open("report.json", "w") as _f:
        _json.dump(_report, _f)
""")


def loading_blocks() -> list[str]:
    """The ```python blocks of the README's "## Loading" section, in order."""
    text = README.read_text()
    section = text[text.index("## Loading"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_loading_section_has_the_blocks_this_test_runs():
    blocks = loading_blocks()
    assert len(blocks) == 4
    assert "TFSMLayer" in blocks[2] and "trainable=False" in blocks[2] and ".fit(" in blocks[2]
    assert "class ExportedModule" in blocks[3] and ".fit(" in blocks[3]


@pytest.mark.slow
def test_the_readme_loading_snippets_run_as_written(tmp_path):
    export_dir = quickstart_export()  # .../export/quickstart
    workdir = os.path.dirname(os.path.dirname(export_dir))
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "ssgan_tf.py").write_text("raise ImportError('ssgan_tf is hidden in this test')\n")
    script = tmp_path / "snippets.py"
    script.write_text("\n\n".join(loading_blocks()) + "\n" + CHECKS)
    env = {**os.environ, "PYTHONPATH": str(blocker), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads((Path(workdir) / "report.json").read_text())
    assert report["ssgan_tf_loaded"] is False
    assert report["frozen_classifier_trainable"] == 2  # the Dense head only
    assert report["generator_shape"] == [2, 32, 32, 1]
    # Fine-tuning: the module's trainable variables (+ the Dense head) are trained, and the ones
    # below `final` moved (the GAN and rotation heads get no gradient from this loss).
    assert report["tuned_trainable"] == report["module_trainable"] + 2
    assert report["tuned_changed"] == report["module_trainable"] - 4
    assert report["state_changed"] > 0  # training=True in fit: spectral-norm vectors updated
    assert report["tuned_same_objects"] is True
