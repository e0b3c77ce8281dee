"""Fast pooling kernels: the 2x2 max-pool tournament and separable average pooling.

Each equals a textbook Function of ``ops/pooling.py`` (notation there); ``tests/test_fast_kernels.py``
proves it, forward and backward, in both memory layouts.
"""

from __future__ import annotations

from ...autograd.function import Function, is_grad_enabled
from ...backend import get_array_module
from ..windows import avg_divisor, pad, padded_size, strided, unpad, with_axis_sizes
from .layout import from_channels_last, is_channels_last, to_channels_last


class MaxPool2x2(Function):
    """2x2 max pooling with stride 2 (the usual ``MaxPool2d(2)``), as a tournament; equals the textbook
    ``ops/pooling.py:MaxPool2d`` with kernel 2, stride 2.

    Round 1 pits each even column against the next (``right``/``left``), round 2 each even row of winners against
    the row below. That is two maximums instead of the general path's three, and each round keeps only a bool "who
    won" per pair instead of the per-offset bookkeeping (figures: benchmarks/RESULTS.md). Strict comparisons keep
    ties left, then top: the first maximum in row-major order, the one PyTorch picks. An odd last row or column
    belongs to no window (floor mode): it is cropped away and gets gradient zero.

    A channels-last input (layout.py) is pooled in its own memory order, as (N, H, W, C) with the
    channels innermost, so every comparison walks memory in runs of C numbers instead of jumping by C.
    """

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        channels_last = is_channels_last(x)
        planes, (h, w) = (x.transpose(0, 2, 3, 1), (1, 2)) if channels_last else (x, (x.ndim - 2, x.ndim - 1))
        OH, OW = planes.shape[h] // 2, planes.shape[w] // 2
        left, right = _every_other(planes, w, 0, OW), _every_other(planes, w, 1, OW)
        pair_max = xp.maximum(left, right)  # (..., H, OW): the winner of each pair of columns
        top, bottom = _every_other(pair_max, h, 0, OH), _every_other(pair_max, h, 1, OH)
        y = xp.maximum(top, bottom)
        if ctx.needs_input_grad[0] and is_grad_enabled():
            ctx.save_for_backward(right > left, bottom > top)  # each round's winners: where gradients go
            ctx.planes_shape, ctx.axes, ctx.channels_last = planes.shape, (h, w), channels_last
        return from_channels_last(y) if channels_last else y

    @staticmethod
    def backward(ctx, grad):
        right_won, bottom_won = ctx.saved_tensors
        h, w = ctx.axes
        xp = get_array_module(grad)
        grad = to_channels_last(grad) if ctx.channels_last else grad  # the memory order of the forward pass
        OH, OW = grad.shape[h], grad.shape[w]
        # every pixel of a window is written below; only a cropped odd row or column needs zeros first
        cropped = 2 * OH < ctx.planes_shape[h] or 2 * OW < ctx.planes_shape[w]
        new_array = xp.zeros if cropped else xp.empty
        # round 2 backwards: the gradient of each pair's winner, rows 0, 2, 4, ... from the top pair
        grad_pairs = new_array(right_won.shape, dtype=grad.dtype)
        xp.multiply(grad, bottom_won, out=_every_other(grad_pairs, h, 1, OH))
        xp.multiply(grad, ~bottom_won, out=_every_other(grad_pairs, h, 0, OH))
        # round 1 backwards: into the left or right pixel of each pair
        grad_x = new_array(ctx.planes_shape, dtype=grad.dtype)
        xp.multiply(grad_pairs, right_won, out=_every_other(grad_x, w, 1, OW))
        xp.multiply(grad_pairs, ~right_won, out=_every_other(grad_x, w, 0, OW))
        return from_channels_last(grad_x) if ctx.channels_last else grad_x


def _every_other(array, axis: int, start: int, count: int):
    """The view ``array[..., start : start + 2*count : 2, ...]`` along ``axis``: one side of every pair."""
    return strided(array, axis, start, 2, count)


class SeparableAvgPool2d(Function):
    """Average pooling: every window's sum, divided by the count PyTorch divides by; equals the textbook
    ``ops/pooling.py:AvgPool2d``, faster because the window sums are separable.

    A window's sum is separable: first each window row's KW neighbours are summed, (..., Hp, OW), then
    KH of those row sums, (..., OH, OW). That is (KW - 1) + (KH - 1) additions of strided slices instead
    of KH*KW - 1 (3x3: 4 instead of 8), and backward is the same two steps transposed (figures:
    benchmarks/RESULTS.md). Like ``MaxPool2x2``, a channels-last input is pooled
    in its own memory order, (N, H, W, C), and the output stays channels-last.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_size, count_include_pad=True, divisor_override=None):
        channels_last = is_channels_last(x)
        planes, axes = _planes(x, channels_last)
        padded_shape = tuple(map(padded_size, x.shape[-2:], kernel, stride, padding, (1, 1), out_size))
        padded = pad(planes, padding, padded_shape, 0, axes)  # zero padding adds nothing to a sum
        (h, w), (KH, KW), (SH, SW), (OH, OW) = axes, kernel, stride, out_size
        row_sums = _strided_sum(padded, w, KW, SW, OW)  # (..., Hp, OW): each window row summed
        total = _strided_sum(row_sums, h, KH, SH, OH)  # (..., OH, OW): KH row sums per window
        if divisor_override:
            divisor = divisor_override
        else:
            divisor = avg_divisor(x.shape[-2:], kernel, stride, padding, padded_shape, out_size, count_include_pad)
            if not isinstance(divisor, int):  # a map (OH, OW) of counts, on x's device, shaped like the planes
                divisor = get_array_module(x).asarray(divisor, dtype=x.dtype)
                if channels_last:  # planes (N, OH, OW, C): one count per pixel, the same for every channel
                    divisor = divisor[:, :, None]
        total /= divisor
        # backward needs only the geometry and the divisor: each input gets grad / divisor of every window it is in
        ctx.divisor, ctx.channels_last, ctx.axes = divisor, channels_last, axes
        ctx.geometry = (kernel, stride, padding, out_size)
        ctx.planes_shape, ctx.padded_shape = planes.shape, padded_shape
        return from_channels_last(total) if channels_last else total

    @staticmethod
    def backward(ctx, grad):
        (KH, KW), (SH, SW), padding, (OH, OW) = ctx.geometry
        (h, w), (Hp, Wp) = ctx.axes, ctx.padded_shape
        xp = get_array_module(grad)
        planes = to_channels_last(grad) if ctx.channels_last else grad  # the memory order of the forward pass
        grad_each = planes / ctx.divisor
        # the two sums of forward, transposed: spread each window's gradient over its KH rows, then KW columns
        grad_rows = xp.zeros(with_axis_sizes(planes.shape, (h, w), (Hp, OW)), dtype=grad.dtype)
        _strided_spread(grad_rows, grad_each, h, KH, SH, OH)
        grad_padded = xp.zeros(with_axis_sizes(planes.shape, (h, w), (Hp, Wp)), dtype=grad.dtype)
        _strided_spread(grad_padded, grad_rows, w, KW, SW, OW)
        grad_planes = unpad(grad_padded, padding, ctx.planes_shape, (h, w))
        return from_channels_last(grad_planes) if ctx.channels_last else grad_planes


def _planes(x, channels_last: bool):
    """x in its memory order, and the (height, width) axes there: (N, H, W, C) with (1, 2), or x with the last two."""
    if channels_last:
        return x.transpose(0, 2, 3, 1), (1, 2)
    return x, (x.ndim - 2, x.ndim - 1)


def _strided_sum(array, axis: int, kernel: int, stride: int, count: int):
    """Sum of ``kernel`` neighbours along ``axis``, windows every ``stride``: ``count`` sums per line."""
    total = strided(array, axis, 0, stride, count).copy()
    for offset in range(1, kernel):
        total += strided(array, axis, offset, stride, count)
    return total


def _strided_spread(target, values, axis: int, kernel: int, stride: int, count: int):
    """The transpose of ``_strided_sum``: add each of ``values`` onto the ``kernel`` elements it summed."""
    overlap = stride < kernel  # an element in two windows gets both; otherwise a plain write will do
    for offset in range(kernel):
        destination = strided(target, axis, offset, stride, count)
        if overlap:
            destination += values
        else:
            destination[...] = values
