"""Writers of small files in foreign formats (TF GraphDef, torch .pth zip and legacy) WITHOUT torch.

The .pth writers reproduce what ``torch.save`` emits (protocol-2 pickle of an
OrderedDict whose tensors reduce to ``torch._utils._rebuild_tensor_v2`` with
persistent ids for storages).  The pickle is produced with stand-in modules
under a private name that is then rewritten to ``torch`` in the GLOBAL opcodes
(protocol 2 has no frames or length-prefixed global names, so this is safe).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import sys
import tarfile
import types
import zipfile
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

_FAKE = "ssgan_fake_torch_mod"
_STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
                  np.dtype("int64"): "LongStorage", np.dtype("uint8"): "ByteStorage"}


def _fake_modules() -> Tuple[types.ModuleType, types.ModuleType]:
    if _FAKE in sys.modules:
        return sys.modules[_FAKE], sys.modules[_FAKE + "._utils"]
    torch_mod = types.ModuleType(_FAKE)
    utils_mod = types.ModuleType(_FAKE + "._utils")

    def _rebuild_tensor_v2(*args):  # never called: only referenced by name
        raise AssertionError("stand-in")

    _rebuild_tensor_v2.__module__ = utils_mod.__name__
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in list(_STORAGE_NAMES.values()) + ["Evil"]:
        cls = type(name, (), {"__module__": _FAKE})
        setattr(torch_mod, name, cls)
    sys.modules[_FAKE], sys.modules[_FAKE + "._utils"] = torch_mod, utils_mod
    return torch_mod, utils_mod


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, np.ascontiguousarray(data).reshape(-1)


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        _, utils_mod = _fake_modules()
        return (utils_mod._rebuild_tensor_v2,
                (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


def _strides(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


def _prepare(state: Mapping[str, np.ndarray], transposed: Optional[str] = None,
             shared: Optional[Tuple[str, str]] = None):
    """Wrap arrays as tensors with storages; optionally store one tensor transposed (non-contiguous
    strides) and two tensors in one storage at different offsets."""
    storages: List[_Storage] = []
    od = collections.OrderedDict()
    od._metadata = collections.OrderedDict({"": {"version": 1}})
    pending_shared = None
    for name, value in state.items():
        value = np.asarray(value)
        if shared and name == shared[0]:
            pending_shared = value
            continue
        if shared and name == shared[1]:
            first = pending_shared.reshape(-1)
            storage = _Storage(str(len(storages)), np.concatenate([first, value.reshape(-1)]))
            storages.append(storage)
            od[shared[0]] = _Tensor(storage, 0, pending_shared.shape, _strides(pending_shared.shape))
            od[name] = _Tensor(storage, first.size, value.shape, _strides(value.shape))
            continue
        if name == transposed and value.ndim == 2:
            storage = _Storage(str(len(storages)), np.ascontiguousarray(value.T))
            od[name] = _Tensor(storage, 0, value.shape, (1, value.shape[0]))
        else:
            storage = _Storage(str(len(storages)), value)
            od[name] = _Tensor(storage, 0, value.shape, _strides(value.shape))
        storages.append(storage)
    return od, storages


def _pickle(obj, legacy: bool) -> bytes:
    torch_mod, _ = _fake_modules()
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=2)

    def persistent_id(o):
        if isinstance(o, _Storage):
            cls = getattr(torch_mod, _STORAGE_NAMES[o.data.dtype])
            pid = ("storage", cls, o.key, "cpu", int(o.data.size))
            return pid + (None,) if legacy else pid
        return None

    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    return buffer.getvalue().replace(_FAKE.encode(), b"torch")


def write_torch_zip(path: str, state: Mapping[str, np.ndarray], **layout) -> None:
    """A ``torch.save`` zip archive (torch >= 1.6 layout)."""
    od, storages = _prepare(state, **layout)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", _pickle(od, legacy=False))
        archive.writestr("archive/byteorder", "little")
        for s in storages:
            archive.writestr(f"archive/data/{s.key}", s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
        archive.writestr("archive/version", "3\n")


def write_torch_legacy(path: str, state: Mapping[str, np.ndarray], **layout) -> None:
    """A pre-1.6 ``torch.save`` stream (magic, protocol, sys info, object, keys, raw storages)."""
    od, storages = _prepare(state, **layout)
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        f.write(_pickle(od, legacy=True))
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(struct.pack("<q", s.data.size))
            f.write(s.data.tobytes())


def write_evil_pth(path: str) -> None:
    """A zip .pth whose pickle references a non-tensor global (must be refused)."""
    torch_mod, _ = _fake_modules()
    payload = pickle.dumps({"x": torch_mod.Evil}, protocol=2).replace(_FAKE.encode(), b"torch")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)


def write_graph_def(path: str, tensors: Mapping[str, np.ndarray],
                    batchnorm_attrs: Optional[Dict[str, object]] = None, tgz: bool = False) -> None:
    """A frozen GraphDef with Const nodes named like classify_image_graph_def.pb.

    ``tensors`` maps node names to values; ``batchnorm_attrs`` (if given) adds a
    ``BatchNormWithGlobalNormalization`` node ``<prefix>/batchnorm`` with those
    attrs for every ``<prefix>/batchnorm/beta`` const.
    """
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    for name, value in tensors.items():
        node = graph_def.node.add()
        node.name, node.op = name, "Const"
        node.attr["dtype"].type = tf.float32.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value, np.float32)))
        if batchnorm_attrs is not None and name.endswith("/batchnorm/beta"):
            bn = graph_def.node.add()
            bn.name, bn.op = name[: -len("/beta")], "BatchNormWithGlobalNormalization"
            for key, attr in batchnorm_attrs.items():
                if isinstance(attr, bool):
                    bn.attr[key].b = attr
                else:
                    bn.attr[key].f = float(attr)
    data = graph_def.SerializeToString()
    if tgz:
        with tarfile.open(path, "w:gz", compresslevel=1) as archive:
            info = tarfile.TarInfo("classify_image_graph_def.pb")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    else:
        with open(path, "wb") as f:
            f.write(data)
