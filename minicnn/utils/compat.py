"""PyTorch's other spellings, so code written for ``import torch`` runs on ``import minicnn as torch``.

Nothing here does new math: each name is a thin door onto an op minicnn already has (``torch.add`` is
``a + b``), or an honest answer about hardware (``torch.backends.mps.is_available()`` is False: minicnn
runs on NumPy or, through CuPy, on NVIDIA GPUs). ``minicnn/__init__.py`` re-exports all of it.
"""

from __future__ import annotations

import functools
import sys
import types

import numpy as np

from .. import backend, creation, cuda
from ..autograd.function import is_grad_enabled, set_grad_enabled
from ..dtypes import as_dtype, float32
from ..ops import matmul as _matmul
from ..ops import reduction as _reduction
from ..ops.reduction import norm
from ..ops.shape import chunk, split
from ..tensor import Size, Tensor

_PACKAGE = __name__.split(".")[0]  # "minicnn"


def _module(name: str, doc: str, **attributes) -> types.ModuleType:
    """A small namespace registered as a real module, so ``import minicnn.backends.cudnn as cudnn`` works."""
    module = types.ModuleType(f"{_PACKAGE}.{name}", doc)
    module.__dict__.update(attributes)
    sys.modules[module.__name__] = module
    return module


# ---------------------------------------------------------------- devices: minicnn.accelerator, minicnn.backends


def _accelerator_is_available() -> bool:
    """True when a GPU minicnn can use is there (CuPy installed and a CUDA device visible)."""
    return backend.cuda_is_available()


def _current_accelerator(check_available: bool = False):
    """``device('cuda')`` when CuPy is installed (and, with ``check_available``, sees a GPU); else None.

    As ``torch.accelerator.current_accelerator``: the device type this installation could use, so
    ``device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``
    picks the GPU when there is one and the CPU otherwise.
    """
    if backend.cupy is None or (check_available and not backend.cuda_is_available()):
        return None
    return backend.device("cuda")


accelerator = _module(
    "accelerator",
    "``minicnn.accelerator``: the GPU, if any (``torch.accelerator``). minicnn's only accelerator is CUDA via CuPy.",
    is_available=_accelerator_is_available,
    current_accelerator=_current_accelerator,
    device_count=cuda.device_count,
    synchronize=cuda.synchronize,
)


def _false() -> bool:
    return False


_cudnn = _module(
    "backends.cudnn",
    "``minicnn.backends.cudnn``: minicnn does not call cuDNN (its convolution is im2col + one matrix product), "
    "so ``is_available()`` is False; ``benchmark``, ``deterministic`` and ``enabled`` may be set and are ignored.",
    is_available=_false,
    enabled=True,
    benchmark=False,
    deterministic=False,
)
_mps = _module(
    "backends.mps",
    "``minicnn.backends.mps``: Apple-GPU (Metal) support. minicnn has none, so both answers are False.",
    is_available=_false,
    is_built=_false,
)
backends = _module("backends", "``minicnn.backends``: ``cudnn`` and ``mps``, as ``torch.backends``.")
backends.cudnn, backends.mps = _cudnn, _mps


# ---------------------------------------------------------------- grad mode and dtypes


class inference_mode(set_grad_enabled):
    """``torch.inference_mode()``: records no graph, like ``no_grad`` (a context manager and a decorator).

    ``inference_mode(False)`` leaves recording as it is. (PyTorch also marks the tensors made inside as
    unusable for autograd later; minicnn does not.)
    """

    def __init__(self, mode: bool = True):
        self.inference = bool(mode)  # unlike set_grad_enabled(False), making one switches nothing yet

    def __enter__(self):
        self.mode = is_grad_enabled() and not self.inference
        return super().__enter__()  # remembers the mode before, restored on exit

    def __call__(self, function):
        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with inference_mode(self.inference):
                return function(*args, **kwargs)

        return run_in_mode


def get_default_dtype():
    """float32: the dtype Python floats become (minicnn's default, fixed)."""
    return float32


def _typed_tensor(dtype, name):
    def make(*data):
        """``FloatTensor([1, 2])`` holds a copy of the data; ``FloatTensor(2, 3)`` is a new (2, 3) tensor."""
        if data and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in data):
            return creation.zeros(*data, dtype=dtype)  # PyTorch leaves it uninitialised; zeros are a safe choice
        if len(data) != 1:
            raise TypeError(f"{name}: expected sizes or one sequence of values, got {data!r}")
        return creation.tensor(data[0], dtype=dtype)

    make.__name__ = make.__qualname__ = name
    make.dtype = dtype  # so x.type(minicnn.FloatTensor) and x.to(minicnn.LongTensor) know what to cast to
    return make


FloatTensor = _typed_tensor(float32, "FloatTensor")
DoubleTensor = _typed_tensor(np.dtype("float64"), "DoubleTensor")
LongTensor = _typed_tensor(np.dtype("int64"), "LongTensor")
IntTensor = _typed_tensor(np.dtype("int32"), "IntTensor")
BoolTensor = _typed_tensor(np.dtype("bool"), "BoolTensor")
ByteTensor = _typed_tensor(np.dtype("uint8"), "ByteTensor")


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal random numbers: ``normal(mean_tensor, std)`` (one draw per element of the broadcast shape) or
    ``normal(0.0, 1.0, size=(2, 3))``. Drawn from ``manual_seed``'s generator; no gradient flows to mean or std.
    """
    if generator is not None:
        raise TypeError("normal: generator= is not supported; seed with minicnn.manual_seed")
    means = mean.array if isinstance(mean, Tensor) else np.asarray(mean, dtype=np.float32)
    stds = std.array if isinstance(std, Tensor) else np.asarray(std, dtype=np.float32)
    if size is None:
        if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
            raise TypeError("normal: give mean or std as a Tensor, or pass size= for two numbers")
        size = np.broadcast_shapes(means.shape, stds.shape)
    noise = creation.randn(*size, dtype=dtype if dtype is not None else means.dtype).array
    xp = backend.get_array_module(means, stds)
    noise = backend.to_device(noise, backend.device_of(means if xp is backend.get_array_module(means) else stds))
    values = xp.asarray(means, dtype=noise.dtype) + xp.asarray(stds, dtype=noise.dtype) * noise
    return creation.tensor(values, device=device, requires_grad=requires_grad)


# ---------------------------------------------------------------- functions that are Tensor methods or operators


def _check_tensor(x, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    _check_tensor(input, "add")
    return input + (other * alpha if alpha != 1 else other)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    _check_tensor(input, "sub")
    return input - (other * alpha if alpha != 1 else other)


def mul(input, other):
    return _check_tensor(input, "mul") * other


def div(input, other, *, rounding_mode=None):
    """input / other (true division); ``rounding_mode='floor'`` rounds down (no gradient, as in PyTorch)."""
    _check_tensor(input, "div")
    if rounding_mode is None:
        return input / other
    if rounding_mode == "floor":
        return input // other
    raise ValueError(f"div: rounding_mode must be None or 'floor', got {rounding_mode!r}")


def pow(input, exponent):  # noqa: A001  (PyTorch's name)
    """input ** exponent; either may be a number."""
    return input**exponent


def mm(input, mat2):
    """Matrix product of two 2-D tensors (``matmul`` also broadcasts batches)."""
    for name, x in (("input", input), ("mat2", mat2)):
        if _check_tensor(x, "mm").ndim != 2:
            raise ValueError(f"mm: {name} must be a matrix (2-D), got shape {x.shape}")
    return _matmul.matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product: (B, n, m) @ (B, m, p) -> (B, n, p)."""
    for name, x in (("input", input), ("mat2", mat2)):
        if _check_tensor(x, "bmm").ndim != 3:
            raise ValueError(f"bmm: {name} must be a batch of matrices (3-D), got shape {x.shape}")
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: batch sizes differ, input {input.shape} and mat2 {mat2.shape}")
    return _matmul.matmul(input, mat2)


def eq(input, other):
    return _check_tensor(input, "eq") == other


def ne(input, other):
    return _check_tensor(input, "ne") != other


def gt(input, other):
    return _check_tensor(input, "gt") > other


def ge(input, other):
    return _check_tensor(input, "ge") >= other


def lt(input, other):
    return _check_tensor(input, "lt") < other


def le(input, other):
    return _check_tensor(input, "le") <= other


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
    """Standard deviation, with Bessel's correction by default, as ``torch.std`` (``axis``/``keepdims`` too)."""
    return _check_tensor(input, "std").std(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)


def maximum(input, other):
    """Elementwise larger of two tensors."""
    return _reduction.max(_check_tensor(input, "maximum"), _check_tensor(other, "maximum"))


def minimum(input, other):
    """Elementwise smaller of two tensors."""
    return _reduction.min(_check_tensor(input, "minimum"), _check_tensor(other, "minimum"))


def _elementwise_test(name: str):
    def test(input):
        xp = backend.get_array_module(_check_tensor(input, name).array)
        return Tensor(getattr(xp, name)(input.array))

    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"A bool tensor: ``{name}`` of each element (no gradient)."
    return test


isnan, isinf, isfinite = _elementwise_test("isnan"), _elementwise_test("isinf"), _elementwise_test("isfinite")


def _rounding(name: str):
    def rounded(input):
        xp = backend.get_array_module(_check_tensor(input, name).array)
        return Tensor(getattr(xp, name)(input.array))

    rounded.__name__ = rounded.__qualname__ = name
    rounded.__doc__ = f"``{name}`` of each element; piecewise constant, so no gradient flows (PyTorch's is 0)."
    return rounded


round, sign, floor, ceil = _rounding("round"), _rounding("sign"), _rounding("floor"), _rounding("ceil")  # noqa: A001


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when |input - other| <= atol + rtol * |other| everywhere."""
    xp = backend.get_array_module(_check_tensor(input, "allclose").array)
    return bool(xp.allclose(input.array, _check_tensor(other, "allclose").array, rtol, atol, equal_nan))


def equal(input, other) -> bool:
    """True when both tensors have the same shape and the same values."""
    _check_tensor(input, "equal")
    _check_tensor(other, "equal")
    return input.shape == other.shape and bool((input.array == other.array).all())


def is_floating_point(input) -> bool:
    return as_dtype(_check_tensor(input, "is_floating_point").dtype).kind == "f"


__all__ = [
    "BoolTensor",
    "ByteTensor",
    "DoubleTensor",
    "FloatTensor",
    "IntTensor",
    "LongTensor",
    "Size",
    "accelerator",
    "add",
    "allclose",
    "backends",
    "bmm",
    "ceil",
    "chunk",
    "div",
    "eq",
    "equal",
    "floor",
    "ge",
    "get_default_dtype",
    "gt",
    "inference_mode",
    "is_floating_point",
    "isfinite",
    "isinf",
    "isnan",
    "le",
    "lt",
    "maximum",
    "minimum",
    "mm",
    "mul",
    "ne",
    "norm",
    "normal",
    "pow",
    "round",
    "sign",
    "split",
    "std",
    "sub",
]
