"""matmul (with broadcasting and vectors) and linear."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from tests.helpers import DEVICES, compare_with_torch, gradcheck, require_torch

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_gradcheck(shape_a, shape_b):
    rng = np.random.default_rng(0)
    assert gradcheck(lambda a, b: a @ b, [rng.standard_normal(shape_a), rng.standard_normal(shape_b)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_matches_torch(shape_a, shape_b, device):
    torch = require_torch()
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape_a).astype(np.float32), rng.standard_normal(shape_b).astype(np.float32)]
    compare_with_torch(minicnn.matmul, torch.matmul, arrays, device=device)


@given(
    batch=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 6), n_out=st.integers(1, 5), bias=st.booleans()
)
def test_linear_matches_torch(batch, n_in, n_out, bias):
    torch = require_torch()
    rng = np.random.default_rng(2)
    arrays = [
        rng.standard_normal((*batch, n_in)).astype(np.float32),
        rng.standard_normal((n_out, n_in)).astype(np.float32),
    ]
    if bias:
        arrays.append(rng.standard_normal(n_out).astype(np.float32))
    compare_with_torch(F.linear, torch.nn.functional.linear, arrays)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((2, 3))] + ([rng.standard_normal(2)] if bias else [])
    assert gradcheck(F.linear, arrays)
    assert gradcheck(F.linear, [rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3))])


def test_linear_hand_computed():
    x = minicnn.tensor([[1.0, 2.0]])
    w = minicnn.tensor([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
    b = minicnn.tensor([0.0, 1.0, -1.0])
    assert F.linear(x, w, b).tolist() == [[1.0, 0.0, 0.5]]


def test_matmul_and_linear_errors():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied"):
        minicnn.zeros(2, 3) @ minicnn.zeros(2, 3)
    with pytest.raises(ValueError, match="at least one dimension"):
        minicnn.matmul(minicnn.tensor(1.0), minicnn.zeros(2))
    with pytest.raises(ValueError, match=r"linear: input shape \(4, 5\) does not match weight \(2, 3\)"):
        F.linear(minicnn.zeros(4, 5), minicnn.zeros(2, 3))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.linear(minicnn.zeros(4, 3), minicnn.zeros(3))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        F.linear(minicnn.zeros(4, 3), minicnn.zeros(2, 3), minicnn.zeros(3))
    with pytest.raises(TypeError, match="dtype"):
        F.linear(minicnn.zeros(4, 3, dtype=minicnn.float64), minicnn.zeros(2, 3))
