"""``minicnn.nn.functional`` (``F``): the functions users call, with PyTorch's signatures and defaults.

Each name checks its arguments where the user passes them (errors name the op and the shapes), then
calls the Function that does the math in ``minicnn/ops``. Convolution, pooling, normalization, dropout
and the losses are defined next to their Functions and re-exported here.
"""

from __future__ import annotations

import warnings

from ..ops import activation as _activation
from ..ops import shape as _shape
from ..ops.conv import conv2d
from ..ops.dropout import dropout, dropout2d
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from ..ops.matmul import linear
from ..ops.normalization import batch_norm
from ..ops.pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


def relu(input, inplace: bool = False):
    """max(x, 0) elementwise. ``inplace`` is accepted for PyTorch code and ignored (a new tensor is returned)."""
    return _activation.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x for x > 0, negative_slope * x otherwise."""
    if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    if negative_slope != negative_slope:  # NaN would spread silently
        raise ValueError("leaky_relu: negative_slope must not be NaN")
    return _activation.leaky_relu(input, negative_slope)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return _activation.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent."""
    return _activation.tanh(input)


def _implicit_dim(name, ndim):
    warnings.warn(f"{name}: implicit dimension choice is deprecated; pass dim=", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return _activation.softmax(input, _implicit_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably as x - max - log(sum(exp(x - max)))."""
    if dtype is not None:
        input = input.to(dtype)
    return _activation.log_softmax(input, _implicit_dim("log_softmax", input.ndim) if dim is None else dim)


def pad(input, pad, mode: str = "constant", value=None):
    """Pad with a constant; ``pad`` = (left, right, top, bottom, ...) from the last dimension backwards."""
    return _shape.pad(input, pad, mode, 0.0 if value is None else value)
