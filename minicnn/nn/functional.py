"""``minicnn.nn.functional`` (``F``): the functions users call, with PyTorch's signatures and defaults.

Each name checks its arguments where the user passes them (errors name the op and the shapes), then
calls the Function that does the math in ``minicnn/ops``. Convolution, pooling, normalization, dropout
and the losses are defined next to their Functions and re-exported here.
"""

from __future__ import annotations

import warnings

from ..ops import activation as _activation
from ..ops import shape as _shape
from ..ops.conv import *  # noqa: F403
from ..ops.dropout import *  # noqa: F403
from ..ops.loss import *  # noqa: F403
from ..ops.matmul import linear
from ..ops.normalization import *  # noqa: F403
from ..ops.pooling import *  # noqa: F403


def relu(input, inplace: bool = False):
    """max(x, 0) elementwise. ``inplace`` is accepted for PyTorch code and ignored (a new tensor is returned)."""
    return _activation.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x for x > 0, negative_slope * x otherwise."""
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
