"""``im2col_demo()``: a tiny convolution turned into one matrix product, printed and drawn."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._plot import _new_figure, _save

# ---------------------------------------------------------------- im2col, step by step


class Im2colDemo:
    """What ``im2col_demo`` computed. ``str(demo)`` is the printed walk-through.

    Attributes:
        x: the input (N, C, H, W); weight: (O, C, KH, KW).
        columns: the column matrix (C*KH*KW, OH*OW): column p is the window under output position p.
        weight_rows: the weight as a matrix (O, C*KH*KW): row o is filter o unrolled.
        product: ``weight_rows @ columns`` (O, OH*OW); output: the product as (N, O, OH, OW).
        figure: the matplotlib Figure when one was drawn, else None.
        text: the walk-through.
    """

    def __str__(self):
        return self.text

    __repr__ = __str__


def _matrix_text(array: np.ndarray) -> str:
    """Integers without a decimal point, anything else with two decimals."""
    if np.all(array == np.round(array)):
        return np.array2string(array.astype(np.int64), max_line_width=200)
    return np.array2string(array, precision=2, suppress_small=True, max_line_width=200)


def _draw_matrix(axes, matrix, title, highlight=None):
    """A matrix as coloured cells with the numbers written in; ``highlight`` = (row, col, h, w) outlined."""
    from matplotlib.patches import Rectangle

    axes.imshow(matrix, cmap="coolwarm", interpolation="nearest")
    if matrix.size <= 200:
        for (r, c), value in np.ndenumerate(matrix):
            text = f"{value:.0f}" if value == round(value) else f"{value:.1f}"
            axes.text(c, r, text, ha="center", va="center", fontsize=7)
    if highlight is not None:
        r, c, h, w = highlight
        axes.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="black", linewidth=2))
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=8)


def im2col_demo(
    input_size: int = 4,
    kernel_size: int = 3,
    in_channels: int = 1,
    out_channels: int = 2,
    stride: int = 1,
    padding: int = 0,
    path=None,
    draw: bool | None = None,
) -> Im2colDemo:
    """Show, on a tiny example, how a convolution becomes one matrix product (im2col, then one GEMM).

    What it computes: a batch of one image (N = 1) of C channels, H = W = ``input_size``, holding 1, 2, 3,
    ... in reading order (channel after channel), so every number can be traced to its pixel; O filters
    of KH = KW = ``kernel_size``, no bias. Filter 0 is a vertical-edge detector (-1 in its left column,
    +1 in its right, 0 between), filter 1 sums its window (all ones), any further filters have random
    weights in {-1, 0, 1} (seed 0). The steps are the textbook ``Conv2d``'s (``minicnn/ops/conv.py``: ``im2col``
    and one matrix product), without the bias and the batch:

    1. pad the input by ``padding`` zeros per side, then ``im2col`` copies every KH x KW window (taken
       every ``stride`` pixels) into a column: (C*KH*KW, OH*OW), column p the window of output position p
       in reading order;
    2. the weight, unrolled to rows (O, C*KH*KW), times the columns: one matrix product, (O, OH*OW);
    3. reshaped, that is the output (N, O, OH, OW). It is checked against ``F.conv2d`` (a RuntimeError is
       raised if they ever differed).

    What it prints (``str(demo)``): the input, the columns, the weight rows, the product, the check, and
    the number of multiply-adds. What it draws (``path``/``draw``): four panels of coloured cells, numbers
    written in when a matrix has at most 200 entries: the first input channel (with its zero padding, if
    any) with the window of column 0 outlined; the columns with column 0 outlined; the weight rows; their
    product, one row per filter, which is the output.

    Args:
        input_size: H = W of the input; kernel_size: KH = KW.
        in_channels, out_channels: C and O. stride, padding: as in ``F.conv2d``.
        path: save the drawing as a PNG here.
        draw: make the figure (needs matplotlib); default True when ``path`` is given.

    Returns:
        An ``Im2colDemo``: ``print(demo)`` prints the walk-through; ``demo.x``, ``demo.weight``,
        ``demo.columns``, ``demo.weight_rows``, ``demo.product`` and ``demo.output`` hold the arrays.
    """
    from ..nn import functional as F
    from ..ops.conv import im2col

    positive = dict(input_size=input_size, kernel_size=kernel_size, stride=stride, in_channels=in_channels)
    positive["out_channels"] = out_channels
    for name, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"im2col_demo: {name} must be a positive int, got {value!r}")
    if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
        raise ValueError(f"im2col_demo: padding must be a non-negative int, got {padding!r}")
    if input_size + 2 * padding < kernel_size:
        raise ValueError(
            f"im2col_demo: a {kernel_size}x{kernel_size} kernel does not fit a padded {input_size + 2 * padding} input"
        )
    C, O, K, P = in_channels, out_channels, kernel_size, padding
    x = np.arange(1, C * input_size * input_size + 1, dtype=np.float64).reshape(1, C, input_size, input_size)
    weight = np.random.default_rng(0).integers(-1, 2, size=(O, C, K, K)).astype(np.float64)
    weight[0] = 0
    weight[0, :, :, 0], weight[0, :, :, -1] = -1, 1  # vertical edges: right column minus left column
    if O > 1:
        weight[1] = 1  # the sum of the window
    x_padded = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    cols6 = im2col(x_padded, K, K, (stride, stride), (1, 1))  # (N, C, KH, KW, OH, OW)
    OH, OW = cols6.shape[-2:]
    columns = cols6.reshape(C * K * K, OH * OW)
    weight_rows = weight.reshape(O, C * K * K)
    product = weight_rows @ columns
    output = product.reshape(1, O, OH, OW)
    reference = F.conv2d(Tensor(x), Tensor(weight), stride=stride, padding=padding).array
    if reference.shape != output.shape or not np.allclose(reference, output):
        raise RuntimeError("im2col_demo: the matrix product differs from F.conv2d; im2col is broken")

    demo = Im2colDemo()
    demo.x, demo.weight, demo.columns, demo.weight_rows, demo.product, demo.output = (
        x,
        weight,
        columns,
        weight_rows,
        product,
        output,
    )
    pad_note = f", padding {P}" if P else ""
    demo.text = "\n".join(
        [
            f"Convolution as one matrix product: a {K}x{K} convolution with {O} filters, stride {stride}{pad_note}",
            "",
            f"input x, shape (N, C, H, W) = {x.shape}:",
            _matrix_text(x[0] if C > 1 else x[0, 0]),
            "",
            f"1. im2col: every {K}x{K} window becomes a column. im2col gives (N, C, KH, KW, OH, OW) = {cols6.shape};",
            f"   reshaped to (C*KH*KW, OH*OW) = {columns.shape}. Column p is the window under output position p",
            "   (read left to right, top to bottom):",
            _matrix_text(columns),
            "",
            f"2. the weight (O, C, KH, KW) = {weight.shape} unrolled to rows (O, C*KH*KW) = {weight_rows.shape}:",
            _matrix_text(weight_rows),
            "",
            f"3. one matrix product, weight_rows @ columns: {weight_rows.shape} @ {columns.shape} = {product.shape}:",
            _matrix_text(product),
            "",
            f"4. reshaped to (N, O, OH, OW) = {output.shape}; F.conv2d(x, weight) gives the same numbers: "
            f"{np.allclose(reference, output)}",
            "",
            f"Cost: {O * OH * OW} outputs x {C * K * K} multiply-adds each = {O * OH * OW * C * K * K} multiply-adds,",
            "done by one matrix multiplication (BLAS) instead of nested loops over pixels.",
        ]
    )
    demo.figure = None
    if draw or (draw is None and path is not None):
        figure = _new_figure("im2col_demo", 12, 3.6)
        grid = figure.add_gridspec(
            1, 4, width_ratios=[x.shape[-1] + 2 * P, columns.shape[1], weight_rows.shape[1], product.shape[1]]
        )
        _draw_matrix(
            figure.add_subplot(grid[0]),
            x_padded[0, 0],
            f"input {x_padded.shape[-2]}x{x_padded.shape[-1]}{f' (padding {P})' if P else ''}"
            "\ncolumn 0's window outlined",
            highlight=(0, 0, K, K),
        )
        _draw_matrix(
            figure.add_subplot(grid[1]),
            columns,
            f"columns {columns.shape}\n= im2col(x); column 0 outlined",
            highlight=(0, 0, columns.shape[0], 1),
        )
        _draw_matrix(figure.add_subplot(grid[2]), weight_rows, f"weight rows {weight_rows.shape}\n(one filter per row)")
        _draw_matrix(
            figure.add_subplot(grid[3]), product, f"weight rows @ columns {product.shape}\n= output, one row per filter"
        )
        figure.tight_layout()
        _save(figure, path)
        demo.figure = figure
    return demo
