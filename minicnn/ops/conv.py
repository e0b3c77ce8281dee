"""2-D convolution: ``im2col``, ``col2im``, the ``Conv2d`` Function and the public ``conv2d``.

Notation, used in every shape below (as in DeZero's ``functions_conv.py``):

    N        batch size                 C, O       input and output channels
    H, W     input height and width     G          groups (C/G input channels feed O/G outputs)
    KH, KW   kernel height and width    SH, SW     stride
    PH, PW   padding                    DH, DW     dilation (gap between kernel taps; 1 = none)
    OH, OW   output height and width:   OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1   (OW alike)

Convolution as one matrix product ("im2col"): copy every KH x KW window of the padded input into a
column, so that the output is ``weight (G, O/G, C/G*KH*KW) @ columns (N, G, C/G*KH*KW, OH*OW)``. The
columns are laid out (N, C, KH, KW, OH, OW): then the product comes out as (N, G, O/G, OH*OW), which *is*
the NCHW output (N, O, OH, OW) without a transpose. The backward pass runs the same product transposed
and ``col2im`` adds the columns back onto the pixels they were copied from.
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


def _pad_hw(x, padding):
    """Zero-pad the last two axes of ``x`` by ((top, bottom), (left, right)); no copy when there is none."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return x
    N, C, H, W = x.shape
    x_padded = get_array_module(x).zeros((N, C, H + top + bottom, W + left + right), dtype=x.dtype)
    x_padded[:, :, top : top + H, left : left + W] = x
    return x_padded


class Conv2d(Function):
    """y[n, o, p, q] = b[o] + sum over c, i, j of w[o, c, i, j] * x_padded[n, g*C/G + c, SH*p + DH*i, SW*q + DW*j],

    where g = o // (O/G) is the group of output channel o and c runs over that group's C/G channels.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        N, (O, C_per_group, KH, KW), G = x.shape[0], weight.shape, groups
        pointwise = (KH, KW) == (1, 1) and padding == ((0, 0), (0, 0))
        if pointwise:  # a 1x1 kernel just reads every SH-th row and SW-th column: no windows to copy
            x_cols = x[:, :, :: stride[0], :: stride[1]]  # (N, C, OH, OW), a view
        else:
            x_cols = im2col(_pad_hw(x, padding), KH, KW, stride, dilation)  # (N, C, KH, KW, OH, OW)
        OH, OW = x_cols.shape[-2:]
        x_cols = x_cols.reshape(N, G, C_per_group * KH * KW, OH * OW)  # free: C is (G, C/G)
        weight_rows = weight.reshape(G, O // G, C_per_group * KH * KW)
        y = (weight_rows @ x_cols).reshape(N, O, OH, OW)  # (N, G, O/G, OH*OW) is already NCHW
        if bias is not None:
            y += bias.reshape(1, O, 1, 1)
        # dL/dweight needs the columns and dL/dx needs the weight; skip the (large) columns when unused
        ctx.save_for_backward(x_cols if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None
        ctx.geometry = (stride, padding, dilation, groups, pointwise)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x_cols, weight = ctx.saved_tensors
        stride, padding, dilation, G, pointwise = ctx.geometry
        N, O, OH, OW = grad_y.shape
        C, (KH, KW) = ctx.x_shape[1], weight.shape[2:]
        grad_rows = grad_y.reshape(N, G, O // G, OH * OW)  # the forward product's layout
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # dL/dcols = W^T @ dL/dY, then each column entry goes back to its pixel
            grad_cols = weight.reshape(G, O // G, -1).swapaxes(1, 2) @ grad_rows  # (N, G, C/G*KH*KW, OH*OW)
            grad_cols = grad_cols.reshape(N, C, KH, KW, OH, OW)
            if pointwise and stride == (1, 1):  # the columns were the input itself
                grad_x = grad_cols.reshape(ctx.x_shape)
            else:
                grad_x = col2im(grad_cols, ctx.x_shape, stride, padding, dilation)
        if ctx.needs_input_grad[1]:  # dL/dW = sum over the batch of dL/dY[n] @ cols[n]^T
            per_image = grad_rows @ x_cols.swapaxes(2, 3)  # (N, G, O/G, C/G*KH*KW); cols^T is a free view
            grad_weight = per_image.sum(axis=0).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:  # each bias touched every pixel of its channel
            # per-image channel sums as one matrix-vector product (2-3x faster than sum(axis=(0, 2, 3)))
            ones = get_array_module(grad_y).ones(OH * OW, dtype=grad_y.dtype)
            grad_bias = (grad_y.reshape(N, O, OH * OW) @ ones).sum(axis=0)
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
    return Conv2d.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
