"""The benchmarks' matrix-product floor counts the multiply-adds a training step really does.

``benchmarks/train_step.py --sections floor`` times every GEMM of a step alone; these tests check that the
products it builds have the shapes and GFLOP of the layers they stand for (no timing here).
"""

import sys
from pathlib import Path

import pytest

from tests.helpers import require_torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import common  # noqa: E402  (the benchmarks' shared module; it imports torch only when asked)


def test_conv_products_shapes_and_flops():
    # 64 images 16x12x12, 24 outputs, 3x3, padding 1: P = 64*12*12 output pixels, K = 16*9
    products, gflop = common.conv_gemm_products((64, 16, 12, 12), (24, 16, 3, 3), (1, 1), (1, 1), 1, True)
    P, K, O, C = 64 * 144, 16 * 9, 24, 16
    forward, grad_weight, grad_taps = (product() for product in products)
    assert forward.shape == (1, P, O)
    assert grad_weight.shape == (1, K, O)
    assert grad_taps.shape == (9, 1, P, C)  # KH*KW taps of dL/dcolumns, C each
    assert gflop == pytest.approx(3 * 2 * P * K * O / 1e9)


def test_conv_products_without_input_gradient_and_with_groups():
    products, gflop = common.conv_gemm_products((8, 6, 10, 10), (4, 3, 5, 5), (2, 2), (0, 0), 2, False)
    assert len(products) == 2  # a first layer: no dL/dx
    P = 8 * 3 * 3  # (10 - 5) // 2 + 1 = 3
    assert [product().shape for product in products] == [(2, P, 2), (2, 75, 2)]
    assert gflop == pytest.approx(2 * 2 * P * 75 * 4 / 1e9)  # each output channel sees C/G * 25 inputs


def test_linear_products():
    products, gflop = common.linear_gemm_products(64, 1568, 10, True)
    assert [product().shape for product in products] == [(64, 10), (10, 1568), (64, 1568)]
    assert gflop == pytest.approx(3 * 2 * 64 * 1568 * 10 / 1e9)


def test_network_gemms_counts_every_layer_call():
    require_torch()  # the layer calls are recorded on the PyTorch twin
    products, gflop = common.network_gemms("seed_cnn")
    assert len(products) == 2 + 3  # the conv's forward and dL/dW; the linear layer's three
    assert common.warm_total_ms(products, repeats=1) > 0
    conv = 2 * 2 * (64 * 28 * 28) * 25 * 8  # forward and dL/dW; the first layer needs no dL/dx
    linear = 3 * 2 * 64 * 1568 * 10
    assert gflop == pytest.approx((conv + linear) / 1e9)
