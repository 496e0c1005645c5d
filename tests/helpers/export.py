"""A tiny trained and exported SSGAN (unconditional and conditional), built once per test process
for the export, linear-probe and evaluation tests."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from ssgan_tf.export import api as export
from ssgan_tf.export.__main__ import main as export_main
from ssgan_tf.runs.restore import load_gan
from tests.helpers.training import run

REPO = Path(__file__).resolve().parents[2]
CONDITIONAL = ("train.conditional = True", "sndcgan.Discriminator.project_y = True",
               "sndcgan.Generator.norm = 'conditional_batch_norm'")
CACHE_ENV = "SSGAN_TF_TEST_EXPORT_CACHE"


def trained_export(conditional: bool = False) -> tuple[str, str]:
    """(model_dir, export_dir) of a tiny SSGAN trained 2 steps on `synthetic` 16x16 and exported;
    built once per test process (test_linear_eval reuses it). The unconditional model is exported
    with the CLI's main, the conditional one with `maybe_export_at_end` (what training calls).

    Cached on disk under a directory named in the environment (with this process's id), so that a
    test process builds it once whichever test asks first."""
    pid, _, root = os.environ.get(CACHE_ENV, "").partition(":")
    if pid != str(os.getpid()) or not os.path.isdir(root):
        root = tempfile.mkdtemp(prefix="ssgan_tf_test_export-")
        atexit.register(shutil.rmtree, root, True)
        os.environ[CACHE_ENV] = f"{os.getpid()}:{root}"
    name = "conditional" if conditional else "unconditional"
    done = os.path.join(root, f"{name}.json")
    if os.path.exists(done):
        with open(done) as f:
            return tuple(json.load(f))
    model_dir = os.path.join(root, name, "model")
    run(model_dir, 2, CONDITIONAL if conditional else ())
    if conditional:
        model, info = load_gan(model_dir)
        export_dir = export.maybe_export_at_end(model, info, model_dir)["export_dir"]
    else:
        export_dir = os.path.join(root, name, "export")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # `python -m ssgan_tf.export`'s main, in-process
            assert export_main([f"--model_dir={model_dir}", f"--export_dir={export_dir}"]) == 0
        assert f"generator {export_dir}/generator" in out.getvalue()
    with open(done, "w") as f:
        json.dump([model_dir, export_dir], f)
    return model_dir, export_dir
