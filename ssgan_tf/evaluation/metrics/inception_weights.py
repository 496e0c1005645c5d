"""Load the FID Inception-v3 weights from a LOCAL file, in any of its three common forms.

Nothing is ever downloaded (evaluation must be reproducible offline); a
missing or unrecognised file raises an error that names the path, the accepted
formats and where to obtain them.  All formats are converted to one canonical
dict (see ``inception_spec``): ``<conv>.weight`` OIHW float32, ``<conv>.beta``,
``.mean``, ``.var`` and optionally ``.gamma``; plus ``softmax.weight``
[2048, 1008] / ``softmax.bias`` [1008] when the source has the final layer.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
import zipfile
from typing import Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from ssgan_tf.common.errors import SsganError
from ssgan_tf.evaluation.metrics import inception_spec as spec
from ssgan_tf.evaluation.metrics.hashing import file_sha256
from ssgan_tf.evaluation.metrics.torch_pickle import TorchPickleError, load_torch_state_dict

GRAPH_DEF_NAME = "classify_image_graph_def.pb"

FORMATS_HELP = (
    "Accepted formats: (1) this project's .npz "
    "(fid_inception_v3_2015_12_05_weights.npz, or one written by "
    "ssgan_tf.evaluation.metrics.save_inception_npz); (2) the TensorFlow frozen graph "
    f"{GRAPH_DEF_NAME}, or the inception-2015-12-05.tgz archive containing it "
    "(http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz, "
    "the file TTUR/TF-GAN use); (3) pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
    "(https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth; read without torch). Download one of them "
    "once and pass its local path: weights are never downloaded at run time."
)


@dataclasses.dataclass
class InceptionWeights:
    """Canonical tensors plus provenance (recorded next to every score)."""

    tensors: Dict[str, np.ndarray]
    source: str = "<memory>"
    format: str = "dict"
    sha256: str = ""

    @property
    def has_logits(self) -> bool:
        return spec.LOGITS_WEIGHT in self.tensors


class InceptionWeightsError(SsganError):
    """A weights file that is missing, of an unknown kind, or not the FID Inception network."""


def _fail(path: str, reason: str) -> InceptionWeightsError:
    return InceptionWeightsError(f"Cannot load FID Inception weights from '{path}': {reason}. {FORMATS_HELP}")


def validate_tensors(tensors: Mapping[str, np.ndarray], path: str = "<memory>") -> Dict[str, np.ndarray]:
    """Check names and shapes against the fixed architecture; return float32 copies."""
    expected = spec.expected_shapes()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise _fail(path, f"{len(missing)} of {len(expected)} expected tensors are missing "
                          f"(first: {', '.join(missing[:3])})")
    out: Dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        value = np.asarray(tensors[name])
        if tuple(value.shape) != shape:
            raise _fail(path, f"tensor {name} has shape {tuple(value.shape)}, expected {shape}")
        out[name] = value.astype(np.float32)
    for conv in spec.CONV_SPECS:
        gamma = tensors.get(f"{conv.name}.gamma")
        if gamma is not None:
            if tuple(np.shape(gamma)) != (conv.out_channels,):
                raise _fail(path, f"tensor {conv.name}.gamma has shape {np.shape(gamma)}")
            out[f"{conv.name}.gamma"] = np.asarray(gamma, dtype=np.float32)
    if spec.LOGITS_WEIGHT in tensors:
        w = np.asarray(tensors[spec.LOGITS_WEIGHT], dtype=np.float32)
        b = np.asarray(tensors.get(spec.LOGITS_BIAS, np.zeros(w.shape[-1])), dtype=np.float32)
        if w.shape != (spec.POOL3_DIM, spec.NUM_LOGITS) or b.shape != (spec.NUM_LOGITS,):
            raise _fail(path, f"logits layer has shapes {w.shape}/{b.shape}, expected "
                              f"({spec.POOL3_DIM}, {spec.NUM_LOGITS})/({spec.NUM_LOGITS},)")
        out[spec.LOGITS_WEIGHT], out[spec.LOGITS_BIAS] = w, b
    return out


# ----------------------------------------------------------------------------- npz
def _from_npz(path: str) -> Dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"not a readable .npz ({exc})") from None


# ----------------------------------------------------------------------------- TF graph
def _graph_def_tensors(data: bytes, path: str) -> Dict[str, np.ndarray]:
    """Map const nodes ``<tf_name>/conv2d_params`` etc. of the frozen graph to canonical names."""

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError
        raise _fail(path, f"not a TensorFlow GraphDef ({exc.__class__.__name__})") from None
    nodes = {node.name: node for node in graph_def.node}

    def const(name: str) -> Optional[np.ndarray]:
        node = nodes.get(name)
        if node is None or node.op != "Const":
            return None
        return tf.make_ndarray(node.attr["value"].tensor)

    out: Dict[str, np.ndarray] = {}
    for conv in spec.CONV_SPECS:
        kernel = const(f"{conv.tf_name}/conv2d_params")
        if kernel is None:
            raise _fail(path, f"graph has no const node {conv.tf_name}/conv2d_params")
        out[f"{conv.name}.weight"] = np.transpose(kernel, (3, 2, 0, 1))  # HWIO -> OIHW
        for ours, theirs in (("beta", "beta"), ("mean", "moving_mean"), ("var", "moving_variance")):
            value = const(f"{conv.tf_name}/batchnorm/{theirs}")
            if value is None:
                raise _fail(path, f"graph has no const node {conv.tf_name}/batchnorm/{theirs}")
            out[f"{conv.name}.{ours}"] = value
        bn_node = nodes.get(f"{conv.tf_name}/batchnorm")
        scale_after = True
        if bn_node is not None:
            if "variance_epsilon" in bn_node.attr:
                eps = bn_node.attr["variance_epsilon"].f
                if abs(eps - spec.BN_EPSILON) > 1e-9:
                    raise _fail(path, f"{conv.tf_name}/batchnorm has epsilon {eps}, expected {spec.BN_EPSILON}")
            if "scale_after_normalization" in bn_node.attr:
                scale_after = bn_node.attr["scale_after_normalization"].b
        gamma = const(f"{conv.tf_name}/batchnorm/gamma")
        if gamma is not None and scale_after:
            out[f"{conv.name}.gamma"] = gamma
    weights, biases = const("softmax/weights"), const("softmax/biases")
    if weights is not None:
        out[spec.LOGITS_WEIGHT] = weights
        out[spec.LOGITS_BIAS] = biases if biases is not None else np.zeros(weights.shape[-1], np.float32)
    return out


def _from_tgz(path: str) -> Dict[str, np.ndarray]:
    try:
        with tarfile.open(path, "r:*") as archive:
            member = next((m for m in archive.getmembers()
                           if os.path.basename(m.name) == GRAPH_DEF_NAME and m.isfile()), None)
            if member is None:
                raise _fail(path, f"the archive contains no {GRAPH_DEF_NAME}")
            data = archive.extractfile(member).read()
    except tarfile.TarError as exc:
        raise _fail(path, f"not a readable tar archive ({exc})") from None
    return _graph_def_tensors(data, path)


# ----------------------------------------------------------------------------- torch
def _from_pth(path: str) -> Dict[str, np.ndarray]:

    try:
        state = load_torch_state_dict(path)
    except (TorchPickleError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"not a readable torch state dict ({exc})") from None
    out: Dict[str, np.ndarray] = {}
    for conv in spec.CONV_SPECS:
        t = conv.torch_name
        pairs = (("weight", f"{t}.conv.weight"), ("beta", f"{t}.bn.bias"), ("mean", f"{t}.bn.running_mean"),
                 ("var", f"{t}.bn.running_var"), ("gamma", f"{t}.bn.weight"))
        for ours, theirs in pairs:
            if theirs in state:
                out[f"{conv.name}.{ours}"] = state[theirs]
            elif ours != "gamma":
                raise _fail(path, f"state dict has no tensor {theirs}")
    if "fc.weight" in state:
        out[spec.LOGITS_WEIGHT] = np.asarray(state["fc.weight"]).T  # [1008, 2048] -> [2048, 1008]
        out[spec.LOGITS_BIAS] = state.get("fc.bias", np.zeros(state["fc.weight"].shape[0], np.float32))
    return out


# ----------------------------------------------------------------------------- dispatch
def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


SUFFIXES = (("npz", (".npz",)), ("tf_graph_def", (".pb",)),
            ("tf_graph_def_tgz", (".tgz", ".tar.gz", ".tar")), ("torch_pth", (".pth", ".pt")))


def _starts_with_pickle(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def detect_format(path: str) -> str:
    """'npz' | 'tf_graph_def' | 'tf_graph_def_tgz' | 'torch_pth', from the file name's suffix.

    The name decides, never the content: a file whose content does not match its suffix is an
    error (an `.npz` that is really a pickle is refused, not handed to the torch reader)."""
    lower = path.lower()
    fmt = next((f for f, suffixes in SUFFIXES if lower.endswith(suffixes)), None)
    if fmt is None:
        raise _fail(path, "unrecognised file name suffix (expected .npz, .pb, .tgz / .tar.gz "
                          "or .pth / .pt)")
    if fmt == "npz" and not zipfile.is_zipfile(path):
        found = "a pickle stream" if _starts_with_pickle(path) else "not a zip archive"
        raise _fail(path, f"a .npz must be a NumPy zip archive, but this file is {found} "
                          "(pickles are never loaded from a .npz)")
    if fmt == "torch_pth" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if not any(n.endswith("data.pkl") for n in archive.namelist()):
                raise _fail(path, "a zip .pth must be a torch.save() archive "
                                  "(<prefix>/data.pkl + <prefix>/data/*)")
    return fmt


def load_inception_weights(path: "str | os.PathLike[str]") -> InceptionWeights:
    """Load and validate weights from a local .npz, .pb, .tgz or .pth file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"FID Inception weights file not found: '{path}'. {FORMATS_HELP}")
    fmt = detect_format(path)
    reader = {"npz": _from_npz, "tf_graph_def_tgz": _from_tgz, "torch_pth": _from_pth,
              "tf_graph_def": lambda p: _graph_def_tensors(_read_bytes(p), p)}[fmt]
    tensors = validate_tensors(reader(path), path)
    return InceptionWeights(tensors=tensors, source=path, format=fmt, sha256=file_sha256(path))


def save_inception_npz(weights: InceptionWeights, path: "str | os.PathLike[str]") -> None:
    """Write canonical weights (e.g. converted from a .pb/.pth) as this project's .npz."""
    buffer = io.BytesIO()
    np.savez(buffer, **weights.tensors)
    with open(os.fspath(path), "wb") as f:
        f.write(buffer.getvalue())
