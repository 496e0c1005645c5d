"""Loaders for the three weight formats, on synthetic files with the real naming; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_formats import (
    write_evil_pth,
    write_graph_def,
    write_torch_legacy,
    write_torch_zip,
)

from ssgan_tf.evaluation.metrics import inception_spec as spec
from ssgan_tf.evaluation.metrics.inception_weights import (
    load_inception_weights,
    save_inception_npz,
    validate_tensors,
)
from ssgan_tf.evaluation.metrics.torch_pickle import TorchPickleError, load_torch_state_dict


def _graph_tensors(canonical, with_gamma=True):
    """Canonical dict -> classify_image_graph_def.pb const-node naming (HWIO kernels)."""
    out = {}
    for conv in spec.CONV_SPECS:
        out[f"{conv.tf_name}/conv2d_params"] = np.transpose(canonical[f"{conv.name}.weight"], (2, 3, 1, 0))
        out[f"{conv.tf_name}/batchnorm/beta"] = canonical[f"{conv.name}.beta"]
        out[f"{conv.tf_name}/batchnorm/moving_mean"] = canonical[f"{conv.name}.mean"]
        out[f"{conv.tf_name}/batchnorm/moving_variance"] = canonical[f"{conv.name}.var"]
        if with_gamma:
            out[f"{conv.tf_name}/batchnorm/gamma"] = canonical[f"{conv.name}.gamma"]
    out["softmax/weights"] = canonical[spec.LOGITS_WEIGHT]
    out["softmax/biases"] = canonical[spec.LOGITS_BIAS]
    return out


def _torch_state(canonical):
    """Canonical dict -> pytorch-fid state-dict naming."""
    state = {}
    for conv in spec.CONV_SPECS:
        t = conv.torch_name
        state[f"{t}.conv.weight"] = canonical[f"{conv.name}.weight"]
        state[f"{t}.bn.weight"] = canonical[f"{conv.name}.gamma"]
        state[f"{t}.bn.bias"] = canonical[f"{conv.name}.beta"]
        state[f"{t}.bn.running_mean"] = canonical[f"{conv.name}.mean"]
        state[f"{t}.bn.running_var"] = canonical[f"{conv.name}.var"]
        state[f"{t}.bn.num_batches_tracked"] = np.array(0, np.int64)
    state["fc.weight"] = np.ascontiguousarray(canonical[spec.LOGITS_WEIGHT].T)  # [1008, 2048]
    state["fc.bias"] = canonical[spec.LOGITS_BIAS]
    return state


def _assert_same(loaded, canonical, gamma=True):
    names = set(spec.expected_shapes()) | {spec.LOGITS_WEIGHT, spec.LOGITS_BIAS}
    if gamma:
        names |= {f"{c.name}.gamma" for c in spec.CONV_SPECS}
    assert set(loaded.tensors) == names
    for name in names:
        np.testing.assert_array_equal(loaded.tensors[name], canonical[name], err_msg=name)
    assert loaded.has_logits
    assert len(loaded.sha256) == 64


def test_spec_matches_layer_table_counts():
    assert len(spec.CONV_SPECS) == 94
    assert len(spec.expected_shapes()) == 376
    assert len({c.tf_name for c in spec.CONV_SPECS}) == len({c.torch_name for c in spec.CONV_SPECS}) == 94
    assert spec.CONV_BY_NAME["mixed_9.tower_1_mixed_conv_1"].tf_name == "mixed_9/tower_1/mixed/conv_1"
    assert spec.CONV_BY_NAME["mixed_9.tower_1_mixed_conv_1"].torch_name == "Mixed_7b.branch3x3dbl_3b"
    assert spec.CONV_BY_NAME["mixed_4.tower_1.conv_3"].torch_name == "Mixed_6b.branch7x7dbl_4"


def test_real_npz_has_exactly_the_expected_tensors(inception_npz):
    weights = load_inception_weights(inception_npz)
    assert set(weights.tensors) == set(spec.expected_shapes())
    assert weights.format == "npz" and not weights.has_logits
    assert weights.sha256.startswith("1e4c8cc47221a123")  # README's prefix


@pytest.mark.parametrize("tgz", [False, True], ids=["pb", "tgz"])
def test_graph_def_loader(tmp_path, random_weights, tgz):
    path = tmp_path / ("inception-2015-12-05.tgz" if tgz else "classify_image_graph_def.pb")
    write_graph_def(str(path), _graph_tensors(random_weights), tgz=tgz,
                    batchnorm_attrs={"variance_epsilon": 0.001, "scale_after_normalization": True})
    weights = load_inception_weights(path)
    assert weights.format == ("tf_graph_def_tgz" if tgz else "tf_graph_def")
    _assert_same(weights, random_weights)


def test_graph_def_ignores_gamma_when_op_does_not_scale(tmp_path, random_weights):
    path = tmp_path / "g.pb"
    write_graph_def(str(path), _graph_tensors(random_weights),
                    batchnorm_attrs={"variance_epsilon": 0.001, "scale_after_normalization": False})
    _assert_same(load_inception_weights(path), random_weights, gamma=False)


def test_graph_def_missing_node_and_wrong_epsilon(tmp_path, random_weights):
    tensors = _graph_tensors(random_weights)
    del tensors["mixed_7/tower_1/conv_2/batchnorm/moving_mean"]
    path = tmp_path / "broken.pb"
    write_graph_def(str(path), tensors)
    with pytest.raises(ValueError, match="mixed_7/tower_1/conv_2/batchnorm/moving_mean"):
        load_inception_weights(path)
    path2 = tmp_path / "eps.pb"
    write_graph_def(str(path2), _graph_tensors(random_weights), batchnorm_attrs={"variance_epsilon": 1e-5})
    with pytest.raises(ValueError, match="epsilon"):
        load_inception_weights(path2)


@pytest.mark.parametrize("writer", [write_torch_zip, write_torch_legacy], ids=["zip", "legacy"])
def test_pth_loader_without_torch(tmp_path, random_weights, writer):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    writer(str(path), _torch_state(random_weights))
    weights = load_inception_weights(path)
    assert weights.format == "torch_pth"
    _assert_same(weights, random_weights)


@pytest.mark.parametrize("writer", [write_torch_zip, write_torch_legacy], ids=["zip", "legacy"])
def test_torch_reader_strides_offsets_and_scalars(tmp_path, writer):
    rng = np.random.default_rng(1)
    state = {"a": rng.standard_normal((3, 5)).astype(np.float32),
             "b": rng.standard_normal((4,)).astype(np.float32),
             "c": rng.standard_normal((2, 3)).astype(np.float64),
             "t": rng.standard_normal((6, 2)).astype(np.float32),
             "n": np.array(7, np.int64)}
    path = tmp_path / "small.pth"
    writer(str(path), state, transposed="t", shared=("a", "b"))
    loaded = load_torch_state_dict(str(path))
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype, key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_torch_reader_refuses_arbitrary_globals(tmp_path):
    path = tmp_path / "evil.pth"
    write_evil_pth(str(path))
    with pytest.raises(TorchPickleError, match="refusing"):
        load_torch_state_dict(str(path))
    with pytest.raises(ValueError, match="evil.pth"):
        load_inception_weights(path)


def test_npz_roundtrip_and_validation(tmp_path, random_weights):
    weights = load_inception_weights(_write_npz(tmp_path / "w.npz", random_weights))
    out = tmp_path / "copy.npz"
    save_inception_npz(weights, out)
    _assert_same(load_inception_weights(out), random_weights)

    broken = dict(random_weights)
    broken["mixed_3.conv.weight"] = broken["mixed_3.conv.weight"][:, :10]
    with pytest.raises(ValueError, match=r"mixed_3\.conv\.weight has shape"):
        validate_tensors(broken, "x.npz")


def _write_npz(path, tensors):
    np.savez(path, **tensors)
    return path


def test_missing_file_error_names_path_and_formats(tmp_path):
    missing = tmp_path / "nowhere" / "weights.npz"
    with pytest.raises(FileNotFoundError) as info:
        load_inception_weights(missing)
    message = str(info.value)
    assert str(missing) in message
    for expected in ("classify_image_graph_def.pb", "inception-2015-12-05.tgz",
                     "pt_inception-2015-12-05-6726825d.pth", ".npz", "never downloaded"):
        assert expected in message


@pytest.mark.parametrize("name,content", [
    ("w.npz", b"this is not a zip"),
    ("w.pth", b"\x80\x02K\x01."),            # a pickle, but not a torch file
    ("w.pb", b"\xff\xff\xff garbage"),
    ("w.tgz", b"not a tarball"),
    ("w.bin", b"unknown"),
])
def test_wrong_files_raise_value_error_with_path(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_inception_weights(path)
    assert str(path) in str(info.value) and "Accepted formats" in str(info.value)


def test_npz_with_wrong_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="376 expected tensors are missing"):
        load_inception_weights(path)


def test_tgz_without_graph(tmp_path):
    import io
    import tarfile

    path = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("LICENSE")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(ValueError, match="contains no classify_image_graph_def.pb"):
        load_inception_weights(path)
