"""Batch normalization: the ``BatchNorm`` Function and the public ``batch_norm``.

Notation: the input has shape (N, C, *) with channels on axis 1; the op views it as (N, C, L), where
L is the product of the trailing (spatial) sizes (L = 1 for an (N, C) input). Each channel has
M = N * L values, and is normalised on its own:

    xhat = (x - mean) / sqrt(var + eps)          y = weight * xhat + bias

Training mode uses the mean and the *biased* variance of the batch (divide by M) and, when running
statistics are given, moves them towards the batch's (with the *unbiased* variance, divide by M - 1).
Evaluation mode uses the running statistics instead, so it is a fixed scale and shift per channel.

The backward, with g the weight, std = sqrt(var + eps) and means taken per channel over the M values:

    dL/dbias = sum(dy)      dL/dweight = sum(dy * xhat)
    dL/dx    = (g / std) * (dy - mean(dy) - xhat * mean(dy * xhat))      (training: mean and var depend on x)
    dL/dx    = (g / std) * dy                                             (evaluation: fixed statistics)

``ops/fast/normalization.py`` computes the same numbers faster; ``batch_norm`` picks it in one line.
"""

from __future__ import annotations

import numbers

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .fast import fast_kernels
from .fast.normalization import FastBatchNorm

__all__ = ["batch_norm"]


class BatchNorm(Function):
    """Normalise x (N, C, *) per channel; ``weight``/``bias`` (C,) or None; running stats updated in place.

    Statistics are summed in float64: a float32 sum of many values loses digits PyTorch keeps.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, training=False, running_mean=None, running_var=None, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels'
        channel = (1, -1) + (1,) * (x.ndim - 2)  # reshapes a (C,) vector to broadcast along axis 1
        count = x.size // x.shape[1]  # M values per channel
        if training:
            mean = x.mean(axis=axes, dtype=xp.float64)
            var = ((x - mean.reshape(channel)) ** 2).mean(axis=axes)  # biased: what the batch is normalised with
            if running_mean is not None:  # in place, outside the graph (buffers, not parameters)
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
                running_var *= 1 - momentum  # the running variance estimates the unbiased one: M / (M - 1)
                running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)
        else:  # evaluation: the running statistics
            mean, var = running_mean.astype(xp.float64), running_var.astype(xp.float64)
        std = xp.sqrt(var + eps)
        x_hat = ((x - mean.reshape(channel)) / std.reshape(channel)).astype(x.dtype)
        y = x_hat if weight is None else x_hat * weight.reshape(channel)
        if bias is not None:
            y = y + bias.reshape(channel)
        ctx.save_for_backward(x_hat, std, weight)  # what the formulas of backward read
        ctx.training, ctx.axes, ctx.channel = training, axes, channel
        return y.copy() if y is x_hat else y  # (x_hat itself is kept for backward)

    @staticmethod
    def backward(ctx, dy):
        x_hat, std, weight = ctx.saved_tensors
        xp, axes, channel = get_array_module(dy), ctx.axes, ctx.channel
        g_over_std = (1 / std if weight is None else weight / std).reshape(channel).astype(dy.dtype)  # as PyTorch's
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0] and ctx.training:
            mean_dy = dy.mean(axis=axes, keepdims=True, dtype=xp.float64).astype(dy.dtype)
            mean_dy_xhat = (dy * x_hat).mean(axis=axes, keepdims=True, dtype=xp.float64).astype(dy.dtype)
            grad_x = g_over_std * (dy - mean_dy - x_hat * mean_dy_xhat)
        elif ctx.needs_input_grad[0]:
            grad_x = g_over_std * dy
        if ctx.needs_input_grad[1]:
            grad_weight = (dy * x_hat).sum(axis=axes, dtype=xp.float64)
        if ctx.needs_input_grad[2]:
            grad_bias = dy.sum(axis=axes, dtype=xp.float64)
        return tuple(None if grad is None else grad.astype(dy.dtype) for grad in (grad_x, grad_weight, grad_bias))


def _check_channel_vector(name, value, channels, input):
    """None, or a Tensor of shape (C,) with the input's dtype and device."""
    if value is None:
        return
    if not isinstance(value, Tensor):
        raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(value).__name__}")
    if tuple(value.shape) != (channels,):
        raise ValueError(
            f"batch_norm: {name} of shape {tuple(value.shape)} does not match input of shape {tuple(input.shape)}: "
            f"expected ({channels},), one value per channel (axis 1)"
        )
    if value.dtype != input.dtype:
        raise TypeError(f"batch_norm: {name} has dtype {value.dtype} but input has dtype {input.dtype}")
    if value.device != input.device:
        raise ValueError(f"batch_norm: {name} is on {value.device} but input is on {input.device}")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-05,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """Batch normalization: normalise each channel over the batch (and spatial positions), then scale and shift.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, per channel (axis 1). In training mode
    ``mean`` and ``var`` are the batch's (biased variance), and the running statistics, when given,
    are updated in place: ``running = (1 - momentum) * running + momentum * batch_statistic``, with
    the unbiased variance (times M / (M - 1), M values per channel). In evaluation mode the running
    statistics are used.

    Args:
        input: tensor (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        running_mean, running_var: tensors (C,) or both None (then training must be True).
        weight, bias: tensors (C,) or None (no scale / no shift, ``affine=False``).
        training: normalise with batch statistics (True) or the running ones (False).
        momentum: weight of the new batch statistic in the running average; None means a cumulative
            average, 1 / num_batches_tracked (then ``num_batches_tracked`` is required).
        eps: added to the variance before the square root.
        num_batches_tracked: (a minicnn extension, for the nn.BatchNorm layers) a one-element integer
            tensor; in training mode with running statistics it is incremented in place, as PyTorch's
            module does.

    Shape:
        input (N, C, *) -> output (N, C, *), the same shape.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"batch_norm: expected a floating point input, got {input.dtype}")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *) with at least 2 dimensions, got {input.shape}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must either both be None or neither be None")
    if running_mean is None and not training:
        raise ValueError("batch_norm: running_mean and running_var must be given in evaluation mode (training=False)")
    channels = input.shape[1]
    for name, value in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        _check_channel_vector(name, value, channels, input)
    if momentum is not None and (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)):
        raise TypeError(f"batch_norm: momentum must be a float or None, got {momentum!r}")
    if momentum is not None and momentum != momentum:  # NaN would turn the running statistics to NaN, silently
        raise ValueError("batch_norm: momentum must not be NaN")
    if not isinstance(eps, numbers.Real) or not (eps > 0 if training else eps >= 0):  # PyTorch's rule; refuses NaN
        raise ValueError(f"batch_norm: eps must be {'positive in training' if training else 'non-negative'}, got {eps}")
    tracking = training and running_mean is not None
    if num_batches_tracked is not None and not isinstance(num_batches_tracked, Tensor):
        raise TypeError(f"batch_norm: num_batches_tracked must be a Tensor, got {type(num_batches_tracked).__name__}")
    if tracking and momentum is None and num_batches_tracked is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs the num_batches_tracked tensor")
    if tracking and num_batches_tracked is not None:
        num_batches_tracked.array += 1  # a buffer, counted outside the graph (as PyTorch: even if the batch is empty)
        if momentum is None:  # cumulative average: batch k gets weight 1/k
            momentum = 1.0 / num_batches_tracked.item()
    values_per_channel = input.numel() // channels if channels else 0
    if training and values_per_channel == 1:
        raise ValueError(
            f"batch_norm: Expected more than 1 value per channel when training, got input size {tuple(input.shape)}"
        )
    if input.numel() == 0:  # an empty batch: nothing to normalise, running statistics unchanged (as PyTorch)
        return input.clone()
    Normalization = FastBatchNorm if fast_kernels() else BatchNorm  # the same numbers; the first is faster
    return Normalization.apply(
        input,
        weight,
        bias,
        training=bool(training),
        running_mean=None if running_mean is None else running_mean.array,
        running_var=None if running_var is None else running_var.array,
        momentum=0.0 if momentum is None else float(momentum),
        eps=float(eps),
    )
