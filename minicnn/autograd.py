"""The define-by-run core: ``Tensor``, ``Function``, the backward pass, ``no_grad`` and ``gradcheck``.

A ``Tensor`` wraps one raw array (``tensor.array``, NumPy or CuPy). Every differentiable operation is a
``Function`` whose ``forward`` and ``backward`` work on raw arrays, side by side. Calling
``SomeFunction.apply(*tensors)`` runs ``forward`` and, when a gradient will be needed, records a node in
the graph: the ``ctx`` object, which remembers the inputs and what ``forward`` saved. ``loss.backward()``
walks those nodes in topological order (an explicit loop, no recursion) and hands each node the
gradient of its outputs.
"""

from __future__ import annotations

import functools
import weakref
from collections import namedtuple

import numpy as np

from . import backend
from .backend import get_array_module

# ---------------------------------------------------------------- grad mode

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


class _GradMode:
    """Sets grad mode while active: ``with no_grad():`` or ``@no_grad()`` (the mode before is restored)."""

    mode = True

    def __enter__(self):
        global _grad_enabled
        self.previous = _grad_enabled  # read on entry, so a context made earlier still restores correctly
        _grad_enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self.previous
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with enable_grad() if mode else no_grad():
                return function(*args, **kwargs)

        return run_in_mode


class no_grad(_GradMode):
    """Context manager and decorator that records no graph (evaluation, optimizer steps).

    ``@no_grad()`` and bare ``@no_grad`` both work.
    """

    mode = False

    def __new__(cls, function=None):
        instance = super().__new__(cls)
        return instance(function) if callable(function) else instance  # bare decorator: wrap at once

    def __init__(self, function=None):
        pass


class enable_grad(no_grad):
    """Context manager and decorator that records the graph even inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` switches recording off at once; as a context manager or decorator it
    switches it only inside, as in PyTorch."""

    def __init__(self, mode: bool = True):
        global _grad_enabled
        self.mode = bool(mode)
        self.previous = _grad_enabled
        _grad_enabled = self.mode  # the plain call takes effect immediately

    def __call__(self, function):
        global _grad_enabled
        _grad_enabled = self.previous  # used as a decorator: undo the immediate switch
        return super().__call__(function)


# ---------------------------------------------------------------- dtypes

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")


def as_dtype(dtype):
    """Turn ``minicnn.float32``, ``'float32'``, ``np.float32`` or ``torch.float32`` into a NumPy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    text = str(dtype)
    if text.startswith("torch."):  # ported code may pass PyTorch's dtype objects
        text = {"torch.long": "int64", "torch.float": "float32", "torch.double": "float64"}.get(text, text[6:])
    try:
        return np.dtype(dtype if not text.startswith(("int", "float", "uint", "bool")) else text)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def _default_array(data, dtype=None):
    """Convert Python data or an array-like to a NumPy array with PyTorch's default dtypes."""
    array = np.asarray(data)
    if dtype is not None:
        return array.astype(as_dtype(dtype), copy=False)
    is_numpy_input = isinstance(data, (np.ndarray, np.generic))
    if array.dtype == np.float64 and not is_numpy_input:
        array = array.astype(np.float32)  # Python floats default to float32, as in PyTorch
    elif array.dtype.kind in "iu" and not is_numpy_input:
        array = array.astype(np.int64)
    elif array.dtype.kind not in "fiub":
        raise TypeError(f"tensor: cannot make a tensor from data of type {array.dtype} ({type(data).__name__})")
    return array


def _is_array(data) -> bool:
    return isinstance(data, np.ndarray) or (backend.cupy is not None and isinstance(data, backend.cupy.ndarray))


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


# ---------------------------------------------------------------- Tensor


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back.

    Attributes:
        array: the raw NumPy or CuPy array holding the values.
        grad: the accumulated gradient (a Tensor) after ``backward()``; kept on leaves, and on non-leaves
            that called ``retain_grad()``.
        grad_fn: the graph node that produced this tensor (None for leaves).
        requires_grad: whether gradients should be computed for this tensor.
    """

    __array_ufunc__ = None  # make ``numpy_array * tensor`` call our ``__rmul__`` instead of NumPy's

    def __init__(self, *data, dtype=None, requires_grad: bool = False, device=None):
        # PyTorch's constructor: Tensor(2, 3) is a new (2, 3) float32 tensor (zeros here), Tensor([1, 2]) float32
        is_sizes = not data or all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in data)
        if is_sizes:
            data = np.zeros(tuple(int(d) for d in data) or (0,), dtype=as_dtype(dtype) or np.float32)
        elif len(data) > 1:
            raise TypeError(f"Tensor(): expected data or sizes, got {len(data)} arguments")
        else:
            data = data[0]
        if isinstance(data, Tensor):
            data = data.array
        if not _is_array(data):
            data = _default_array(data, dtype or (np.float32 if not isinstance(data, np.generic) else None))
        elif dtype is not None:
            data = data.astype(as_dtype(dtype), copy=False)
        if device is not None:
            data = backend.to_device(data, backend.device(device))
        self.array = data
        self.grad: Tensor | None = None
        self.grad_fn: Context | None = None
        self._output_index = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_op(cls, array, grad_fn, output_index):
        """Wrap an op's output array; the fast path Function.apply uses."""
        tensor = cls.__new__(cls)
        tensor.array = array
        tensor.grad = None
        tensor.grad_fn = grad_fn
        tensor._output_index = output_index
        tensor._requires_grad = grad_fn is not None
        return tensor

    # ------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use detach() to cut a non-leaf"
            )
        if flag and self.array.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.dtype}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    _retains_grad = False  # set by retain_grad() on a non-leaf (a class default: _from_op stays lean)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf whose ``.grad`` is kept by backward (after ``retain_grad()``); False on leaves."""
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()``; a no-op on a leaf.

        Backward passes an intermediate's gradient on and drops it; only leaves keep ``.grad``. Code written
        for PyTorch (Grad-CAM, for one) calls ``activation.retain_grad()`` and then reads ``activation.grad``.
        As on leaves, the gradients of several backward passes add up.
        """
        if not self._requires_grad:
            raise RuntimeError("retain_grad(): can't retain the gradient of a tensor that has requires_grad=False")
        if self.grad_fn is None:
            return  # a leaf keeps its gradient anyway
        self._retains_grad = True
        if self.grad_fn.retained_outputs is None:
            self.grad_fn.retained_outputs = {}
        # a weak reference: the graph must not keep the tensor alive (nor make a cycle through it)
        self.grad_fn.retained_outputs[self._output_index] = weakref.ref(self)

    @property
    def data(self) -> Tensor:
        """The same values as a tensor outside the graph (shares memory), as PyTorch's ``.data``."""
        return Tensor._from_op(self.array, None, 0)

    @data.setter
    def data(self, value):
        value = value.array if isinstance(value, Tensor) else value
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"data: cannot assign values of shape {tuple(value.shape)} to a tensor of shape {self.shape}"
            )
        self.array = value

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> backend.device:
        return backend.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        if dim is None:
            return self.array.shape
        return self.array.shape[_normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares memory on the CPU); refuses tensors that need a gradient."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return backend.to_device(self.array, backend.device("cpu"))

    def __array__(self, dtype=None, copy=None):
        array = backend.to_device(self.array, backend.device("cpu"))
        return array if dtype is None else array.astype(dtype)

    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python number, got shape {self.shape}"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        return backend.to_device(self.array, backend.device("cpu")).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; a no-op when nothing changes."""
        target_device, target_dtype = None, kwargs.pop("dtype", None)
        target_device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                target_device, target_dtype = arg.device, arg.dtype
            elif isinstance(arg, backend.device) or (isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda")):
                target_device = arg
            else:
                target_dtype = arg
        result = self
        if target_device is not None:
            result = ops.shape.to_device(result, backend.device(target_device))
        if target_dtype is not None:
            result = ops.elementwise.cast(result, as_dtype(target_dtype))
        return result

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        if isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device or "cuda")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type(self, dtype=None):
        """``t.type()`` names the type (``'minicnn.FloatTensor'``); ``t.type(minicnn.float)`` casts, as in PyTorch."""
        names = {
            "float32": "FloatTensor",
            "float64": "DoubleTensor",
            "float16": "HalfTensor",
            "int64": "LongTensor",
            "int32": "IntTensor",
            "uint8": "ByteTensor",
            "bool": "BoolTensor",
        }
        if dtype is None:
            return f"minicnn.{names.get(str(self.dtype), str(self.dtype))}"
        if isinstance(dtype, str) and dtype.endswith("Tensor"):  # 'torch.FloatTensor'
            dtype = {name: key for key, name in names.items()}[dtype.split(".")[-1]]
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def detach(self) -> Tensor:
        """The same values (shared memory) outside the graph."""
        return Tensor._from_op(self.array, None, 0)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (gradients flow back to the original)."""
        return ops.elementwise.clone(self)

    def contiguous(self) -> Tensor:
        return ops.shape.contiguous(self)

    # ------------------------------------------------------------ in place (outside the graph)
    def _check_inplace(self, name, other=None):
        """In-place changes happen outside the graph: refuse them where a gradient would be lost; else count
        the change (a saved copy of this memory is then refused by backward, see "versions" below)."""
        if _grad_enabled:
            self._refuse_lost_gradient(name, other)
        _bump_version(self.array)

    def _refuse_lost_gradient(self, name, other):
        if self.requires_grad:
            raise RuntimeError(
                f"{name}: a tensor that requires grad cannot be changed in place while the graph is recorded; "
                "wrap the update in `with minicnn.no_grad():`"
            )
        if isinstance(other, Tensor) and other.requires_grad:
            raise RuntimeError(
                f"{name}: the other operand requires grad, and an in-place change records no graph; "
                "write `x = x + y` (or the matching out-of-place op) instead"
            )

    def zero_(self) -> Tensor:
        self._check_inplace("zero_()")
        self.array[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_()")
        self.array[...] = value.item() if isinstance(value, Tensor) else value
        return self

    def copy_(self, source) -> Tensor:
        self._check_inplace("copy_()", source)
        source = source.array if isinstance(source, Tensor) else source
        self.array[...] = backend.to_device(
            get_array_module(self.array).asarray(source) if not _is_array(source) else source, self.device
        )
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        self._check_inplace("uniform_()")
        xp = get_array_module(self.array)
        self.array[...] = a + (b - a) * backend.random_uniform(xp, self.shape, self.dtype)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        self._check_inplace("normal_()")
        xp = get_array_module(self.array)
        self.array[...] = mean + std * backend.random_normal(xp, self.shape, self.dtype)
        return self

    def _inplace_arith(self, name, other, update):
        self._check_inplace(name, other)
        other = other.array if isinstance(other, Tensor) else other
        update(self.array, other)
        return self

    def add_(self, other, alpha=1):
        return self._inplace_arith("add_()", other, lambda a, b: a.__iadd__(b * alpha if alpha != 1 else b))

    def sub_(self, other, alpha=1):
        return self._inplace_arith("sub_()", other, lambda a, b: a.__isub__(b * alpha if alpha != 1 else b))

    def mul_(self, other):
        return self._inplace_arith("mul_()", other, lambda a, b: a.__imul__(b))

    def div_(self, other):
        return self._inplace_arith("div_()", other, lambda a, b: a.__itruediv__(b))

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_()")
        get_array_module(self.array).clip(self.array, min, max, out=self.array)
        return self

    def _augmented(self, name, other, out_of_place):
        """``x += y``: in place outside the graph; when a gradient must flow, a new node (``x = x + y``)."""
        other_requires_grad = isinstance(other, Tensor) and other.requires_grad
        if _grad_enabled and (self.requires_grad or other_requires_grad):
            if self.is_leaf and self.requires_grad:
                self._check_inplace(f"'{name}'")
            return out_of_place(self, other)
        other = other.array if isinstance(other, Tensor) else other
        getattr(self.array, name)(other)
        _bump_version(self.array)
        return self

    def __iadd__(self, other):
        return self._augmented("__iadd__", other, Tensor.__add__)

    def __isub__(self, other):
        return self._augmented("__isub__", other, Tensor.__sub__)

    def __imul__(self, other):
        return self._augmented("__imul__", other, Tensor.__mul__)

    def __itruediv__(self, other):
        return self._augmented("__itruediv__", other, Tensor.__truediv__)

    def __setitem__(self, index, value):
        value_requires_grad = isinstance(value, Tensor) and value.requires_grad
        if _grad_enabled and (self.requires_grad or value_requires_grad):
            if self.is_leaf and self.requires_grad:
                self._check_inplace("item assignment")
            # record the assignment as a node and make this tensor its output, as PyTorch does
            before = Tensor._from_op(self.array, self.grad_fn, self._output_index)
            before._requires_grad = self._requires_grad
            after = ops.shape.setitem(before, index, value)
            self.array, self.grad_fn, self._output_index = after.array, after.grad_fn, after._output_index
            self._requires_grad = True
            if self._retains_grad:  # keep the gradient of the value after the assignment, as PyTorch does
                del before.grad_fn.retained_outputs[before._output_index]
                self.retain_grad()
            return
        value = value.array if isinstance(value, Tensor) else value
        self.array[_raw_index(index)] = value
        _bump_version(self.array)

    # ------------------------------------------------------------ backward
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: d(loss)/d(self); may be omitted for a single-element tensor (it is 1).
            retain_graph: keep the graph so ``backward`` can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
        xp = get_array_module(self.array)
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    "backward(): grad can be implicitly created only for single-element outputs, "
                    f"got shape {self.shape}"
                )
            gradient = xp.ones(self.shape, dtype=self.dtype)
        else:
            gradient = gradient.array if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=self.dtype)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(): gradient has shape {gradient.shape}, the tensor has {self.shape}")
        run_backward(self, gradient, retain_graph)

    def register_hook(self, hook):
        raise NotImplementedError("tensor hooks are not supported; use Module.register_forward_hook")

    # ------------------------------------------------------------ repr
    def __repr__(self):
        return _tensor_repr(self)

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------ arithmetic (ops do the work)
    def __add__(self, other):
        return ops.elementwise.add(self, other)

    def __radd__(self, other):
        return ops.elementwise.add(other, self)

    def __sub__(self, other):
        return ops.elementwise.sub(self, other)

    def __rsub__(self, other):
        return ops.elementwise.sub(other, self)

    def __mul__(self, other):
        return ops.elementwise.mul(self, other)

    def __rmul__(self, other):
        return ops.elementwise.mul(other, self)

    def __truediv__(self, other):
        return ops.elementwise.div(self, other)

    def __rtruediv__(self, other):
        return ops.elementwise.div(other, self)

    def __pow__(self, exponent):
        return ops.elementwise.pow(self, exponent)

    def __rpow__(self, base):
        return ops.elementwise.pow(base, self)

    def __matmul__(self, other):
        return ops.matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul.matmul(other, self)

    def __neg__(self):
        return ops.elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, other):
        return ops.elementwise.compare(self, other, "floor_divide")

    def __mod__(self, other):
        return ops.elementwise.compare(self, other, "remainder")

    # comparisons give bool tensors outside the graph
    def __eq__(self, other):
        return ops.elementwise.compare(self, other, "equal")

    def __ne__(self, other):
        return ops.elementwise.compare(self, other, "not_equal")

    def __lt__(self, other):
        return ops.elementwise.compare(self, other, "less")

    def __le__(self, other):
        return ops.elementwise.compare(self, other, "less_equal")

    def __gt__(self, other):
        return ops.elementwise.compare(self, other, "greater")

    def __ge__(self, other):
        return ops.elementwise.compare(self, other, "greater_equal")

    def __invert__(self):
        if self.dtype != bool_:
            raise TypeError(f"~ is defined for bool tensors only, got {self.dtype}")
        return Tensor(~self.array)

    def __and__(self, other):
        return ops.elementwise.compare(self, other, "logical_and")

    def __or__(self, other):
        return ops.elementwise.compare(self, other, "logical_or")

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return ops.matmul.matmul(self, other)

    def mm(self, other):
        return ops.matmul.matmul(self, other)

    def exp(self):
        return ops.elementwise.exp(self)

    def log(self):
        return ops.elementwise.log(self)

    def sqrt(self):
        return ops.elementwise.sqrt(self)

    def abs(self):
        return ops.elementwise.abs(self)

    def pow(self, exponent):
        return ops.elementwise.pow(self, exponent)

    def square(self):
        return ops.elementwise.pow(self, 2)

    def clamp(self, min=None, max=None):
        return ops.elementwise.clamp(self, min, max)

    clip = clamp

    def relu(self):
        return ops.activation.relu(self)

    def sigmoid(self):
        return ops.activation.sigmoid(self)

    def tanh(self):
        return ops.activation.tanh(self)

    def softmax(self, dim):
        return ops.activation.softmax(self, dim)

    def log_softmax(self, dim):
        return ops.activation.log_softmax(self, dim)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        source = self if dtype is None else self.to(dtype)
        return ops.reduction.sum(source, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return ops.reduction.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return ops.reduction.var(self, dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
        return ops.reduction.var(self, dim, unbiased, keepdim, correction).sqrt()

    def max(self, dim=None, keepdim: bool = False):
        return ops.reduction.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        return ops.reduction.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim: bool = False):
        return ops.reduction.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim: bool = False):
        return ops.reduction.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False):
        return ops.reduction.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False):
        return ops.reduction.argmin(self, dim, keepdim)

    # ------------------------------------------------------------ shape
    def view(self, *shape):
        return ops.shape.reshape(self, *shape)

    def reshape(self, *shape):
        return ops.shape.reshape(self, *shape)

    def view_as(self, other):
        return ops.shape.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return ops.shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.shape.squeeze(self, dim)

    def unsqueeze(self, dim: int):
        return ops.shape.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int):
        return ops.shape.transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return ops.shape.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def T(self):
        return ops.shape.permute(self, tuple(reversed(range(self.ndim))))

    def permute(self, *dims):
        return ops.shape.permute(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def expand(self, *sizes):
        return ops.shape.expand(self, *sizes)

    def expand_as(self, other):
        return ops.shape.expand(self, other.shape)

    def gather(self, dim: int, index):
        return ops.shape.gather(self, dim, index)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """The k largest (or smallest) values along ``dim`` and their indices; gradients flow to the values."""
        dim = _normalize_dim(dim, self.ndim, "topk")
        if not 0 <= k <= self.shape[dim]:
            raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size {self.shape[dim]}")
        xp = get_array_module(self.array)
        order = xp.argsort(-self.array if largest else self.array, axis=dim, kind="stable")
        indices = Tensor(xp.take(order, xp.arange(k), axis=dim).astype(xp.int64))
        return MaxResult(self.gather(dim, indices), indices)  # argsort already gives sorted order

    def masked_fill(self, mask, value):
        """A copy with ``value`` where ``mask`` is True (gradients flow where it is False)."""
        return ops.elementwise.where(mask if isinstance(mask, Tensor) else Tensor(mask), value, self)

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along each dim (as ``torch.Tensor.repeat``)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: give at least {self.ndim} sizes for shape {self.shape}, got {sizes}")
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        # expand a new axis before each dim, then merge: (a, b) -> (r0, a, r1, b) -> (r0*a, r1*b)
        expanded_shape, merged_shape = [], []
        for repeat, size in zip(sizes, x.shape):
            expanded_shape += [repeat, size]
            merged_shape.append(repeat * size)
        interleaved = x.reshape([d for size in x.shape for d in (1, size)])
        return interleaved.expand(*expanded_shape).contiguous().reshape(merged_shape)

    def new_zeros(self, *size, dtype=None):
        return Tensor(
            get_array_module(self.array).zeros(
                ops.shape._shape_argument(size, "new_zeros"), dtype=as_dtype(dtype) or self.dtype
            )
        )

    def new_ones(self, *size, dtype=None):
        return Tensor(
            get_array_module(self.array).ones(
                ops.shape._shape_argument(size, "new_ones"), dtype=as_dtype(dtype) or self.dtype
            )
        )

    def split(self, split_size, dim: int = 0):
        from .utils.compat import split

        return split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        from .utils.compat import chunk

        return chunk(self, chunks, dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False):
        from .utils.compat import norm

        return norm(self, p, dim, keepdim)

    def __getitem__(self, index):
        return ops.shape.getitem(self, index)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))


# ---------------------------------------------------------------- helpers used by ops


def _normalize_dim(dim, ndim: int, op: str) -> int:
    """A dimension index in [0, ndim), accepting negatives; IndexError naming the op otherwise."""
    if isinstance(dim, Tensor):
        dim = int(dim)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return int(dim) % rank


def _raw_index(index):
    """Replace tensors inside an index by their arrays (NumPy and CuPy index with arrays)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index


# ---------------------------------------------------------------- Function and the graph


# ---------------------------------------------------------------- versions: arrays changed in place
#
# An op saves arrays for its backward, often its inputs themselves (Mul keeps both factors, batch norm its
# input). Changing such an input in place before backward would silently give wrong gradients, so, as in
# PyTorch, every in-place change counts a version of the memory it writes, forward notes the version of
# each input, and backward refuses to run on a saved array whose memory changed since. Views share the
# count: it is kept per memory owner, the array that every view's ``.base`` leads to.

_versions = {}  # id(memory owner) -> number of in-place changes; the entry goes when the owner is freed


def _memory_owner(array):
    """The array owning ``array``'s memory (itself, or the ``.base`` its views lead to; NumPy and CuPy)."""
    base = getattr(array, "base", None)
    while base is not None and _is_array(base):
        array, base = base, getattr(base, "base", None)
    return array


def _version(array) -> int:
    return _versions.get(id(_memory_owner(array)), 0)


def _bump_version(array) -> None:
    """Count an in-place change of ``array``'s memory (every view of that memory sees it)."""
    owner = _memory_owner(array)
    key = id(owner)
    if key not in _versions:
        try:  # forget the count when the owner is freed (its id may then be reused)
            weakref.finalize(owner, _versions.pop, key, None)
        except TypeError:  # an owner that takes no weak reference: not tracked
            return
    _versions[key] = _versions.get(key, 0) + 1


def _check_saved_inputs_unchanged(node) -> None:
    """Raise if an input of ``node`` was changed in place after forward saved (a view of) it."""
    for i, (x, version) in enumerate(zip(node.inputs, node.input_versions)):
        if not isinstance(x, Tensor) or _version(x.array) == version:
            continue
        xp = get_array_module(x.array)
        saved = [a for a in _arrays_in(vars(node).values()) if xp.may_share_memory(a, x.array)]
        if saved:
            raise RuntimeError(
                f"{node.name()}: input {i} of shape {x.shape} was changed in place (version {version} -> "
                f"{_version(x.array)}) after forward saved it for backward, so its gradient would be wrong. "
                "Change a copy instead (`x = x.clone()`), or make the change after backward()."
            )


def _arrays_in(values):
    """The arrays among ``values`` and inside the tuples and lists among them (what a forward saved)."""
    for value in values:
        if _is_array(value):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from _arrays_in(value)


class Context:
    """A node of the graph: what one call of a Function saved for its backward.

    ``ctx.save_for_backward(*arrays)`` keeps arrays; ``ctx.saved_tensors`` returns them; anything else a
    forward needs later it sets as an attribute (``ctx.stride = 2``). ``ctx.needs_input_grad[i]`` tells
    whether input ``i`` needs a gradient, so backward can skip work.
    """

    released = False
    retained_outputs = None  # {output index: weakref to the Tensor} for outputs that called retain_grad()

    def __init__(self, function):
        self.function = function
        self.inputs = ()
        self.input_versions = ()
        self.needs_input_grad = ()
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @property
    def saved_tensors(self):
        if self.released:
            raise RuntimeError(_SECOND_BACKWARD_MESSAGE.format(name=self.name()))
        return self.saved

    def name(self) -> str:
        return f"{self.function.__name__}Backward"

    def release(self):
        """Free what forward saved (after backward, unless retain_graph)."""
        function, output_meta = self.function, self.output_meta
        self.__dict__.clear()
        self.function, self.output_meta = function, output_meta
        self.inputs, self.input_versions = (), ()
        self.released = True

    @property
    def next_functions(self):
        """The nodes that produced this node's inputs (None for leaves and constants)."""
        return tuple((x.grad_fn if isinstance(x, Tensor) else None) for x in self.inputs)

    def __repr__(self):
        return f"<{self.name()}>"


_SECOND_BACKWARD_MESSAGE = (
    "{name}: trying to backward through the graph a second time, but its saved values were already freed. "
    "Pass retain_graph=True to the first backward() if you need to run backward twice."
)


class Function:
    """An operation with a forward and a backward on raw arrays.

    Subclasses write two static methods::

        class Mul(Function):
            @staticmethod
            def forward(ctx, a, b):          # raw arrays in, raw array(s) out
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, grad_out):     # one gradient per input (None where there is none)
                a, b = ctx.saved_tensors
                return grad_out * b, grad_out * a

    and call ``Mul.apply(x, y)`` with tensors (or Python scalars). Keyword arguments to ``apply`` are
    options passed to ``forward`` only (strides, dims); they get no gradient. A backward must not change
    the gradient arrays it is given: they may be shared with other nodes.
    """

    @staticmethod
    def forward(ctx, *arrays, **options):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        arrays = [x.array if isinstance(x, Tensor) else x for x in inputs]
        needs_input_grad = tuple(isinstance(x, Tensor) and x._requires_grad for x in inputs)
        record = _grad_enabled and any(needs_input_grad)
        ctx = Context(cls)
        ctx.needs_input_grad = needs_input_grad
        outputs = cls.forward(ctx, *arrays, **options)
        if isinstance(outputs, tuple):
            outputs = tuple(_as_output_array(out) for out in outputs)
        else:
            outputs = _as_output_array(outputs)
        if not record:
            if isinstance(outputs, tuple):
                return tuple(Tensor._from_op(out, None, 0) for out in outputs)
            return Tensor._from_op(outputs, None, 0)
        ctx.inputs = inputs
        ctx.input_versions = tuple(_version(x.array) if isinstance(x, Tensor) else None for x in inputs)
        if isinstance(outputs, tuple):
            ctx.output_meta = [(out.shape, out.dtype) for out in outputs]
            # integer outputs (indices) are not differentiable, so they get no grad_fn
            return tuple(
                Tensor._from_op(out, ctx if out.dtype.kind == "f" else None, i) for i, out in enumerate(outputs)
            )
        ctx.output_meta = [(outputs.shape, outputs.dtype)]
        return Tensor._from_op(outputs, ctx, 0)


def _as_output_array(value):
    """NumPy turns 0-d results into scalars (np.float32); make them 0-d arrays again."""
    return value if isinstance(value, np.ndarray) or _is_array(value) else np.asarray(value)


def _topological_order(root: Context) -> list:
    """Nodes reachable from ``root``, each before the nodes that produced its inputs (explicit stack)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for x in node.inputs:
            if isinstance(x, Tensor) and x.grad_fn is not None and x.grad_fn not in visited:
                stack.append((x.grad_fn, False))
    order.reverse()  # post-order reversed: consumers before producers
    return order


def run_backward(root: Tensor, root_grad, retain_graph: bool = False) -> None:
    """The backward pass: propagate ``root_grad`` to every leaf that requires grad."""

    def accumulate_into_leaf(leaf: Tensor, grad):
        if leaf.grad is None:
            # a copy: the array may still be on its way to other nodes, or be the caller's ``gradient``,
            # and ``.grad`` is changed in place later (accumulation, zero_grad)
            leaf.grad = Tensor._from_op(grad.copy(), None, 0)
        else:
            leaf.grad.array += grad

    if root.grad_fn is None:
        accumulate_into_leaf(root, root_grad)
        return
    # gradients waiting for each node, one slot per output of that node
    pending = {root.grad_fn: [None] * len(root.grad_fn.output_meta)}
    pending[root.grad_fn][root._output_index] = root_grad
    for node in _topological_order(root.grad_fn):
        if node.released:
            raise RuntimeError(_SECOND_BACKWARD_MESSAGE.format(name=node.name()))
        output_grads = pending.pop(node, None)
        if output_grads is None:
            continue
        if node.retained_outputs:  # non-leaf outputs that asked to keep their gradient (Tensor.retain_grad)
            for i, tensor_ref in node.retained_outputs.items():
                tensor = tensor_ref()
                if tensor is not None and output_grads[i] is not None:
                    accumulate_into_leaf(tensor, output_grads[i])
        for i, (shape, dtype) in enumerate(node.output_meta):
            if output_grads[i] is None:  # an output nobody used: its gradient is zero
                xp = get_array_module(*[g for g in output_grads if g is not None])
                output_grads[i] = xp.zeros(shape, dtype=dtype if dtype.kind == "f" else np.float32)
        _check_saved_inputs_unchanged(node)
        input_grads = node.function.backward(node, *output_grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(
                f"{node.name()}: backward returned {len(input_grads)} gradients for {len(node.inputs)} inputs"
            )
        for x, grad in zip(node.inputs, input_grads):
            if grad is None or not isinstance(x, Tensor) or not x._requires_grad:
                continue
            grad = _as_output_array(grad)
            if grad.shape != x.array.shape:
                raise RuntimeError(
                    f"{node.name()}: backward returned a gradient of shape {grad.shape} for an input of shape {x.shape}"
                )
            if grad.dtype != x.array.dtype:
                grad = grad.astype(x.array.dtype)
            if x.grad_fn is None:
                accumulate_into_leaf(x, grad)
            else:
                slots = pending.setdefault(x.grad_fn, [None] * len(x.grad_fn.output_meta))
                previous = slots[x._output_index]
                slots[x._output_index] = grad if previous is None else previous + grad
        if not retain_graph:
            node.release()


def Variable(tensor, requires_grad=None):
    """Old PyTorch's Variable wrapper: returns its argument (made a tensor), so ported code runs."""
    if not isinstance(tensor, Tensor):
        tensor = Tensor(tensor)
    if requires_grad is not None:
        tensor.requires_grad = requires_grad
    return tensor


# ---------------------------------------------------------------- gradient check


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare the backward of ``fn`` with central differences, in float64.

    For a random output weighting ``v`` the analytic vector-Jacobian product ``J^T v`` (one backward) is
    compared, element by element, with the numerical one ``(f(x + eps) - f(x - eps)) . v / (2 eps)``. A
    random ``v`` makes a wrong backward show up with probability 1, at the cost of one backward plus two
    forwards per input element.

    Args:
        fn: a function of the tensors in ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or tuple of tensors; those with ``requires_grad`` are checked (must be float64).
        eps, atol, rtol: step and tolerances; an element passes when ``|a - n| <= atol + rtol * |n|``.
        raise_exception: raise ``GradcheckError`` naming the input and worst element (else return False).

    Returns:
        True when every checked gradient matches.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 for a meaningful check")

    def outputs_of(args):
        out = fn(*args)
        return out if isinstance(out, tuple) else (out,)

    rng = np.random.default_rng(seed)
    outputs = [o for o in outputs_of(inputs) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    weights = [rng.standard_normal(o.shape) for o in outputs]

    def weighted_sum(outs):
        outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
        return sum(float((np.asarray(o.detach()) * w).sum()) for o, w in zip(outs, weights))

    # analytic J^T v: one backward through sum(output * v)
    for i in checked:
        inputs[i].grad = None
    objective = None
    for out, w in zip(outputs, weights):
        if out.requires_grad:
            term = (out * Tensor(get_array_module(out.array).asarray(w))).sum()
            objective = term if objective is None else objective + term
    if objective is not None:
        objective.backward()

    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad.detach(), dtype=np.float64)
        numerical = np.zeros(x.shape)
        x.array = get_array_module(x.array).ascontiguousarray(x.array)  # so the flat view below is a view
        flat_values = x.array.reshape(-1)  # a view: nudging it nudges x
        for k in range(flat_values.size):
            original = flat_values[k].item()
            flat_values[k] = original + eps
            with no_grad():
                plus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original - eps
            with no_grad():
                minus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original
            numerical.reshape(-1)[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
        if (error > 0).any() or not np.isfinite(analytic).all():
            worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(error), error, np.inf))), x.shape)
            message = (
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {tuple(map(int, worst))}: "
                f"analytic {analytic[worst]:.8g} vs numerical {numerical[worst]:.8g} "
                f"(atol={atol}, rtol={rtol}; {int((error > 0).sum())} of {error.size} elements off)"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


# ---------------------------------------------------------------- repr in PyTorch's style


def _format_floats(values: np.ndarray):
    """PyTorch's float formatting: integers as '1.', otherwise 4 decimals, scientific for wide ranges."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return lambda v: f"{v}"
    nonzero = finite[finite != 0]
    if np.all(finite == np.round(finite)) and (finite.max() < 1e8):
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    if nonzero.size and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8 or nonzero.min() < 1e-4):
        return lambda v: f"{v:.4e}" if np.isfinite(v) else f"{v}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else f"{v}"


def _tensor_repr(tensor: Tensor) -> str:
    values = np.asarray(backend.to_device(tensor.array, backend.device("cpu")))
    summarize = values.size > 1000
    if values.dtype.kind == "f":
        shown = values if not summarize else values.reshape(-1)[:1000]
        fmt = _format_floats(shown.astype(np.float64))
        width = max(len(fmt(v)) for v in shown.reshape(-1)) if shown.size else 0
        formatter = {"float_kind": lambda v: fmt(v).rjust(width)}
    elif values.dtype.kind == "b":
        formatter = {"bool": lambda v: str(bool(v)).rjust(5 if values.any() and not values.all() else 0)}
    else:
        width = max((len(str(v)) for v in values.reshape(-1)[:1000]), default=0)
        formatter = {"int": lambda v: str(v).rjust(width)}
    body = np.array2string(
        values,
        separator=", ",
        prefix="tensor(",
        formatter=formatter,
        threshold=1000,
        edgeitems=3,
        max_line_width=80,
    )
    extras = []
    if tensor.device.type == "cuda":
        extras.append(f"device='{tensor.device}'")
    if values.dtype not in (np.float32, np.int64, np.bool_) or (values.size == 0 and values.dtype != np.float32):
        extras.append(f"dtype=minicnn.{values.dtype}")
    if tensor.grad_fn is not None:
        extras.append(f"grad_fn={tensor.grad_fn!r}")
    elif tensor.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"


from . import ops  # noqa: E402  (the ops import Function and Tensor from this module)

__all__ = [
    "Tensor",
    "Function",
    "Context",
    "Variable",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "gradcheck",
    "GradcheckError",
    "run_backward",
]
