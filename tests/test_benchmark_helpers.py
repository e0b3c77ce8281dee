"""The benchmarks' matrix-product floor builds the products a training step really needs.

``benchmarks/train_step.py --sections floor`` times every matrix product of a step alone, each in the
fastest of minicnn's layouts; these tests check that the products have the shapes of those layouts and
that their multiply-adds are PyTorch's own count for the same step (no timing here).
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import require_torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import common  # noqa: E402  (the benchmarks' shared module; it imports torch only when asked)


def test_conv_candidates_have_each_layouts_shapes():
    # rectangular everywhere, so that a swapped height and width would show: 9x7 input, 3x5 kernel,
    # stride (2, 1), padding (1, 2) -> OH = (9 + 2 - 3) // 2 + 1 = 5, OW = (7 + 4 - 5) // 1 + 1 = 7
    N, C, O, (H, W), (KH, KW), (OH, OW) = 2, 4, 6, (9, 7), (3, 5), (5, 7)
    products, gflop = common.conv_gemm_candidates(
        (N, C, H, W), (O, C, KH, KW), stride=(2, 1), padding=(1, 2), groups=1, needs_input_grad=True
    )
    P, K = N * OH * OW, C * KH * KW
    shapes = {
        kind: {layout: product().shape for layout, product in layouts.items()} for kind, layouts in products.items()
    }
    assert shapes == {
        "forward": {"rows": (1, P, O), "image": (N, O, OH * OW)},  # no kernel rows: stride 2 down the rows
        "grad_weight": {"rows": (1, K, O), "image": (O, K)},
        "grad_input": {"col2im": (KH * KW, 1, P, C)},  # stride 2: dL/dx is no convolution of dL/dy
    }
    assert gflop == pytest.approx(3 * 2 * P * K * O / 1e9)


def test_conv_candidates_stride_one_add_kernel_rows_and_grad_as_convolution():
    N, C, O, H, W = 2, 3, 5, 6, 8  # 3x3, padding (1, 0): OH = 6, OW = 6
    products, _ = common.conv_gemm_candidates((N, C, H, W), (O, C, 3, 3), padding=(1, 0))
    assert products["forward"]["kernel_rows"]().shape == (N * H * 6, 3 * O)  # (N*H*OW, KH*O): every kernel row's share
    assert products["grad_weight"]["kernel_rows"]().shape == (3 * C, 3 * O)
    # dL/dx as a convolution of dL/dy (N, O, 6, 6) with the flipped kernel (C, O, 3, 3), padding (1, 2) -> 6 x 8
    assert products["grad_input"]["convolution, rows"]().shape == (1, N * H * W, C)
    assert products["grad_input"]["convolution, image"]().shape == (N, C, H * W)


def test_conv_candidates_without_input_gradient_and_with_groups():
    products, gflop = common.conv_gemm_candidates(
        (8, 6, 10, 10), (4, 3, 5, 5), stride=(2, 2), padding=(0, 0), groups=2, needs_input_grad=False
    )
    assert set(products) == {"forward", "grad_weight"}  # a first layer: no dL/dx
    P = 8 * 3 * 3  # (10 - 5) // 2 + 1 = 3
    assert products["forward"] == {"rows": products["forward"]["rows"]}  # grouped: only the rows layout
    assert products["forward"]["rows"]().shape == (2, P, 2)
    assert products["grad_weight"]["rows"]().shape == (2, 75, 2)
    assert gflop == pytest.approx(2 * 2 * P * 75 * 4 / 1e9)  # each output channel sees C/G * 25 inputs


def test_linear_candidates():
    products, gflop = common.linear_gemm_candidates(64, 1568, 10)
    assert [layouts["rows"]().shape for layouts in products.values()] == [(64, 10), (10, 1568), (64, 1568)]
    assert gflop == pytest.approx(3 * 2 * 64 * 1568 * 10 / 1e9)


@pytest.mark.parametrize("name", ["seed_cnn", "residual", "inception"])
def test_network_gemms_count_what_pytorch_counts(name):
    torch = require_torch()
    from torch.utils.flop_counter import FlopCounterMode

    calls, gflop = common.network_gemms(name)
    _, model, x, y = common.build_pair(name)
    with FlopCounterMode(display=False) as counter:  # PyTorch's count of one step's forward and backward
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    assert gflop == pytest.approx(counter.get_total_flops() / 1e9, rel=1e-12)
    assert len(calls) == sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())


def test_fastest_products_picks_one_layout_per_product():
    calls, _ = common.network_gemms("seed_cnn")
    products, warm_ms, layouts = common.fastest_products(calls, repeats=1)
    # the conv's forward and dL/dW, the linear layer's three
    assert len(products) == sum(layouts.values()) == 5
    assert set(layouts) <= {"rows", "image", "kernel_rows"} and warm_ms > 0
    assert all(isinstance(product(), np.ndarray) for product in products)
