"""Matrix products: ``matmul`` (with NumPy's broadcasting rules) and ``linear`` (x @ W^T + b)."""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .elementwise import _promote, broadcast_shape, sum_to_shape


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        xp = get_array_module(grad)
        # treat vectors as matrices: a (K,) as (1, K), b (K,) as (K, 1)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch_shape = broadcast_shape(a2.shape[:-2], b2.shape[:-2])
        grad2 = grad.reshape(batch_shape + (a2.shape[-2], b2.shape[-1]))  # the vectors' 1s put back
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:  # dL/dA = dL/dY @ B^T
            grad_a = sum_to_shape(grad2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:  # dL/dB = A^T @ dL/dY
            grad_b = sum_to_shape(xp.swapaxes(a2, -1, -2) @ grad2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Linear(Function):
    """``y = x @ W^T + b`` for x of shape (*, in_features), W (out_features, in_features), b (out_features,)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = x @ weight.T  # W^T is a view: BLAS reads it transposed, no copy
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_rows = grad.reshape(-1, grad.shape[-1])  # all leading dims are batch
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_weight = grad_rows.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        grad_bias = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            # column sums as a matrix-vector product: one BLAS call, far faster than sum(axis=0)
            ones = get_array_module(grad).ones(grad_rows.shape[0], dtype=grad.dtype)
            grad_bias = ones @ grad_rows
        return grad_x, grad_weight, grad_bias


def matmul(a, b):
    a, b = _promote(a, b)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both operands must be tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied ({inner_a} != {inner_b})")
    return MatMul.apply(a, b)


def linear(x, weight, bias=None):
    for name, value in (("input", x), ("weight", weight)):
        if not isinstance(value, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(value).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"linear: bias must be a Tensor or None, got {type(bias).__name__}")
    if x.dtype == bool or weight.dtype == bool:  # as PyTorch: a product of bools is not defined
        raise TypeError("linear: bool tensors are not supported; convert them with .float()")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input shape {x.shape} does not match weight {weight.shape}: "
            f"expected the last dimension to be in_features={weight.shape[1]}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}")
    return Linear.apply(x, weight, bias)
