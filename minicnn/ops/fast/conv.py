"""Fast convolution kernels: ``FastConv2d`` equals the textbook ``ops/conv.py:Conv2d``, computed faster.

Same notation as ``ops/conv.py``. The textbook Function copies the windows NCHW (N, C*KH*KW, OH*OW) and
runs one matrix product per image; here the same im2col + GEMM is arranged for speed (each choice measured
in benchmarks/RESULTS.md):
"""

from __future__ import annotations

from ...autograd.function import Function, is_grad_enabled
from ...backend import as_strided, get_array_module
from ..arguments import output_length
from ..windows import window_view
from .layout import channel_view, from_channels_last, per_channel_total, to_channels_last

# 1. Channels last (see layout.py). The input is read as (N, H, W, C): a window's KW neighbouring
#    pixels and all their channels are then ONE run of KW*C numbers in memory, so im2col is one strided
#    view copied once, in long runs. The columns are rows, one per output pixel: (P, KH*KW*C).
# 2. One GEMM per product over the whole batch. ``columns @ weight`` gives (P, O), which IS the output
#    in channels-last order: no copy afterwards. dL/dW = columns^T @ dL/dy is one GEMM too.
# 3. First layers. On one-channel images a window is only KW numbers wide, too short a run to copy
#    fast, while the output rows are long: there the textbook columns (N, C*KH*KW, OH*OW) of the NCHW
#    input copy faster, one GEMM per image writes y in NCHW order, and one more row of ones in the
#    columns, whose weights are the biases, adds the bias inside the GEMM (and gives dL/dbias with dL/dW).
# 4. dL/dx, two ways. (a) col2im: dL/dcolumns = dL/dy @ weight^T, computed tap by tap so that each
#    tap's block is contiguous and adds onto the padded gradient in runs of OW*C. (b) For stride 1,
#    dL/dx is itself a convolution: dL/dy, padded by the kernel's reach minus the padding, correlated
#    with the kernel rotated by 180 degrees and its in/out channels swapped. That replaces the KH*KW
#    read-add-write passes of col2im by one im2col copy, faster when dL/dy is not larger than x
#    (padding 'same', or fewer outputs than inputs); col2im wins on 'valid' convs that grow the input.
# 5. Few outputs from wide windows (e.g. Inception's 88 -> 20 channels, 5x5): the columns, KH*KW copies of
#    x, cost more to copy than the narrow GEMM (O columns) costs to run. There the columns hold one
#    kernel ROW only, (N*H*OW, KW*C), KH times smaller (x is padded along W only), and one GEMM with the
#    weights of all KH kernel rows side by side, (KW*C, KH*O), gives each kernel row's share of every
#    output at every input row; y adds up the KH shares, kernel row i's taken where its outputs read
#    (``_kernel_row_pairs``; rows of padding add nothing, so they are never computed). The GEMM is KH
#    times wider and runs more efficiently, at the price of the shares no output uses ((H - OH) / OH
#    more work on a 'valid' conv, none with 'same' padding). ``_kernel_rows`` says where it is chosen.


def _pad_hw(x, padding, channels_last: bool):
    """Zero-pad the H and W axes of a logical (N, C, H, W) array by ((top, bottom), (left, right)), into a
    new array contiguous in the memory order asked for (returned as a logical NCHW array as well)."""
    xp = get_array_module(x)
    (top, bottom), (left, right) = padding
    N, C, H, W = x.shape
    if top == bottom == left == right == 0:  # nothing to add: x itself, copied only if in the other order
        return from_channels_last(to_channels_last(x)) if channels_last else xp.ascontiguousarray(x)
    if channels_last:
        x_padded = from_channels_last(xp.zeros((N, H + top + bottom, W + left + right, C), dtype=x.dtype))
    else:
        x_padded = xp.zeros((N, C, H + top + bottom, W + left + right), dtype=x.dtype)
    x_padded[:, :, top : top + H, left : left + W] = x
    return x_padded


def _row_columns(x_padded_nhwc, kernel, stride, dilation, groups):
    """Channels-last im2col: the windows of a padded (N, Hp, Wp, C) batch as rows (N*OH*OW, G, KH*KW*C/G).

    ``cols[n, p, q, g, i, j, c] = x_padded[n, SH*p + DH*i, SW*q + DW*j, g*C/G + c]``, a strided view of
    x_padded (``as_strided`` only describes how to step through the same memory) copied once. Without
    dilation and groups the innermost (j, c) steps are one memory run of KW*C numbers per kernel row.
    """
    xp = get_array_module(x_padded_nhwc)
    N, Hp, Wp, C = x_padded_nhwc.shape
    (KH, KW), (SH, SW), (DH, DW), G = kernel, stride, dilation, groups
    OH, OW = _output_size((Hp, Wp), kernel, stride, dilation)
    step_n, step_h, step_w, step_c = x_padded_nhwc.strides  # bytes to the next image, row, pixel, channel
    windows = as_strided(
        x_padded_nhwc,
        shape=(N, OH, OW, G, KH, KW, C // G),
        strides=(step_n, SH * step_h, SW * step_w, C // G * step_c, DH * step_h, DW * step_w, step_c),
    )
    return xp.ascontiguousarray(windows).reshape(N * OH * OW, G, KH * KW * (C // G))


def _image_columns(x, kernel, stride, padding, dilation):
    """Whether a window is so narrow (KW*C numbers, e.g. a first layer on 1-channel images) and the
    output rows so long that the textbook im2col of an NCHW input, (N, C, KH, KW, OH, OW) in runs of OW,
    copies faster than ``_row_columns`` (3 in "how the convolution Function computes" above)."""
    OW = output_length(x.shape[3] + sum(padding[1]), kernel[1], stride[1], 0, dilation[1])
    return x.flags.c_contiguous and x.shape[1] * kernel[1] < OW  # (a 1-channel batch is both NCHW and NHWC)


def _kernel_row_columns(x_wpadded_nhwc, kernel_width, stride_width, dilation_width):
    """The columns of 5 above: ``cols[n, h, q, j, c] = x_padded[n, h, SW*q + DW*j, c]`` for every input row h
    (x padded along W only), one strided view copied once, as (N*H*OW, KW*C)."""
    xp = get_array_module(x_wpadded_nhwc)
    N, H, Wp, C = x_wpadded_nhwc.shape
    OW = output_length(Wp, kernel_width, stride_width, 0, dilation_width)
    step_n, step_h, step_w, step_c = x_wpadded_nhwc.strides
    windows = as_strided(
        x_wpadded_nhwc,
        shape=(N, H, OW, kernel_width, C),
        strides=(step_n, step_h, stride_width * step_w, dilation_width * step_w, step_c),
    )
    return xp.ascontiguousarray(windows).reshape(N * H * OW, kernel_width * C)


def _kernel_rows(x_shape, weight_shape, stride, padding, dilation, groups, keep_columns: bool) -> bool:
    """Whether to use the kernel-row columns (5 above): one group, stride 1 down the rows, at most half again
    as many input rows as output rows (every input row's share is computed for every kernel row), and a
    window row at least 8x wider (KW*C) than the output (O). Without dL/dW (inference, a frozen weight, dL/dx
    as a convolution) 4x wider is enough, or fewer input rows than output rows (padding wider than the
    kernel's reach, as dL/dx of a 'valid' conv: the rows path would multiply the padding's zeros too).
    These bounds are measured (benchmarks/RESULTS.md, "Kernel-row columns")."""
    (O, C, KH, KW), H = weight_shape, x_shape[2]
    OH = H + sum(padding[0]) - dilation[0] * (KH - 1)  # (with stride 1 down the rows, the only case chosen)
    if keep_columns:
        worth_it = 8 * O <= KW * C
    else:
        worth_it = 4 * O <= KW * C or H < OH
    return groups == 1 and stride[0] == 1 and KH > 1 and worth_it and 2 * H <= 3 * OH


def _kernel_row_pairs(H, OH, kernel_height, stride_height, dilation_height, top):
    """For each kernel row i, the output rows it reaches and the input rows they read there, as two slices:
    output p reads input row SH*p + DH*i - top; rows of padding (outside 0..H-1) add nothing and are left out."""
    pairs = []
    for i in range(kernel_height):
        offset = dilation_height * i - top  # the input row output 0 reads
        first = max(0, -(offset // stride_height))  # the first output reading a row >= 0
        last = min(OH - 1, (H - 1 - offset) // stride_height)  # the last reading a row <= H - 1
        if first > last:  # this kernel row only ever sees padding
            pairs.append((slice(0, 0), slice(0, 0)))
        else:
            inputs = slice(stride_height * first + offset, stride_height * last + offset + 1, stride_height)
            pairs.append((slice(first, last + 1), inputs))
    return pairs


def _correlate(x, weight, bias, stride, padding, dilation, groups, keep_columns=True):
    """The convolution itself: logical (N, C, H, W) -> logical (N, O, OH, OW), and its columns.

    Returns (y, x_cols, layout), ``layout`` the column layout used: "rows" (P, G, K), with y channels-last
    (1 and 2 above); "image", the textbook one (3 above), (N, G, K [+ 1], OH*OW), with y in plain
    (N, O, OH, OW) order; or "kernel_rows" (N*H*OW, KW*C), with y channels-last (5 above, one group only).
    ``keep_columns`` says whether the columns will be kept for dL/dW: it changes which layout is fastest.
    """
    xp = get_array_module(x)
    N, (O, C_per_group, KH, KW), G = x.shape[0], weight.shape, groups
    K = C_per_group * KH * KW  # the length of one window
    if (KH, KW) == (1, 1) and padding == ((0, 0), (0, 0)):  # a 1x1 kernel's columns are the pixels themselves
        x_pixels = x.transpose(0, 2, 3, 1)[:, :: stride[0], :: stride[1]]
        OH, OW = x_pixels.shape[1:3]
        x_cols = x_pixels.reshape(N * OH * OW, G, C_per_group)  # a copy only if strided or not channels-last
    elif _image_columns(x, (KH, KW), stride, padding, dilation):
        windows = window_view(_pad_hw(x, padding, channels_last=False), KH, KW, stride, dilation)
        OH, OW = windows.shape[-2:]
        # the textbook columns, rows ordered (c, i, j) as the weight's own, plus a row of ones whose weights
        # are the biases: the GEMM adds the bias (a pass over y saved), and dL/dbias comes out of dL/dW's GEMM
        x_cols = xp.empty((N, G, K + (bias is not None), OH * OW), dtype=x.dtype)
        by_tap = (N, G, C_per_group, KH, KW, OH, OW)  # splitting axes: both reshapes are views
        x_cols[:, :, :K].reshape(by_tap)[...] = windows.reshape(by_tap)  # the im2col copy
        weight_rows = weight.reshape(G, O // G, K)
        if bias is not None:
            x_cols[:, :, K] = 1
            weight_rows = xp.concatenate([weight_rows, bias.reshape(G, O // G, 1)], axis=2)
        y = weight_rows @ x_cols  # (N, G, O/G, OH*OW): one GEMM per image, y in NCHW order
        return y.reshape(N, O, OH, OW), x_cols, "image"
    elif _kernel_rows(x.shape, weight.shape, stride, padding, dilation, G, keep_columns):
        H, top = x.shape[2], padding[0][0]
        x_wpadded_nhwc = _pad_hw(x, ((0, 0), padding[1]), channels_last=True).transpose(0, 2, 3, 1)
        OH, OW = _output_size((H + sum(padding[0]), x_wpadded_nhwc.shape[2]), (KH, KW), stride, dilation)
        x_cols = _kernel_row_columns(x_wpadded_nhwc, KW, stride[1], dilation[1])
        weight_rows = weight.transpose(3, 1, 2, 0).reshape(KW * C_per_group, KH * O)  # rows (j, c), columns (i, o)
        shares = (x_cols @ weight_rows).reshape(N, H, OW, KH, O)  # each kernel row's share, at every input row
        y_nhwc = xp.empty((N, OH, OW, O), dtype=x.dtype)
        y_nhwc[...] = 0 if bias is None else bias
        for i, (outputs, inputs) in enumerate(_kernel_row_pairs(H, OH, KH, stride[0], dilation[0], top)):
            y_nhwc[:, outputs] += shares[:, inputs, :, i]  # kernel row i's shares, where its outputs read them
        return from_channels_last(y_nhwc), x_cols, "kernel_rows"
    else:
        x_padded_nhwc = _pad_hw(x, padding, channels_last=True).transpose(0, 2, 3, 1)
        x_cols = _row_columns(x_padded_nhwc, (KH, KW), stride, dilation, G)
        OH, OW = _output_size(x_padded_nhwc.shape[1:3], (KH, KW), stride, dilation)
    # weight rows ordered (i, j, c) like the columns: (G, KH*KW*C/G, O/G)
    weight_cols = weight.reshape(G, O // G, C_per_group, KH, KW).transpose(0, 3, 4, 2, 1).reshape(G, K, O // G)
    y_groups = x_cols.transpose(1, 0, 2) @ weight_cols  # (G, P, K) @ (G, K, O/G): one GEMM per group
    y_nhwc = y_groups.transpose(1, 0, 2).reshape(N, OH, OW, O)  # free without groups
    if bias is not None:
        y_nhwc += bias  # channels are the innermost axis: the bias repeats along each row
    return from_channels_last(y_nhwc), x_cols, "rows"


def _output_size(padded_size, kernel, stride, dilation):
    """(OH, OW) of a window sliding over a padded (Hp, Wp) plane."""
    return tuple(map(output_length, padded_size, kernel, stride, (0, 0), dilation))


def _flipped_transposed(weight, groups):
    """The kernel of dL/dx as a convolution: rotated by 180 degrees, input and output channels swapped."""
    O, C_per_group, KH, KW = weight.shape
    swapped = weight.reshape(groups, O // groups, C_per_group, KH, KW).transpose(0, 2, 1, 3, 4)
    return swapped.reshape(groups * C_per_group, O // groups, KH, KW)[:, :, ::-1, ::-1]


def _grad_by_convolution_possible(x_shape, weight_shape, stride, padding, dilation) -> bool:
    """Whether dL/dx can be computed as a convolution of dL/dy (4b above): stride 1, and no more padding on
    a side than the kernel reaches (else the output's border pixels would have read only padding)."""
    (top, bottom), (left, right) = padding
    KH, KW = weight_shape[2:]
    return (
        stride == (1, 1) and max(top, bottom) <= dilation[0] * (KH - 1) and max(left, right) <= dilation[1] * (KW - 1)
    )


def _grad_by_convolution(x_shape, weight_shape, stride, padding, dilation) -> bool:
    """Whether dL/dx as a convolution of dL/dy (4b above) is possible and cheaper than col2im (4a)."""
    if not _grad_by_convolution_possible(x_shape, weight_shape, stride, padding, dilation):
        return False
    (_, C, H, W), (O, _, KH, KW) = x_shape, weight_shape
    (top, bottom), (left, right) = padding
    OH, OW = H + top + bottom - dilation[0] * (KH - 1), W + left + right - dilation[1] * (KW - 1)
    # im2col of dL/dy copies O*H*W numbers per tap; col2im reads and writes C*OH*OW (about twice the cost)
    return O * H * W <= 2 * C * OH * OW


class FastConv2d(Function):
    """y[n, o, p, q] = b[o] + sum over c, i, j of w[o, c, i, j] * x_padded[n, g*C/G + c, SH*p + DH*i, SW*q + DW*j],

    where g = o // (O/G) is the group of output channel o and c runs over that group's C/G channels.

    Equals the textbook ``ops/conv.py:Conv2d``; faster because its columns are copied channels-last in long
    runs and its GEMMs write y in the next layer's memory order (1-5 above); y is an NCHW view of NHWC memory.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        keep_columns = ctx.needs_input_grad[1] and is_grad_enabled()
        y, x_cols, layout = _correlate(x, weight, bias, stride, padding, dilation, groups, keep_columns)
        # dL/dweight needs the columns and dL/dx the weight; skip the (large) columns when the weight is frozen
        ctx.save_for_backward(x_cols if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape, ctx.has_bias, ctx.layout = x.shape, bias is not None, layout
        ctx.geometry = (stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        xp = get_array_module(grad_y)
        x_cols, weight = ctx.saved_tensors
        (N, O, OH, OW), (_, C_per_group, KH, KW), G = grad_y.shape, weight.shape, ctx.geometry[3]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0] or ctx.layout != "image":  # both work channels-last: one copy at most, here
            grad_nhwc = to_channels_last(grad_y)  # free when the next layer gave it channels-last
        if ctx.needs_input_grad[0]:
            grad_x = _grad_input(grad_nhwc, weight, ctx.x_shape, ctx.geometry)
        if ctx.needs_input_grad[1] and ctx.layout == "kernel_rows":  # columns^T @ dL/dshares: one GEMM
            stride, ((top, _), _), dilation, _ = ctx.geometry
            H = ctx.x_shape[2]
            grad_shares = xp.zeros((N, H, OW, KH, O), dtype=grad_y.dtype)  # shares no output used get zero
            for i, (outputs, inputs) in enumerate(_kernel_row_pairs(H, OH, KH, stride[0], dilation[0], top)):
                grad_shares[:, inputs, :, i] = grad_nhwc[:, outputs]  # each output's gradient, back to its shares
            grad_rows = x_cols.T @ grad_shares.reshape(-1, KH * O)  # (KW*C, KH*O), rows (j, c), columns (i, o)
            grad_weight = grad_rows.reshape(KW, C_per_group, KH, O).transpose(3, 1, 2, 0)
        elif ctx.needs_input_grad[1] and ctx.layout == "image":  # sum over the images of dL/dy @ columns^T
            grad_images = grad_y.reshape(N, G, O // G, OH * OW)  # a copy only if grad_y is channels-last
            grad_rows = (grad_images @ x_cols.swapaxes(2, 3)).sum(axis=0)  # (G, O/G, K [+ 1 for the ones row])
            K = C_per_group * KH * KW
            grad_weight = grad_rows[..., :K].reshape(weight.shape)
            if ctx.has_bias and ctx.needs_input_grad[2]:
                grad_bias = grad_rows[..., K].reshape(O)  # the ones row's weights are the biases
        elif ctx.needs_input_grad[1]:  # columns^T @ dL/dy: (G, K, P) @ (G, P, O/G), one GEMM per group
            grad_rows = grad_nhwc.reshape(N * OH * OW, G, O // G).transpose(1, 0, 2)
            grad_cols = x_cols.transpose(1, 2, 0) @ grad_rows  # (G, K, O/G), rows (i, j, c)
            grad_weight = grad_cols.reshape(G, KH, KW, C_per_group, O // G).transpose(0, 4, 3, 1, 2)
            grad_weight = grad_weight.reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2] and grad_bias is None:  # every pixel of its channel
            grad_bias = per_channel_total(*channel_view(grad_y)).astype(grad_y.dtype)
        return grad_x, grad_weight, grad_bias


def _grad_input(grad_nhwc, weight, x_shape, geometry):
    """dL/dx of the convolution as a logical (N, C, H, W) array (channels-last in memory), by 4b or 4a above."""
    stride, padding, dilation, G = geometry
    xp = get_array_module(grad_nhwc)
    (N, C, H, W), (O, C_per_group, KH, KW), (SH, SW), (DH, DW) = x_shape, weight.shape, stride, dilation
    (top, bottom), (left, right) = padding
    if _grad_by_convolution(x_shape, weight.shape, stride, padding, dilation):
        full = ((DH * (KH - 1) - top, DH * (KH - 1) - bottom), (DW * (KW - 1) - left, DW * (KW - 1) - right))
        return _correlate(
            from_channels_last(grad_nhwc), _flipped_transposed(weight, G), None, (1, 1), full, dilation, G, False
        )[0]
    # col2im: every tap's dL/dcolumns block (P, C), contiguous, added back where that tap read its pixels
    grad_rows = grad_nhwc.reshape(-1, G, O // G).transpose(1, 0, 2)  # (G, P, O/G)
    taps = weight.reshape(G, O // G, C_per_group, KH * KW).transpose(3, 0, 1, 2)  # (KH*KW, G, O/G, C/G)
    grad_taps = grad_rows @ taps  # (KH*KW, G, P, C/G)
    OH, OW = grad_nhwc.shape[1:3]
    grad_taps = grad_taps.transpose(0, 2, 1, 3).reshape(KH * KW, N, OH, OW, C)  # free without groups
    if (KH, KW, SH, SW) == (1, 1, 1, 1) and padding == ((0, 0), (0, 0)):
        return from_channels_last(grad_taps[0])  # the one tap read every pixel once
    grad_padded = xp.zeros((N, H + top + bottom, W + left + right, C), dtype=grad_nhwc.dtype)
    for i in range(KH):
        for j in range(KW):
            rows = slice(DH * i, DH * i + SH * (OH - 1) + 1, SH)
            columns = slice(DW * j, DW * j + SW * (OW - 1) + 1, SW)
            grad_padded[:, rows, columns] += grad_taps[i * KW + j]
    return from_channels_last(grad_padded[:, top : top + H, left : left + W])
