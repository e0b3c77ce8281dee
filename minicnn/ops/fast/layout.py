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

import numpy as np

from ...backend import get_array_module, is_channels_last  # noqa: F401  (is_channels_last: one definition, there)


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


def per_channel_total(x3, axis: int, other3=None):
    """The float64 total per channel of ``x3`` (or of ``x3 * other3``), for (N, C, L) or (N, L, C) channel
    views (``channel_view``; ``axis`` 1 or 2 names C).

    NumPy reduces badly over a few channels: ``x3.sum(axis=(0, 2))`` walks memory with a stride per channel. Each
    run of L values times a ones vector is one BLAS matrix-vector product, and ``einsum`` multiplies and adds two
    arrays in one read of each (instead of writing ``x3 * other3`` out first). The N*C partial sums are then added
    in float64: summing all N*L values in float32 cost VGG's gradients three digits of accuracy (REFERENCE.md). CuPy
    runs a stack-by-vector matmul and einsum through slow general paths but a reduction in one kernel, accumulating
    in float64 as it goes: there the product is formed and reduced so.
    """
    xp = get_array_module(x3)
    if xp is not np:
        product = x3 if other3 is None else x3 * other3
        return product.sum(axis=(0, 3 - axis), dtype=xp.float64)
    if other3 is None:
        ones = np.ones(x3.shape[3 - axis], dtype=x3.dtype)  # one per value of the non-channel axis L
        row_totals = x3 @ ones if axis == 1 else ones @ x3  # (N, C) either way
    else:
        row_totals = np.einsum("ncl,ncl->nc" if axis == 1 else "nlc,nlc->nc", x3, other3)
    return row_totals.astype(np.float64).sum(axis=0)


def per_channel(values, x3, axis: int):
    """Spread per-channel ``values`` (C,) to a (C, L) or (L, C) array of ``x3``'s dtype, to combine with x3.

    Multiplying (N, C, L) by a (C, L) operand is faster on NumPy than by a (C, 1) column, which broadcasts
    along the innermost axis, and (N, L, C) by an (L, C) one than by a (C,) row; the copy is only C*L
    numbers. Casting to x3's dtype keeps a float32 input float32 (a float64
    operand would upcast the whole product).
    """
    xp = get_array_module(x3)
    values = values.astype(x3.dtype)
    if axis == 1:
        return xp.repeat(values, x3.shape[2]).reshape(x3.shape[1:])
    return values.reshape(1, -1).repeat(x3.shape[1], axis=0)  # (L, C); repeat, unlike tile, is one C call
