"""Dropout: the ``Dropout`` Function and the public ``dropout`` and ``dropout2d``.

Inverted dropout: in training each element is kept with probability 1 - p and multiplied by
1 / (1 - p), so the expected value of every output equals its input and evaluation needs no
rescaling (it is the identity). ``dropout2d`` draws one decision per (sample, channel) and zeroes
whole feature maps, because neighbouring pixels of a map are strongly correlated.

The random numbers come from ``minicnn.backend.random_uniform``: ``minicnn.manual_seed`` repeats them.
"""

from __future__ import annotations

import numbers
import warnings

from ..autograd.function import Function
from ..backend import get_array_module, random_uniform
from ..tensor import Tensor

__all__ = ["dropout", "dropout2d"]


class Dropout(Function):
    """y = x * mask, mask = keep / (1 - p) with keep ~ Bernoulli(1 - p), one draw per element of ``mask_shape``."""

    @staticmethod
    def forward(ctx, x, p=0.5, mask_shape=None):
        xp = get_array_module(x)
        # a uniform u in [0, 1) is >= p with probability 1 - p: that decides "keep"
        keep = random_uniform(xp, x.shape if mask_shape is None else mask_shape, x.dtype) >= p
        mask = keep.astype(x.dtype)
        mask *= 1.0 / (1.0 - p) if p < 1 else 0.0  # p = 1 keeps nothing (and 1 / 0 would raise)
        ctx.save_for_backward(mask)  # the scaled mask is the whole derivative: dy/dx = mask
        return x * mask  # a (N, C, 1, 1) mask of dropout2d broadcasts over each feature map

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask


def _check_dropout_args(op, input, p):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{op}: p must be a float, got {p!r}")
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the kept ones by 1 / (1 - p) (inverted dropout).

    Args:
        input: a floating point tensor of any shape.
        p: probability of zeroing an element, in [0, 1]; p = 1 gives zeros.
        training: apply dropout (True) or return ``input`` unchanged (False), as PyTorch does.
        inplace: accepted for PyTorch code and ignored: a new tensor is returned (the graph does not
            track in-place changes).

    Shape:
        input (*) -> output (*), the same shape.
    """
    _check_dropout_args("dropout", input, p)
    if not training or p == 0:
        return input
    return Dropout.apply(input, p=float(p))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) with probability ``p``, scaling the kept ones by 1 / (1 - p).

    One keep/drop decision per (sample, channel): ``out[n, c] = input[n, c] * mask[n, c]``.

    Args:
        input: a floating point tensor (N, C, H, W). As in PyTorch, a 3-D input is read as (N, C, L)
            (with a warning: a (C, H, W) image therefore drops single rows), and other ranks (N, C, *)
            are accepted with a warning.
        p: probability of zeroing a channel, in [0, 1].
        training: apply dropout (True) or return ``input`` unchanged (False).
        inplace: accepted for PyTorch code and ignored: a new tensor is returned.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W), the same shape.
    """
    _check_dropout_args("dropout2d", input, p)
    if input.ndim < 2:
        raise ValueError(f"dropout2d: expected an input (N, C, H, W) with at least 2 dimensions, got {input.shape}")
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3-D input; as in PyTorch it is read as (N, C, L), zeroing whole rows of axis 1, "
            "not as one (C, H, W) image (add a batch dimension for that)",
            UserWarning,
            stacklevel=2,
        )
    elif input.ndim != 4:
        warnings.warn(
            f"dropout2d: received a {input.ndim}-D input; dropout2d is meant for (N, C, H, W) inputs "
            "(PyTorch deprecates other ranks)",
            UserWarning,
            stacklevel=2,
        )
    if not training or p == 0:
        return input
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)  # one draw per (sample, channel)
    return Dropout.apply(input, p=float(p), mask_shape=mask_shape)
