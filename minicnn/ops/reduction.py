"""Reductions: sum, mean, var, max/min (with indices), amax/amin, argmax/argmin.

A reduction's backward spreads the output gradient back over the reduced axes: ``expand_reduced``
puts the reduced axes back (size 1) so it broadcasts against the input.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, dim_aliases, normalize_dim
from .elementwise import maximum, minimum

MaxResult = namedtuple("max", ["values", "indices"])  # what x.max(dim) returns, as torch.return_types.max
MinResult = namedtuple("min", ["values", "indices"])


def reduced_axes(dim, ndim: int, op: str):
    """``dim`` (None, int, or tuple/list of ints) as a sorted tuple of non-negative axes."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(normalize_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: dim {tuple(dim)} names a dimension twice")
        return tuple(sorted(axes))
    return (normalize_dim(dim, ndim, op),)


def expand_reduced(grad, input_shape, axes, keepdim):
    """Reshape a reduction's gradient so it broadcasts over the input (reduced axes back as size 1)."""
    if not keepdim:
        kept_shape = [1 if i in axes else size for i, size in enumerate(input_shape)]
        grad = grad.reshape(kept_shape)
    return grad


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes=(), keepdim=False):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        grad = expand_reduced(grad, ctx.input_shape, ctx.axes, ctx.keepdim)
        return get_array_module(grad).broadcast_to(grad, ctx.input_shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes=(), keepdim=False):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = 1
        for axis in axes:
            ctx.count *= x.shape[axis]
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        grad = expand_reduced(grad, ctx.input_shape, ctx.axes, ctx.keepdim) / ctx.count
        return get_array_module(grad).broadcast_to(grad, ctx.input_shape)


class MaxAlongDim(Function):
    """Max (or min) along one dim, returning values and their indices; the gradient goes to the index."""

    @staticmethod
    def forward(ctx, x, dim=0, keepdim=False, smallest=False):
        xp = get_array_module(x)
        indices = (x.argmin if smallest else x.argmax)(axis=dim)
        indices = xp.expand_dims(indices, dim)
        values = xp.take_along_axis(x, indices, axis=dim)
        ctx.input_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        ctx.save_for_backward(indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values, indices.astype(xp.int64)

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        (indices,) = ctx.saved_tensors
        xp = get_array_module(grad_values)
        if not ctx.keepdim:
            grad_values = xp.expand_dims(grad_values, ctx.dim)
        # one-hot along dim: position == index of the max
        positions_shape = [1] * len(ctx.input_shape)
        positions_shape[ctx.dim] = ctx.input_shape[ctx.dim]
        positions = xp.arange(ctx.input_shape[ctx.dim]).reshape(positions_shape)
        return xp.where(positions == indices, grad_values, 0).astype(grad_values.dtype)


class MaxAll(Function):
    """amax/amin over some axes; ties share the gradient evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axes=(), keepdim=False, smallest=False):
        values = (x.min if smallest else x.max)(axis=axes, keepdims=True)
        ctx.save_for_backward(x == values)
        ctx.axes, ctx.keepdim, ctx.input_shape = axes, keepdim, x.shape
        return values if keepdim else values.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, grad):
        (is_extreme,) = ctx.saved_tensors
        grad = expand_reduced(grad, ctx.input_shape, ctx.axes, ctx.keepdim)
        ties = is_extreme.sum(axis=ctx.axes, keepdims=True)
        return (grad * is_extreme / ties).astype(grad.dtype)


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("sum", dim, keepdim, axis, keepdims)
    _check_tensor(x, "sum")
    if x.dtype.kind in "biu" and x.dtype != np.int64:  # integer and bool sums are int64, as in PyTorch
        x = x.to(np.int64)
    return Sum.apply(x, axes=reduced_axes(dim, x.ndim, "sum"), keepdim=keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("mean", dim, keepdim, axis, keepdims)
    _check_tensor(x, "mean")
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating point tensor, got {x.dtype} (use .float() first)")
    return Mean.apply(x, axes=reduced_axes(dim, x.ndim, "mean"), keepdim=keepdim)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None, *, axis=None, keepdims=None):
    """Variance with Bessel's correction by default (``correction=1``), as ``torch.var``."""
    dim, keepdim = dim_aliases("var", dim, keepdim, axis, keepdims)
    _check_tensor(x, "var")
    if unbiased is not None and correction is not None:
        raise ValueError("var: give either unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = reduced_axes(dim, x.ndim, "var")
    count = 1
    for axis in axes:
        count *= x.shape[axis]
    centered = x - mean(x, axes, keepdim=True)
    return sum(centered * centered, axes, keepdim) / builtins.max(count - correction, 0)


def _max_or_min(x, dim, keepdim, smallest):
    op = "min" if smallest else "max"
    _check_tensor(x, op)
    if isinstance(dim, Tensor):  # torch.max(a, b): elementwise maximum
        return (minimum if smallest else maximum)(x, dim)
    if dim is None:
        if x.numel() == 0:
            raise ValueError(f"{op}: the tensor is empty (shape {x.shape}); give a dim to reduce")
        return MaxAll.apply(x, axes=tuple(range(x.ndim)), keepdim=False, smallest=smallest)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be one int (use amax/amin for several dims), got {dim}")
    dim = normalize_dim(dim, x.ndim, op)
    if x.shape[dim] == 0:
        raise ValueError(f"{op}: cannot reduce over dimension {dim} of size 0 (shape {x.shape})")
    values, indices = MaxAlongDim.apply(x, dim=dim, keepdim=keepdim, smallest=smallest)
    return (MinResult if smallest else MaxResult)(values, indices)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("max", dim, keepdim, axis, keepdims)
    return _max_or_min(x, dim, keepdim, smallest=False)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("min", dim, keepdim, axis, keepdims)
    return _max_or_min(x, dim, keepdim, smallest=True)


def _check_not_empty(x, axes, op):
    """A max, min or arg-extreme over a dimension of size 0 has no value: refuse it, as PyTorch does."""
    for axis in axes:
        if x.shape[axis] == 0:
            raise ValueError(f"{op}: cannot reduce over dimension {axis} of size 0 (shape {x.shape})")


def amax(x, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("amax", dim, keepdim, axis, keepdims)
    _check_tensor(x, "amax")
    axes = reduced_axes(dim, x.ndim, "amax")
    _check_not_empty(x, axes, "amax")
    return MaxAll.apply(x, axes=axes, keepdim=keepdim, smallest=False)


def amin(x, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("amin", dim, keepdim, axis, keepdims)
    _check_tensor(x, "amin")
    axes = reduced_axes(dim, x.ndim, "amin")
    _check_not_empty(x, axes, "amin")
    return MaxAll.apply(x, axes=axes, keepdim=keepdim, smallest=True)


def _arg_extreme(x, dim, keepdim, smallest):
    op = "argmin" if smallest else "argmax"
    _check_tensor(x, op)
    xp = get_array_module(x.array)
    _check_not_empty(x, reduced_axes(dim, x.ndim, op), op)
    if dim is None:  # index into the flattened tensor
        flat = x.array.reshape(-1)
        index = flat.argmin() if smallest else flat.argmax()
        result = xp.asarray(index, dtype=xp.int64)
        return Tensor(result.reshape([1] * x.ndim) if keepdim else result)
    dim = normalize_dim(dim, x.ndim, op)
    indices = (x.array.argmin if smallest else x.array.argmax)(axis=dim)
    if keepdim:
        indices = xp.expand_dims(indices, dim)
    return Tensor(indices.astype(xp.int64))


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("argmax", dim, keepdim, axis, keepdims)
    return _arg_extreme(x, dim, keepdim, smallest=False)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_aliases("argmin", dim, keepdim, axis, keepdims)
    return _arg_extreme(x, dim, keepdim, smallest=True)


class PNorm(Function):
    """(sum |x|^p)^(1/p) over some axes, p > 0 finite; at a zero norm the gradient is 0, as in PyTorch.

    d/dx = sign(x) |x|^(p-1) / norm^(p-1): the chain rule through ``** (1/p)`` would give inf * 0 = NaN there.
    """

    @staticmethod
    def forward(ctx, x, p=2.0, axes=(), keepdim=False):
        xp = get_array_module(x)
        total = (xp.abs(x) ** p).sum(axis=axes, keepdims=True)
        norm = total ** (1.0 / p)
        ctx.save_for_backward(x, norm)
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        return norm if keepdim else norm.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved_tensors
        xp = get_array_module(grad)
        grad = expand_reduced(grad, x.shape, ctx.axes, ctx.keepdim)
        at_kink = (x == 0) | (norm == 0)  # PyTorch's subgradient there is 0
        # ones stand in at the kinks, so 0 ** (p - 1) (p < 1) and 0 / 0 never run; masked to 0 below
        safe_abs, safe_norm = xp.where(x == 0, 1, xp.abs(x)), xp.where(norm == 0, 1, norm)
        scaled = xp.where(at_kink, 0, xp.sign(x) * safe_abs ** (ctx.p - 1) / safe_norm ** (ctx.p - 1))
        return (grad * scaled).astype(grad.dtype)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """The p-norm of all elements (or along ``dim``): 'fro' and 2 give sqrt(sum x^2), 1 sum |x|, inf max |x|."""
    _check_tensor(input, "norm")
    if dtype is not None:
        input = input.to(dtype)
    if p == "fro":
        p = 2
    if p in (1, 1.0):
        return input.abs().sum(dim, keepdim)
    if p == float("inf"):
        return input.abs().amax(() if dim is None else dim, keepdim)
    if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0:
        return PNorm.apply(input, p=float(p), axes=reduced_axes(dim, input.ndim, "norm"), keepdim=keepdim)
    raise ValueError(f"norm: p must be 'fro', inf or a positive number, got {p!r}")
