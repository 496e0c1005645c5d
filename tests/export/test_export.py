"""Exported generator / discriminator modules (issue 4): a tiny trained model is exported, then
loaded in a fresh Python process that cannot import ssgan_tf, through hub.load, hub.KerasLayer in
tf_keras and Keras 3's TFSMLayer; its outputs must equal the live model's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf import runs
from ssgan_tf.data import get_dataset
from ssgan_tf.export import api as export
from ssgan_tf.export.__main__ import main as export_main
from ssgan_tf.gans import GAN
from ssgan_tf.runs.restore import load_gan
from tests.helpers.export import REPO, trained_export
from tests.helpers.training import TINY, run

Z_DIM, SHAPE, NUM_CLASSES = 16, (16, 16, 3), 3
D_KEYS = {"gan_logits", "final", "rotation_logits", "block1", "block2", "block3", "block4"}


def _python(args, cwd=REPO, env=None, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


# A script for a process where `import ssgan_tf` fails: it loads the modules every supported way
# and saves their outputs, gradients and error messages for the assertions below.
CHECK_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    report = {}
    try:
        import ssgan_tf  # noqa: F401
        report["ssgan_tf_importable"] = True
    except ImportError:
        report["ssgan_tf_importable"] = False
    import tensorflow as tf
    import tensorflow_hub as hub
    import tf_keras
    import keras

    paths, inputs, out = json.loads(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
    x, z, y = inputs["images"], inputs["z"], inputs["labels"]
    res = {}

    def error_of(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return f"{type(e).__name__}: {e}"
        return None

    for tag in ("", "c"):
        g, d = hub.load(paths["g" + tag]), hub.load(paths["d" + tag])
        g_in = {"z": z, "labels": y} if tag else z
        d_in = {"images": x, "labels": y} if tag else x
        kw = {"labels": tf.constant(y)} if tag else {}
        res[f"g{tag}/call"] = g(g_in).numpy()
        res[f"g{tag}/serving"] = g.signatures["serving_default"](z=tf.constant(z), **kw)[
            "images"].numpy()
        sample_kw = kw or {"num_images": tf.constant(len(z))}
        sample = g.signatures["sample"](seed=tf.constant(7, tf.int64), **sample_kw)
        res[f"g{tag}/sample_z"] = sample["z"].numpy()
        res[f"g{tag}/sample_images"] = sample["images"].numpy()
        for k, v in d(d_in).items():
            res[f"d{tag}/call/{k}"] = v.numpy()
        for k, v in d.signatures["serving_default"](images=tf.constant(x), **kw).items():
            res[f"d{tag}/serving/{k}"] = v.numpy()
        report[f"g{tag}_meta"] = [int(g.z_dim.numpy()), int(g.num_classes.numpy()),
                                  g.image_shape.numpy().tolist(), int(g.step.numpy())]
        report[f"d{tag}_trainable"] = len(d.trainable_variables)

    # hub.KerasLayer inside tf_keras models: frozen, then fine-tuned.
    frozen = tf_keras.Sequential([tf_keras.Input(x.shape[1:]),
                                  hub.KerasLayer(paths["d"], output_key="final")])
    res["keras2/d_final"] = frozen(x).numpy()
    report["keras2_frozen_trainable"] = len(frozen.trainable_weights)
    gen = tf_keras.Sequential([tf_keras.Input(z.shape[1:]), hub.KerasLayer(paths["g"])])
    res["keras2/g"] = gen(z).numpy()
    tuned = hub.KerasLayer(paths["d"], output_key="final", trainable=True)
    clf = tf_keras.Sequential([tf_keras.Input(x.shape[1:]), tuned, tf_keras.layers.Dense(3)])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
            y, clf(x, training=True), from_logits=True))
    grads = tape.gradient(loss, tuned.trainable_variables)
    report["finetune_trainable"] = len(tuned.trainable_variables)
    report["finetune_nonzero_grads"] = sum(
        g is not None and float(tf.norm(g)) > 0 for g in grads)
    report["finetune_no_grad_shapes"] = sorted(
        v.shape.as_list() for v, g in zip(tuned.trainable_variables, grads)
        if g is None or float(tf.norm(g)) == 0)
    tf_keras.optimizers.SGD(0.5).apply_gradients(zip(grads, tuned.trainable_variables))
    res["keras2/d_final_after_step"] = tuned(x).numpy()

    # Keras 3: TFSMLayer on the serving signatures.
    inp = keras.Input(x.shape[1:])
    feats = keras.layers.TFSMLayer(paths["d"], call_endpoint="serving_default")(inp)
    res["keras3/d_final"] = keras.Model(inp, feats["final"])(x).numpy()
    report["keras3_head_shape"] = list(
        keras.Model(inp, keras.layers.Dense(3)(feats["final"]))(x).shape)
    zin = keras.Input(z.shape[1:])
    images = keras.layers.TFSMLayer(paths["g"], call_endpoint="serving_default")(zin)["images"]
    res["keras3/g"] = keras.Model(zin, images)(z).numpy()

    d, dc, g = hub.load(paths["d"]), hub.load(paths["dc"]), hub.load(paths["g"])
    uint8_in = keras.Input((16, 16, 3), dtype="uint8")  # Keras 3 casts it to float32
    uint8_model = keras.Model(uint8_in, keras.layers.TFSMLayer(
        paths["d"], call_endpoint="serving_default")(uint8_in)["final"])
    serve = d.signatures["serving_default"]
    report["errors"] = {
        "d_call_shape": error_of(lambda: d(np.zeros([2, 8, 8, 3], np.float32))),
        "d_serving_shape": error_of(lambda: serve(images=tf.zeros([2, 16, 16]))),
        "d_call_uint8": error_of(lambda: d(tf.zeros([2, 16, 16, 3], tf.uint8))),
        "d_call_range": error_of(lambda: d(x * 255.0)),
        "d_serving_uint8_tensor": error_of(lambda: serve(images=tf.zeros([2, 16, 16, 3],
                                                                           tf.uint8))),
        "d_serving_uint8_numpy": error_of(lambda: serve(images=(x * 255).astype(np.uint8))),
        "g_call_zdim": error_of(lambda: g(np.zeros([2, z.shape[1] + 1], np.float32))),
        "g_call_float64": error_of(lambda: g(z.astype(np.float64))),
        "dc_labels_range": error_of(lambda: dc({"images": x, "labels": y + 3})),
        "dc_labels_int64": error_of(lambda: dc({"images": x, "labels": y.astype(np.int64)})),
        "keras3_uint8_input": error_of(lambda: uint8_model((x * 255).astype(np.uint8))),
    }
    report["ssgan_tf_loaded"] = "ssgan_tf" in sys.modules
    np.savez(out, **res)
    with open(out + ".json", "w") as f:
        json.dump(report, f)
""")


def _inputs():
    rng = np.random.RandomState(0)
    return {"images": rng.uniform(size=(5, *SHAPE)).astype(np.float32),
            "z": rng.uniform(-1, 1, size=(5, Z_DIM)).astype(np.float32),
            "labels": np.array([0, 1, 2, 0, 1], np.int32)}


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """Outputs of the exported modules in a process that cannot import ssgan_tf, and the live
    models' outputs on the same inputs."""
    _, export_dir = trained_export(False)
    _, export_dir_c = trained_export(True)
    tmp = tmp_path_factory.mktemp("fresh")
    blocker = tmp / "blocker"
    blocker.mkdir()
    (blocker / "ssgan_tf.py").write_text("raise ImportError('ssgan_tf is hidden in this test')\n")
    (tmp / "check.py").write_text(CHECK_SCRIPT)
    inputs = _inputs()
    np.savez(tmp / "inputs.npz", **inputs)
    paths = {"g": f"{export_dir}/generator", "d": f"{export_dir}/discriminator",
             "gc": f"{export_dir_c}/generator", "dc": f"{export_dir_c}/discriminator"}
    env = {**os.environ, "PYTHONPATH": str(blocker), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = _python([str(tmp / "check.py"), json.dumps(paths), str(tmp / "inputs.npz"),
                      str(tmp / "out.npz")], cwd=tmp, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    outputs = dict(np.load(tmp / "out.npz"))
    report = json.loads((tmp / "out.npz.json").read_text())
    return outputs, report, inputs, _live_outputs(inputs)


def _live_outputs(inputs):
    live = {}
    for tag, conditional in (("", False), ("c", True)):
        model, _ = load_gan(trained_export(conditional)[0])
        y = tf.constant(inputs["labels"]) if conditional else None
        generator = model.inference_generator()
        live[f"g{tag}"] = generator(inputs["z"], y, training=False).numpy()
        key = tf.constant([7, 0], tf.int64)
        z = tf.random.stateless_uniform([5, Z_DIM], key, -1.0, 1.0)
        live[f"g{tag}/sample_z"] = z.numpy()
        live[f"g{tag}/sample_images"] = generator(z, y, training=False).numpy()
        out = model.discriminator(inputs["images"], y, training=False)
        names = {"logits": "gan_logits", "features": "final"}
        live.update({f"d{tag}/{names.get(k, k)}": v.numpy() for k, v in out.items()})
    return live


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
def test_the_fresh_process_cannot_import_ssgan_tf(fresh_process):
    _, report, _, _ = fresh_process
    assert report["ssgan_tf_importable"] is False and report["ssgan_tf_loaded"] is False


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
@pytest.mark.parametrize("tag", ["", "c"], ids=["unconditional", "conditional"])
def test_loaded_generator_equals_the_live_generator(fresh_process, tag):
    outputs, report, _, live = fresh_process
    for way in ("call", "serving"):
        np.testing.assert_allclose(outputs[f"g{tag}/{way}"], live[f"g{tag}"], atol=1e-5)
    assert outputs[f"g{tag}/call"].shape == (5, *SHAPE)
    assert 0.0 <= outputs[f"g{tag}/call"].min() and outputs[f"g{tag}/call"].max() <= 1.0
    # `sample` draws z from the seed exactly as documented, and generates from it.
    np.testing.assert_array_equal(outputs[f"g{tag}/sample_z"], live[f"g{tag}/sample_z"])
    np.testing.assert_allclose(outputs[f"g{tag}/sample_images"], live[f"g{tag}/sample_images"],
                               atol=1e-5)
    assert report[f"g{tag}_meta"] == [Z_DIM, NUM_CLASSES if tag else 0, list(SHAPE), 2]
    if tag:  # the conditional generator really uses the labels
        assert np.abs(live["gc"] - outputs["gc/call"][::-1]).max() > 1e-4


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
@pytest.mark.parametrize("tag", ["", "c"], ids=["unconditional", "conditional"])
def test_loaded_discriminator_equals_the_live_discriminator(fresh_process, tag):
    outputs, report, _, live = fresh_process
    for way in ("call", "serving"):
        keys = {k.split("/")[-1] for k in outputs if k.startswith(f"d{tag}/{way}/")}
        assert keys == D_KEYS
        for key in D_KEYS:
            np.testing.assert_allclose(outputs[f"d{tag}/{way}/{key}"], live[f"d{tag}/{key}"],
                                       rtol=1e-4, atol=1e-5, err_msg=f"{way} {key}")
    assert outputs[f"d{tag}/call/final"].shape == (5, 2 * 2 * 64)
    assert outputs[f"d{tag}/call/block1"].shape == (5, 8)
    assert report[f"d{tag}_trainable"] > 10


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
def test_hub_keras_layer_in_tf_keras_frozen_and_fine_tuned(fresh_process):
    outputs, report, _, live = fresh_process
    np.testing.assert_allclose(outputs["keras2/d_final"], live["d/final"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["keras2/g"], live["g"], atol=1e-5)
    assert report["keras2_frozen_trainable"] == 0
    # trainable=True: gradients reach every trainable variable below `final` (all but the
    # real/fake and rotation heads: kernels [256, 1], [256, 4], biases), and a step moves it.
    assert report["finetune_trainable"] == report["d_trainable"]
    assert report["finetune_no_grad_shapes"] == [[1], [4], [256, 1], [256, 4]]
    assert report["finetune_nonzero_grads"] == report["finetune_trainable"] - 4
    assert np.abs(outputs["keras2/d_final_after_step"] - live["d/final"]).max() > 1e-4


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
def test_tfsm_layer_in_a_keras3_model(fresh_process):
    outputs, report, _, live = fresh_process
    np.testing.assert_allclose(outputs["keras3/d_final"], live["d/final"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["keras3/g"], live["g"], atol=1e-5)
    assert report["keras3_head_shape"] == [5, 3]


@pytest.mark.slow  # a fresh Python process importing TF and tf_keras: ~70 s
def test_bad_inputs_give_clear_errors(fresh_process):
    errors = fresh_process[1]["errors"]
    expects = "discriminator module expects float32 images [N, 16, 16, 3] in [0, 1]"
    assert expects in errors["d_call_shape"] and "got shape] [2 8 8 3]" in errors["d_call_shape"]
    assert expects in errors["d_serving_shape"] and "[2 16 16]" in errors["d_serving_shape"]
    assert expects in errors["d_call_uint8"] and "got uint8" in errors["d_call_uint8"]
    assert expects in errors["d_call_range"] and "got values in" in errors["d_call_range"]
    # NumPy uint8 pixels are converted to float by the signature; the range check catches them.
    assert expects in errors["d_serving_uint8_numpy"]
    # A wrongly typed tensor is rejected by TF before the module runs; TF says what it expected.
    assert "expected to be a float tensor but is a uint8 tensor" in errors[
        "d_serving_uint8_tensor"]
    assert "generator module expects float32 z [N, 16]; got shape] [2 17]" in errors[
        "g_call_zdim"]
    assert "generator module expects float32 z [N, 16]; got float64" in errors["g_call_float64"]
    labels = "int32 labels [N] in [0, 3)"
    assert labels in errors["dc_labels_range"] and "[3 4 5 3 4]" in errors["dc_labels_range"]
    assert labels in errors["dc_labels_int64"] and "labels int64" in errors["dc_labels_int64"]
    # Keras 3 builds the model, then TF rejects the uint8 tensor at the signature.
    assert "expected to be a float tensor but is a uint8 tensor" in errors["keras3_uint8_input"]


def test_loaded_modules_equal_the_live_models_in_process():
    """The fast twin of the fresh-process tests above (slow): the exported functions, loaded back
    with `tf.saved_model.load` (what `hub.load` calls), give the live model's outputs."""
    model_dir, export_dir = trained_export(False)
    g = tf.saved_model.load(f"{export_dir}/generator")
    d = tf.saved_model.load(f"{export_dir}/discriminator")
    model, _ = load_gan(model_dir)
    inputs = _inputs()
    live_images = model.inference_generator()(inputs["z"], None, training=False).numpy()
    np.testing.assert_allclose(g(inputs["z"]).numpy(), live_images, atol=1e-5)
    served = g.signatures["serving_default"](z=tf.constant(inputs["z"]))["images"]
    np.testing.assert_allclose(served.numpy(), live_images, atol=1e-5)
    live = model.discriminator(inputs["images"], None, training=False)
    out = d(inputs["images"])
    assert set(out) == D_KEYS
    np.testing.assert_allclose(out["final"].numpy(), live["features"].numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(out["gan_logits"].numpy(), live["logits"].numpy(), rtol=1e-4,
                               atol=1e-5)


def test_metadata_assets_and_layout():
    model_dir, export_dir = trained_export(False)
    g = tf.saved_model.load(f"{export_dir}/generator")
    d = tf.saved_model.load(f"{export_dir}/discriminator")
    model, _ = load_gan(model_dir)
    assert int(d.num_classes.numpy()) == 0 and d.image_shape.numpy().tolist() == list(SHAPE)
    assert g.z_distribution.numpy() == b"uniform" and g.ssgan_tf_version.numpy()
    # TF-Hub reusable SavedModel attributes; every variable float32 and saved.
    assert len(d.variables) == len(model.discriminator.weights)
    assert len(g.variables) == len(model.generator.weights)
    assert {v.dtype for v in d.variables + g.variables} == {tf.float32}
    assert list(d.regularization_losses) == [] and len(d.trainable_variables) < len(d.variables)
    assert set(g.signatures) == {"serving_default", "sample"} and set(d.signatures) == {
        "serving_default"}
    gin_text = Path(g.gin_config.asset_path.numpy().decode()).read_text()
    assert "sndcgan.Generator.ch = 8" in gin_text
    info = json.loads(Path(d.info.asset_path.numpy().decode()).read_text())
    assert info["step"] == 2 and info["module"] == "discriminator" and info["z_dim"] == Z_DIM
    assert info["checkpoint"].endswith("ckpt-2") and info["architecture"] == "sndcgan"
    assert sorted(os.listdir(f"{export_dir}/discriminator/assets")) == [
        "gin_config.gin", "ssgan_tf_info.json"]


def test_bad_arguments_are_explained(tmp_path):
    model_dir, export_dir = trained_export(False)
    with pytest.raises(FileNotFoundError, match="not an ssgan_tf model_dir"):
        export.export_from_model_dir(str(tmp_path / "nope"), str(tmp_path / "e"))
    with pytest.raises(export.ExportError, match="--model_dir is required"):
        export.export_from_model_dir("", str(tmp_path / "e"))
    with pytest.raises(export.ExportError, match="exists and is not empty; pass --overwrite"):
        export.export_from_model_dir(model_dir, export_dir)
    with pytest.raises(export.ExportError, match="--checkpoint='nope/ckpt-9' does not exist"):
        export.export_from_model_dir(model_dir, str(tmp_path / "e"), checkpoint="nope/ckpt-9")
    no_checkpoints = tmp_path / "untrained"
    no_checkpoints.mkdir()
    shutil.copy(os.path.join(model_dir, "model.json"), no_checkpoints)
    with pytest.raises(export.ExportError, match="No checkpoint in .*Train first"):
        export.export_from_model_dir(str(no_checkpoints), str(tmp_path / "e"))
    assert not (tmp_path / "e").exists()


def test_cli_bad_input_exits_nonzero_with_one_paragraph(tmp_path, capsys):
    """`main` is what `python -m ssgan_tf.export` runs (the success path runs as a real
    subprocess in `trained_export`)."""
    model_dir, export_dir = trained_export(False)
    cases = [([f"--model_dir={tmp_path / 'nope'}"], "is not an ssgan_tf model_dir"),
             ([], "--model_dir is required"),
             ([f"--model_dir={model_dir}", f"--export_dir={export_dir}"],
              "exists and is not empty; pass --overwrite"),
             ([f"--model_dir={model_dir}", "--bogus"], "unrecognized arguments: --bogus"),
             ([f"--model_dir={model_dir}", "extra"], "unrecognized arguments: extra")]
    for args, message in cases:
        assert export_main([*args]) == 1, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
    assert sorted(os.listdir(export_dir)) == ["discriminator", "generator"]  # left untouched


def test_a_failed_export_leaves_nothing_half_written(tmp_path, monkeypatch):
    model_dir, export_dir = trained_export(False)
    model, info = load_gan(model_dir)
    target = tmp_path / "export"
    shutil.copytree(export_dir, target)  # an earlier export, which --overwrite may replace
    before = (target / "generator" / "saved_model.pb").read_bytes()
    real_save, calls = tf.saved_model.save, []

    def save_then_fail(obj, path, **kwargs):
        calls.append(path)
        if path.endswith("discriminator"):  # the generator is written, the discriminator fails
            raise OSError("disk full")
        return real_save(obj, path, **kwargs)

    monkeypatch.setattr(tf.saved_model, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export.export_model(model, info, str(target), overwrite=True)
    assert len(calls) == 2 and sorted(os.listdir(target)) == ["discriminator", "generator"]
    assert (target / "generator" / "saved_model.pb").read_bytes() == before
    assert os.listdir(tmp_path) == ["export"]  # no staging directory left behind
    with pytest.raises(OSError):
        export.export_model(model, info, str(tmp_path / "fresh"))
    assert os.listdir(tmp_path) == ["export"]


def test_only_the_chief_exports_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": ["localhost:1", "localhost:2"]},
        "task": {"type": "worker", "index": 1}}))
    assert export.maybe_export_at_end(None, {}, str(tmp_path)) is None
    assert not (tmp_path / "export").exists()


def _bf16_gan():
    """A tiny GAN built as training builds it under mixed_bfloat16 (widths bound by gin)."""
    gin.parse_config([b for b in TINY if b.startswith("sndcgan.")])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    info = runs.model_info(get_dataset("synthetic", resolution=16), "sndcgan", Z_DIM, 0,
                              "mixed_bfloat16", "uniform")
    model = GAN(*runs.build_networks(info))
    model.build_all()
    return model, {**info, "step": 0, "checkpoint": None}


def test_mixed_precision_models_are_exported_as_float32_copies():
    model, _ = _bf16_gan()
    assert model.discriminator.compute_dtype == "bfloat16"
    gin.clear_config()  # the copies come from the networks' get_config, not from gin
    generator, discriminator = export.export_networks(model)
    assert generator is not model.generator
    assert generator.compute_dtype == discriminator.compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # restored
    for copy, original in ((generator, model.generator), (discriminator, model.discriminator)):
        assert len(copy.weights) == len(original.weights)
        for a, b in zip(copy.weights, original.weights):
            assert a.dtype == "float32"
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_mixed_precision_export_round_trip(tmp_path):
    model, info = _bf16_gan()
    paths = export.export_model(model, info, str(tmp_path / "e"))
    generator, discriminator = export.export_networks(model)
    d = tf.saved_model.load(paths["discriminator"])
    assert {v.dtype for v in d.variables} == {tf.float32}
    x = tf.random.stateless_uniform([3, *SHAPE], [1, 2])
    expected = discriminator(x, training=False)
    np.testing.assert_allclose(d(x)["final"], expected["features"], rtol=1e-5, atol=1e-6)
    g = tf.saved_model.load(paths["generator"])
    z = tf.random.stateless_uniform([3, Z_DIM], [3, 4], -1, 1)
    np.testing.assert_allclose(g(z), generator(z, training=False), atol=1e-6)


@pytest.mark.slow
def test_the_generator_module_carries_the_ema_weights(tmp_path):
    from tests.helpers import tiny_gan

    try:
        model = tiny_gan(g_ema_decay=0.5, ema_start_step=0)
    except TypeError:
        pytest.skip("this GAN has no EMA generator (GAN.g_ema_decay)")
    ema = model.inference_generator()
    for v in model.generator.trainable_variables:  # the live G moves away from its average
        v.assign(v + 0.01)
    z = tf.random.stateless_uniform([3, Z_DIM], [5, 6], -1, 1)
    assert np.abs(ema(z) - model.generator(z, training=False)).max() > 1e-3
    paths = export.export_model(model, {"architecture": "sndcgan"}, str(tmp_path / "e"))
    g = tf.saved_model.load(paths["generator"])
    np.testing.assert_allclose(g(z), ema(z), atol=1e-6)
    info = json.loads(Path(g.info.asset_path.numpy().decode()).read_text())
    assert info["ema"] is True


@pytest.mark.slow
def test_training_exports_at_the_end_when_asked(tmp_path):
    _, lines = run(tmp_path, 2, ["train.export_at_end = True"])
    d = tf.saved_model.load(str(tmp_path / "export" / "discriminator"))
    assert int(d.step.numpy()) == 2
    assert (tmp_path / "export" / "generator" / "saved_model.pb").exists()
    assert any("export" in line and "generator" in line for line in lines)


def test_export_gan_exports_a_live_gan_without_a_model_dir(tmp_path):
    from tests.helpers import tiny_gan

    gan = tiny_gan(ch=4)
    paths = export.export_gan(gan, str(tmp_path / "fitted"))
    info = json.loads((Path(paths["generator"]) / "assets" / "ssgan_tf_info.json").read_text())
    assert (info["architecture"], info["step"], info["checkpoint"]) == ("sndcgan", 0, None)
    z = tf.random.stateless_uniform([2, 16], [5, 6], -1, 1)
    np.testing.assert_allclose(tf.saved_model.load(paths["generator"])(z), gan(z), atol=1e-6)
    with pytest.raises(export.ExportError):  # an existing export is never replaced silently
        export.export_gan(gan, str(tmp_path / "fitted"))
