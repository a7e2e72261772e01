"""NVlabs network pickles (`network-snapshot-*.pkl`) read as data; nothing in them is ever run.

Such a pickle is a dict (`G`, `D`, `G_ema`, `augment_pipe`, `training_set_kwargs`) whose networks
are `torch_utils.persistence` objects: each carries its class's source code, which NVlabs' loader
`exec`s. Here a restricted unpickler maps the few globals these files hold to inert stand-ins:
a persistent object becomes its class name, init kwargs and `__dict__` (the source is looked at
for its class names, never run), tensors are rebuilt from their storages (`torch.load` with
`weights_only=True`, sized first), numpy values are decoded by hand. Any other global is
refused with one line naming the file and the global.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

MAX_DEPTH = 64  # nesting of modules and of plain data


class NetworkPickleError(Exception):
    """A pickle refused or unreadable; the message names the file (one line)."""


@dataclass
class NetworkData:
    """One network of a pickle, as data: what it was built from and its tensors."""

    module: str  # e.g. "training.networks_stylegan2" (recognised from its source, never run)
    class_name: str  # e.g. "Generator"
    init_kwargs: dict[str, Any]  # plain data: numbers, strings, lists, dicts, None
    state: dict[str, torch.Tensor]  # every parameter and buffer under its state_dict() name
    init_args: list[Any] = field(default_factory=list)


@dataclass
class NetworkPickle:
    """A whole pickle: its networks, and its other top-level entries as plain data."""

    networks: dict[str, NetworkData]
    data: dict[str, Any]


def read_network_pickle(path: str | os.PathLike) -> dict[str, NetworkData]:
    """The networks of an NVlabs pickle by top-level name (`G`, `G_ema`, `D`, ...)."""
    return read_pickle(path).networks


def read_pickle(path: str | os.PathLike) -> NetworkPickle:
    """An NVlabs network pickle as data. NetworkPickleError (naming the file) when it is
    missing, truncated, not a pickle, TensorFlow-era, or holds anything but a network's data."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(0)
            if not head:
                raise NetworkPickleError("an empty file, not a network pickle")
            if head == b"PK\x03\x04":
                raise NetworkPickleError(
                    "a zip archive (a torch.save checkpoint?), not an NVlabs network pickle"
                )
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
                top = _Unpickler(f).load()
            return _split(top)
    except NetworkPickleError as e:
        raise NetworkPickleError(f"{path}: {e}") from None
    except FileNotFoundError:
        raise NetworkPickleError(f"{path}: network pickle not found") from None
    except OSError as e:
        raise NetworkPickleError(f"{path}: cannot read it: {e.strerror or e}") from None
    except Exception as e:  # pickle raises UnpicklingError, EOFError, ValueError, KeyError...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NetworkPickleError(
            f"{path}: not a readable network pickle (truncated, corrupt or not a pickle): "
            f"{_short(first, 120)}"
        ) from None


# ---------------------------------------------------------------- the unpickler and its stand-ins


class _Unpickler(pickle.Unpickler):
    """Resolves only the globals an NVlabs network pickle holds, to inert stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module.startswith("dnnlib.tflib"):
            raise NetworkPickleError(
                f"a TensorFlow StyleGAN/StyleGAN2 pickle ('{_short(module)}.{_short(name)}'):"
                " convert it with NVlabs' legacy.py first (github.com/NVlabs/stylegan3, for"
                " StyleGAN2 and StyleGAN2-ADA networks: python legacy.py --source=IN.pkl"
                " --dest=OUT.pkl), then import OUT.pkl; nothing was run"
            )
        raise NetworkPickleError(
            f"refusing to load '{_short(module)}.{_short(name)}' (not a network's data;"
            " nothing was run)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise NetworkPickleError(
            "a persistent id in the pickle (a torch.save file?); NVlabs network pickles have"
            " none; nothing was run"
        )


class _Persistent:
    """A `torch_utils.persistence` object: class name, module (from its source) and __dict__."""

    def __init__(self, class_name: str, module: str, state: dict[str, Any]) -> None:
        self.class_name, self.module, self.state = class_name, module, state

    def __setstate__(self, state: Any) -> None:
        raise NetworkPickleError("a persistent object given a second state")


def _reconstruct_persistent_obj(meta: Any) -> _Persistent:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise NetworkPickleError("a persistent object of an unknown type")
    name, src, state = meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(name, str) or not isinstance(src, str):
        raise NetworkPickleError("a persistent object without class name or source")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise NetworkPickleError(f"persistent object {_short(name)}: its state is not a dict")
    return _Persistent(name, _module_of(src), state)


def _module_of(src: str) -> str:
    """Which NVlabs module a persistent class's source is, from the classes it defines."""
    classes = set(re.findall(r"^class\s+(\w+)", src, flags=re.MULTILINE))
    if "SynthesisInput" in classes:
        return "training.networks_stylegan3"
    if {"MappingNetwork", "SynthesisBlock"} <= classes:
        # stylegan3's copy of the StyleGAN2 networks has fused_modconv_default; the
        # stylegan2-ada-pytorch original (training/networks.py) does not
        ada = "fused_modconv_default" not in src
        return "training.networks" if ada else "training.networks_stylegan2"
    if "AugmentPipe" in classes:
        return "training.augment"
    return "unknown"


class _EasyDict(dict):
    """dnnlib.util.EasyDict as a plain dict."""


_STORAGE_BYTES = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
}


class _StorageSizes(pickle.Unpickler):
    """Reads one pickle of a legacy torch.save stream, adding up the bytes its storages claim
    (so a forged size is refused before torch allocates it)."""

    def __init__(self, f: io.BytesIO, sizes: list[int]) -> None:
        super().__init__(f)
        self.sizes = sizes

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_BYTES:
            return name
        raise NetworkPickleError(
            f"refusing to load '{_short(module)}.{_short(name)}' inside a stored tensor"
            " (nothing was run)"
        )

    def persistent_load(self, pid: Any) -> Any:
        ok = isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
        if not ok or pid[1] not in _STORAGE_BYTES or not isinstance(pid[4], int) or pid[4] < 0:
            raise NetworkPickleError("a stored tensor with a malformed storage record")
        self.sizes.append(pid[4] * _STORAGE_BYTES[pid[1]])
        return None


def _load_from_bytes(data: Any) -> Any:
    """torch.storage._load_from_bytes: a storage saved by torch.save (legacy format)."""
    if not isinstance(data, bytes):
        raise NetworkPickleError("a stored tensor that is not bytes")
    sizes: list[int] = []
    f = io.BytesIO(data)
    for _ in range(4):  # magic number, protocol version, system info, the storage itself
        _StorageSizes(f, sizes).load()
    if sum(sizes) > len(data):
        raise NetworkPickleError(
            f"a stored tensor claims {sum(sizes):,} bytes but holds {len(data):,}"
        )
    storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise NetworkPickleError("a stored tensor that is not a storage")
    return storage


def _rebuild_tensor_v2(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, torch.TypedStorage):
        raise NetworkPickleError("a tensor without a storage")
    shape_ok = isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
    numbers = [offset, *size, *stride] if shape_ok else []
    if not shape_ok or len(size) > 8 or not all(type(n) is int and n >= 0 for n in numbers):
        raise NetworkPickleError("a tensor with a malformed shape")
    end = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
    if 0 not in size and end > storage.size():  # set_ would grow the storage, not refuse
        raise NetworkPickleError(
            f"a tensor reaching past its storage ({end:,} > {storage.size():,})"
        )
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise NetworkPickleError("a parameter that is not a tensor")
    return data


def _rebuild_parameter_with_state(
    data: Any, requires_grad: Any, backward_hooks: Any, state: Any
) -> torch.Tensor:
    return _rebuild_parameter(data, requires_grad, backward_hooks)


# numpy values, decoded without numpy: dtype name → (torch dtype, struct format)
_NUMPY_TYPES = {
    "f8": (torch.float64, "d"),
    "f4": (torch.float32, "f"),
    "f2": (torch.float16, "e"),
    "i8": (torch.int64, "q"),
    "i4": (torch.int32, "i"),
    "i2": (torch.int16, "h"),
    "i1": (torch.int8, "b"),
    "u1": (torch.uint8, "B"),
    "b1": (torch.bool, "?"),
}


class _DType:
    """numpy.dtype for the plain number types only."""

    def __init__(self, name: Any, align: Any = False, copy: Any = False) -> None:
        if name not in _NUMPY_TYPES:
            raise NetworkPickleError(f"a numpy value of type {_short(str(name))!r}")
        self.name, self.order = name, "<"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", "|", "="):
            raise NetworkPickleError("a numpy value that is not little-endian")


def _scalar(dtype: Any, data: Any) -> Any:
    if not isinstance(dtype, _DType) or not isinstance(data, bytes):
        raise NetworkPickleError("a malformed numpy scalar")
    fmt = _NUMPY_TYPES[dtype.name][1]
    if len(data) != struct.calcsize(fmt):
        raise NetworkPickleError("a malformed numpy scalar")
    return struct.unpack("<" + fmt, data)[0]


class _Array:
    """numpy.ndarray: becomes a torch tensor when its state arrives."""

    def __init__(self) -> None:
        self.tensor: torch.Tensor | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise NetworkPickleError("a malformed numpy array")
        _, shape, dtype, fortran, raw = state
        self.tensor = _tensor_from_bytes(raw, dtype, shape, fortran)


def _reconstruct(subtype: Any, shape: Any, code: Any) -> _Array:
    if subtype is not _Array:
        raise NetworkPickleError("a numpy array of an unknown subtype")
    return _Array()


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> _Array:
    array = _Array()
    array.tensor = _tensor_from_bytes(buffer, dtype, shape, order == "F")
    return array


def _tensor_from_bytes(raw: Any, dtype: Any, shape: Any, fortran: Any) -> torch.Tensor:
    ok = isinstance(shape, tuple) and len(shape) <= 8
    if not ok or not all(type(n) is int and n >= 0 for n in shape):
        raise NetworkPickleError("a numpy array with a malformed shape")
    if not isinstance(dtype, _DType) or not isinstance(raw, (bytes, bytearray)):
        raise NetworkPickleError("a numpy array of objects (not a network's data)")
    torch_dtype = _NUMPY_TYPES[dtype.name][0]
    numel = 1
    for n in shape:
        numel *= n
    if numel * torch.empty((), dtype=torch_dtype).element_size() != len(raw):
        raise NetworkPickleError("a numpy array whose data does not fit its shape")
    if numel == 0:
        return torch.empty(shape, dtype=torch_dtype)
    flat = torch.frombuffer(bytearray(raw), dtype=torch_dtype)
    if fortran:
        return flat.reshape(shape[::-1]).permute(*reversed(range(len(shape)))).contiguous()
    return flat.reshape(shape)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("numpy", "dtype"): _DType,
    ("numpy", "ndarray"): _Array,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}
for _core in ("numpy.core", "numpy._core"):  # numpy 1 and numpy 2 names
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _frombuffer


# ---------------------------------------------------------------- from stand-ins to data


def _split(top: Any) -> NetworkPickle:
    if not isinstance(top, dict):
        raise NetworkPickleError(
            f"not an NVlabs network pickle (its top level is a {type(top).__name__}, not a dict)"
        )
    networks: dict[str, NetworkData] = {}
    data: dict[str, Any] = {}
    for key, value in top.items():
        if isinstance(value, _Persistent):
            networks[str(key)] = _network(value)
        else:
            data[str(key)] = _plain(value)
    if not networks:
        raise NetworkPickleError("no networks in this pickle")
    return NetworkPickle(networks, data)


def _network(obj: _Persistent) -> NetworkData:
    kwargs = _plain(obj.state.get("_init_kwargs", {}))
    args = _plain(obj.state.get("_init_args", []))
    if not isinstance(kwargs, dict) or not isinstance(args, list):
        raise NetworkPickleError(f"{_short(obj.class_name)}: malformed init arguments")
    state: dict[str, torch.Tensor] = {}
    _collect(obj, "", state, set(), 0)
    return NetworkData(obj.module, obj.class_name, kwargs, state, args)


def _collect(
    obj: _Persistent, prefix: str, out: dict[str, torch.Tensor], seen: set[int], depth: int
) -> None:
    """A module's parameters and buffers, then its submodules': state_dict() names and order."""
    if id(obj) in seen or depth > MAX_DEPTH:
        raise NetworkPickleError(f"module {_short(prefix)!r} repeats or nests too deep")
    seen.add(id(obj))
    d = obj.state
    skip = d.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        entries = d.get(kind) or {}
        if not isinstance(entries, dict):
            raise NetworkPickleError(f"module {_short(prefix)!r}: malformed {kind}")
        for name, tensor in entries.items():
            if tensor is None or (kind == "_buffers" and name in skip):
                continue
            if not isinstance(tensor, torch.Tensor) or not isinstance(name, str):
                raise NetworkPickleError(f"{_short(prefix + str(name))}: not a tensor")
            out[prefix + name] = tensor
    modules = d.get("_modules") or {}
    if not isinstance(modules, dict):
        raise NetworkPickleError(f"module {_short(prefix)!r}: malformed _modules")
    for name, sub in modules.items():
        if sub is None:
            continue
        if not isinstance(sub, _Persistent) or not isinstance(name, str):
            raise NetworkPickleError(f"{_short(prefix + str(name))}: not a network module")
        _collect(sub, f"{prefix}{name}.", out, seen, depth + 1)


def _plain(value: Any, depth: int = 0) -> Any:
    """Stand-ins → plain data: dicts, lists, numbers, strings, None (tensors → lists)."""
    if depth > MAX_DEPTH:
        raise NetworkPickleError("data nested too deep")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, _Array):
        return value.tensor.tolist() if value.tensor is not None else None
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, _DType):
        return value.name
    if isinstance(value, _Persistent):
        return _network(value)
    if isinstance(value, slice):
        return value
    raise NetworkPickleError(f"unexpected data of type {type(value).__name__}")


def _short(text: str, limit: int = 60) -> str:
    """A name from the file, for a message: printable and cut short (a sender controls it)."""
    text = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."
