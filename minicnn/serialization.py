"""``save`` and ``load``: checkpoints in the safetensors format, written atomically, never pickled.

PyTorch's ``torch.save`` pickles, and unpickling a file runs whatever code its author put in it; the
allow-lists meant to stop that (``weights_only=True``, Keras' ``safe_mode``) have been bypassed several
times. minicnn therefore stores checkpoints as safetensors: an 8-byte header length, a JSON header
giving each array's dtype, shape and byte range, then the raw little-endian array bytes. Loading
one only ever parses JSON and copies bytes.

How a nested object becomes a safetensors file::

    {'model': {'conv.weight': T1, 'conv.bias': T2},        arrays       'model/conv.weight' -> T1
     'optimizer': {'state': {0: {'step': 3,                --------->   'model/conv.bias'   -> T2
                                 'exp_avg': T3}},                       'optimizer/state/0/exp_avg' -> T3
                   'param_groups': [{'lr': 0.01,
                                     'betas': (0.9, 0.999)}]},   header  __metadata__['minicnn.structure']:
     'epoch': 3}                                                        the same tree as JSON, each array
                                                                        replaced by {"tensor": "<its name>"}

Every array is stored under its path; everything else (the shape of the tree, numbers, strings, bools,
None, int versus str keys, tuples versus lists) is described by the JSON in ``__metadata__``, which
names each array explicitly, so keys containing '.' or '/' can never be confused. A flat dict of
arrays (a ``state_dict``) keeps its keys unchanged, so PyTorch's ``safetensors.torch.load_file``
reads it, and files written by ``safetensors.torch.save_file`` load here as flat dicts.

A CRC-32 over the structure and every array's name, dtype, shape and bytes is stored alongside, so a
damaged file (a flipped bit in the header or in the data) is refused instead of loaded wrong.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zlib
from collections import OrderedDict

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

# Keys minicnn writes into the safetensors ``__metadata__`` (a str -> str mapping).
_FORMAT_KEY = "minicnn.format"  # version of the layout below
_STRUCTURE_KEY = "minicnn.structure"  # the JSON tree
_CHECKSUM_KEY = "minicnn.crc32"  # CRC-32 of structure + arrays, 8 hex digits
_FORMAT_VERSION = "1"
_MAX_HEADER_BYTES = 100_000_000  # as safetensors: a longer header is refused before it is read

# safetensors dtype names -> NumPy dtypes (what ``safetensors.deserialize`` reports)
_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
    "C64": np.complex64,
}

# First bytes of files that are not safetensors, and what to tell the user about them.
_PICKLE_ADVICE = (
    "minicnn never unpickles, because loading a pickle runs code chosen by whoever wrote the file. "
    "If you trust the file, convert it in PyTorch: "
    "safetensors.torch.save_file(torch.load(path, weights_only=True), 'weights.safetensors')"
)
_FOREIGN_FORMATS = [
    (b"PK\x03\x04", "a zip archive, as torch.save writes (it holds a pickle). " + _PICKLE_ADVICE),
    (b"\x93NUMPY", "a NumPy .npy file; read it with numpy.load(path, allow_pickle=False)"),
    (b"\x89HDF", "an HDF5 file (Keras .h5), not a safetensors checkpoint"),
]


class CheckpointError(ValueError):
    """A file that is not a valid minicnn/safetensors checkpoint (corrupt, truncated, pickled, ...)."""


# ---------------------------------------------------------------- save


def save(obj, path) -> None:
    """Save tensors, arrays and plain Python values to ``path`` in the safetensors format, atomically.

    Args:
        obj: a tensor or array, a number, string, bool or None, or dicts / lists / tuples nesting these,
            e.g. ``{'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'epoch': 3}``.
            Dict keys may be str, int, float, bool or None and keep their type (an optimizer's
            ``state`` keys stay ints); tuples stay tuples. minicnn tensors, NumPy arrays, CuPy arrays
            (copied to the CPU) and PyTorch tensors are stored as arrays; NumPy scalars
            (``np.float32(1.5)``) are stored as Python numbers.
        path: a file name (str or ``os.PathLike``), or a binary file object opened for writing.

    The file is written to a temporary file in the same folder, flushed to disk, then renamed onto
    ``path``: a crash at any moment leaves either the old file or the new one, never a torn one. A
    save killed from outside (SIGKILL, power loss) may leave a ``.<name>.*.tmp`` file next to the
    target; ``load`` never reads it, and it can be deleted. A file object is written directly, with
    no such guarantee.

    Raises:
        TypeError: for a value that cannot be stored (a function, a set, an object array, ...),
            naming where in ``obj`` it is.
        ValueError: for a container that contains itself.
    """
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, [], arrays, active=set())
    structure_json = json.dumps(structure, separators=(",", ":"), allow_nan=False)
    metadata = {
        _FORMAT_KEY: _FORMAT_VERSION,
        _STRUCTURE_KEY: structure_json,
        _CHECKSUM_KEY: f"{_checksum(structure_json, arrays):08x}",
    }
    payload = _safetensors().numpy.save(arrays, metadata=metadata)
    if hasattr(path, "write"):
        path.write(payload)
        return
    _atomic_write(os.fspath(path), payload)


def _safetensors():
    """The safetensors package, imported when first needed (``import minicnn`` stays fast)."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as error:  # pragma: no cover - safetensors is a dependency of minicnn
        raise ImportError(
            "minicnn.save and minicnn.load need the safetensors package: pip install safetensors"
        ) from error
    return safetensors


def _encode(value, keys: list, arrays: dict, active: set):
    """``value`` as a JSON-able node; arrays go into ``arrays`` under a name made from ``keys`` (the path)."""
    where = "/".join(str(key) for key in keys) or "the top level"
    array = _as_cpu_array(value)
    if array is not None:
        name = _unique_name("/".join(str(key) for key in keys) or "tensor", arrays)
        arrays[name] = _storable(array, where)
        return {"tensor": name}
    if isinstance(value, np.generic):  # np.float32(1.5) and friends: store the Python number
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        # JSON has no inf or nan; tag them so the metadata stays strict JSON
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise ValueError(f"minicnn.save: the object at {where} contains itself")
        active.add(id(value))
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if isinstance(key, np.generic):
                    key = key.item()
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise TypeError(
                        f"minicnn.save: dict keys must be str, int, float, bool or None; "
                        f"got a {type(key).__name__} key at {where}"
                    )
                items.append([_encode(key, [], {}, set()), _encode(item, [*keys, key], arrays, active)])
            node = {"odict" if isinstance(value, OrderedDict) else "dict": items}
        else:
            encoded = [_encode(item, [*keys, i], arrays, active) for i, item in enumerate(value)]
            node = {"tuple" if isinstance(value, tuple) else "list": encoded}
        active.discard(id(value))
        return node
    raise TypeError(
        f"minicnn.save: cannot store a {type(value).__name__} (at {where}); checkpoints hold tensors, arrays, "
        "numbers, strings, bools, None, and dicts, lists and tuples of them"
    )


def _as_cpu_array(value):
    """A NumPy array for a tensor or array-like value (None for anything else)."""
    if isinstance(value, Tensor):
        return backend.to_device(value.array, backend.device("cpu"))
    if isinstance(value, np.ndarray):
        return value
    if backend.cupy is not None and isinstance(value, backend.cupy.ndarray):
        return backend.cupy.asnumpy(value)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor, without importing torch
        return value.detach().cpu().numpy()
    return None


def _storable(array: np.ndarray, where: str) -> np.ndarray:
    """``array`` as safetensors needs it: a supported dtype, little-endian, C-contiguous."""
    if array.dtype.newbyteorder("=").type not in set(_DTYPES.values()):
        raise TypeError(f"minicnn.save: arrays of dtype {array.dtype} cannot be stored (at {where})")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    # safetensors 0.8 writes a non-contiguous array scrambled (safetensors#825); 0-d arrays are always
    # contiguous (np.ascontiguousarray would turn them into shape (1,))
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _unique_name(name: str, taken: dict) -> str:
    """``name``, or ``name#1``, ``name#2``... when taken ('__metadata__' is reserved by safetensors)."""
    if name not in taken and name != "__metadata__":
        return name
    suffix = 1
    while f"{name}#{suffix}" in taken:
        suffix += 1
    return f"{name}#{suffix}"


def _checksum(structure_json: str, arrays: dict) -> int:
    """CRC-32 over the structure and each array's name, dtype, shape and bytes (in name order)."""
    crc = zlib.crc32(structure_json.encode())
    for name in sorted(arrays):
        array = arrays[name]
        crc = zlib.crc32(f"{name}|{array.dtype.name}|{array.shape}".encode(), crc)
        crc = zlib.crc32(array.reshape(-1).view(np.uint8), crc)  # the raw bytes, no copy
    return crc


def _atomic_write(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the new one, never a torn one."""
    folder = os.path.dirname(os.path.abspath(path))
    # mkstemp creates the file with mode 0600; give the result the mode a plain open() would have
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_current_umask()
    fd, temp_path = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(temp_path, mode)
        os.replace(temp_path, path)  # atomic on POSIX and Windows
    except BaseException:  # also KeyboardInterrupt: never leave a half-written temporary file behind
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)  # make the rename itself durable


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its rename is durable once it returns
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not support fsync on folders
    finally:
        os.close(fd)


# ---------------------------------------------------------------- load


def load(path, map_location=None, weights_only=None):
    """Load what ``save`` wrote (or any safetensors file) from ``path``.

    Arrays come back as minicnn tensors on the CPU (move them with ``.to(device)``, or let
    ``model.load_state_dict`` copy them to the model's device); everything else comes back as it was
    saved: dicts (OrderedDicts stay OrderedDicts), lists, tuples, ints, floats, strings, bools, None.
    A safetensors file written by another program (``safetensors.torch.save_file``) loads as a flat
    dict ``{name: tensor}``, ready for ``model.load_state_dict``. bfloat16 arrays become float32.

    The header is read and checked first (its length at most 100 MB, every dtype, shape and byte range
    consistent with the file's size), and a minicnn file's checksum is verified chunk by chunk before any
    array is allocated: refusing a bogus file costs a few MB, however large the file or its claims.

    Args:
        path: a file name (str or ``os.PathLike``), or a binary file object opened for reading.
        map_location, weights_only: accepted for code written for ``torch.load`` and ignored:
            loading is always CPU-side and always safe.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: (a ValueError) if the file is not a valid checkpoint: empty, truncated,
            damaged, a pickle or ``torch.save`` zip (refused, never unpickled), or another format.
    """
    if hasattr(path, "read"):
        name = getattr(path, "name", "<file object>")
        if not (hasattr(path, "seekable") and path.seekable()):
            path = io.BytesIO(path.read())  # a pipe or socket: nothing to seek in, so hold it in memory
        return _decode_file(path, str(name))
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(2, f"minicnn.load: no such checkpoint file: '{name}'", name)
    with open(name, "rb") as file:
        return _decode_file(file, name)


def _error(name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"minicnn.load: '{name}' is not a valid checkpoint: {problem}")


def _decode_file(file, name: str):
    """Read the checkpoint in ``file`` (a seekable binary file): header, checks, then each array."""
    start = file.tell()
    size = file.seek(0, os.SEEK_END) - start  # the bytes there really are, whatever the header claims
    file.seek(start)
    header_size, header = _read_header(file, size, name)
    data_start = start + 8 + header_size
    tensors = _check_entries(header, size - 8 - header_size, name)
    metadata = header.get("__metadata__") or {}
    ours = [key for key in (_FORMAT_KEY, _STRUCTURE_KEY, _CHECKSUM_KEY) if key in metadata]
    if ours and len(ours) < 3:  # minicnn always writes all three: one missing means a damaged header
        raise _error(name, "its minicnn metadata is incomplete (damaged header)")
    if ours and metadata[_FORMAT_KEY] != _FORMAT_VERSION:
        raise _error(name, f"unknown minicnn format version {metadata[_FORMAT_KEY]!r} (written by a newer minicnn?)")
    if ours:  # verify the checksum in small chunks, before allocating anything the size of the data
        crc = zlib.crc32(metadata[_STRUCTURE_KEY].encode())
        for tensor_name in sorted(tensors):
            dtype_name, shape, begin, end = tensors[tensor_name]
            dtype = np.dtype(np.float32 if dtype_name == "BF16" else _DTYPES[dtype_name])
            crc = zlib.crc32(f"{tensor_name}|{dtype.name}|{shape}".encode(), crc)
            file.seek(data_start + begin)
            for chunk in _chunks(file, end - begin, name):
                crc = zlib.crc32(_widen_bf16(chunk) if dtype_name == "BF16" else chunk, crc)
        if f"{crc:08x}" != metadata[_CHECKSUM_KEY]:
            raise _error(name, "checksum mismatch: the file was damaged after it was written")
    arrays = {}
    for tensor_name, (dtype_name, shape, begin, end) in tensors.items():
        file.seek(data_start + begin)
        arrays[tensor_name] = _read_array(file, dtype_name, shape, end - begin, name)
    if not ours:  # written by another program (PyTorch, NumPy): a flat dict of tensors
        return {tensor_name: Tensor(array) for tensor_name, array in arrays.items()}
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
        return _decode(structure, arrays)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
        raise _error(name, f"malformed structure metadata ({type(error).__name__}: {error})") from error


def _read_header(file, size: int, name: str) -> tuple[int, dict]:
    """The header's length and its JSON, after refusing what is plainly not safetensors by its first bytes."""
    first = file.read(16)
    if not first:
        raise _error(name, "the file is empty")
    header_size = int.from_bytes(first[:8], "little")
    looks_right = len(first) > 8 and header_size <= size - 8 and first[8:9] == b"{"
    # shaped like safetensors (whose 8-byte length may itself start with 0x80, like a pickle): parse it
    if not looks_right:
        if first[:1] == b"\x80" and first[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):  # pickle protocol 2-5
            raise _error(name, "it is a pickle (as written by pickle.dump or an old torch.save). " + _PICKLE_ADVICE)
        for magic, description in _FOREIGN_FORMATS:
            if first.startswith(magic):
                raise _error(name, f"it is {description}")
        if size < 8:
            raise _error(name, f"the file is only {size} bytes long (truncated?)")
        if header_size > size - 8:
            raise _error(name, f"its header claims {header_size} bytes but the file has only {size - 8} after it")
        raise _error(name, "its header is not JSON (not a safetensors file)")
    if header_size > _MAX_HEADER_BYTES:
        raise _error(name, f"its header claims {header_size} bytes, more than the {_MAX_HEADER_BYTES} allowed")
    file.seek(file.tell() - len(first) + 8)
    raw = file.read(header_size)
    if len(raw) != header_size:
        raise _error(name, "damaged or truncated safetensors data (the header ends early)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _error(name, f"damaged or truncated safetensors data (unreadable header: {error})") from error
    if not isinstance(header, dict):
        raise _error(name, "damaged or truncated safetensors data (the header is not a JSON object)")
    return header_size, header


def _check_entries(header: dict, data_size: int, name: str) -> dict:
    """``{tensor name: (dtype, shape, begin, end)}`` once every entry is checked against the others and the file.

    As safetensors requires: each dtype known, each shape a list of non-negative ints whose bytes equal its
    byte range, the ranges back to back from 0 with no gap or overlap, the last ending where the file ends.
    """
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _error(name, "damaged or truncated safetensors data (__metadata__ must map strings to strings)")
    tensors = {}
    for tensor_name, info in header.items():
        if tensor_name == "__metadata__":
            continue
        problem = _entry_problem(info)
        if problem:
            raise _error(name, f"damaged or truncated safetensors data (tensor '{tensor_name}': {problem})")
        if info["dtype"] not in _DTYPES and info["dtype"] != "BF16":
            raise _error(name, f"tensor '{tensor_name}' has dtype {info['dtype']}, which NumPy cannot hold")
        tensors[tensor_name] = (info["dtype"], tuple(info["shape"]), *info["data_offsets"])
    position = 0
    for tensor_name, (_, _, begin, end) in sorted(tensors.items(), key=lambda item: item[1][2:]):
        if begin != position:
            raise _error(
                name,
                f"damaged or truncated safetensors data (tensor '{tensor_name}' starts at byte "
                f"{begin}, expected {position}: a gap or an overlap)",
            )
        position = end
    if position != data_size:
        raise _error(
            name,
            f"damaged or truncated safetensors data (the tensors take {position} bytes, the file "
            f"holds {data_size} after its header)",
        )
    return tensors


def _entry_problem(info) -> str | None:
    """What is wrong with one header entry ``{'dtype', 'shape', 'data_offsets'}``, or None."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        return "expected exactly the keys dtype, shape and data_offsets"
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str):
        return "dtype is not a string"
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        return f"shape {shape!r} is not a list of non-negative integers"
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(n) is int and n >= 0 for n in offsets):
        return f"data_offsets {offsets!r} is not two non-negative integers"
    itemsize = 2 if dtype_name == "BF16" else np.dtype(_DTYPES[dtype_name]).itemsize if dtype_name in _DTYPES else 1
    if offsets[1] - offsets[0] != math.prod(shape) * itemsize:  # Python ints: no overflow, whatever the claim
        return f"shape {shape} of {dtype_name} does not fill its byte range {offsets}"
    return None


def _chunks(file, count: int, name: str, chunk_bytes: int = 1 << 20):
    """``count`` bytes of ``file`` in chunks of at most ``chunk_bytes`` (even, so bfloat16 pairs stay whole)."""
    while count > 0:
        chunk = file.read(min(count, chunk_bytes))
        if not chunk:
            raise _error(name, "damaged or truncated safetensors data (the file ended early)")
        count -= len(chunk)
        yield chunk


def _widen_bf16(raw: bytes) -> np.ndarray:
    """bfloat16 bytes as float32 values: a bfloat16 is the top half of a float32, so widening is exact."""
    return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)


def _read_array(file, dtype_name: str, shape: tuple, nbytes: int, name: str) -> np.ndarray:
    """One array of the checked header, read from ``file``'s current position into a new writable buffer."""
    buffer = bytearray(nbytes)
    if file.readinto(buffer) != nbytes:  # the file shrank since it was measured
        raise _error(name, "damaged or truncated safetensors data (the file ended early)")
    if dtype_name == "BF16":
        return _widen_bf16(buffer).reshape(shape)
    return np.frombuffer(buffer, dtype=np.dtype(_DTYPES[dtype_name]).newbyteorder("<")).reshape(shape)


def _decode(node, arrays: dict):
    """Rebuild the saved object from its JSON node (the inverse of ``_encode``)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"unexpected node {str(node)[:80]}")
    ((tag, content),) = node.items()
    if tag == "tensor":
        return Tensor(arrays[content])
    if tag == "float":
        return float(content)  # 'inf', '-inf' or 'nan'
    if tag in ("dict", "odict"):
        pairs = ((_decode(key, arrays), _decode(value, arrays)) for key, value in content)
        return OrderedDict(pairs) if tag == "odict" else dict(pairs)
    if tag == "list":
        return [_decode(item, arrays) for item in content]
    if tag == "tuple":
        return tuple(_decode(item, arrays) for item in content)
    raise ValueError(f"unknown node type {tag!r}")
