"""Mutation testing of minicnn's test suite with a curated list of realistic bugs (issue 18, item 4).

Each mutant is one small, plausible mistake planted in ``minicnn/``: a file, an exact snippet of the
original source (it must occur exactly once there), its replacement, a description, and the tests that
are run against it. For each mutant the script copies the repository to a temporary folder (never the
working tree itself), plants the bug in the copy, runs ``python -m pytest -x -q`` on the mutant's test
subset there, and records the mutant as *killed* (some test failed) or *survived* (all passed). A mutant
that survives its subset is then run against the whole suite (unless ``--no-confirm``), so a survivor
is one the README's test command would miss.

Why subsets: the whole suite takes minutes per run on 2 shared cores; each mutant's subset (below, by the
area of the code it mutates) is the tests that exercise that code, and ``-x`` stops at the first failure,
so a killed mutant costs seconds. Runs are sequential (parallelism 1: the machine's 2 cores are shared).

Usage:
    python scripts/mutants.py --check              # every snippet occurs exactly once (no tests run)
    python scripts/mutants.py                      # run all mutants, write the results
    python scripts/mutants.py --only adam-bias-correction2 relu-grad-at-zero
    python scripts/mutants.py --no-confirm         # do not re-run survivors on the whole suite
    python scripts/mutants.py --full               # run every mutant against the whole suite (slow)

Results go to ``scripts/mutants_results.json`` (and a summary on stdout); ``docs/testing.md`` reports them.
"""

# ruff: noqa: E501  (the mutants are a table: one snippet per line reads better than wrapped strings)

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------- test subsets, by the code they exercise

G = "tests/test_option_grids.py"
K = "tests/test_kinks.py"
P = "tests/test_promises.py"
S = "tests/test_survivors.py"
SUBSETS = {
    "conv": [
        "tests/test_ops_conv.py",
        "tests/test_layout.py",
        f"{G}::test_conv2d_grid",
        f"{G}::test_conv2d_1x1_grid",
        f"{K}::test_network_on_exact_zeros_equals_pytorch",
    ],
    "pool": ["tests/test_ops_pooling.py", f"{G}::test_max_pool2d_grid", f"{G}::test_avg_pool2d_grid", K],
    "bn": ["tests/test_ops_normalization.py", f"{G}::test_batch_norm_grid", "tests/test_layout.py"],
    "loss": [
        "tests/test_ops_loss.py",
        f"{G}::test_cross_entropy_grid",
        f"{G}::test_nll_loss_grid",
        f"{G}::test_binary_cross_entropy_grid",
        f"{G}::test_binary_cross_entropy_with_logits_grid",
        K,
    ],
    "elementwise": ["tests/test_ops_elementwise.py", K, "tests/test_tensor.py"],
    "activation": ["tests/test_ops_elementwise.py", K, "tests/test_ops_loss.py", f"{G}::test_softmax_over_every_dim"],
    "reduction": ["tests/test_ops_reduction.py", K, P],
    "shape": ["tests/test_ops_shape.py", "tests/test_tensor.py"],
    "matmul": ["tests/test_ops_matmul.py", "tests/test_nn.py"],
    "dropout": ["tests/test_ops_dropout.py", K],
    "autograd": ["tests/test_autograd.py", P, "tests/test_tensor.py"],
    "optim": ["tests/test_optim.py", P, f"{G}::test_optimizer_grid", S],
    "nn": ["tests/test_nn.py", P, "tests/test_summary.py", S],
    "serialization": ["tests/test_serialization.py", P, S],
}


@dataclass
class Mutant:
    name: str
    file: str
    original: str
    replacement: str
    description: str
    subset: str


def M(name, file, original, replacement, description, subset):  # noqa: N802  (a table row)
    return Mutant(name, file, original, replacement, description, subset)


OPS = "minicnn/ops/"
FAST = "minicnn/ops/fast/"
MUTANTS = [
    # ------------------------------------------------ activations and elementwise (kinks included)
    M(
        "relu-grad-at-zero",
        OPS + "activation.py",
        "positive = x > 0\n        # the gradient",
        "positive = x >= 0\n        # the gradient",
        "ReLU passes the gradient at x = 0",
        "activation",
    ),
    M(
        "leaky-relu-slope-at-zero",
        OPS + "activation.py",
        "        positive = x > 0\n        ctx.save_for_backward(positive)\n        ctx.negative_slope",
        "        positive = x >= 0\n        ctx.save_for_backward(positive)\n        ctx.negative_slope",
        "leaky_relu takes slope 1 at x = 0",
        "activation",
    ),
    M(
        "sigmoid-grad",
        OPS + "activation.py",
        "return grad * y * (1 - y)",
        "return grad * y * (1 + y)",
        "sigmoid derivative sign slip",
        "activation",
    ),
    M(
        "tanh-grad",
        OPS + "activation.py",
        "return grad * (1 - y * y)",
        "return grad * (1 - y)",
        "tanh derivative 1 - y instead of 1 - y^2",
        "activation",
    ),
    M(
        "softmax-grad-axis",
        OPS + "activation.py",
        "return y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))",
        "return y * (grad - (grad * y).sum(axis=-1, keepdims=True))",
        "softmax backward always sums the last axis",
        "activation",
    ),
    M(
        "log-softmax-grad",
        OPS + "activation.py",
        "return grad - get_array_module(y).exp(y) * grad.sum(axis=ctx.dim, keepdims=True)",
        "return grad - get_array_module(y).exp(y) * grad.mean(axis=ctx.dim, keepdims=True)",
        "log_softmax backward with a mean",
        "activation",
    ),
    M(
        "abs-grad-at-zero",
        OPS + "elementwise.py",
        "ctx.save_for_backward(xp.sign(x))",
        "ctx.save_for_backward(xp.where(x >= 0, 1.0, -1.0).astype(x.dtype))",
        "abs' (0) = 1 instead of 0",
        "elementwise",
    ),
    M(
        "clamp-grad-at-bound",
        OPS + "elementwise.py",
        "inside &= x > low",
        "inside &= x >= low",
        "clamp passes the gradient at the lower bound",
        "elementwise",
    ),
    M(
        "maximum-tie-share",
        OPS + "elementwise.py",
        "share_a = a_wins + 0.5 * ties",
        "share_a = a_wins + 1.0 * ties",
        "maximum gives the whole gradient to a on a tie",
        "elementwise",
    ),
    M(
        "div-grad-b-sign",
        OPS + "elementwise.py",
        "sum_to_shape(-grad * a / (b * b), _shape_of(b))",
        "sum_to_shape(grad * a / (b * b), _shape_of(b))",
        "division: dL/db sign lost",
        "elementwise",
    ),
    M(
        "pow-grad-exponent",
        OPS + "elementwise.py",
        "grad * exponent * base ** (exponent - 1)",
        "grad * exponent * base**exponent",
        "power rule off by one in the exponent",
        "elementwise",
    ),
    M(
        "sub-grad-b",
        OPS + "elementwise.py",
        "return sum_to_shape(grad, shape_a), sum_to_shape(-grad, shape_b)",
        "return sum_to_shape(grad, shape_a), sum_to_shape(grad, shape_b)",
        "subtraction: dL/db not negated",
        "elementwise",
    ),
    M(
        "sum-to-shape-keeps-ones",
        OPS + "elementwise.py",
        "if size == 1 and grad.shape[extra_dims + i] != 1",
        "if size == 1 and grad.shape[extra_dims + i] == 1",
        "broadcast undo misses the stretched size-1 axes",
        "elementwise",
    ),
    M(
        "sqrt-grad",
        OPS + "elementwise.py",
        "return grad / (2 * y)",
        "return grad / y",
        "sqrt derivative missing the 1/2",
        "elementwise",
    ),
    # ------------------------------------------------ reductions
    M(
        "mean-grad-count",
        OPS + "reduction.py",
        "grad = expand_reduced(grad, ctx.input_shape, ctx.axes, ctx.keepdim) / ctx.count",
        "grad = expand_reduced(grad, ctx.input_shape, ctx.axes, ctx.keepdim) / (ctx.count - 1)",
        "mean backward divides by n - 1",
        "reduction",
    ),
    M(
        "max-dim-last-index",
        OPS + "reduction.py",
        "indices = (x.argmin if smallest else x.argmax)(axis=dim)\n        indices = xp.expand_dims",
        "indices = (x.shape[dim] - 1 - xp.flip(x, dim).argmin(axis=dim) if smallest else x.shape[dim] - 1 - xp.flip(x, dim).argmax(axis=dim))\n        indices = xp.expand_dims",
        "max/min along a dim return (and send the gradient to) the LAST extreme on ties",
        "reduction",
    ),
    M(
        "amax-ties-not-split",
        OPS + "reduction.py",
        "return (grad * is_extreme / ties).astype(grad.dtype)",
        "return (grad * is_extreme).astype(grad.dtype)",
        "amax/amin give every tied element the full gradient",
        "reduction",
    ),
    M(
        "var-correction",
        OPS + "reduction.py",
        "return sum(centered * centered, axes, keepdim) / builtins.max(count - correction, 0)",
        "return sum(centered * centered, axes, keepdim) / builtins.max(count, 0)",
        "var ignores Bessel's correction",
        "reduction",
    ),
    M(
        "pnorm-zero-mask",
        OPS + "reduction.py",
        "scaled = xp.where(at_kink, 0, xp.sign(x) * safe_abs ** (ctx.p - 1) / safe_norm ** (ctx.p - 1))",
        "scaled = xp.sign(x) * xp.abs(x) ** (ctx.p - 1) / norm ** (ctx.p - 1)",
        "norm's gradient at a zero norm is NaN (the fix of this issue undone)",
        "reduction",
    ),
    # ------------------------------------------------ shape, matmul
    M(
        "permute-backward-no-inverse",
        OPS + "shape.py",
        "            inverse[dim] = position\n        return grad.transpose(inverse)",
        "            inverse[dim] = position\n        return grad.transpose(ctx.dims)",
        "permute backward applies the permutation, not its inverse",
        "shape",
    ),
    M(
        "getitem-repeated-index",
        OPS + "shape.py",
        "backend.scatter_add(grad_x, ctx.index, grad)  # integer",
        "grad_x[ctx.index] = grad  # integer",
        "indexing with repeated integers keeps one gradient instead of adding",
        "shape",
    ),
    M(
        "linear-grad-weight-transposed",
        OPS + "matmul.py",
        "grad_weight = grad_rows.T @ x.reshape(-1, x.shape[-1]) if",
        "grad_weight = (x.reshape(-1, x.shape[-1]).T @ grad_rows).T if",
        "(a no-op rewrite, kept as an equivalence control)",
        "matmul",
    ),
    M(
        "linear-bias-grad-mean",
        OPS + "matmul.py",
        "grad_bias = ones @ grad_rows",
        "grad_bias = ones @ grad_rows / grad_rows.shape[0]",
        "linear bias gradient averaged over the batch",
        "matmul",
    ),
    M(
        "matmul-grad-b-order",
        OPS + "matmul.py",
        "grad_b = sum_to_shape(xp.swapaxes(a2, -1, -2) @ grad2, b2.shape)",
        "grad_b = sum_to_shape(xp.swapaxes(grad2.swapaxes(-1, -2) @ a2, -1, -2), b2.shape)",
        "(a no-op rewrite, kept as an equivalence control)",
        "matmul",
    ),
    M(
        "matmul-grad-a-no-transpose",
        OPS + "matmul.py",
        "grad_a = sum_to_shape(grad2 @ xp.swapaxes(b2, -1, -2), a2.shape)",
        "grad_a = sum_to_shape(grad2 @ b2.reshape(b2.shape[:-2] + (b2.shape[-1], b2.shape[-2])), a2.shape)",
        "matmul dL/dA by a reshape instead of a transpose",
        "matmul",
    ),
    # ------------------------------------------------ convolution: textbook
    M(
        "im2col-dilation-stride-swapped",
        OPS + "windows.py",
        "strides=(step_n, step_c, DH * step_h, DW * step_w, SH * step_h, SW * step_w)",
        "strides=(step_n, step_c, SH * step_h, SW * step_w, DH * step_h, DW * step_w)",
        "im2col steps taps by stride and windows by dilation",
        "conv",
    ),
    M(
        "col2im-ignores-dilation",
        OPS + "conv.py",
        "rows = slice(DH * i, DH * i + SH * (OH - 1) + 1, SH)\n            columns = slice(DW * j, DW * j + SW * (OW - 1) + 1, SW)\n            grad_padded[:, :,",
        "rows = slice(i, i + SH * (OH - 1) + 1, SH)\n            columns = slice(j, j + SW * (OW - 1) + 1, SW)\n            grad_padded[:, :,",
        "textbook col2im forgets the dilation (dL/dx only)",
        "conv",
    ),
    M(
        "col2im-overwrites",
        OPS + "conv.py",
        "grad_padded[:, :, rows, columns] += cols[:, :, i, j]",
        "grad_padded[:, :, rows, columns] = cols[:, :, i, j]",
        "textbook col2im overwrites instead of accumulating overlapping windows",
        "conv",
    ),
    M(
        "conv-bias-grad-axes",
        OPS + "conv.py",
        "grad_bias = grad_y.sum(axis=(0, 2, 3))",
        "grad_bias = grad_y.sum(axis=(2, 3)).mean(axis=0)",
        "textbook conv bias gradient averaged over the batch",
        "conv",
    ),
    M(
        "conv-grad-weight-batch",
        OPS + "conv.py",
        "grad_weight = (grad_rows @ columns.swapaxes(2, 3)).sum(axis=0).reshape(weight.shape)",
        "grad_weight = (grad_rows @ columns.swapaxes(2, 3))[0].reshape(weight.shape)",
        "textbook conv dL/dW from the first image only",
        "conv",
    ),
    M(
        "same-padding-extra-on-top",
        OPS + "conv.py",
        "return tuple((total // 2, total - total // 2) for total in totals)",
        "return tuple((total - total // 2, total // 2) for total in totals)",
        "padding='same' puts the odd extra row on top",
        "conv",
    ),
    # ------------------------------------------------ convolution: fast
    M(
        "fast-rows-dilation-ignored",
        FAST + "conv.py",
        "strides=(step_n, SH * step_h, SW * step_w, C // G * step_c, DH * step_h, DW * step_w, step_c)",
        "strides=(step_n, SH * step_h, SW * step_w, C // G * step_c, step_h, step_w, step_c)",
        "fast row columns ignore the dilation",
        "conv",
    ),
    M(
        "fast-col2im-ignores-dilation",
        FAST + "conv.py",
        "rows = slice(DH * i, DH * i + SH * (OH - 1) + 1, SH)\n            columns = slice(DW * j, DW * j + SW * (OW - 1) + 1, SW)\n            grad_padded[:, rows, columns]",
        "rows = slice(i, i + SH * (OH - 1) + 1, SH)\n            columns = slice(j, j + SW * (OW - 1) + 1, SW)\n            grad_padded[:, rows, columns]",
        "fast dL/dx by col2im forgets the dilation (one backward path)",
        "conv",
    ),
    M(
        "fast-flip-kernel-missing",
        FAST + "conv.py",
        "return swapped.reshape(groups * C_per_group, O // groups, KH, KW)[:, :, ::-1, ::-1]",
        "return swapped.reshape(groups * C_per_group, O // groups, KH, KW)[:, :, ::-1, :]",
        "dL/dx as a convolution: kernel flipped along the rows only",
        "conv",
    ),
    M(
        "fast-grad-conv-padding",
        FAST + "conv.py",
        "full = ((DH * (KH - 1) - top, DH * (KH - 1) - bottom), (DW * (KW - 1) - left, DW * (KW - 1) - right))",
        "full = ((DH * (KH - 1) - bottom, DH * (KH - 1) - top), (DW * (KW - 1) - right, DW * (KW - 1) - left))",
        "dL/dx as a convolution swaps the asymmetric padding sides",
        "conv",
    ),
    M(
        "fast-image-bias-row",
        FAST + "conv.py",
        "grad_bias = grad_rows[..., K].reshape(O)",
        "grad_bias = grad_rows[..., K - 1].reshape(O)",
        "image layout: bias gradient read from the last weight row",
        "conv",
    ),
    M(
        "fast-kernel-rows-top",
        FAST + "conv.py",
        "offset = dilation_height * i - top  # the input row",
        "offset = dilation_height * i  # the input row",
        "kernel-row layout ignores the top padding",
        "conv",
    ),
    M(
        "fast-kernel-rows-last",
        FAST + "conv.py",
        "last = min(OH - 1, (H - 1 - offset) // stride_height)",
        "last = min(OH - 2, (H - 1 - offset) // stride_height)",
        "kernel-row layout drops the last output row of each kernel row",
        "conv",
    ),
    M(
        "fast-1x1-stride",
        FAST + "conv.py",
        "x_pixels = x.transpose(0, 2, 3, 1)[:, :: stride[0], :: stride[1]]",
        "x_pixels = x.transpose(0, 2, 3, 1)[:, :: stride[0], :: stride[0]]",
        "1x1 fast path strides the width by the height's stride",
        "conv",
    ),
    M(
        "fast-bias-grad-total",
        FAST + "conv.py",
        "grad_bias = per_channel_total(*channel_view(grad_y)).astype(grad_y.dtype)",
        "grad_bias = (per_channel_total(*channel_view(grad_y)) / grad_y.shape[0]).astype(grad_y.dtype)",
        "fast conv bias gradient divided by the batch size",
        "conv",
    ),
    M(
        "fast-col2im-overwrite",
        FAST + "conv.py",
        "grad_padded[:, rows, columns] += grad_taps[i * KW + j]",
        "grad_padded[:, rows, columns] = grad_taps[i * KW + j]",
        "fast col2im overwrites overlapping taps",
        "conv",
    ),
    # ------------------------------------------------ pooling: textbook, shared geometry and fast
    M(
        "maxpool-tie-last",
        OPS + "pooling.py",
        "better = candidate > best  # strict",
        "better = candidate >= best  # strict",
        "textbook max-pool sends a tie's gradient to the last maximum",
        "pool",
    ),
    M(
        "maxpool-pad-zero",
        OPS + "pooling.py",
        "padded = pad(x, padding, padded_shape, -xp.inf)",
        "padded = pad(x, padding, padded_shape, 0)",
        "max-pool pads with 0 instead of -inf",
        "pool",
    ),
    M(
        "maxpool-backward-overwrite",
        OPS + "pooling.py",
        "                grad_padded[window] += grad * chosen\n            else:",
        "                grad_padded[window] = grad * chosen\n            else:",
        "overlapping max-pool windows overwrite gradients",
        "pool",
    ),
    M(
        "maxpool-indices-dilation",
        OPS + "pooling.py",
        "rows = xp.arange(OH, dtype=xp.int64)[:, None] * SH - PH + i * DH",
        "rows = xp.arange(OH, dtype=xp.int64)[:, None] * SH - PH + i",
        "return_indices forgets the row dilation",
        "pool",
    ),
    M(
        "offset-windows-dilation",
        OPS + "windows.py",
        "(..., slice(i * DH, i * DH + (OH - 1) * SH + 1, SH), slice(j * DW, j * DW + (OW - 1) * SW + 1, SW))",
        "(..., slice(i * DH, i * DH + (OH - 1) * SH + 1, SH), slice(j, j + (OW - 1) * SW + 1, SW))",
        "pool windows ignore the width dilation",
        "pool",
    ),
    M(
        "windows-overlap-off-by-one",
        OPS + "windows.py",
        "return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))",
        "return any(s < d * (k - 1) for k, s, d in zip(kernel, stride, dilation))",
        "overlap test off by one: stride = kernel - 1 treated as disjoint",
        "pool",
    ),
    M(
        "avg-divisor-ceil-window",
        OPS + "windows.py",
        "counted[: H + 2 * PH, : W + 2 * PW] = 1",
        "counted[:, :] = 1",
        "count_include_pad counts what a ceil_mode window hangs past the padding",
        "pool",
    ),
    M(
        "avg-divisor-exclude-pad-offset",
        OPS + "windows.py",
        "counted[PH : PH + H, PW : PW + W] = 1",
        "counted[:H, :W] = 1",
        "count_include_pad=False counts the wrong corner",
        "pool",
    ),
    M(
        "padded-size-ceil",
        OPS + "windows.py",
        "return max(size + 2 * padding, reach)",
        "return size + 2 * padding",
        "ceil_mode's last partial window is cut",
        "pool",
    ),
    M(
        "avgpool-divisor-override-ignored",
        OPS + "pooling.py",
        "divisor = divisor_override or avg_divisor(",
        "divisor = avg_divisor(",
        "textbook avg_pool2d ignores divisor_override",
        "pool",
    ),
    M(
        "fast-maxpool-tie-right",
        FAST + "pooling.py",
        "pair_max = xp.maximum(left, right)",
        "pair_max = xp.maximum(right, left)",
        "(a no-op rewrite, kept as an equivalence control)",
        "pool",
    ),
    M(
        "fast-maxpool-tie-goes-right",
        FAST + "pooling.py",
        "ctx.save_for_backward(right > left, bottom > top)",
        "ctx.save_for_backward(right >= left, bottom > top)",
        "fast 2x2 max-pool sends a left/right tie's gradient right",
        "pool",
    ),
    M(
        "fast-maxpool-tie-goes-bottom",
        FAST + "pooling.py",
        "ctx.save_for_backward(right > left, bottom > top)",
        "ctx.save_for_backward(right > left, bottom >= top)",
        "fast 2x2 max-pool sends a top/bottom tie's gradient down",
        "pool",
    ),
    M(
        "fast-maxpool-odd-crop",
        FAST + "pooling.py",
        "new_array = xp.zeros if cropped else xp.empty",
        "new_array = xp.empty",
        "fast 2x2 max-pool leaves garbage gradient in a cropped odd row",
        "pool",
    ),
    M(
        "fast-avgpool-spread-overwrite",
        FAST + "pooling.py",
        "overlap = stride < kernel  # an element",
        "overlap = stride < kernel - 1  # an element",
        "separable avg-pool backward overwrites when stride = kernel - 1",
        "pool",
    ),
    M(
        "fast-avgpool-divisor-override",
        FAST + "pooling.py",
        "        if divisor_override:\n            divisor = divisor_override",
        "        if divisor_override and count_include_pad:\n            divisor = divisor_override",
        "separable avg-pool ignores divisor_override without count_include_pad",
        "pool",
    ),
    # ------------------------------------------------ batch norm: textbook and fast
    M(
        "bn-eps-outside-sqrt",
        OPS + "normalization.py",
        "std = xp.sqrt(var + eps)",
        "std = xp.sqrt(var) + eps",
        "textbook batch norm adds eps outside the square root",
        "bn",
    ),
    M(
        "bn-running-var-biased",
        OPS + "normalization.py",
        "running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)",
        "running_var += (momentum * var).astype(running_var.dtype)",
        "textbook running variance biased",
        "bn",
    ),
    M(
        "bn-backward-missing-term",
        OPS + "normalization.py",
        "grad_x = g_over_std * (dy - mean_dy - x_hat * mean_dy_xhat)",
        "grad_x = g_over_std * (dy - mean_dy)",
        "textbook batch-norm dL/dx without the variance term",
        "bn",
    ),
    M(
        "fast-bn-eps-outside",
        FAST + "normalization.py",
        "inv_std = 1.0 / xp.sqrt(var + eps)",
        "inv_std = 1.0 / (xp.sqrt(var) + eps)",
        "fast batch norm adds eps outside the square root",
        "bn",
    ),
    M(
        "fast-bn-momentum",
        FAST + "normalization.py",
        "                running_mean *= 1 - momentum\n",
        "                running_mean *= momentum\n",
        "fast running mean keeps momentum instead of 1 - momentum",
        "bn",
    ),
    M(
        "fast-bn-mean-dy",
        FAST + "normalization.py",
        "grad_x += per_channel(sum_dy / ctx.count, grad3, axis)  # + mean(dy)",
        "grad_x += per_channel(sum_dy / (ctx.count - 1), grad3, axis)  # + mean(dy)",
        "fast dL/dx: mean(dy) over M - 1",
        "bn",
    ),
    M(
        "fast-bn-eval-shift",
        FAST + "normalization.py",
        "shift = -mean * scale if bias is None else bias - mean * scale",
        "shift = -mean * scale if bias is None else bias - mean",
        "fast eval shift forgets to scale the mean",
        "bn",
    ),
    M(
        "per-channel-axis",
        FAST + "layout.py",
        "return xp.repeat(values, x3.shape[2]).reshape(x3.shape[1:])",
        "return xp.tile(values, x3.shape[2]).reshape(x3.shape[1:])",
        "per-channel spread in the wrong order (tile for repeat)",
        "bn",
    ),
    M(
        "momentum-none-cumulative",
        "minicnn/nn/layers.py",
        "factor = 1.0 / float(self.num_batches_tracked.item())",
        "factor = 1.0 / (float(self.num_batches_tracked.item()) + 1)",
        "momentum=None cumulative average off by one",
        "bn",
    ),
    # ------------------------------------------------ losses
    M(
        "nll-mean-by-count",
        OPS + "loss.py",
        "ctx.total_weight = row_weight.sum()  # 0 when",
        "ctx.total_weight = counted.sum()  # 0 when",
        "nll 'mean' divides by the number of rows, not the total weight",
        "loss",
    ),
    M(
        "smoothing-mean-no-weight-denominator",
        OPS + "loss.py",
        "                denominator = counted.sum()\n",
        "                denominator = len(target_rows)\n",
        "label smoothing's mean counts ignored rows (no class weights)",
        "loss",
    ),
    M(
        "smoothing-scale",
        OPS + "loss.py",
        "loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / num_classes)",
        "loss = loss * (1 - label_smoothing) + smooth * label_smoothing",
        "label smoothing term not divided by C",
        "loss",
    ),
    M(
        "prob-target-smoothing",
        OPS + "loss.py",
        "probabilities = target * (1 - label_smoothing) + label_smoothing / max(num_classes, 1)",
        "probabilities = target * (1 - label_smoothing) + label_smoothing",
        "probability targets smoothed without / C",
        "loss",
    ),
    M(
        "bce-logits-pos-weight-grad",
        OPS + "loss.py",
        "grad_x = grad * ((1 - t) - positive_scale * sigmoid_of_minus_x)",
        "grad_x = grad * ((1 - t) - sigmoid_of_minus_x)",
        "BCE-with-logits dL/dx ignores pos_weight",
        "loss",
    ),
    M(
        "bce-grad-eps",
        OPS + "loss.py",
        "grad_p = grad * (p - t) / xp.maximum(p * (1 - p), 1e-12)",
        "grad_p = grad * (p - t) / (p * (1 - p) + 1e-12)",
        "BCE derivative with eps added instead of clamped",
        "loss",
    ),
    M(
        "nll-ignore-index-grad",
        OPS + "loss.py",
        "grad_log_probs[xp.arange(len(safe_target)), safe_target] = xp.where(counted, grad_rows, 0)",
        "grad_log_probs[xp.arange(len(safe_target)), safe_target] = grad_rows",
        "nll backward: ignored rows get 0 * (1/0) = NaN when every target is ignored",
        "loss",
    ),
    # ------------------------------------------------ dropout
    M(
        "dropout-scale",
        OPS + "dropout.py",
        "mask *= 1.0 / (1.0 - p) if p < 1 else 0.0",
        "mask *= 1.0 / p if p < 1 else 0.0",
        "dropout scales by 1/p",
        "dropout",
    ),
    M(
        "dropout-keep-inverted",
        OPS + "dropout.py",
        "x.dtype) >= p\n",
        "x.dtype) > p\n",
        "(equivalent: u == p has probability 0)",
        "dropout",
    ),
    # ------------------------------------------------ autograd
    M(
        "leaf-grad-no-accumulate",
        "minicnn/autograd/function.py",
        "            leaf.grad.array += grad\n",
        "            leaf.grad.array[...] = grad\n",
        "a second backward replaces the leaf's gradient instead of adding",
        "autograd",
    ),
    M(
        "node-grad-no-accumulate",
        "minicnn/autograd/function.py",
        "slots[x._output_index] = grad if previous is None else previous + grad",
        "slots[x._output_index] = grad",
        "a tensor used twice keeps only the last gradient",
        "autograd",
    ),
    M(
        "leaf-grad-no-copy",
        "minicnn/autograd/function.py",
        "leaf.grad = Tensor._from_op(grad.copy(), None, 0)",
        "leaf.grad = Tensor._from_op(grad, None, 0)",
        "leaf.grad aliases an array shared with other nodes",
        "autograd",
    ),
    M(
        "no-grad-restore",
        "minicnn/autograd/function.py",
        "        _mode.enabled = self.previous  # also when the block raised\n",
        "        _mode.enabled = True\n",
        "leaving any grad-mode block turns gradients on",
        "autograd",
    ),
    M(
        "set-grad-enabled-context",
        "minicnn/autograd/function.py",
        '        self.previous = getattr(self, "before_call", self.previous)\n',
        "",
        "with set_grad_enabled(False): leaves gradients off (the fix of this issue undone)",
        "autograd",
    ),
    M(
        "gradcheck-ones-weights",
        "minicnn/autograd/gradcheck.py",
        "weights = [rng.standard_normal(o.shape) for o in outputs]",
        "weights = [np.ones(o.shape) for o in outputs]",
        "gradcheck weights every output 1",
        "autograd",
    ),
    M(
        "gradcheck-mean-error",
        "minicnn/autograd/gradcheck.py",
        "if (error > 0).any() or not np.isfinite(analytic).all():",
        "if error.mean() > 0 or not np.isfinite(analytic).all():",
        "gradcheck fails only when the errors are large on average",
        "autograd",
    ),
    M(
        "gradcheck-first-input-only",
        "minicnn/autograd/gradcheck.py",
        "    for i in checked:\n        x = inputs[i]",
        "    for i in checked[:1]:\n        x = inputs[i]",
        "gradcheck checks only the first input",
        "autograd",
    ),
    M(
        "textbook-restore",
        "minicnn/ops/fast/__init__.py",
        "        _use_fast_kernels = self.previous\n",
        "        _use_fast_kernels = True\n",
        "leaving textbook() always switches the fast kernels on",
        "autograd",
    ),
    # ------------------------------------------------ optimizers
    M(
        "adam-bias-correction2",
        "minicnn/optim/adam.py",
        "bias_correction2_sqrt = math.sqrt(1 - beta2**step)",
        "bias_correction2_sqrt = math.sqrt(1 - beta2 ** (step + 1))",
        "Adam's second bias correction with the wrong exponent",
        "optim",
    ),
    M(
        "adam-bias-correction1",
        "minicnn/optim/adam.py",
        "bias_correction1 = 1 - beta1**step",
        "bias_correction1 = 1 - beta1 ** (step - 1) if step > 1 else 1 - beta1",
        "Adam's first bias correction lags one step",
        "optim",
    ),
    M(
        "adam-eps-inside-sqrt",
        "minicnn/optim/adam.py",
        "scratch += eps  # the denominator",
        "scratch += eps * bias_correction2_sqrt  # the denominator",
        "Adam's eps scaled by the bias correction",
        "optim",
    ),
    M(
        "adamw-decay-coupled",
        "minicnn/optim/adam.py",
        "param.array *= 1 - lr * weight_decay",
        "param.array *= 1 - weight_decay",
        "AdamW decay not multiplied by lr",
        "optim",
    ),
    M(
        "amsgrad-max",
        "minicnn/optim/adam.py",
        'xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])',
        'xp.minimum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])',
        "AMSGrad keeps the minimum",
        "optim",
    ),
    M(
        "sgd-nesterov",
        "minicnn/optim/sgd.py",
        "grad = grad + momentum * buffer if nesterov else buffer",
        "grad = buffer",
        "SGD ignores nesterov",
        "optim",
    ),
    M(
        "sgd-dampening",
        "minicnn/optim/sgd.py",
        "buffer += (1 - dampening) * grad",
        "buffer += grad",
        "SGD ignores dampening",
        "optim",
    ),
    M(
        "sgd-first-buffer",
        "minicnn/optim/sgd.py",
        'buffer = state["momentum_buffer"] = grad.copy()',
        'buffer = state["momentum_buffer"] = (1 - dampening) * grad',
        "SGD's first momentum buffer dampened (PyTorch starts with g)",
        "optim",
    ),
    M(
        "rmsprop-centered",
        "minicnn/optim/rmsprop.py",
        "avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps",
        "avg = xp.sqrt(square_avg) + eps",
        "RMSprop ignores centered",
        "optim",
    ),
    M(
        "maximize-ignored",
        "minicnn/optim/optimizer.py",
        'yield param, (-param.grad.array if group.get("maximize") else param.grad.array)',
        "yield param, param.grad.array",
        "maximize=True ignored",
        "optim",
    ),
    M(
        "zero-grad-set-to-none-false",
        "minicnn/optim/optimizer.py",
        "                        param.grad.array[...] = 0\n",
        "                        pass\n",
        "zero_grad(set_to_none=False) leaves the old gradient",
        "optim",
    ),
    M(
        "steplr-floor",
        "minicnn/optim/lr_scheduler.py",
        "return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]",
        "return [base * self.gamma ** (self.last_epoch / self.step_size) for base in self.base_lrs]",
        "StepLR's closed form not floored",
        "optim",
    ),
    # ------------------------------------------------ nn
    M(
        "linear-init-bound",
        "minicnn/nn/layers.py",
        "bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0",
        "bound = 1 / self.in_features if self.in_features > 0 else 0",
        "Linear bias bound 1/fan_in",
        "nn",
    ),
    M(
        "named-params-no-dedup",
        "minicnn/nn/module.py",
        "if value is None or (remove_duplicate and id(value) in seen):",
        "if value is None:",
        "parameters() lists a tied parameter twice",
        "nn",
    ),
    M(
        "state-dict-drops-buffers",
        "minicnn/nn/module.py",
        "if buffer is not None and name not in self._non_persistent_buffers:",
        "if buffer is not None and False:",
        "state_dict() leaves out the buffers",
        "nn",
    ),
    M(
        "load-state-dict-partial",
        "minicnn/nn/module.py",
        "        if problems:\n            raise RuntimeError(",
        "        if problems and not unexpected and not missing:\n            raise RuntimeError(",
        "load_state_dict does not refuse a bad shape when keys are also missing",
        "nn",
    ),
    M(
        "load-state-dict-non-numeric",
        "minicnn/nn/module.py",
        "        problems = mismatched + not_numeric\n",
        "        problems = mismatched\n",
        "a non-numeric value is refused only after earlier keys were copied (the fix of this issue undone)",
        "nn",
    ),
    M(
        "hook-remove-noop",
        "minicnn/nn/module.py",
        "        self.hooks.pop(self.id, None)\n",
        "        self.hooks.get(self.id, None)\n",
        "handle.remove() does not remove the hook",
        "nn",
    ),
    M(
        "train-not-recursive",
        "minicnn/nn/module.py",
        "        for module in self.children():\n            module.train(mode)\n",
        "",
        "model.train()/eval() do not reach the children",
        "nn",
    ),
    M(
        "clip-grad-norm-per-tensor",
        "minicnn/nn/utils.py",
        "total = (xp.stack(norms) ** norm_type).sum() ** (1.0 / norm_type)",
        "total = xp.max(xp.stack(norms))",
        "clip_grad_norm_ uses the largest per-tensor norm",
        "nn",
    ),
    # ------------------------------------------------ serialization
    M(
        "save-not-contiguous",
        "minicnn/serialization.py",
        "return array if array.flags.c_contiguous else np.ascontiguousarray(array)",
        "return array",
        "a transposed array is saved scrambled (safetensors#825)",
        "serialization",
    ),
    M(
        "atomic-no-replace",
        "minicnn/serialization.py",
        '    fd, temp_path = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")\n',
        "    fd, temp_path = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), path\n",
        "save writes straight into the target file (not atomic)",
        "serialization",
    ),
    M(
        "checksum-skips-bytes",
        "minicnn/serialization.py",
        "        crc = zlib.crc32(array.reshape(-1).view(np.uint8), crc)  # the raw bytes, no copy\n",
        "",
        "the checksum ignores the tensors' bytes",
        "serialization",
    ),
    M(
        "unique-name-collision",
        "minicnn/serialization.py",
        '    while f"{name}#{suffix}" in taken:\n        suffix += 1\n',
        "",
        "two arrays with one name: the second overwrites the first",
        "serialization",
    ),
    # ------------------------------------------------ second batch: other areas and paths
    M(
        "avgpool-grad-no-divisor",
        OPS + "pooling.py",
        "grad_each = grad / ctx.divisor  # every element",
        "grad_each = grad  # every element",
        "textbook avg-pool backward forgets the divisor",
        "pool",
    ),
    M(
        "adaptive-bins-floor-end",
        OPS + "pooling.py",
        "ends = [-(-(i + 1) * size // out_size) for i in range(out_size)]",
        "ends = [(i + 1) * size // out_size for i in range(out_size)]",
        "adaptive pooling bins end at the floor (PyTorch: the ceiling)",
        "pool",
    ),
    M(
        "maxpool-inference-skips-offset",
        OPS + "pooling.py",
        "            for window in windows[1:]:  # inference",
        "            for window in windows[2:]:  # inference",
        "max-pool inference path (no grad) skips the second kernel offset",
        "pool",
    ),
    M(
        "dropout2d-mask-per-sample",
        OPS + "dropout.py",
        "mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)",
        "mask_shape = input.shape[:1] + (1,) * (input.ndim - 1)",
        "dropout2d drops whole samples instead of channels",
        "dropout",
    ),
    M(
        "version-check-off",
        "minicnn/autograd/versions.py",
        "        if entry is None or entry[1] <= ctx.saved_at:\n            continue",
        "        if True:\n            continue",
        "in-place changes of saved arrays are never detected",
        "autograd",
    ),
    M(
        "fast-bn-eval-grad-no-weight",
        FAST + "normalization.py",
        "grad_x = grad3 * per_channel(scale, grad3, axis)",
        "grad_x = grad3 * per_channel(inv_std, grad3, axis)",
        "fast batch norm (eval): dL/dx forgets the weight",
        "bn",
    ),
    M(
        "grad-as-conv-past-reach",
        FAST + "conv.py",
        "stride == (1, 1) and max(top, bottom) <= dilation[0] * (KH - 1) and max(left, right) <= dilation[1] * (KW - 1)",
        "stride == (1, 1) and max(top, bottom) <= dilation[0] * KH and max(left, right) <= dilation[1] * KW",
        "dL/dx as a convolution chosen when the padding exceeds the kernel's reach",
        "conv",
    ),
    M(
        "optimizer-load-state-order",
        "minicnn/optim/optimizer.py",
        'param_of.update(zip(saved["params"], group["params"]))',
        'param_of.update(zip(saved["params"], reversed(group["params"])))',
        "optimizer.load_state_dict maps the saved state to the wrong parameters",
        "optim",
    ),
    M(
        "prob-target-weight-axis",
        OPS + "loss.py",
        "terms = terms * weight.reshape((num_classes,) + (1,) * (input.ndim - class_dim - 1))",
        "terms = terms * weight",
        "class weights of probability targets broadcast along the last axis",
        "loss",
    ),
    M(
        "mse-grad-factor",
        OPS + "loss.py",
        "grad_difference = 2 * difference * grad",
        "grad_difference = difference * grad",
        "MSE derivative missing the 2",
        "loss",
    ),
    M(
        "rsub-order",
        "minicnn/ops/methods.py",
        "    def __rsub__(self, other):\n        return elementwise.sub(other, self)",
        "    def __rsub__(self, other):\n        return elementwise.sub(self, other)",
        "1 - x computes x - 1",
        "elementwise",
    ),
    M(
        "big-endian-stored-as-is",
        "minicnn/serialization.py",
        '        array = array.astype(array.dtype.newbyteorder("<"))\n',
        "        pass\n",
        "big-endian arrays stored with their bytes unswapped",
        "serialization",
    ),
    M(
        "odict-becomes-dict",
        "minicnn/serialization.py",
        'return OrderedDict(pairs) if tag == "odict" else dict(pairs)',
        "return dict(pairs)",
        "an OrderedDict comes back as a dict",
        "serialization",
    ),
    M(
        "summary-counts-shared-twice",
        "minicnn/summary.py",
        "unique = {id(p): p for p in model.parameters()}.values()",
        "unique = list(model.parameters(remove_duplicate=False)) if False else [p for _, p in model.named_parameters(remove_duplicate=False)]",
        "summary counts a shared parameter once per use",
        "nn",
    ),
    M(
        "module-zero-grad-noop",
        "minicnn/nn/module.py",
        "                else:\n                    param.grad.array[...] = 0\n\n    def _map_arrays",
        "                else:\n                    pass\n\n    def _map_arrays",
        "module.zero_grad(set_to_none=False) keeps the gradients",
        "nn",
    ),
    M(
        "bce-logits-grad-t",
        OPS + "loss.py",
        "grad_t = grad_t + (pos_weight - 1) * softplus_of_minus_x",
        "grad_t = grad_t + pos_weight * softplus_of_minus_x",
        "BCE-with-logits dL/dtarget with pos_weight instead of pos_weight - 1",
        "loss",
    ),
]

# equivalent mutants, not counted in the score: three no-op rewrites that check the harness reports no false
# kills, and one that cannot change a result (a uniform draw equal to p exactly has probability ~0)
EQUIVALENT_CONTROLS = {
    "linear-grad-weight-transposed",
    "matmul-grad-b-order",
    "fast-maxpool-tie-right",
    "dropout-keep-inverted",
}


# ---------------------------------------------------------------- the harness


def check_snippets(mutants) -> list[str]:
    problems = []
    for mutant in mutants:
        path = os.path.join(ROOT, mutant.file)
        text = open(path, encoding="utf-8").read()
        count = text.count(mutant.original)
        if count != 1:
            problems.append(f"{mutant.name}: the original snippet occurs {count} times in {mutant.file}")
        else:  # the mutant must still be valid Python: a syntax error would be "killed" for the wrong reason
            try:
                compile(text.replace(mutant.original, mutant.replacement, 1), path, "exec")
            except SyntaxError as error:
                problems.append(f"{mutant.name}: the mutated {mutant.file} does not compile: {error}")
    names = [m.name for m in mutants]
    problems += [f"duplicate name {n}" for n in set(names) if names.count(n) > 1]
    return problems


def copy_repo(target: str) -> None:
    ignore = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", ".venv")
    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)


DESELECT: list[str] = []  # tests left out of every run (--deselect): e.g. an old test that fails on the new code


def run_tests(copy: str, tests: list[str], timeout: int) -> tuple[str, float, str]:
    """Run pytest in the copy; returns (outcome, seconds, last lines)."""
    env = dict(os.environ, MINICNN_REQUIRE_TORCH="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("MINICNN_TEXTBOOK", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore",
        *tests,
        *[f"--deselect={d}" for d in DESELECT],
    ]
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.perf_counter() - start, ""
    seconds = time.perf_counter() - start
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    if result.returncode == 0:
        return "survived", seconds, tail
    if result.returncode == 5:  # no tests collected: a harness error, not a kill
        return "error (no tests)", seconds, tail
    if result.returncode in (2, 3, 4):  # interrupted, internal or usage error (e.g. the package fails to import)
        return f"error (pytest exit code {result.returncode})", seconds, tail
    return "killed", seconds, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that every snippet occurs exactly once")
    parser.add_argument("--only", nargs="*", help="run only these mutants")
    parser.add_argument("--full", action="store_true", help="run each mutant against the whole suite")
    parser.add_argument("--no-confirm", action="store_true", help="do not re-run survivors on the whole suite")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per pytest run")
    parser.add_argument("--output", default=os.path.join(ROOT, "scripts", "mutants_results.json"))
    parser.add_argument(
        "--deselect", nargs="*", default=[], metavar="NODEID", help="leave out these tests (passed to pytest)"
    )
    parser.add_argument(
        "--tests-from",
        metavar="COMMIT",
        help="run the tests/ folder of an earlier commit (e.g. the suite before issue 18) against the mutants",
    )
    args = parser.parse_args()

    DESELECT.extend(args.deselect)
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    problems = check_snippets(mutants)
    if problems:
        print("\n".join(problems))
        return 2
    if args.check:
        print(f"{len(mutants)} mutants, every snippet found exactly once")
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="minicnn-mutants-") as work:
        copy = os.path.join(work, "repo")
        copy_repo(copy)
        if args.tests_from:  # an earlier suite: its tests/ folder replaces the current one in the copy
            shutil.rmtree(os.path.join(copy, "tests"))
            archive = subprocess.run(
                ["git", "-C", ROOT, "archive", args.tests_from, "tests"], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", copy], input=archive.stdout, check=True)
        probe = subprocess.run(
            [sys.executable, "-c", "import minicnn, os; print(os.path.dirname(minicnn.__file__))"],
            cwd=copy,
            capture_output=True,
            text=True,
        )
        if not probe.stdout.strip().startswith(copy):
            print(f"the copy does not import its own minicnn: {probe.stdout or probe.stderr}")
            return 2
        for number, mutant in enumerate(mutants, 1):
            path = os.path.join(copy, mutant.file)
            original_text = open(path, encoding="utf-8").read()
            with open(path, "w", encoding="utf-8") as file:
                file.write(original_text.replace(mutant.original, mutant.replacement, 1))
            try:
                tests = ["tests"] if args.full else SUBSETS[mutant.subset]
                tests = [t for t in tests if os.path.exists(os.path.join(copy, t.split("::")[0]))]  # (--tests-from)
                if not tests:
                    tests = ["tests"]
                outcome, seconds, tail = run_tests(copy, tests, args.timeout)
                scope = "suite" if args.full else "subset"
                if (
                    outcome == "survived"
                    and not args.full
                    and not args.no_confirm
                    and mutant.name not in EQUIVALENT_CONTROLS
                ):
                    outcome, more, tail = run_tests(copy, ["tests"], args.timeout)
                    seconds += more
                    scope = "suite"
            finally:
                with open(path, "w", encoding="utf-8") as file:
                    file.write(original_text)
            record = dict(
                name=mutant.name,
                file=mutant.file,
                description=mutant.description,
                subset=mutant.subset,
                outcome=outcome,
                decided_by=scope,
                seconds=round(seconds, 1),
                tail=tail,
                control=mutant.name in EQUIVALENT_CONTROLS,
            )
            results.append(record)
            print(
                f"[{number}/{len(mutants)}] {outcome:>18}  {seconds:6.1f}s  {mutant.name}: {mutant.description}",
                flush=True,
            )

    real = [r for r in results if not r["control"]]
    killed = sum(r["outcome"].startswith("killed") for r in real)
    summary = dict(
        mutants=len(real),
        killed=killed,
        score=round(killed / max(len(real), 1), 3),
        survivors=[r["name"] for r in real if not r["outcome"].startswith("killed")],
        controls={r["name"]: r["outcome"] for r in results if r["control"]},
    )
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(dict(summary=summary, results=results), file, indent=1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
