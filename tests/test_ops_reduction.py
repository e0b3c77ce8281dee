"""Reductions: sum, mean, var, max/min (values and indices), amax/amin, argmax/argmin."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
from tests.helpers import DEVICES, compare_with_torch, distinct_values, gradcheck, require_torch

DIMS = [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)]


def reductions(torch):
    """(name, ours(x, dim, keepdim), torch's(x, dim, keepdim))"""
    return [
        ("sum", lambda x, d, k: x.sum(d, keepdim=k), lambda x, d, k: x.sum(dim=d, keepdim=k)),
        ("mean", lambda x, d, k: x.mean(d, keepdim=k), lambda x, d, k: x.mean(dim=d, keepdim=k)),
        ("var", lambda x, d, k: x.var(d, keepdim=k), lambda x, d, k: x.var(dim=d, keepdim=k)),
        (
            "var_biased",
            lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
            lambda x, d, k: x.var(dim=d, correction=0, keepdim=k),
        ),
        (
            "amax",
            lambda x, d, k: x.amax(d if d is not None else (), keepdim=k),
            lambda x, d, k: x.amax(d if d is not None else (), keepdim=k),
        ),
        (
            "amin",
            lambda x, d, k: x.amin(d if d is not None else (), keepdim=k),
            lambda x, d, k: x.amin(d if d is not None else (), keepdim=k),
        ),
    ]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_gradcheck(index, dim, keepdim):
    name, ours, _ = reductions(require_torch())[index]
    x = distinct_values(np.random.default_rng(0), (2, 3, 4)).astype(np.float64)
    assert gradcheck(lambda t: ours(t, dim, keepdim), [x])


@pytest.mark.parametrize("device", DEVICES)
@given(dim=st.sampled_from(DIMS), keepdim=st.booleans(), index=st.integers(0, 5))
def test_reductions_match_torch(dim, keepdim, index, device):
    torch = require_torch()
    _, ours, theirs = reductions(torch)[index]
    x = distinct_values(np.random.default_rng(1), (3, 4, 5))
    compare_with_torch(lambda t: ours(t, dim, keepdim), lambda t: theirs(t, dim, keepdim), [x], device=device)


@pytest.mark.parametrize("smallest", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_dim(smallest, dim, keepdim):
    torch = require_torch()
    x = distinct_values(np.random.default_rng(2), (3, 4, 5))
    name = "min" if smallest else "max"
    ours, theirs = compare_with_torch(
        lambda t: getattr(minicnn, name)(t, dim, keepdim),
        lambda t: getattr(torch, name)(t, dim, keepdim),
        [x],
    )
    assert gradcheck(lambda t: getattr(t, name)(dim, keepdim)[0], [x.astype(np.float64)])
    values, indices = getattr(minicnn.tensor(x), name)(dim=dim, keepdim=keepdim)
    torch_result = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(indices.numpy(), torch_result.indices.numpy())
    assert indices.dtype == minicnn.int64


def test_full_max_shares_gradient_between_ties_like_torch():
    torch = require_torch()
    x = np.array([[1.0, 3.0], [3.0, 2.0]], dtype=np.float32)
    compare_with_torch(lambda t: t.max(), lambda t: t.max(), [x])
    compare_with_torch(lambda t: minicnn.min(t), lambda t: torch.min(t), [x])


def test_argmax_argmin_match_torch():
    torch = require_torch()
    x = distinct_values(np.random.default_rng(3), (3, 4, 5))
    for dim in [None, 0, 2]:
        for keepdim in [False, True]:
            for name in ["argmax", "argmin"]:
                ours = getattr(minicnn.tensor(x), name)(dim=dim, keepdim=keepdim)
                theirs = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_hand_computed_reductions():
    x = minicnn.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert x.sum().item() == 12 and x.sum(0).tolist() == [4, 8] and x.sum(1, keepdim=True).shape == (2, 1)
    assert x.mean(1).tolist() == [1.5, 4.5]
    assert x.var(1).tolist() == [0.5, 4.5] and x.var(1, unbiased=False).tolist() == [0.25, 2.25]
    np.testing.assert_allclose(x.std().item(), np.std([1, 2, 3, 6], ddof=1), rtol=1e-6)
    assert x.var(1, correction=0).tolist() == [0.25, 2.25]


def test_reduction_errors():
    x = minicnn.zeros(2, 3)
    with pytest.raises(IndexError, match="sum: dimension out of range"):
        x.sum(2)
    with pytest.raises(ValueError, match="twice"):
        x.sum((0, 0))
    with pytest.raises(TypeError, match="mean: expected a floating point"):
        minicnn.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="amax"):
        x.max(dim=(0, 1))
    with pytest.raises(ValueError, match="empty"):
        minicnn.zeros(0).max()
    with pytest.raises(ValueError, match="unbiased or correction"):
        x.var(0, unbiased=True, correction=1)
    for name in ["amax", "amin", "min", "max", "var", "mean"]:
        with pytest.raises(IndexError, match=f"{name}: dimension out of range"):
            getattr(minicnn, name)(x, 5)
        with pytest.raises(TypeError, match=f"{name}: expected a Tensor"):
            getattr(minicnn.ops.reduction, name)([1.0])


def test_integer_sums_are_int64_and_empty_dims():
    assert minicnn.tensor(np.array([200, 100], np.uint8)).sum().dtype == np.int64
    assert minicnn.tensor([True, True]).sum().item() == 2
    values, indices = minicnn.zeros(0, 3).max(dim=1)
    assert values.shape == (0,) and indices.shape == (0,)
    with pytest.raises(ValueError, match="size 0"):
        minicnn.zeros(0, 3).max(dim=0)
