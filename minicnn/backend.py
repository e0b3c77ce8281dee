"""Which array module a tensor lives in (NumPy on the CPU, CuPy on the GPU), devices and random numbers.

This is the only file that imports CuPy. Everything else asks ``get_array_module(array)`` for ``xp`` and
uses only what NumPy and CuPy share, so one code path serves both devices.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

try:  # CuPy is optional: ``pip install "minicnn[cuda]"``.
    import cupy
    import cupyx
except Exception:  # ImportError, or a CuPy that cannot find its CUDA libraries
    cupy = None
    cupyx = None


def _keep_freed_memory_for_reuse() -> None:
    """Ask the C allocator (glibc, on Linux) to keep freed memory for reuse instead of returning it.

    A training step allocates the same large arrays every time: activations, im2col columns, gradients.
    By default glibc serves blocks above 128 KiB (raised on the fly up to 32 MiB) with ``mmap`` and gives
    them back to the system when freed, and trims the heap once 64 MiB lie free at its top. Every step
    then gets fresh pages, which the kernel zeroes on first touch: filling a fresh 36 MiB array took
    5.4 ms instead of 2.5 ms, and steps ran 1.2-2x slower (benchmarks/RESULTS.md, "The allocator").
    Serving blocks up to 64 MiB from the heap and trimming it only beyond 512 MiB keeps that memory in
    the process, as PyTorch's caching allocator does on the GPU (Inception step 70 -> 57 ms); the price
    is that the process keeps up to 512 MiB of freed memory. Larger thresholds (1 GiB) made a process
    that had run big batches 1.7x slower on 224x224 images: huge blocks fragment the heap.

    Nothing is done where there is no glibc (macOS, Windows, musl), where the user set glibc's own
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables (their choice wins), or
    with ``MINICNN_KEEP_MEMORY=0`` (glibc's defaults, e.g. for a long-lived server process).
    """
    if os.environ.get("MINICNN_KEEP_MEMORY") == "0":
        return
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>
    mallopt(M_MMAP_THRESHOLD, 64 << 20)
    mallopt(M_TRIM_THRESHOLD, 512 << 20)


_keep_freed_memory_for_reuse()


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


def to_device(array, target: device):
    """Copy ``array`` to ``target`` (no copy when it is already there), keeping a channels-last memory order
    (PyTorch's ``.to()`` keeps the memory format too; CuPy and NumPy would copy into C order)."""
    channels_last = getattr(array, "ndim", 0) == 4 and array.transpose(0, 2, 3, 1).flags.c_contiguous
    if channels_last and not array.flags.c_contiguous:
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


def per_channel_total(x3, axis: int, other3=None):
    """The float64 total per channel of ``x3`` (or of ``x3 * other3``), for (N, C, L) or (N, L, C) channel
    views (``ops.layout.channel_view``; ``axis`` 1 or 2 names C).

    NumPy reduces badly over a few channels: ``x3.sum(axis=(0, 2))`` walks memory with a stride per channel
    and was 4-15x slower than this. Each run of L values times a ones vector is one BLAS matrix-vector
    product, and ``einsum`` multiplies and adds two arrays in one read of each (about twice as fast as
    writing ``x3 * other3`` out first). The N*C partial sums are then added in float64: summing all N*L
    values in float32 cost VGG's gradients three digits of accuracy (REFERENCE.md).
    CuPy runs a stack-by-vector matmul and einsum through general paths (~0.5 ms each on an H100) but a
    reduction in one kernel, accumulating in float64 as it goes: there the product is formed and reduced so.
    """
    xp = get_array_module(x3)
    if xp is not np:
        product = x3 if other3 is None else x3 * other3
        return product.sum(axis=(0, 3 - axis), dtype=xp.float64)
    if other3 is None:
        ones = np.ones(x3.shape[3 - axis], dtype=x3.dtype)  # one per value of the non-channel axis L
        row_totals = x3 @ ones if axis == 1 else ones @ x3  # (N, C) either way
    else:
        row_totals = np.einsum("ncl,ncl->nc" if axis == 1 else "nlc,nlc->nc", x3, other3)
    return row_totals.astype(np.float64).sum(axis=0)


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
