"""Fast batch norm: ``FastBatchNorm`` equals the textbook ``ops/normalization.py:BatchNorm``, computed faster.

Two helpers keep the per-channel work fast on NumPy, whose reductions and broadcasts over a few channels
are slow: ``per_channel_total`` (the float64 total per channel of x, or of x * y, by matrix-vector
products that never form x * y on NumPy) and ``per_channel`` (a per-channel vector spread to the full row,
so the multiply does not broadcast along the innermost axis), both in ``layout.py``. It works in the
input's own memory order (channels-last or not). Every op here is memory-bound: the code counts passes.
"""

from __future__ import annotations

from ...autograd.function import Function
from ...backend import get_array_module
from .layout import channel_view, from_channel_view, per_channel, per_channel_total


class FastBatchNorm(Function):
    """Normalise x (N, C, *) per channel; ``weight``/``bias`` (C,) or None; running stats updated in place.

    Equals the textbook ``ops/normalization.py:BatchNorm``; faster by the per-channel helpers above and by counting
    passes over the data. Written with ``centered = x - mean`` rather than ``xhat = centered * inv_std``: the per-
    channel factors inv_std and weight are folded into one multiply, which saves a pass over the data. Training mode
    turns ``centered`` into y in place and keeps x for backward (which forms x - mean again, into the array it
    returns anyway): writing a new array costs more than an in-place pass, and this way forward writes one new array
    instead of two. Like PyTorch's, it keeps the input itself, so changing x in place before backward is refused
    (autograd's version counts).
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
