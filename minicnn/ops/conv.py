"""2-D convolution: ``im2col``, ``col2im``, the ``Conv2d`` Function (pad, im2col, one product) and ``conv2d``.

Notation, used in every shape below (as in DeZero's ``functions_conv.py``):

    N        batch size                 C, O       input and output channels
    H, W     input height and width     G          groups (C/G input channels feed O/G outputs)
    KH, KW   kernel height and width    SH, SW     stride
    PH, PW   padding                    DH, DW     dilation (gap between kernel taps; 1 = none)
    OH, OW   output height and width:   OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1   (OW alike)
    Hp, Wp   padded height and width    P          N*OH*OW, the number of output pixels

Convolution as one matrix product ("im2col"): copy every KH x KW window of the padded input into a
column, so that the output is ``weight (G, O/G, C/G*KH*KW) @ columns``. The backward pass runs the same
product transposed, and ``col2im`` adds the columns back onto the pixels they were copied from.

``im2col``/``col2im`` lay the columns out image by image, (N, C, KH, KW, OH, OW), the textbook way, and
``Conv2d`` is built on them: pad, ``im2col``, one matrix product, reshape; backward runs the product
transposed twice (dL/dW and dL/dcolumns) and ``col2im`` adds dL/dcolumns back onto the pixels.
``ops/fast/conv.py`` computes the same numbers in other layouts, faster; ``conv2d`` picks it in one line.
"""

from __future__ import annotations

import operator

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .arguments import pair
from .fast import fast_kernels
from .fast.conv import FastConv2d
from .windows import window_view

__all__ = ["conv2d", "im2col", "col2im", "Conv2d"]


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
    return get_array_module(x_padded).ascontiguousarray(window_view(x_padded, kh, kw, stride, dilation))  # the one copy


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


class Conv2d(Function):
    """y[n, o] = b[o] + W[o] . (the windows of x_padded read by o's group), for every output pixel, as one product.

    Shapes: x (N, C, H, W), weight (O, C/G, KH, KW), bias (O,) or None; y (N, O, OH, OW). K = C/G*KH*KW.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        xp = get_array_module(x)
        N, (O, C_per_group, KH, KW), G = x.shape[0], weight.shape, groups
        x_padded = xp.pad(x, ((0, 0), (0, 0)) + tuple(padding))  # zeros around each image
        columns = im2col(x_padded, KH, KW, stride, dilation)  # (N, C, KH, KW, OH, OW)
        OH, OW = columns.shape[-2:]
        columns = columns.reshape(N, G, C_per_group * KH * KW, OH * OW)  # each group's windows, one per column
        weight_rows = weight.reshape(G, O // G, C_per_group * KH * KW)  # one row per output channel
        y = weight_rows @ columns  # (N, G, O/G, OH*OW): the matrix product, for every image at once
        if bias is not None:
            y += bias.reshape(G, O // G, 1)
        # dL/dW needs the columns (large: kept only for a weight that wants a gradient), dL/dcolumns the weights
        ctx.save_for_backward(columns if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape, ctx.has_bias, ctx.geometry = x.shape, bias is not None, (stride, padding, dilation, G)
        return y.reshape(N, O, OH, OW)

    @staticmethod
    def backward(ctx, grad_y):
        columns, weight = ctx.saved_tensors
        (N, O, OH, OW), (_, C_per_group, KH, KW) = grad_y.shape, weight.shape
        stride, padding, dilation, G = ctx.geometry
        grad_rows = grad_y.reshape(N, G, O // G, OH * OW)  # dL/dy, laid out like the product's output
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # dL/dcolumns = W^T @ dL/dy, then back onto the pixels they came from
            weight_rows = weight.reshape(G, O // G, C_per_group * KH * KW)
            grad_columns = weight_rows.swapaxes(1, 2) @ grad_rows  # (N, G, K, OH*OW)
            grad_columns = grad_columns.reshape(N, G * C_per_group, KH, KW, OH, OW)
            grad_x = col2im(grad_columns, ctx.x_shape, stride, padding, dilation)
        if ctx.needs_input_grad[1]:  # dL/dW = dL/dy @ columns^T, summed over the images
            grad_weight = (grad_rows @ columns.swapaxes(2, 3)).sum(axis=0).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:  # each bias was added at every pixel of its channel
            grad_bias = grad_y.sum(axis=(0, 2, 3))
        return grad_x, grad_weight, grad_bias


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
    ph, pw = pair(padding, "padding", "conv2d")
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
    stride, dilation = pair(stride, "stride", "conv2d"), pair(dilation, "dilation", "conv2d")
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
    Convolution = FastConv2d if fast_kernels() else Conv2d  # the same numbers; ops/fast/conv.py is faster
    return Convolution.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
