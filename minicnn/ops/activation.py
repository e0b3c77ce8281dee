"""Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax.

Each keeps what its derivative is cheapest to compute from: sigmoid, tanh and the softmaxes keep their
*output* (y), not their input; ReLU keeps only where its input was positive (one byte per element).
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, normalize_dim


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        positive = x > 0
        # the gradient passes where x > 0: keep that mask (1 byte, not the 4 of y), so backward is one multiply
        ctx.save_for_backward(positive)
        # maximum(x, 0) runs at copy speed, faster than x * (x > 0); NaN stays NaN, as in PyTorch
        return get_array_module(x).maximum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved_tensors
        return grad * positive


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.negative_slope = negative_slope
        return get_array_module(x).where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved_tensors
        return get_array_module(grad).where(positive, grad, grad * ctx.negative_slope)


def sigmoid_of(x):
    """1 / (1 + e^-x) of an array, to float precision everywhere.

    With e = e^-|x|, which never overflows: 1 / (1 + e) for x >= 0, and e / (1 + e) for x < 0. The second
    form keeps the tiny values of very negative x, which 1 - (something close to 1) would round away:
    (1 + tanh(x/2)) / 2 is off by 1e-3 (relative) at x = -12 in float32 and gives 0 below about -17.
    """
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, e.dtype.type(1), e) / (1 + e)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = sigmoid_of(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim=-1):
        xp = get_array_module(x)
        if x.size == 0:  # nothing to normalise (and an empty max has no value): an empty result, as PyTorch
            y = x.copy()
        else:
            shifted = x - x.max(axis=dim, keepdims=True)  # subtracting the max avoids overflow in exp
            e = xp.exp(shifted)
            y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # dx = y * (g - sum(g * y)): the Jacobian diag(y) - y y^T applied to g
        return y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim=-1):
        xp = get_array_module(x)
        if x.size == 0:  # an empty result, as PyTorch (an empty max has no value)
            y = x.copy()
        else:
            shifted = x - x.max(axis=dim, keepdims=True)
            y = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # dx = g - softmax * sum(g), and softmax = exp(log_softmax)
        return grad - get_array_module(y).exp(y) * grad.sum(axis=ctx.dim, keepdims=True)


def _float_input(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {x.dtype}")
    return x


def relu(x):
    return ReLU.apply(_float_input(x, "relu"))


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(_float_input(x, "leaky_relu"), negative_slope=negative_slope)


def sigmoid(x):
    return Sigmoid.apply(_float_input(x, "sigmoid"))


def tanh(x):
    return Tanh.apply(_float_input(x, "tanh"))


def softmax(x, dim):
    x = _float_input(x, "softmax")
    return Softmax.apply(x, dim=normalize_dim(dim, x.ndim, "softmax"))


def log_softmax(x, dim):
    x = _float_input(x, "log_softmax")
    return LogSoftmax.apply(x, dim=normalize_dim(dim, x.ndim, "log_softmax"))
