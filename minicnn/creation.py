"""Making tensors: tensor, from_numpy, zeros, ones, full, empty, arange, rand, randn, randint, *_like."""

from __future__ import annotations

import numpy as np

from . import backend
from .dtypes import as_dtype, default_array, float32, int64, is_array
from .tensor import Tensor


def _shape(size, op, size_keyword=None):
    """Accept ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` and ``zeros(size=(2, 3))``.

    Args:
        size: the positional sizes; size_keyword: the ``size=`` keyword (a sequence), never both.
    """
    if size_keyword is not None:  # PyTorch's keyword form: one sequence of sizes
        if size:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        if not isinstance(size_keyword, (tuple, list)):
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, not {type(size_keyword).__name__}")
        size = (tuple(size_keyword),)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _place(array, dtype, device, requires_grad):
    """Cast, move and wrap a freshly made NumPy array."""
    if dtype is not None:
        array = array.astype(as_dtype(dtype), copy=False)
    if device is not None:
        array = backend.to_device(array, backend.device(device))
    return Tensor(array, requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (a list, number, NumPy/CuPy array or tensor).

    NumPy arrays keep their dtype; Python floats give float32 and Python ints int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data.array
    if is_array(data):
        array = data.astype(as_dtype(dtype) if dtype is not None else data.dtype, copy=True)
    else:
        array = default_array(data, dtype).copy()
    if device is not None:
        array = backend.to_device(array, backend.device(device))
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*sizes, size=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _place(np.zeros(_shape(sizes, "zeros", size), dtype=as_dtype(dtype) or float32), None, device, requires_grad)


def ones(*sizes, size=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _place(np.ones(_shape(sizes, "ones", size), dtype=as_dtype(dtype) or float32), None, device, requires_grad)


def empty(*sizes, size=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _place(np.empty(_shape(sizes, "empty", size), dtype=as_dtype(dtype) or float32), None, device, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    if dtype is None:  # PyTorch infers the dtype from the fill value
        dtype = np.bool_ if isinstance(fill_value, bool) else int64 if isinstance(fill_value, int) else float32
    shape = _shape((size,) if isinstance(size, (tuple, list)) else (size,), "full")
    return _place(np.full(shape, fill_value, dtype=as_dtype(dtype)), None, device, requires_grad)


def _like(x: Tensor, make, dtype, requires_grad, device):
    xp = backend.get_array_module(x.array)
    array = make(xp, x.shape, as_dtype(dtype) or x.dtype)
    if device is not None:
        array = backend.to_device(array, backend.device(device))
    return Tensor(array, requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _like(x, lambda xp, shape, dt: xp.zeros(shape, dtype=dt), dtype, requires_grad, device)


def ones_like(x: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _like(x, lambda xp, shape, dt: xp.ones(shape, dtype=dt), dtype, requires_grad, device)


def full_like(x: Tensor, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _like(x, lambda xp, shape, dt: xp.full(shape, fill_value, dtype=dt), dtype, requires_grad, device)


def empty_like(x: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _like(x, lambda xp, shape, dt: xp.empty(shape, dtype=dt), dtype, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; ints give int64, floats float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_integer = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if is_integer else float32
    return _place(
        np.arange(start, end, step, dtype=np.float64 if as_dtype(dtype).kind == "f" else None),
        dtype,
        device,
        requires_grad,
    )


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _place(np.linspace(start, end, steps), dtype or float32, device, requires_grad)


def rand(*sizes, size=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform numbers in [0, 1), drawn from the generator ``manual_seed`` sets."""
    array = backend.random_uniform(np, _shape(sizes, "rand", size), as_dtype(dtype) or float32)
    return _place(array, None, device, requires_grad)


def randn(*sizes, size=None, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal numbers, drawn from the generator ``manual_seed`` sets."""
    array = backend.random_normal(np, _shape(sizes, "randn", size), as_dtype(dtype) or float32)
    return _place(array, None, device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` and ``randint(low, high, size)`` as in PyTorch."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: size is required")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    array = backend.cpu_generator().integers(low, high, size=_shape((size,), "randint"), dtype=np.int64)
    return _place(array, dtype, device, False)


def randperm(n: int, dtype=None, device=None) -> Tensor:
    return _place(backend.cpu_generator().permutation(n).astype(np.int64), dtype, device, False)
