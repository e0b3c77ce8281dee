"""``im2col`` and ``col2im``: convolution as one matrix product, and its adjoint.

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

``im2col``/``col2im`` lay the columns out image by image, (N, C, KH, KW, OH, OW), the textbook way;
``ops/conv.py`` builds the convolution on them, and ``ops/fast/conv.py`` computes the same numbers in
other layouts, arranged for speed.
"""

from __future__ import annotations

from ..backend import as_strided, get_array_module
from .arguments import output_length

__all__ = ["im2col", "col2im", "window_view"]


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


def window_view(x_padded, kh: int, kw: int, stride=(1, 1), dilation=(1, 1)):
    """``im2col``'s windows as a strided view (N, C, KH, KW, OH, OW) of x_padded, before the copy."""
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
