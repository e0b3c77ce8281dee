"""Batch normalization: the ``BatchNorm`` Function and the public ``batch_norm``.

Notation: the input has shape (N, C, *) with channels on axis 1; the op views it as (N, C, L), where
L is the product of the trailing (spatial) sizes (L = 1 for an (N, C) input). Each channel has
M = N * L values, and is normalised on its own:

    xhat = (x - mean) / sqrt(var + eps)          y = weight * xhat + bias

Training mode uses the mean and the *biased* variance of the batch (divide by M) and, when running
statistics are given, moves them towards the batch's (with the *unbiased* variance, divide by M - 1).
Evaluation mode uses the running statistics instead, so it is a fixed scale and shift per channel.

Two helpers keep the per-channel work fast on NumPy, whose reductions and broadcasts over a few channels
are slow: ``per_channel_total`` (backend.py: the float64 total per channel of x, or of x * y, by matrix-
vector products that never form x * y on NumPy) and ``per_channel`` (a per-channel vector spread to the
full row, so the multiply does not broadcast along the innermost axis). Every op here is memory-bound:
the code counts passes.
"""

from __future__ import annotations

import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module, per_channel_total
from .layout import channel_view, from_channel_view

__all__ = ["batch_norm"]


def per_channel(values, x3, axis: int):
    """Spread per-channel ``values`` (C,) to a (C, L) or (L, C) array of ``x3``'s dtype, to combine with x3.

    Multiplying (N, C, L) by a (C, L) operand is ~1.7x faster on NumPy than by a (C, 1) column, which
    broadcasts along the innermost axis, and (N, L, C) by an (L, C) one ~3x faster than by a (C,) row;
    the copy is only C*L numbers. Casting to x3's dtype keeps a float32 input float32 (a float64
    operand would upcast the whole product).
    """
    xp = get_array_module(x3)
    values = values.astype(x3.dtype)
    if axis == 1:
        return xp.repeat(values, x3.shape[2]).reshape(x3.shape[1:])
    return values.reshape(1, -1).repeat(x3.shape[1], axis=0)  # (L, C); repeat, unlike tile, is one C call


class BatchNorm(Function):
    """Normalise x (N, C, *) per channel; ``weight``/``bias`` (C,) or None; running stats updated in place.

    Written with ``centered = x - mean`` rather than ``xhat = centered * inv_std``: the per-channel
    factors inv_std and weight are folded into one multiply, which saves a pass over the data.
    Training mode turns ``centered`` into y in place and keeps x for backward (which forms x - mean
    again, into the array it returns anyway): writing a new array costs ~2.5x an in-place pass on
    these sizes, and this way forward writes one new array instead of two. Like PyTorch's, it keeps the
    input itself, so changing x in place before backward is refused (autograd's version counts).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, training=False, running_mean=None, running_var=None, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        x3, axis = channel_view(x)
        count = x3.size // x.shape[1]  # M values per channel
        if training:
            mean = per_channel_total(x3, axis) / count  # float64 (C,)
            centered = x3 - per_channel(mean, x3, axis)
            var = per_channel_total(centered, axis, centered) / count  # biased: what the batch is normalised with
            if running_mean is not None:  # in place, outside the graph (buffers, not parameters)
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
                running_var *= 1 - momentum  # the running variance estimates the unbiased one: M / (M - 1)
                running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)
        else:  # evaluation: the running statistics (copied: later updates of the buffers cannot leak in)
            mean, var = running_mean.astype(xp.float64), running_var.astype(xp.float64)
        inv_std = 1.0 / xp.sqrt(var + eps)
        scale = inv_std * weight if weight is not None else inv_std  # y = (x - mean) * scale + bias
        if training:
            y = centered  # turned into y in place: backward forms x - mean again, from x
            y *= per_channel(scale, x3, axis)
            shift = bias
        else:  # a fixed affine map per channel: x - mean is never formed, the mean goes into the shift
            y = x3 * per_channel(scale, x3, axis)
            shift = -mean * scale if bias is None else bias - mean * scale
        if shift is not None:
            y += per_channel(shift, x3, axis)
        # backward needs x - mean (xhat = (x - mean) * inv_std), inv_std, and the weight (dxhat = weight * dy);
        # it keeps x (in x3's layout) and forms x - mean itself, only where dL/dx or dL/dweight needs it
        needs_x3 = ctx.needs_input_grad[1] or (training and ctx.needs_input_grad[0])
        ctx.save_for_backward(x3 if needs_x3 else None, mean, inv_std, weight)
        ctx.training, ctx.count, ctx.axis = training, count, axis
        return from_channel_view(y, axis, x.shape)

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        x3, mean, inv_std, weight = ctx.saved_tensors
        grad3, axis = channel_view(grad, ctx.axis)  # in the memory order of the saved input
        scale = inv_std * weight if weight is not None else inv_std  # weight * inv_std
        grad_x = grad_weight = grad_bias = None
        if ctx.training:
            sum_dy = per_channel_total(grad3, axis)
            if needs_x or needs_weight:
                centered = x3 - per_channel(mean, x3, axis)  # dL/dx is then computed in this new array
                sum_dy_xhat = per_channel_total(grad3, axis, centered) * inv_std
            if needs_x:
                # the standard dx = inv_std/M * (M*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)) with dxhat =
                # weight*dy, written as dx = scale * (dy - mean(dy) - xhat*mean(dy*xhat)), xhat = centered*inv_std
                grad_x = centered
                grad_x *= per_channel(inv_std * sum_dy_xhat / ctx.count, grad3, axis)  # xhat * mean(dy*xhat)
                grad_x += per_channel(sum_dy / ctx.count, grad3, axis)  # + mean(dy)
                get_array_module(grad).subtract(grad3, grad_x, out=grad_x)  # dy - (...), in place: no new array
                grad_x *= per_channel(scale, grad3, axis)
        else:  # evaluation: y = x * scale + shift
            sum_dy = per_channel_total(grad3, axis) if needs_bias else None
            if needs_weight:
                sum_dy_xhat = per_channel_total(grad3, axis, x3 - per_channel(mean, grad3, axis)) * inv_std
            if needs_x:
                grad_x = grad3 * per_channel(scale, grad3, axis)
        if needs_weight:
            grad_weight = sum_dy_xhat.astype(grad.dtype)  # dweight = sum(dy * xhat)
        if needs_bias:
            grad_bias = sum_dy.astype(grad.dtype)  # dbias = sum(dy)
        if grad_x is not None:
            grad_x = from_channel_view(grad_x, axis, grad.shape)
        return grad_x, grad_weight, grad_bias


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
    values_per_channel = input.numel() // channels if channels else 0
    if training and values_per_channel == 1:
        raise ValueError(
            f"batch_norm: Expected more than 1 value per channel when training, got input size {tuple(input.shape)}"
        )
    if input.numel() == 0:  # an empty batch: nothing to normalise, running statistics unchanged (as PyTorch)
        return input.clone()
    tracking = training and running_mean is not None
    if num_batches_tracked is not None and not isinstance(num_batches_tracked, Tensor):
        raise TypeError(f"batch_norm: num_batches_tracked must be a Tensor, got {type(num_batches_tracked).__name__}")
    if tracking and momentum is None and num_batches_tracked is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs the num_batches_tracked tensor")
    if tracking and num_batches_tracked is not None:
        num_batches_tracked.array += 1  # a buffer: counted outside the graph
        if momentum is None:  # cumulative average: batch k gets weight 1/k
            momentum = 1.0 / num_batches_tracked.item()
    return BatchNorm.apply(
        input,
        weight,
        bias,
        training=bool(training),
        running_mean=None if running_mean is None else running_mean.array,
        running_var=None if running_var is None else running_var.array,
        momentum=0.0 if momentum is None else float(momentum),
        eps=float(eps),
    )
