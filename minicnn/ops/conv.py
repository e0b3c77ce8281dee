"""2-D convolution: ``im2col``, ``col2im``, three equal convolution Functions and the public ``conv2d``.

Notation, used in every shape below (as in DeZero's ``functions_conv.py``):

    N        batch size                 C, O       input and output channels
    H, W     input height and width     G          groups (C/G input channels feed O/G outputs)
    KH, KW   kernel height and width    SH, SW     stride
    PH, PW   padding                    DH, DW     dilation (gap between kernel taps; 1 = none)
    OH, OW   output height and width:   OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1   (OW alike)
    Hp, Wp   padded height and width

Convolution as one matrix product ("im2col"): copy every KH x KW window of the padded input into a
column, so that the output is ``weight (G, O/G, C/G*KH*KW) @ columns``. The backward pass runs the same
product transposed, and ``col2im`` adds the columns back onto the pixels they were copied from.

``im2col``/``col2im`` lay the columns out image by image, (N, C, KH, KW, OH, OW), the textbook way;
``Conv2dPerImage`` uses them. ``Conv2d`` and ``Conv2dShiftAfter`` arrange the same computation for speed
(see "how the convolution Functions compute" below), and ``conv2d`` picks the fastest of the three for
the shapes at hand. All three give the same numbers and accept every option.
"""

from __future__ import annotations

import operator

from ..autograd import Function, Tensor
from ..backend import as_strided, get_array_module

__all__ = ["conv2d", "im2col", "col2im"]


def im2col(x_padded, kh: int, kw: int, stride=(1, 1), dilation=(1, 1)):
    """Copy every KH x KW window of an (already padded) batch of images into columns.

    ``cols[n, c, i, j, p, q] = x_padded[n, c, SH*p + DH*i, SW*q + DW*j]``: for kernel tap (i, j), the
    pixel that tap sees when the window sits at output position (p, q).

    The windows are first a strided *view* of ``x_padded`` (no copy: ``as_strided`` only describes how to
    step through the same memory), then copied once into a contiguous array, so that reshaping it to
    (N, G, C/G*KH*KW, OH*OW) for the matrix product is free.

    Args:
        x_padded: array (N, C, H + 2*PH, W + 2*PW), NumPy or CuPy.
        kh, kw: kernel height and width.
        stride: (SH, SW).
        dilation: (DH, DW).

    Returns:
        A new contiguous array of shape (N, C, KH, KW, OH, OW).
    """
    xp = get_array_module(x_padded)
    N, C, height, width = x_padded.shape
    (SH, SW), (DH, DW) = stride, dilation
    OH = (height - DH * (kh - 1) - 1) // SH + 1
    OW = (width - DW * (kw - 1) - 1) // SW + 1
    step_n, step_c, step_h, step_w = x_padded.strides  # bytes to the next image, channel, row, pixel
    windows = as_strided(
        x_padded,
        shape=(N, C, kh, kw, OH, OW),
        # next kernel tap: DH rows down; next output position: SH rows down (width likewise)
        strides=(step_n, step_c, DH * step_h, DW * step_w, SH * step_h, SW * step_w),
    )
    return xp.ascontiguousarray(windows)  # the one copy


def col2im(cols, input_shape, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)):
    """The adjoint of pad-then-``im2col``: add every column entry back onto the pixel it was copied from.

    A pixel that sat in several windows receives the sum of their entries (that is the chain rule for a
    value used several times). The loop runs over the KH*KW kernel taps only; each step adds a whole
    (N, C, OH, OW) block onto a strided slice of the padded gradient. Finally the padding is cut away.

    Args:
        cols: array (N, C, KH, KW, OH, OW), e.g. the gradient of ``im2col``'s output.
        input_shape: (N, C, H, W), the shape of the input *before* padding.
        stride: (SH, SW).
        padding: ((top, bottom), (left, right)); PyTorch's ``padding=(PH, PW)`` is ((PH, PH), (PW, PW)).
        dilation: (DH, DW).

    Returns:
        Array of ``input_shape`` (a view into the padded buffer when there is padding).
    """
    xp = get_array_module(cols)
    N, C, KH, KW, OH, OW = cols.shape
    H, W = input_shape[2:]
    (SH, SW), ((top, bottom), (left, right)), (DH, DW) = stride, padding, dilation
    grad_padded = xp.zeros((N, C, H + top + bottom, W + left + right), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            # tap (i, j) read rows DH*i, DH*i + SH, ..., and columns DW*j, DW*j + SW, ...
            rows = slice(DH * i, DH * i + SH * (OH - 1) + 1, SH)
            columns = slice(DW * j, DW * j + SW * (OW - 1) + 1, SW)
            grad_padded[:, :, rows, columns] += cols[:, :, i, j]
    return grad_padded[:, :, top : top + H, left : left + W]


# ---------------------------------------------------------------- how the convolution Functions compute
#
# NumPy runs one matrix product (GEMM) at full speed, but each copy or add is one pass over memory, and
# copies of short rows are slow. So (each measured in benchmarks/RESULTS.md):
#
# 1. Batch second (``Conv2d``). Channels first, then the batch: a (C*KH*KW, N*OH*OW) column matrix makes
#    each product (forward, dL/dW, dL/dx) ONE large GEMM over the whole batch instead of N small ones.
#    The price: y and dL/dy change layout between (O, N, ...) and (N, O, ...), one copy each way.
# 2. Whole rows (stride 1, output rows of at most 16 pixels). Read every padded image as one long row of
#    pixels: kernel tap (i, j) then meets the OH*Wp consecutive pixels from DH*i*Wp + DW*j on, i.e. OH
#    whole rows. Computing those Wp (not OW) columns per output row turns each copy and each add-back
#    into one contiguous run per (channel, image) instead of OH runs of OW pixels: 2-3x faster copies
#    for Wp/OW more multiply-adds, a 10-30% faster conv on small images. The last Wp - OW columns of each
#    output row are garbage, dropped from y; their gradient is zero, so adding it back (where a row
#    spills into the next) changes nothing. One extra zero row under each image keeps the last tap's
#    run inside its image.
# 3. Image by image (``Conv2dPerImage``) where the columns are short (C/G*KH*KW <= 32, e.g. a first layer
#    on 1-channel images) and the rows long, or the kernel is 1x1: the products are then cheap and
#    writing y in its own (N, O, ...) order saves the layout copies of 1. (~1.4x on such layers).
# 4. Shift before or after the product. A convolution is a sum over the KH*KW taps of a channel-mixing
#    product on shifted pixels, y = sum over (i, j) of W[:, :, i, j] @ shift_ij(x). The shift can come
#    before the product (im2col: C*KH*KW rows of copies) or after it (``Conv2dShiftAfter``: multiply
#    every pixel by every tap, then add the products up shifted: O*KH*KW rows). When the conv reduces
#    channels (O < C, Inception's 88 -> 20 5x5) shifting after moves less data: ~2.5x faster.


def _pad_hw(x, padding, extra_rows: int = 0):
    """Zero-pad the last two axes of ``x`` by ((top, bottom), (left, right)), plus ``extra_rows`` more zero
    rows at the bottom, into a new contiguous array; ``x`` itself when nothing is added."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == extra_rows == 0:
        return x
    *leading, H, W = x.shape
    shape = (*leading, H + top + bottom + extra_rows, W + left + right)
    x_padded = get_array_module(x).zeros(shape, dtype=x.dtype)
    x_padded[..., top : top + H, left : left + W] = x
    return x_padded


def _conv_geometry(x_shape, kernel, stride, padding, dilation):
    """(OH, OW, OWc, extra_rows): output size, columns computed per output row, zero rows added under images."""
    (KH, KW), (SH, SW), (DH, DW) = kernel, stride, dilation
    Hp, Wp = (size + sum(pads) for size, pads in zip(x_shape[2:], padding))
    OH, OW = (Hp - DH * (KH - 1) - 1) // SH + 1, (Wp - DW * (KW - 1) - 1) // SW + 1
    # whole rows pay for themselves where rows are short; rows of 17+ pixels copy fast enough one by one
    whole_rows = (SH, SW) == (1, 1) and OW <= 16
    # with whole rows the last tap's run of OH*Wp pixels ends DW*(KW-1) past its image: one more row holds it
    return OH, OW, Wp if whole_rows else OW, 1 if whole_rows and KW > 1 else 0


def _tap(planes, i, j, stride, dilation, out_size):
    """The pixels of ``planes`` (..., rows, Wp) that kernel tap (i, j) meets at every output pixel: a
    writable view (..., OH, OWc).

    Stride 1 (whole rows, OWc = Wp): the OH*Wp consecutive pixels of each plane, read as one long row,
    from DH*i*Wp + DW*j on. Otherwise the rows DH*i, DH*i + SH, ... and columns DW*j, DW*j + SW, ...
    ``planes`` must have its last two axes contiguous: merging them into the long row is then a view (in
    NumPy and CuPy alike, also of a transposed array), so writing into the result writes into ``planes``.
    """
    (SH, SW), (DH, DW), (OH, OW, OWc) = stride, dilation, out_size
    *leading, rows, Wp = planes.shape
    if OWc == Wp and (SH, SW) == (1, 1):
        start = DH * i * Wp + DW * j
        long_rows = planes.reshape(*leading, rows * Wp)
        return long_rows[..., start : start + OH * Wp].reshape(*leading, OH, Wp)
    return planes[..., DH * i : DH * i + SH * (OH - 1) + 1 : SH, DW * j : DW * j + SW * (OW - 1) + 1 : SW]


def _embed_grad(grad_y, OWc):
    """dL/dy (N, O, OH, OW) copied into the layout the GEMMs computed, (O, N, OH, OWc); the garbage columns
    get gradient zero (so their products add nothing to dL/dW and dL/dx)."""
    N, O, OH, OW = grad_y.shape
    embedded = get_array_module(grad_y).empty((O, N, OH, OWc), dtype=grad_y.dtype)
    embedded[..., :OW] = grad_y.transpose(1, 0, 2, 3)
    embedded[..., OW:] = 0
    return embedded


class Conv2d(Function):
    """y[n, o, p, q] = b[o] + sum over c, i, j of w[o, c, i, j] * x_padded[n, g*C/G + c, SH*p + DH*i, SW*q + DW*j],

    where g = o // (O/G) is the group of output channel o and c runs over that group's C/G channels.
    Computed by im2col: copy each tap's shifted input into columns, then one GEMM (see above).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        xp = get_array_module(x)
        (N, C), (O, C_per_group, KH, KW), G = x.shape[:2], weight.shape, groups
        OH, OW, OWc, extra_rows = out = _conv_geometry(x.shape, (KH, KW), stride, padding, dilation)
        x_planes = _pad_hw(x.transpose(1, 0, 2, 3), padding, extra_rows)  # (C, N, rows, Wp), batch second
        x_cols = xp.empty((C, KH, KW, N, OH, OWc), dtype=x.dtype)
        for i in range(KH):
            for j in range(KW):
                x_cols[:, i, j] = _tap(x_planes, i, j, stride, dilation, out[:3])  # im2col, one tap at a time
        x_cols = x_cols.reshape(G, C_per_group * KH * KW, N * OH * OWc)  # free: C is (G, C/G)
        y_cols = weight.reshape(G, O // G, -1) @ x_cols  # (G, O/G, N*OH*OWc): one GEMM per group
        y_cols = y_cols.reshape(O, N, OH, OWc)[..., :OW].transpose(1, 0, 2, 3)  # drop the garbage (a view)
        y = xp.empty((N, O, OH, OW), dtype=x.dtype)
        if bias is not None:
            xp.add(y_cols, bias.reshape(1, O, 1, 1), out=y)  # the copy to (N, O, OH, OW) adds the bias
        else:
            y[...] = y_cols
        # dL/dweight needs the columns and dL/dx needs the weight; skip the (large) columns when unused
        ctx.save_for_backward(x_cols if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape, ctx.has_bias, ctx.out = x.shape, bias is not None, out
        ctx.geometry = (stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x_cols, weight = ctx.saved_tensors
        stride, padding, dilation, G = ctx.geometry
        (OH, _, OWc, extra_rows), (N, C, H, W), (O, _, KH, KW) = ctx.out, ctx.x_shape, weight.shape
        xp = get_array_module(grad_y)
        grad_rows = _embed_grad(grad_y, OWc).reshape(G, O // G, N * OH * OWc)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # dL/dcols = W^T @ dL/dY, then col2im: each entry back onto its pixel
            grad_cols = weight.reshape(G, O // G, -1).swapaxes(1, 2) @ grad_rows  # (G, C/G*KH*KW, N*OH*OWc)
            grad_cols = grad_cols.reshape(C, KH, KW, N, OH, OWc)
            (top, bottom), (left, right) = padding
            grad_padded = xp.zeros((N, C, H + top + bottom + extra_rows, W + left + right), dtype=grad_y.dtype)
            grad_planes = grad_padded.transpose(1, 0, 2, 3)  # (C, N, rows, Wp), as the columns are ordered
            for i in range(KH):
                for j in range(KW):
                    _tap(grad_planes, i, j, stride, dilation, ctx.out[:3])[...] += grad_cols[:, i, j]
            grad_x = grad_padded[:, :, top : top + H, left : left + W]
        if ctx.needs_input_grad[1]:  # dL/dW = dL/dY @ cols^T, one GEMM summing over the whole batch
            # computed as (cols @ dL/dY^T)^T: the same numbers, ~30% faster in OpenBLAS with the long axis last
            grad_weight = (x_cols @ grad_rows.swapaxes(1, 2)).swapaxes(1, 2).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:  # each bias touched every pixel of its channel
            # channel sums as one matrix-vector product (2-3x faster than sum(axis=(0, 2, 3)))
            grad_bias = grad_rows.reshape(O, -1) @ xp.ones(N * OH * OWc, dtype=grad_y.dtype)
        return grad_x, grad_weight, grad_bias


class Conv2dPerImage(Function):
    """The same convolution image by image: the textbook ``im2col`` (N, C, KH, KW, OH, OW) and one small
    GEMM per image, whose result is already the (N, O, OH, OW) output.

    Best where a column is short and the rows long (a first layer on 1-channel images): the products are
    then cheap, and writing y and reading dL/dy in their own (N, O, ...) order saves the batch-second
    path's two layout copies, ~1 ms on the Keras-style first layer.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        N, (O, C_per_group, KH, KW), G = x.shape[0], weight.shape, groups
        if (KH, KW) == (1, 1) and padding == ((0, 0), (0, 0)):  # a 1x1 kernel reads every SH-th row: a view
            x_cols = x[:, :, :: stride[0], :: stride[1]]
        else:
            x_cols = im2col(_pad_hw(x, padding), KH, KW, stride, dilation)  # (N, C, KH, KW, OH, OW)
        OH, OW = x_cols.shape[-2:]
        x_cols = x_cols.reshape(N, G, C_per_group * KH * KW, OH * OW)  # free: C is (G, C/G)
        y = weight.reshape(G, O // G, -1) @ x_cols  # (N, G, O/G, OH*OW): N GEMMs, already (N, O, OH, OW)
        if bias is not None:
            y += bias.reshape(G, O // G, 1)
        # dL/dweight needs the columns and dL/dx needs the weight; skip the (large) columns when unused
        ctx.save_for_backward(x_cols if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None
        ctx.geometry = (stride, padding, dilation, groups)
        return y.reshape(N, O, OH, OW)

    @staticmethod
    def backward(ctx, grad_y):
        x_cols, weight = ctx.saved_tensors
        stride, padding, dilation, G = ctx.geometry
        (N, O, OH, OW), (C, KH, KW) = grad_y.shape, (ctx.x_shape[1], *weight.shape[2:])
        xp = get_array_module(grad_y)
        grad_rows = grad_y.reshape(N, G, O // G, OH * OW)  # the forward product's layout
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # dL/dcols = W^T @ dL/dY per image, then col2im
            grad_cols = weight.reshape(G, O // G, -1).swapaxes(1, 2) @ grad_rows  # (N, G, C/G*KH*KW, OH*OW)
            grad_cols = grad_cols.reshape(N, C, KH, KW, OH, OW)
            if (KH, KW, *stride) == (1, 1, 1, 1) and padding == ((0, 0), (0, 0)):  # the columns were x itself
                grad_x = grad_cols.reshape(ctx.x_shape)
            else:
                grad_x = col2im(grad_cols, ctx.x_shape, stride, padding, dilation)
        if ctx.needs_input_grad[1]:  # dL/dW = sum over the images of cols @ dL/dY^T (transposed back)
            per_image = x_cols @ grad_rows.swapaxes(2, 3)  # (N, G, C/G*KH*KW, O/G)
            grad_weight = per_image.sum(axis=0).swapaxes(1, 2).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:  # channel sums as matrix-vector products
            grad_bias = (grad_y.reshape(N, O, OH * OW) @ xp.ones(OH * OW, dtype=grad_y.dtype)).sum(axis=0)
        return grad_x, grad_weight, grad_bias


class Conv2dShiftAfter(Function):
    """The same stride-1 convolution, multiplying first and shifting after (for O < C, see above).

    products[i, j] = W[:, :, i, j] @ x at every padded pixel (one GEMM for all taps); then
    y[n, o, p, q] = sum over (i, j) of products[i, j][o, n, p + DH*i, q + DW*j], added tap by tap.
    Backward is the mirror image: dL/dproducts[i, j] is dL/dy shifted back, and both gradients are GEMMs
    with it: dL/dx = sum of W[:, :, i, j]^T @ dL/dproducts[i, j], dL/dW[:, :, i, j] = dL/dproducts[i, j] @ x^T.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        xp = get_array_module(x)
        N, (O, C_per_group, KH, KW), G = x.shape[0], weight.shape, groups
        OH, OW, OWc, extra_rows = out = _conv_geometry(x.shape, (KH, KW), (1, 1), padding, dilation)
        x_planes = _pad_hw(x.transpose(1, 0, 2, 3), padding, extra_rows)  # (C, N, rows, Wp)
        rows, Wp = x_planes.shape[2:]
        x_rows = x_planes.reshape(G, C_per_group, N * rows * Wp)
        # weight as (G, KH*KW*O/G, C/G): one row per (tap, output channel)
        weight_taps = weight.reshape(G, O // G, C_per_group, KH * KW).transpose(0, 3, 1, 2)
        weight_taps = weight_taps.reshape(G, KH * KW * (O // G), C_per_group)
        products = (weight_taps @ x_rows).reshape(G, KH * KW, O // G, N, rows, Wp)
        y_groups = xp.zeros((G, O // G, N, OH, OWc), dtype=x.dtype)
        for i in range(KH):
            for j in range(KW):
                y_groups += _tap(products[:, i * KW + j], i, j, (1, 1), dilation, out[:3])
        y = xp.empty((N, O, OH, OW), dtype=x.dtype)
        y_view = y_groups.reshape(O, N, OH, OWc)[..., :OW].transpose(1, 0, 2, 3)  # drop the garbage columns
        if bias is not None:
            xp.add(y_view, bias.reshape(1, O, 1, 1), out=y)
        else:
            y[...] = y_view
        # backward multiplies dL/dproducts by the input (for dL/dW) and by the weight (for dL/dx)
        ctx.save_for_backward(x_rows if ctx.needs_input_grad[1] else None, weight_taps)
        ctx.x_shape, ctx.weight_shape, ctx.has_bias, ctx.out = x.shape, weight.shape, bias is not None, out
        ctx.geometry = (padding, dilation, groups, rows, Wp)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x_rows, weight_taps = ctx.saved_tensors
        padding, dilation, G, rows, Wp = ctx.geometry
        (OH, _, OWc, _), (N, C, H, W), (O, C_per_group, KH, KW) = ctx.out, ctx.x_shape, ctx.weight_shape
        xp = get_array_module(grad_y)
        grad_groups = _embed_grad(grad_y, OWc).reshape(G, O // G, N, OH, OWc)
        # dL/dproducts: each tap's products met dL/dy shifted by that tap (zero where no output read them)
        grad_products = xp.zeros((G, KH * KW, O // G, N, rows, Wp), dtype=grad_y.dtype)
        for i in range(KH):
            for j in range(KW):
                _tap(grad_products[:, i * KW + j], i, j, (1, 1), dilation, ctx.out[:3])[...] = grad_groups
        grad_products = grad_products.reshape(G, KH * KW * (O // G), N * rows * Wp)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # one GEMM: every pixel gathers what its products were worth
            grad_planes = (weight_taps.swapaxes(1, 2) @ grad_products).reshape(C, N, rows, Wp)
            (top, _), (left, _) = padding
            # a (C, N, ...) ordered view: the next backward that needs another order copies it anyway
            grad_x = grad_planes[:, :, top : top + H, left : left + W].transpose(1, 0, 2, 3)
        if ctx.needs_input_grad[1]:  # one GEMM over the whole batch, as (x @ dL/dproducts^T)^T (see Conv2d)
            grad_taps = (x_rows @ grad_products.swapaxes(1, 2)).reshape(G, C_per_group, KH, KW, O // G)
            grad_weight = grad_taps.transpose(0, 4, 1, 2, 3).reshape(ctx.weight_shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_groups.reshape(O, -1) @ xp.ones(N * OH * OWc, dtype=grad_y.dtype)
        return grad_x, grad_weight, grad_bias


def _pair(value, name: str) -> tuple:
    """An int or a sequence of one or two ints, as PyTorch accepts them, as a pair of ints."""
    try:
        if isinstance(value, (tuple, list)):
            pair = tuple(operator.index(v) for v in value)
        else:
            pair = (operator.index(value),) * 2
    except TypeError:
        raise TypeError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) == 1:
        pair = pair * 2
    if len(pair) != 2:
        raise ValueError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}")
    return pair


def _padding_amounts(padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """PyTorch's ``padding`` argument as ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same":
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"conv2d: padding='same' is not supported for strided convolutions (stride={stride})")
        # keep the size: pad DH*(KH-1) in all; an odd amount puts the extra row on the bottom (as PyTorch)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must be >= 0, got {padding!r}")
    return ((ph, ph), (pw, pw))


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library) of a batch of images.

    ``out[n, o] = bias[o] + sum over c in o's group of weight[o, c] (cross-correlated with) input[n, c]``

    Args:
        input: (N, C, H, W), or (C, H, W) for a single unbatched image.
        weight: (O, C/groups, KH, KW).
        bias: optional (O,).
        stride: step of the window, an int or (SH, SW). Default 1.
        padding: zeros added on each side, an int or (PH, PW); or ``'valid'`` (none) or ``'same'`` (output
            as large as the input; stride 1 only; an odd total puts the extra row/column bottom/right).
            Default 0.
        dilation: spacing between kernel taps, an int or (DH, DW). Default 1.
        groups: split the channels into this many independent convolutions; C and O must divide by it.

    Shape:
        - input: (N, C, H, W) or (C, H, W)
        - output: (N, O, OH, OW) or (O, OH, OW), with
          OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1 and OW = (W + 2*PW - DW*(KW - 1) - 1) // SW + 1

    Example:
        >>> x = minicnn.randn(64, 1, 28, 28)
        >>> w = minicnn.randn(8, 1, 5, 5)
        >>> conv2d(x, w, padding=2).shape
        (64, 8, 28, 28)
    """
    for name, value in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(value, Tensor) and not (name == "bias" and value is None):
            raise TypeError(f"conv2d: {name} must be a Tensor, got {type(value).__name__}")
    if input.ndim == 3:  # one unbatched image: give it a batch of one and take it away again
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if input.ndim != 4:
        raise ValueError(f"conv2d: expected input of shape (N, C, H, W) or (C, H, W), got shape {input.shape}")
    if weight.ndim != 4 or 0 in weight.shape[2:]:
        raise ValueError(
            f"conv2d: weight must have shape (out_channels, in_channels/groups, KH, KW), got {weight.shape}"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"conv2d: input must have a floating point dtype, got {input.dtype}")
    if weight.dtype != input.dtype:
        raise TypeError(f"conv2d: input dtype {input.dtype} does not match weight dtype {weight.dtype}")
    if input.device != weight.device:
        raise ValueError(f"conv2d: input is on {input.device} but weight is on {weight.device}")
    try:
        groups = operator.index(groups)  # an int, or a NumPy integer
    except TypeError:
        raise TypeError(f"conv2d: groups must be an int, got {groups!r}") from None
    if groups <= 0:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups}")
    out_channels, kernel = weight.shape[0], tuple(weight.shape[2:])
    if input.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"conv2d: expected input with {weight.shape[1] * groups} channels (weight {weight.shape}, "
            f"groups={groups}), got input of shape {input.shape}"
        )
    if out_channels % groups:
        raise ValueError(
            f"conv2d: out_channels={out_channels} (weight {weight.shape}) is not divisible by groups={groups}"
        )
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if min(stride) <= 0:
        raise ValueError(f"conv2d: stride must be > 0, got {stride}")
    if min(dilation) <= 0:
        raise ValueError(f"conv2d: dilation must be > 0, got {dilation}")
    padding = _padding_amounts(padding, kernel, stride, dilation)
    padded_size = tuple(size + sum(pads) for size, pads in zip(input.shape[2:], padding))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))  # pixels one window spans
    if reach[0] > padded_size[0] or reach[1] > padded_size[1]:
        raise ValueError(
            f"conv2d: kernel {kernel} with dilation {dilation} spans {reach}, larger than the padded input "
            f"{padded_size} (input {input.shape}, padding {padding})"
        )
    if bias is not None:
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(
                f"conv2d: bias must have shape ({out_channels},) (weight {weight.shape}), got {bias.shape}"
            )
        if bias.dtype != input.dtype:
            raise TypeError(f"conv2d: bias dtype {bias.dtype} does not match input dtype {input.dtype}")
    function = _conv_function(input.shape, weight.shape, stride, padding, dilation)
    options = dict(padding=padding, dilation=dilation, groups=groups)
    if function is not Conv2dShiftAfter:  # which is for stride 1 only
        options["stride"] = stride
    return function.apply(input, weight, bias, **options)


def _conv_function(x_shape, weight_shape, stride, padding, dilation):
    """Which of the three equal Functions runs a convolution fastest (measured: benchmarks/RESULTS.md)."""
    (O, C_per_group, KH, KW), C = weight_shape, x_shape[1]
    OW = _conv_geometry(x_shape, (KH, KW), stride, padding, dilation)[1]
    if (KH, KW) == (1, 1) or (C_per_group * KH * KW <= 32 and OW > 16):
        # 1x1 kernels need no columns at all; short columns and long rows: a first layer on 1-channel images
        return Conv2dPerImage
    if stride == (1, 1) and O < C:
        return Conv2dShiftAfter  # fewer outputs than inputs: shift the (smaller) products, not the input
    return Conv2d
