"""Sliding windows: the strided view of every convolution window, and for pooling where each kernel
offset's elements sit, padding, and what an average divides by.

Shared by the textbook Functions (``ops/conv.py``, ``ops/pooling.py``) and the fast ones (``ops/fast/``).
Notation as in ``ops/conv.py`` and ``ops/pooling.py``.
"""

from __future__ import annotations

import numpy as np

from ..backend import as_strided, get_array_module
from .arguments import output_length


def window_view(x_padded, kh: int, kw: int, stride=(1, 1), dilation=(1, 1)):
    """``im2col``'s windows (``ops/conv.py``) as a strided view (N, C, KH, KW, OH, OW) of x_padded, before the copy."""
    N, C, height, width = x_padded.shape
    (SH, SW), (DH, DW) = stride, dilation
    OH, OW = output_length(height, kh, SH, 0, DH), output_length(width, kw, SW, 0, DW)
    step_n, step_c, step_h, step_w = x_padded.strides  # bytes to the next image, channel, row, pixel
    return as_strided(
        x_padded,
        shape=(N, C, kh, kw, OH, OW),
        # next kernel tap: DH rows down; next output position: SH rows down (width likewise)
        strides=(step_n, step_c, DH * step_h, DW * step_w, SH * step_h, SW * step_w),
    )


def padded_size(size, kernel, stride, padding, dilation, out_size):
    """Length of the padded axis: the input plus padding on both sides, plus whatever a ceil_mode window
    hangs past the right padding (such a window is still computed, over its part that exists)."""
    reach = (out_size - 1) * stride + dilation * (kernel - 1) + 1  # the last window's last element + 1
    return max(size + 2 * padding, reach)


def offset_windows(kernel, stride, dilation, out_size):
    """For each kernel offset (i, j) in row-major order, the index of the strided slice of the padded
    input holding that offset's element of every window (see the module docstring)."""
    (KH, KW), (SH, SW), (DH, DW), (OH, OW) = kernel, stride, dilation, out_size
    return [
        (..., slice(i * DH, i * DH + (OH - 1) * SH + 1, SH), slice(j * DW, j * DW + (OW - 1) * SW + 1, SW))
        for i in range(KH)
        for j in range(KW)
    ]


def windows_overlap(kernel, stride, dilation):
    """True when one input element can fall in two windows (stride shorter than the dilated kernel)."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def pad(x, padding, padded_shape, fill, axes=(-2, -1)):
    """``x`` inside an array of ``fill`` whose ``axes`` (H, W) have ``padded_shape``, at offset (PH, PW);
    ``x`` itself when nothing is added."""
    (h, w), (PH, PW) = axes, padding
    H, W = x.shape[h], x.shape[w]
    if padded_shape == (H, W):
        return x
    padded = get_array_module(x).full(with_axis_sizes(x.shape, axes, padded_shape), fill, dtype=x.dtype)
    strided(strided(padded, h, PH, 1, H), w, PW, 1, W)[...] = x
    return padded


def unpad(grad_padded, padding, input_shape, axes=(-2, -1)):
    """The part of a padded gradient that belongs to the real input."""
    (h, w), (PH, PW) = axes, padding
    return strided(strided(grad_padded, h, PH, 1, input_shape[h]), w, PW, 1, input_shape[w])


def strided(array, axis: int, start: int, step: int, count: int):
    """The view of ``count`` elements along ``axis`` from ``start``, every ``step``-th (other axes whole)."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, start + step * (count - 1) + 1 if count else start, step)  # (count 0: none)
    return array[tuple(index)]


def with_axis_sizes(shape, axes, sizes):
    """``shape`` with the sizes at ``axes`` replaced."""
    shape = list(shape)
    for axis, size in zip(axes, sizes):
        shape[axis] = size
    return tuple(shape)


def avg_divisor(size, kernel, stride, padding, padded_shape, out_size, count_include_pad):
    """What each window's sum is divided by, as PyTorch counts it: an int when every window has the same
    count, else an (OH, OW) NumPy map (the geometry alone decides it, so it is computed on the host).

    A mask of the counted positions is summed over the windows exactly like the data:
    ``count_include_pad=True`` counts the padding but not what a ceil_mode window hangs past it
    (so such an edge window divides by less than KH*KW); ``False`` counts the real input only.
    """
    (H, W), (PH, PW) = size, padding
    counted = np.zeros(padded_shape)
    if count_include_pad:
        counted[: H + 2 * PH, : W + 2 * PW] = 1
    else:
        counted[PH : PH + H, PW : PW + W] = 1
    counts = sum(counted[window] for window in offset_windows(kernel, stride, (1, 1), out_size))
    return int(counts[0, 0]) if (counts == counts[0, 0]).all() else counts
