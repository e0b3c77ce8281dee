"""Tensor's operators and methods, each a line onto the op that does the work.

``tensor.py`` defines what a tensor is; this module, which sits above every op, gives it its methods
(``x + y`` is ``elementwise.add(x, y)``, ``x.sum()`` is ``reduction.sum(x)``), the way DeZero's
``setup_variable`` does: so no op module and no autograd module needs to import the ops they use.
"""

from __future__ import annotations

from ..backend import get_array_module
from ..dtypes import as_dtype, bool_
from ..tensor import Tensor, attach_methods, dim_aliases, normalize_dim, parse_to_arguments
from . import activation, elementwise, matmul, reduction
from . import shape as shape_ops  # (``shape`` is a parameter name below)


class TensorMethods:
    """The methods, written as methods of ``Tensor`` (they are copied onto it below)."""

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; a no-op when nothing changes."""
        target_device, target_dtype = parse_to_arguments(args, kwargs)
        result = self
        if target_device is not None:
            result = shape_ops.to_device(result, target_device)
        if target_dtype is not None:
            result = elementwise.cast(result, target_dtype)
        return result

    def clone(self) -> Tensor:
        """A copy that stays in the graph (gradients flow back to the original)."""
        return elementwise.clone(self)

    def contiguous(self) -> Tensor:
        return shape_ops.contiguous(self)

    # ------------------------------------------------------------ arithmetic (ops do the work)
    def __add__(self, other):
        return elementwise.add(self, other)

    def __radd__(self, other):
        return elementwise.add(other, self)

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.sub(other, self)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    def __rmul__(self, other):
        return elementwise.mul(other, self)

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.div(other, self)

    def __pow__(self, exponent):
        return elementwise.pow(self, exponent)

    def __rpow__(self, base):
        return elementwise.pow(base, self)

    def __matmul__(self, other):
        return matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return matmul.matmul(other, self)

    def __neg__(self):
        return elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, other):
        return elementwise.compare(self, other, "floor_divide")

    def __mod__(self, other):
        return elementwise.compare(self, other, "remainder")

    # comparisons give bool tensors outside the graph
    def __eq__(self, other):
        return elementwise.compare(self, other, "equal")

    def __ne__(self, other):
        return elementwise.compare(self, other, "not_equal")

    def __lt__(self, other):
        return elementwise.compare(self, other, "less")

    def __le__(self, other):
        return elementwise.compare(self, other, "less_equal")

    def __gt__(self, other):
        return elementwise.compare(self, other, "greater")

    def __ge__(self, other):
        return elementwise.compare(self, other, "greater_equal")

    def __invert__(self):
        if self.dtype != bool_:
            raise TypeError(f"~ is defined for bool tensors only, got {self.dtype}")
        return Tensor(~self.array)

    def __and__(self, other):
        return elementwise.compare(self, other, "logical_and")

    def __or__(self, other):
        return elementwise.compare(self, other, "logical_or")

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
        return matmul.matmul(self, other)

    def mm(self, other):
        return matmul.matmul(self, other)

    def exp(self):
        return elementwise.exp(self)

    def log(self):
        return elementwise.log(self)

    def sqrt(self):
        return elementwise.sqrt(self)

    def abs(self):
        return elementwise.abs(self)

    def pow(self, exponent):
        return elementwise.pow(self, exponent)

    def square(self):
        return elementwise.pow(self, 2)

    def clamp(self, min=None, max=None):
        return elementwise.clamp(self, min, max)

    clip = clamp

    def relu(self):
        return activation.relu(self)

    def sigmoid(self):
        return activation.sigmoid(self)

    def tanh(self):
        return activation.tanh(self)

    def softmax(self, dim=None, *, axis=None):
        return activation.softmax(self, dim_aliases("softmax", dim, False, axis)[0])

    def log_softmax(self, dim=None, *, axis=None):
        return activation.log_softmax(self, dim_aliases("log_softmax", dim, False, axis)[0])

    # ------------------------------------------------------------ reductions
    # each takes PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` (PyTorch accepts both)
    def sum(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None, keepdims=None):
        source = self if dtype is None else self.to(dtype)
        return reduction.sum(source, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
        return reduction.var(self, dim, unbiased, keepdim, correction, axis=axis, keepdims=keepdims)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
        return reduction.var(self, dim, unbiased, keepdim, correction, axis=axis, keepdims=keepdims).sqrt()

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=(), keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=(), keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        return reduction.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------ shape
    def view(self, *shape):
        return shape_ops.reshape(self, *shape)

    def reshape(self, *shape):
        return shape_ops.reshape(self, *shape)

    def view_as(self, other):
        return shape_ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return shape_ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None, *, axis=None):
        return shape_ops.squeeze(self, dim_aliases("squeeze", dim, False, axis)[0])

    def unsqueeze(self, dim: int | None = None, *, axis=None):
        dim = dim_aliases("unsqueeze", dim, False, axis)[0]
        if dim is None:
            raise TypeError("unsqueeze(): missing the dim argument")
        return shape_ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int):
        return shape_ops.transpose(self, dim0, dim1)

    def swapaxes(self, axis0: int, axis1: int):
        """NumPy's name for ``transpose(dim0, dim1)``."""
        return shape_ops.transpose(self, axis0, axis1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return shape_ops.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def T(self):
        return shape_ops.permute(self, tuple(reversed(range(self.ndim))))

    def permute(self, *dims):
        return shape_ops.permute(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def expand(self, *sizes):
        return shape_ops.expand(self, *sizes)

    def expand_as(self, other):
        return shape_ops.expand(self, other.shape)

    def gather(self, dim: int, index):
        return shape_ops.gather(self, dim, index)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """The k largest (or smallest) values along ``dim`` and their indices; gradients flow to the values."""
        dim = normalize_dim(dim, self.ndim, "topk")
        if not 0 <= k <= self.shape[dim]:
            raise ValueError(f"topk: k={k} is out of range for dimension {dim} of size {self.shape[dim]}")
        xp = get_array_module(self.array)
        order = xp.argsort(-self.array if largest else self.array, axis=dim, kind="stable")
        indices = Tensor(xp.take(order, xp.arange(k), axis=dim).astype(xp.int64))
        return reduction.MaxResult(self.gather(dim, indices), indices)  # argsort already gives sorted order

    def masked_fill(self, mask, value):
        """A copy with ``value`` where ``mask`` is True (gradients flow where it is False)."""
        return elementwise.where(mask if isinstance(mask, Tensor) else Tensor(mask), value, self)

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
                shape_ops._shape_argument(size, "new_zeros"), dtype=as_dtype(dtype) or self.dtype
            )
        )

    def new_ones(self, *size, dtype=None):
        return Tensor(
            get_array_module(self.array).ones(
                shape_ops._shape_argument(size, "new_ones"), dtype=as_dtype(dtype) or self.dtype
            )
        )

    def split(self, split_size, dim: int = 0):
        return shape_ops.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return shape_ops.chunk(self, chunks, dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False):
        return reduction.norm(self, p, dim, keepdim)

    def __getitem__(self, index):
        return shape_ops.getitem(self, index)


attach_methods(TensorMethods)
