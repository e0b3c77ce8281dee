"""Elementwise arithmetic: + - * / ** and exp, log, sqrt, abs, clamp, where, casts.

Binary ops broadcast like NumPy; their backward sums the gradient back to each input's shape
(``sum_to_shape``), because a broadcast input was used once per copy.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..dtypes import as_dtype
from ..tensor import Tensor


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes where an input of ``shape`` was stretched."""
    if grad.shape == tuple(shape):
        return grad
    extra_dims = grad.ndim - len(shape)
    axes = tuple(range(extra_dims)) + tuple(
        extra_dims + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra_dims + i] != 1
    )
    grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _shape_of(value):
    return value.shape if hasattr(value, "shape") else ()


def broadcast_shape(shape_a, shape_b, op="broadcast"):
    """The shape NumPy's broadcasting gives (pure Python, so it serves NumPy and CuPy alike)."""
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    rank = max(len(shape_a), len(shape_b))
    padded_a, padded_b = (1,) * (rank - len(shape_a)) + shape_a, (1,) * (rank - len(shape_b)) + shape_b
    result = []
    for size_a, size_b in zip(padded_a, padded_b):
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(f"{op}: shapes {shape_a} and {shape_b} cannot be broadcast together")
        result.append(size_b if size_a == 1 else size_a)
    return tuple(result)


def _check_broadcast(op, a, b):
    """A ValueError naming the op and both shapes when they cannot broadcast."""
    broadcast_shape(_shape_of(a), _shape_of(b), op)


def _promote(a, b, true_division=False):
    """Bring two operands to PyTorch's result dtype (float beats int; the wider float wins).

    Python numbers stay Python numbers: NumPy then keeps the tensor's dtype (float32 * 0.5 is float32).
    """
    # NumPy scalars (np.float64(0.5), np.sqrt(4.0)) count as Python numbers: they must not upcast float32
    a = a.item() if isinstance(a, np.generic) else a
    b = b.item() if isinstance(b, np.generic) else b
    a_is_tensor, b_is_tensor = isinstance(a, Tensor), isinstance(b, Tensor)
    if not a_is_tensor and not isinstance(a, (int, float, bool)):
        a, a_is_tensor = Tensor(a), True
    if not b_is_tensor and not isinstance(b, (int, float, bool)):
        b, b_is_tensor = Tensor(b), True
    kinds = [x.dtype.kind if isinstance(x, Tensor) else ("f" if isinstance(x, float) else "i") for x in (a, b)]
    wants_float = true_division or "f" in kinds
    if a_is_tensor and b_is_tensor and a.dtype != b.dtype:
        same_category = (kinds[0] == "f") == (kinds[1] == "f")
        if same_category and (a.ndim == 0) != (b.ndim == 0):
            # a 0-d tensor is a number here: it takes the other operand's dtype, as in PyTorch
            a, b = (a.to(b.dtype), b) if a.ndim == 0 else (a, b.to(a.dtype))
        elif kinds[0] == "f" and kinds[1] != "f":
            b = b.to(a.dtype)
        elif kinds[1] == "f" and kinds[0] != "f":
            a = a.to(b.dtype)
        else:
            wider = get_array_module(a.array).promote_types(a.dtype, b.dtype)
            a, b = a.to(wider), b.to(wider)
    # an integer tensor meeting a float (or true division) becomes float32, PyTorch's default
    if wants_float:
        if a_is_tensor and a.dtype.kind != "f":
            a = a.to("float32")
        if b_is_tensor and b.dtype.kind != "f":
            b = b.to("float32")
    return a, b


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a + b

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        return sum_to_shape(grad, shape_a), sum_to_shape(grad, shape_b)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return a - b

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        return sum_to_shape(grad, shape_a), sum_to_shape(-grad, shape_b)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = sum_to_shape(grad * b, _shape_of(a)) if ctx.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad * a, _shape_of(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = sum_to_shape(grad / b, _shape_of(a)) if ctx.needs_input_grad[0] else None
        grad_b = sum_to_shape(-grad * a / (b * b), _shape_of(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """``base ** exponent``; either may be a Python number."""

    @staticmethod
    def forward(ctx, base, exponent):
        result = base**exponent
        ctx.save_for_backward(base, exponent, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        base, exponent, result = ctx.saved_tensors
        grad_base = grad_exponent = None
        if ctx.needs_input_grad[0]:
            # d(b^e)/db = e * b^(e-1)
            grad_base = sum_to_shape(grad * exponent * base ** (exponent - 1), _shape_of(base))
        if ctx.needs_input_grad[1]:
            # d(b^e)/de = b^e * ln b ; math.log keeps a Python base a weak scalar (no float64 upcast)
            log_base = math.log(base) if isinstance(base, (int, float)) else get_array_module(base).log(base)
            grad_exponent = sum_to_shape(grad * result * log_base, _shape_of(exponent))
        return grad_base, grad_exponent


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)  # exp' = exp: keep the output
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad / (2 * y)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(xp.sign(x))
        return xp.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (sign,) = ctx.saved_tensors
        return grad * sign


class Clamp(Function):
    """Limit values to [low, high]; the gradient passes strictly inside (at a bound it is 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x > low
        if high is not None:
            inside &= x < high
        ctx.save_for_backward(inside)
        return xp.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside


class Where(Function):
    """``condition ? a : b`` elementwise; the condition is a bool array and gets no gradient."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return get_array_module(condition, a, b).where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        xp = get_array_module(grad)
        shape_a, shape_b = ctx.shapes
        grad_a = sum_to_shape(xp.where(condition, grad, 0), shape_a) if ctx.needs_input_grad[1] else None
        grad_b = sum_to_shape(xp.where(condition, 0, grad), shape_b) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b


class Maximum(Function):
    """Elementwise max (or min) of two tensors; where they tie, each gets half the gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, smallest=False):
        xp = get_array_module(a, b)
        a_wins = (a < b) if smallest else (a > b)
        ctx.save_for_backward(a_wins, a == b)
        ctx.shapes = (_shape_of(a), _shape_of(b))
        return xp.minimum(a, b) if smallest else xp.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a_wins, ties = ctx.saved_tensors
        share_a = a_wins + 0.5 * ties  # 1 where a won, 1/2 on a tie, 0 where b won
        shape_a, shape_b = ctx.shapes
        grad_a = sum_to_shape(grad * share_a, shape_a) if ctx.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad * (1 - share_a), shape_b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Cast(Function):
    """Change dtype; the gradient goes back in the input's dtype."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


# ---------------------------------------------------------------- the functions Tensor and F call


def add(a, b):
    a, b = _promote(a, b)
    _check_broadcast("add", a, b)
    return Add.apply(a, b)


def sub(a, b):
    a, b = _promote(a, b)
    _check_broadcast("sub", a, b)
    return Sub.apply(a, b)


def mul(a, b):
    a, b = _promote(a, b)
    _check_broadcast("mul", a, b)
    return Mul.apply(a, b)


def div(a, b):
    a, b = _promote(a, b, true_division=True)
    _check_broadcast("div", a, b)
    return Div.apply(a, b)


def pow(base, exponent):
    base, exponent = _promote(base, exponent)
    _check_broadcast("pow", base, exponent)
    return Pow.apply(base, exponent)


def neg(x):
    return Neg.apply(_tensor(x, "neg"))


def exp(x):
    return Exp.apply(_float_tensor(x, "exp"))


def log(x):
    return Log.apply(_float_tensor(x, "log"))


def sqrt(x):
    return Sqrt.apply(_float_tensor(x, "sqrt"))


def abs(x):
    return Abs.apply(_tensor(x, "abs"))


def clamp(x, min=None, max=None):
    _tensor(x, "clamp")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    min = min.item() if isinstance(min, Tensor) else min
    max = max.item() if isinstance(max, Tensor) else max
    return Clamp.apply(x, low=min, high=max)


def maximum(a, b):
    a, b = _promote(a, b)
    _check_broadcast("maximum", a, b)
    return Maximum.apply(a, b)


def minimum(a, b):
    a, b = _promote(a, b)
    _check_broadcast("minimum", a, b)
    return Maximum.apply(a, b, smallest=True)


def where(condition, a, b):
    condition = condition if isinstance(condition, Tensor) else Tensor(condition)
    if condition.dtype.kind != "b":
        raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    a, b = _promote(a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # two numbers: PyTorch's default dtypes
        a = Tensor(np.asarray(a, dtype=np.float32 if isinstance(a, float) or isinstance(b, float) else np.int64))
    _check_broadcast("where", a, b)
    _check_broadcast("where", condition, a)
    _check_broadcast("where", condition, b)
    return Where.apply(condition.array, a, b)


def cast(x, dtype):
    dtype = as_dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind == "f" and x.dtype.kind == "f":
        return Cast.apply(x, dtype=dtype)
    return Tensor(x.array.astype(dtype))  # to or from integers: no gradient flows


def clone(x):
    return Clone.apply(_tensor(x, "clone"))


def compare(a: Tensor, b, ufunc_name: str):
    """Comparisons and other non-differentiable elementwise ufuncs (==, <, //, %, &): a tensor outside the graph."""
    b_raw = b.array if isinstance(b, Tensor) else b
    _check_broadcast(ufunc_name, a, b_raw)
    xp = get_array_module(a.array, b_raw)
    return Tensor(getattr(xp, ufunc_name)(a.array, b_raw))


def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _float_tensor(x, op):
    """exp, log and sqrt of an integer tensor give float32, as in PyTorch."""
    _tensor(x, op)
    return x if x.dtype.kind == "f" else x.to("float32")
