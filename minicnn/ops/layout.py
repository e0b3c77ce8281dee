"""Channels-last memory: a logical (N, C, H, W) array whose numbers sit in memory as (N, H, W, C).

Every tensor keeps PyTorch's logical shape (N, C, H, W): ``x[n, c, h, w]`` means the same everywhere.
*Where* the numbers sit in memory is a separate choice, as in PyTorch's ``memory_format``. The
convolution works channels-last: each pixel's C channels sit side by side, so an im2col window is a
few long runs of memory and the matrix product writes its (pixels, O) result straight into the output.
The convolution returns its output as a *view* ``y_nhwc.transpose(0, 3, 1, 2)``: logically NCHW,
physically NHWC, with no copy. NumPy's elementwise ops keep their input's memory order, so ReLU and the
residual add pass the layout on (dropout, whose random mask is NCHW, does not); max-pooling and batch norm
check it and take a path made for it; and the next convolution reads its input channels-last for free.

Nothing here changes a value: only how fast memory is walked (benchmarks/RESULTS.md has the figures).
"""

from __future__ import annotations

import math

from ..backend import get_array_module


def is_channels_last(array) -> bool:
    """True when a 4-D array's memory is (N, H, W, C) ordered: moving C to the end gives a contiguous array."""
    return array.ndim == 4 and array.transpose(0, 2, 3, 1).flags.c_contiguous


def to_channels_last(array):
    """(N, C, H, W) -> the same numbers as a contiguous (N, H, W, C) array (a free view when already so)."""
    return get_array_module(array).ascontiguousarray(array.transpose(0, 2, 3, 1))


def from_channels_last(array_nhwc):
    """(N, H, W, C) contiguous -> a logical (N, C, H, W) view of the same memory (no copy)."""
    return array_nhwc.transpose(0, 3, 1, 2)


def channel_view(x, axis: int | None = None):
    """View (N, C, *) as three axes: (N, C, L), or for a channels-last input (N, L, C).

    Returns (x3, axis), ``axis`` the channels' axis (1 or 2). Either way it is the array's own memory
    order, so no copy is made (except for an input that is neither contiguous nor channels-last).
    Passing ``axis`` asks for that layout (a backward pass wants its gradient like its saved input).
    """
    N, C, L = x.shape[0], x.shape[1], math.prod(x.shape[2:])
    if axis is None:
        axis = 2 if is_channels_last(x) else 1
    if axis == 2:
        return x.transpose(0, 2, 3, 1).reshape(N, L, C), 2
    return x.reshape(N, C, L), 1


def from_channel_view(y3, axis: int, shape):
    """The inverse of ``channel_view``: y3 as a logical array of ``shape``, in y3's memory order."""
    if axis == 1:
        return y3.reshape(shape)
    N, C, H, W = shape
    return from_channels_last(y3.reshape(N, H, W, C))
