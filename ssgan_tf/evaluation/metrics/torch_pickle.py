"""Read a PyTorch ``.pth`` state dict into numpy arrays WITHOUT importing torch.

Why: pytorch-fid ships the FID Inception weights as
``pt_inception-2015-12-05-6726825d.pth``; requiring torch just to read 22 M
floats would be a multi-GB dependency.  Two on-disk layouts exist:

* zip (torch >= 1.6): ``<prefix>/data.pkl`` is a protocol-2 pickle whose
  persistent ids ``('storage', StorageClass, key, location, numel)`` refer to
  raw little-endian buffers ``<prefix>/data/<key>``;
* legacy (older torch): a stream of pickles -- magic number, protocol
  version, system info, the object (same persistent ids, plus an optional view
  tuple), the list of storage keys -- followed by each storage as an int64
  element count and its raw bytes.

Only plain tensors, ``OrderedDict``/dict/list/tuple containers and the storage
types below are accepted; anything else in the pickle is refused (a .pth is
untrusted input: an ordinary ``pickle.load`` would execute arbitrary code).
Every pickle of the file -- the legacy header pickles (magic number, protocol,
system info, storage keys) included -- goes through a restricted unpickler:
the headers may hold plain data only (numbers, strings, lists, dicts), the
state dict only the globals in ``_ALLOWED_GLOBALS``.  A pickle can run code
only through a global it names (``find_class``) or a persistent id, and both
hooks refuse everything else, so loading a hostile file raises
``TorchPickleError`` before anything runs.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

import numpy as np

from ssgan_tf.common.errors import SsganError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: Dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "UntypedStorage": np.dtype("u1"),
}


class TorchPickleError(SsganError):
    """The file is not a torch state dict this reader understands."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co: only carries the dtype."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _StorageRef:
    """A storage (or a legacy view of one) whose bytes may be read later."""

    def __init__(self, key: str, dtype: np.dtype, offset: int = 0, numel: Optional[int] = None) -> None:
        self.key, self.dtype, self.offset, self.numel = key, dtype, offset, numel


class _TensorRef:
    """Arguments of ``_rebuild_tensor_v2``; materialised once storages are known."""

    def __init__(self, storage: _StorageRef, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, buffers: Dict[str, np.ndarray]) -> np.ndarray:
        flat = buffers[self.storage.key].view(self.storage.dtype)[self.storage.offset:]
        if not self.size:
            return np.array(flat[self.offset])  # 0-d array
        needed = self.offset + 1 + sum((s - 1) * st for s, st in zip(self.size, self.stride) if s > 0)
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=self.storage.dtype)
        if needed > flat.size:
            raise TorchPickleError(f"tensor of size {self.size} overruns its storage ({flat.size} elements)")
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(st * flat.itemsize for st in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise TorchPickleError("tensor without a storage")
    return _TensorRef(storage, int(storage_offset), size, stride)


def _rebuild_parameter(data, *unused):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _PlainDataUnpickler(pickle.Unpickler):
    """Restricted unpickler for the legacy header pickles: plain data only, no globals."""

    def find_class(self, module: str, name: str) -> Any:
        raise TorchPickleError(f"refusing to unpickle {module}.{name}: the header of a torch "
                               "file holds plain data only")

    def persistent_load(self, pid: Any) -> Any:
        raise TorchPickleError(f"unsupported persistent id {pid!r} in a torch file header")


def _unpickle(unpickler: pickle.Unpickler) -> Any:
    """`unpickler.load()`, any failure as a `TorchPickleError`."""
    try:
        return unpickler.load()
    except TorchPickleError:
        raise
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, EOFError, ValueError, ...
        raise TorchPickleError(f"not a torch file ({exc.__class__.__name__}: {exc})") from None


def _load_plain(f: BinaryIO) -> Any:
    """One header pickle of `f`, as plain data (numbers, strings, containers)."""
    return _unpickle(_PlainDataUnpickler(f))


class _StateDictUnpickler(pickle.Unpickler):
    """Restricted unpickler: tensors become ``_TensorRef`` placeholders."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self.storages: Dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchPickleError(
            f"refusing to unpickle {module}.{name}: only tensors and dicts of tensors are supported"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and len(pid) >= 5):
            raise TorchPickleError(f"unsupported persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise TorchPickleError(f"unsupported storage type {storage_type!r}")
        root = self.storages.setdefault(key, _StorageRef(key, storage_type.dtype, 0, numel))
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy (view_key, offset, view_size)
            return _StorageRef(key, storage_type.dtype, int(view[1]), int(view[2]))
        return root


def _materialize(obj: Any, buffers: Dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.materialize(buffers)
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _materialize(value, buffers)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v, buffers) for v in obj)
    return obj


def _load_zip(path: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise TorchPickleError("zip file has no '<prefix>/data.pkl': not a torch.save() archive")
        prefix = pkl[0][: -len("data.pkl")]
        unpickler = _StateDictUnpickler(io.BytesIO(archive.read(pkl[0])))
        obj = _unpickle(unpickler)
        buffers: Dict[str, np.ndarray] = {}
        for key, ref in unpickler.storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise TorchPickleError(f"storage {member} missing from the archive")
            buffers[key] = np.frombuffer(archive.read(member), dtype=np.uint8)
    return _materialize(obj, buffers)


def _load_legacy(path: str) -> Any:
    with open(path, "rb") as f:
        magic = _load_plain(f)
        if magic != _LEGACY_MAGIC:
            raise TorchPickleError("not a torch file (bad magic number)")
        protocol = _load_plain(f)
        if protocol != 1001:
            raise TorchPickleError(f"unsupported torch legacy protocol {protocol!r}")
        sys_info = _load_plain(f)
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise TorchPickleError("big-endian torch files are not supported")
        unpickler = _StateDictUnpickler(f)
        obj = _unpickle(unpickler)
        keys: List[str] = [str(k) for k in _load_plain(f)]
        buffers: Dict[str, np.ndarray] = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            ref = unpickler.storages.get(key)
            itemsize = ref.dtype.itemsize if ref is not None else 1
            data = f.read(numel * itemsize)
            if len(data) != numel * itemsize:
                raise TorchPickleError("truncated torch file")
            buffers[key] = np.frombuffer(data, dtype=np.uint8)
    return _materialize(obj, buffers)


def load_torch_state_dict(path: str) -> Dict[str, np.ndarray]:
    """Return ``{name: np.ndarray}`` from a ``torch.save``'d state dict (zip or legacy).

    Raises ``TorchPickleError`` (a ``ValueError``) for anything that is not a
    plain (possibly nested under ``"state_dict"``) dict of tensors.
    """
    obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise TorchPickleError(f"expected a state dict, found {type(obj).__name__}")
    out: Dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if isinstance(value, np.ndarray):
            out[str(key)[7:] if str(key).startswith("module.") else str(key)] = value
    return out
