"""Which array module a tensor lives in (NumPy on the CPU, CuPy on the GPU), devices and random numbers.

This is the only file that imports CuPy. Everything else asks ``get_array_module(array)`` for ``xp`` and
uses only what NumPy and CuPy share, so one code path serves both devices.
"""

from __future__ import annotations

import numpy as np

try:  # CuPy is optional: ``pip install "minicnn[cuda]"``.
    import cupy
    import cupyx
except Exception:  # ImportError, or a CuPy that cannot find its CUDA libraries
    cupy = None
    cupyx = None


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy`` (the ``xp`` every op uses)."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


class device:
    """Where a tensor lives: ``device('cpu')``, ``device('cuda')``, ``device('cuda:1')`` or ``device(1)`` (a
    bare index names a GPU), as in PyTorch."""

    def __init__(self, spec: str | int | device = "cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        if isinstance(spec, int) and not isinstance(spec, bool):
            if spec < 0:
                raise ValueError(f"device: the index must not be negative, got {spec}")
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
        if number:
            if not number.isdigit():
                raise ValueError(f"device: bad device index in {spec!r}")
            index = int(number)
        self.type = kind
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        same_index = self.index == other.index or None in (self.index, other.index)
        return self.type == other.type and same_index

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


def device_of(array) -> device:
    """The device an array lives on."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return device("cuda", array.device.id)
    return device("cpu")


def is_channels_last(array) -> bool:
    """True when a 4-D array's memory is (N, H, W, C) ordered: moving C to the end gives a contiguous array
    (the fast kernels' memory order, ``ops/fast/layout.py``)."""
    return getattr(array, "ndim", 0) == 4 and array.transpose(0, 2, 3, 1).flags.c_contiguous


def to_device(array, target: device):
    """Copy ``array`` to ``target`` (no copy when it is already there), keeping a channels-last memory order
    (PyTorch's ``.to()`` keeps the memory format too; CuPy and NumPy would copy into C order)."""
    if is_channels_last(array) and not array.flags.c_contiguous:
        return to_device(array.transpose(0, 2, 3, 1), target).transpose(0, 3, 1, 2)
    if target.type == "cpu":
        if cupy is not None and isinstance(array, cupy.ndarray):
            return cupy.asnumpy(array)
        return array
    if cupy is None:
        raise RuntimeError(
            'CUDA is not available: CuPy is not installed (install it with `pip install "minicnn[cuda]"`)'
        )
    if not cuda_is_available():
        raise RuntimeError("CUDA is not available: CuPy is installed but sees no GPU")
    with cupy.cuda.Device(target.index or 0):
        return cupy.asarray(array)


def as_strided(array, shape, strides):
    """A read-only strided view of ``array`` (im2col and pooling build their windows with it)."""
    xp = get_array_module(array)
    if xp is np:
        return np.lib.stride_tricks.as_strided(array, shape=shape, strides=strides, writeable=False)
    return cupy.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` where repeated indices add up (``add.at``; CuPy before 13.x: ``scatter_add``)."""
    xp = get_array_module(target)
    if xp is np or hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:
        cupyx.scatter_add(target, index, values)


def synchronize(index: int | None = None) -> None:
    """Wait until GPU ``index`` (default 0) has finished all work queued so far (GPU calls return before
    they finish). Nothing to wait for without a GPU."""
    if cuda_is_available():
        with cupy.cuda.Device(index or 0):
            cupy.cuda.Device().synchronize()


# ---------------------------------------------------------------- random numbers
# One generator per array module; ``manual_seed`` resets both so runs repeat exactly.
_cpu_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed every random number minicnn draws (initialisation, dropout, shuffling), on CPU and GPU."""
    global _cpu_generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int, got {type(seed).__name__}")
    _cpu_generator = np.random.default_rng(int(seed))
    if cupy is not None and cuda_is_available():
        cupy.random.seed(int(seed))


def cpu_generator() -> np.random.Generator:
    """The NumPy generator behind minicnn's CPU random numbers."""
    return _cpu_generator


def random_uniform(xp, shape, dtype):
    """Uniform [0, 1) numbers of ``dtype`` drawn on the device of ``xp``."""
    if xp is np:
        draw_dtype = dtype if np.dtype(dtype) in (np.float32, np.float64) else np.float64
        return _cpu_generator.random(shape, dtype=draw_dtype).astype(dtype, copy=False)
    return cupy.random.random(shape, dtype=dtype)


def random_normal(xp, shape, dtype):
    """Standard normal numbers of ``dtype`` drawn on the device of ``xp``."""
    if xp is np:
        draw_dtype = dtype if np.dtype(dtype) in (np.float32, np.float64) else np.float64
        return _cpu_generator.standard_normal(shape, dtype=draw_dtype).astype(dtype, copy=False)
    return cupy.random.standard_normal(shape, dtype=dtype)
