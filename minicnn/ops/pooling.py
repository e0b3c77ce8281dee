"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d.

Notation, as in conv: N batch, C channels, H x W input, KH x KW kernel, SH, SW stride, PH, PW padding,
DH, DW dilation, OH x OW output. Every op also takes an unbatched (C, H, W) input: the code indexes
the last two axes with ``...`` in front, so any leading axes come along for free.

The one idea. A window has KH*KW kernel offsets. For offset (i, j), the elements that offset touches
in *all* windows at once form one strided slice of the padded input::

    padded[..., i*DH : i*DH + (OH-1)*SH + 1 : SH,  j*DW : j*DW + (OW-1)*SW + 1 : SW]    # (N, C, OH, OW)

So a pool is a loop over the KH*KW offsets combining whole (N, C, OH, OW) slices (a running maximum,
or a running sum), never a loop over pixels; its backward adds the gradient back into the same slices
of a zero array. Overlapping windows (stride < kernel) need nothing special: each offset's slice
touches distinct elements, and different offsets simply add up. ``ops/fast/pooling.py`` computes the
same numbers faster (a 2x2 max as a two-round tournament, an average's window sum split into rows and
columns); ``max_pool2d`` and ``avg_pool2d`` pick those in one line.
"""

from __future__ import annotations

import math
from numbers import Integral

from ..autograd.function import Function, is_grad_enabled
from ..backend import get_array_module, scatter_add
from ..tensor import Tensor
from .arguments import output_length, pair
from .fast import fast_kernels
from .fast.pooling import MaxPool2x2, SeparableAvgPool2d
from .reduction import mean
from .windows import avg_divisor, offset_windows, pad, padded_size, unpad, windows_overlap

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"]


# ---------------------------------------------------------------- max pooling


def _offset_dtype(count):
    """The smallest integer type holding offsets 0 .. count-1 (int8 for kernels up to 11x11): less memory."""
    return "int8" if count <= 127 else "int16" if count <= 32767 else "int32"


class MaxPool2d(Function):
    """Max pooling: a running maximum over the KH*KW kernel offsets' slices, remembering which offset won
    each window; backward sends each window's gradient to that offset's element."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_size, return_indices=False):
        xp = get_array_module(x)
        padded_shape = tuple(map(padded_size, x.shape[-2:], kernel, stride, padding, dilation, out_size))
        padded = pad(x, padding, padded_shape, -xp.inf)  # padding never wins a max
        windows = offset_windows(kernel, stride, dilation, out_size)
        best = padded[windows[0]].copy()
        if not return_indices and not (ctx.needs_input_grad[0] and is_grad_enabled()):
            for window in windows[1:]:  # inference: only the values, no arg-max bookkeeping
                xp.maximum(best, padded[window], out=best)
            return best
        # best_offset[n, c, oh, ow] = which kernel offset k = i*KW + j holds the window's maximum
        best_offset = xp.zeros(best.shape, dtype=_offset_dtype(len(windows)))
        for k, window in enumerate(windows[1:], start=1):
            candidate = padded[window]
            better = candidate > best  # strict: on a tie the earlier offset keeps it (PyTorch's first max)
            # offsets only grow, so where(better, k, best_offset) == maximum(best_offset, better * k);
            # the arithmetic form is much faster than NumPy's where/masked writes on a random mask
            xp.maximum(best_offset, better * best_offset.dtype.type(k), out=best_offset)
            # maximum (not where): a NaN propagates, as in PyTorch (whose arg-max is then its last NaN;
            # ours stays on the last larger number: matching that would cost an isnan per offset, +40%)
            xp.maximum(best, candidate, out=best)
        # keep only the winning offsets: backward needs where each gradient goes, not x
        ctx.save_for_backward(best_offset)
        ctx.geometry = (kernel, stride, padding, dilation, out_size)
        ctx.input_shape, ctx.padded_shape = x.shape, padded_shape
        if not return_indices:
            return best
        return best, _flat_indices(best_offset, x.shape[-1], kernel, stride, padding, dilation)

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        (best_offset,) = ctx.saved_tensors
        kernel, stride, padding, dilation, out_size = ctx.geometry
        xp = get_array_module(grad)
        grad_padded = xp.zeros(ctx.input_shape[:-2] + ctx.padded_shape, dtype=grad.dtype)
        overlap = windows_overlap(kernel, stride, dilation)
        for k, window in enumerate(offset_windows(kernel, stride, dilation, out_size)):
            chosen = best_offset == k  # the windows whose maximum sits at offset k
            if overlap:
                grad_padded[window] += grad * chosen
            else:  # each element is in one window at most: write straight into the slice (no read-add-write)
                xp.multiply(grad, chosen, out=grad_padded[window])
        return unpad(grad_padded, padding, ctx.input_shape)


def _flat_indices(best_offset, W, kernel, stride, padding, dilation):
    """PyTorch's ``return_indices``: the arg-max as row * W + col in the unpadded (H, W) plane, int64."""
    xp = get_array_module(best_offset)
    (KW, (SH, SW), (PH, PW), (DH, DW)) = (kernel[1], stride, padding, dilation)
    OH, OW = best_offset.shape[-2:]
    offset = best_offset.astype(xp.int64)
    i, j = offset // KW, offset % KW  # the offset's row and column inside the window
    rows = xp.arange(OH, dtype=xp.int64)[:, None] * SH - PH + i * DH  # window start + offset, minus padding
    cols = xp.arange(OW, dtype=xp.int64) * SW - PW + j * DW
    return rows * W + cols


# ---------------------------------------------------------------- average pooling


class AvgPool2d(Function):
    """Average pooling: the sum over the KH*KW kernel offsets of each offset's slice, divided by the count
    PyTorch divides by (``windows.avg_divisor``); backward spreads each window's gradient evenly back."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_size, count_include_pad=True, divisor_override=None):
        xp = get_array_module(x)
        padded_shape = tuple(map(padded_size, x.shape[-2:], kernel, stride, padding, (1, 1), out_size))
        padded = pad(x, padding, padded_shape, 0)  # zero padding adds nothing to a sum
        windows = offset_windows(kernel, stride, (1, 1), out_size)
        total = sum(padded[window] for window in windows)  # (..., OH, OW): every window's sum at once
        divisor = divisor_override or avg_divisor(
            x.shape[-2:], kernel, stride, padding, padded_shape, out_size, count_include_pad
        )
        divisor = divisor if isinstance(divisor, int) else xp.asarray(divisor, dtype=x.dtype)  # an (OH, OW) map
        ctx.divisor, ctx.geometry, ctx.input_shape = divisor, (kernel, stride, padding, out_size), x.shape
        ctx.padded_shape = padded_shape
        return (total / divisor).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, out_size = ctx.geometry
        grad_each = grad / ctx.divisor  # every element of a window gets the same share of its gradient
        grad_padded = get_array_module(grad).zeros(ctx.input_shape[:-2] + ctx.padded_shape, dtype=grad.dtype)
        for window in offset_windows(kernel, stride, (1, 1), out_size):
            grad_padded[window] += grad_each
        return unpad(grad_padded, padding, ctx.input_shape)


# ---------------------------------------------------------------- adaptive pooling


def _adaptive_bins(size, out_size):
    """PyTorch's adaptive bins along one axis: bin i is [floor(i*size/out), ceil((i+1)*size/out))."""
    starts = [i * size // out_size for i in range(out_size)]
    ends = [-(-(i + 1) * size // out_size) for i in range(out_size)]
    return starts, ends


class AdaptiveAvgPool2dUneven(Function):
    """Adaptive average pooling when the bins are uneven (H % OH or W % OW != 0).

    Such bins differ in length and may overlap, so they are not one strided slice. But averaging is
    linear: with A (OH, H) holding 1/len(bin i) at the rows of bin i, and B (OW, W) likewise for the
    columns, the output is A @ x @ B^T, two GEMMs, and the backward is A^T @ grad @ B.
    """

    @staticmethod
    def forward(ctx, x, out_size):
        row_average = _bin_average_matrix(x, x.shape[-2], out_size[0])
        col_average = _bin_average_matrix(x, x.shape[-1], out_size[1])
        ctx.save_for_backward(row_average, col_average)  # the two small matrices are all backward needs
        return row_average @ (x @ col_average.T)

    @staticmethod
    def backward(ctx, grad):
        row_average, col_average = ctx.saved_tensors
        return row_average.T @ (grad @ col_average)


def _bin_average_matrix(x, size, out_size):
    """The (out_size, size) matrix whose row i averages the elements of adaptive bin i."""
    xp = get_array_module(x)
    starts, ends = (xp.asarray(b)[:, None] for b in _adaptive_bins(size, out_size))
    positions = xp.arange(size)
    in_bin = (positions >= starts) & (positions < ends)
    return (in_bin / (ends - starts)).astype(x.dtype)


class AdaptiveMaxPool2dUneven(Function):
    """Adaptive max pooling when the bins are uneven (H % OH or W % OW != 0).

    The bins are not strided slices, so each kernel offset (a, b) gathers, with an index array, element
    (start + a, start + b) of every bin; a short bin repeats its last row/column instead, and a repeat
    never wins the strict '>' so the first maximum stays. The loop runs over the (longest bin) offsets,
    not over the bins. Backward is one scatter-add, as overlapping bins can send two gradients to one
    element.
    """

    @staticmethod
    def forward(ctx, x, out_size, return_indices=False):
        xp = get_array_module(x)
        H, W = x.shape[-2:]
        (row_starts, row_ends), (col_starts, col_ends) = _adaptive_bins(H, out_size[0]), _adaptive_bins(W, out_size[1])
        longest_row_bin = max(e - s for s, e in zip(row_starts, row_ends))
        longest_col_bin = max(e - s for s, e in zip(col_starts, col_ends))
        row_starts, row_last = xp.asarray(row_starts)[:, None], xp.asarray(row_ends)[:, None] - 1
        col_starts, col_last = xp.asarray(col_starts), xp.asarray(col_ends) - 1
        best = best_index = None
        for a in range(longest_row_bin):
            rows = xp.minimum(row_starts + a, row_last)  # (OH, 1): row a of each bin, or its last row
            for b in range(longest_col_bin):
                cols = xp.minimum(col_starts + b, col_last)  # (OW,)
                candidate = x[..., rows, cols]  # (..., OH, OW) gathered
                flat_index = rows * W + cols  # (OH, OW): where the candidates sit in the (H, W) plane
                if best is None:
                    best, best_index = candidate, xp.broadcast_to(flat_index, candidate.shape)
                    continue
                # strict '>' keeps the first maximum; a NaN always wins, as in PyTorch
                better = (candidate > best) | xp.isnan(candidate)
                best = xp.where(better, candidate, best)
                best_index = xp.where(better, flat_index, best_index)
        best_index = best_index.astype(xp.int64)
        ctx.save_for_backward(best_index)  # where each output came from: all backward needs
        ctx.input_shape = x.shape
        return (best, best_index) if return_indices else best

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        (best_index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        H, W = ctx.input_shape[-2:]
        planes = math.prod(ctx.input_shape[:-2])
        # index into the whole input flattened: plane number * (H*W) + index inside the plane
        plane_start = (xp.arange(planes, dtype=xp.int64) * (H * W)).reshape(ctx.input_shape[:-2] + (1, 1))
        grad_input = xp.zeros(planes * H * W, dtype=grad.dtype)
        scatter_add(grad_input, (best_index + plane_start).reshape(-1), grad.reshape(-1))
        return grad_input.reshape(ctx.input_shape)


class GlobalMaxPool2d(Function):
    """Adaptive max pooling to 1x1: one argmax over each flattened (H*W) plane."""

    @staticmethod
    def forward(ctx, x, return_indices=False):
        xp = get_array_module(x)
        flat = x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))  # not -1: ambiguous for an empty batch
        index = flat.argmax(axis=-1)[..., None]  # (..., 1); argmax picks the first maximum, as PyTorch
        values = xp.take_along_axis(flat, index, axis=-1)
        ctx.save_for_backward(index)  # backward sends each gradient to this one element
        ctx.input_shape = x.shape
        index, values = index[..., None].astype(xp.int64), values[..., None]  # (..., 1, 1)
        return (values, index) if return_indices else values

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        H, W = ctx.input_shape[-2:]
        is_max = xp.arange(H * W) == index  # (..., H*W) one-hot
        return (is_max * grad.reshape(grad.shape[:-2] + (1,))).reshape(ctx.input_shape)


# ---------------------------------------------------------------- argument checks


def _describe(pair):
    """(3, 3) as '3', (3, 2) as '(3, 2)': how error messages show a kernel or padding."""
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


def _check_input(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if 0 in input.shape[-3:]:
        raise ValueError(f"{op}: expected non-empty channel and spatial dimensions, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype} (use .float() first)")


def _window_arguments(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Check the window arguments at the door; return (kernel, stride, padding, dilation, out_size) pairs."""
    _check_input(input, op)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else stride
    stride = pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    dilation = pair(dilation, "dilation", op)
    for name, value, smallest in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1)):
        if min(value) < smallest:
            raise ValueError(f"{op}: {name} must be positive, got {_describe(value)}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {_describe(padding)}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {_describe(padding)} must be at most half the kernel size {_describe(kernel)}")
    H, W = input.shape[-2:]
    out_size = tuple(map(output_length, (H, W), kernel, stride, padding, dilation, (ceil_mode, ceil_mode)))
    if min(out_size) <= 0:
        dilated = f" and dilation {_describe(dilation)}" if dilation != (1, 1) else ""
        raise ValueError(
            f"{op}: kernel {_describe(kernel)}{dilated} with padding {_describe(padding)} is larger than "
            f"the input {H}x{W} of shape {input.shape}"
        )
    return kernel, stride, padding, dilation, out_size


def _adaptive_output_size(op, input, output_size):
    """``output_size`` (int, or pair whose None entries keep the input size) as a pair of positive ints."""
    _check_input(input, op)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
        output_size = tuple(input.shape[-2 + i] if s is None else s for i, s in enumerate(output_size))
    out_size = pair(output_size, "output_size", op)
    if min(out_size) <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out_size


# ---------------------------------------------------------------- the public functions


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """2-D max pooling: the largest value in each KH x KW window.

    Args:
        input: (N, C, H, W) or (C, H, W) floating point tensor.
        kernel_size: window size, int or (KH, KW).
        stride: step between windows, int or pair; defaults to ``kernel_size``.
        padding: implicit -inf border on each side, int or pair; at most half the kernel size.
        dilation: spacing between the elements of a window, int or pair.
        ceil_mode: round the output size up, keeping a last partial window if it starts inside the
            input or the left padding.
        return_indices: also return the int64 arg-max positions, as row * W + col in each (H, W) plane
            of the unpadded input (what ``max_unpool2d`` takes).

    Returns:
        the pooled tensor, or ``(pooled, indices)`` when ``return_indices``.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW) with OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1 (ceil with
        ``ceil_mode``), and OW likewise. The gradient goes to the first maximum of each window (row-major).
        A window holding a NaN gives NaN, as in PyTorch; its recorded arg-max may differ from PyTorch's.
    """
    kernel, stride, padding, dilation, out_size = _window_arguments(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode
    )
    plain_2x2 = kernel == stride == (2, 2) and padding == (0, 0) and dilation == (1, 1)
    if fast_kernels() and plain_2x2 and not ceil_mode and not return_indices:  # the common case
        return MaxPool2x2.apply(input)  # the same numbers, faster: ops/fast/pooling.py
    return MaxPool2d.apply(
        input,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        out_size=out_size,
        return_indices=bool(return_indices),
    )


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
):
    """2-D average pooling: the mean of each KH x KW window.

    Args:
        input: (N, C, H, W) or (C, H, W) floating point tensor.
        kernel_size: window size, int or (KH, KW).
        stride: step between windows, int or pair; defaults to ``kernel_size``.
        padding: implicit zero border on each side, int or pair; at most half the kernel size.
        ceil_mode: round the output size up (see ``max_pool2d``).
        count_include_pad: divide by the window size including the zero padding (so a corner of
            ``avg_pool2d(x, 3, stride=1, padding=1)`` divides by 9); else by the number of real input
            elements in the window. Either way, what a ceil_mode window hangs past the padding is not counted.
        divisor_override: divide every window's sum by this nonzero int instead.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW) with OH = floor((H + 2*PH - KH) / SH) + 1 (ceil with ``ceil_mode``),
        and OW likewise.
    """
    op = "avg_pool2d"
    kernel, stride, padding, _, out_size = _window_arguments(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if not isinstance(divisor_override, Integral) or isinstance(divisor_override, bool):
            raise TypeError(f"{op}: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
        divisor_override = int(divisor_override)
    AveragePool = SeparableAvgPool2d if fast_kernels() else AvgPool2d  # the same numbers; the first is faster
    return AveragePool.apply(
        input,
        kernel=kernel,
        stride=stride,
        padding=padding,
        out_size=out_size,
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )


def adaptive_avg_pool2d(input: Tensor, output_size):
    """Average pooling to a fixed output size, whatever the input size.

    Output cell (i, j) averages the bin of rows [floor(i*H/OH), ceil((i+1)*H/OH)) and the columns
    likewise. An output of 1x1 is global average pooling (one mean over each plane); when H % OH == 0
    and W % OW == 0 the bins are regular windows and this is ``avg_pool2d`` with kernel = stride = H/OH.

    Args:
        input: (N, C, H, W) or (C, H, W) floating point tensor.
        output_size: OH, or (OH, OW); a None entry keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW).
    """
    op = "adaptive_avg_pool2d"
    out_size = _adaptive_output_size(op, input, output_size)
    (H, W), (OH, OW) = input.shape[-2:], out_size
    if out_size == (1, 1):
        return mean(input, dim=(-2, -1), keepdim=True)  # global pooling: one reduction
    if H % OH == 0 and W % OW == 0:
        kernel = (H // OH, W // OW)
        AveragePool = SeparableAvgPool2d if fast_kernels() else AvgPool2d  # the same numbers; the first is faster
        return AveragePool.apply(input, kernel=kernel, stride=kernel, padding=(0, 0), out_size=out_size)
    return AdaptiveAvgPool2dUneven.apply(input, out_size=out_size)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size, whatever the input size.

    Output cell (i, j) is the maximum of the bin of rows [floor(i*H/OH), ceil((i+1)*H/OH)) and the
    columns likewise. An output of 1x1 is global max pooling (one argmax over each plane); when
    H % OH == 0 and W % OW == 0 this is ``max_pool2d`` with kernel = stride = H/OH.

    Args:
        input: (N, C, H, W) or (C, H, W) floating point tensor.
        output_size: OH, or (OH, OW); a None entry keeps that input size.
        return_indices: also return the int64 arg-max positions (row * W + col in each plane).

    Shape:
        (N, C, H, W) -> (N, C, OH, OW).
    """
    op = "adaptive_max_pool2d"
    out_size = _adaptive_output_size(op, input, output_size)
    (H, W), (OH, OW) = input.shape[-2:], out_size
    return_indices = bool(return_indices)
    if out_size == (1, 1):
        return GlobalMaxPool2d.apply(input, return_indices=return_indices)
    if H % OH == 0 and W % OW == 0:
        kernel = (H // OH, W // OW)
        return MaxPool2d.apply(
            input,
            kernel=kernel,
            stride=kernel,
            padding=(0, 0),
            dilation=(1, 1),
            out_size=out_size,
            return_indices=return_indices,
        )
    return AdaptiveMaxPool2dUneven.apply(input, out_size=out_size, return_indices=return_indices)
