"""Dropout and dropout2d: gradcheck with a fixed mask, statistics of the mask, seeding, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from tests.helpers import DEVICES, gradcheck, require_torch, to_numpy


def seeded(function, seed=0):
    """``function`` re-seeded before every call: gradcheck's repeated forwards then draw the same mask."""

    def run(*args, **kwargs):
        minicnn.manual_seed(seed)
        return function(*args, **kwargs)

    return run


def within_binomial_bound(kept, trials, keep_probability, sigmas=5.0):
    """True when ``kept`` successes of ``trials`` fit Binomial(trials, keep_probability) to ``sigmas`` sigmas."""
    spread = math.sqrt(trials * keep_probability * (1 - keep_probability))
    return abs(kept - trials * keep_probability) <= sigmas * spread + 1e-9


# ---------------------------------------------------------------- gradient checks (float64)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_gradcheck_dropout(p):
    x = np.random.default_rng(0).standard_normal((4, 5))
    assert gradcheck(seeded(lambda x: F.dropout(x, p)), [x])


def test_gradcheck_dropout2d():
    x = np.random.default_rng(1).standard_normal((3, 4, 2, 2))
    assert gradcheck(seeded(lambda x: F.dropout2d(x, 0.4)), [x])


def test_gradient_is_the_scaled_mask():
    rng = np.random.default_rng(2)
    x = minicnn.tensor(rng.uniform(1, 2, (50, 40)).astype(np.float32), requires_grad=True)
    upstream = rng.standard_normal((50, 40)).astype(np.float32)
    y = F.dropout(x, 0.3)
    y.backward(minicnn.tensor(upstream))
    mask = to_numpy(y) / to_numpy(x)  # x has no zeros: y / x is the scaled mask
    np.testing.assert_allclose(to_numpy(x.grad), upstream * mask, rtol=1e-6)
    assert x.grad.dtype == np.float32


# ---------------------------------------------------------------- statistics of the mask


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_kept_and_scale(device, p):
    minicnn.manual_seed(3)
    x = minicnn.tensor(np.random.default_rng(3).uniform(1, 2, (500, 400)).astype(np.float32), device=device)
    y = to_numpy(F.dropout(x, p))
    kept = y != 0
    assert within_binomial_bound(int(kept.sum()), kept.size, 1 - p)
    # kept values are scaled by exactly 1 / (1 - p) (rounded once to float32, as PyTorch does)
    np.testing.assert_array_equal(y[kept], to_numpy(x)[kept] * np.float32(1 / (1 - p)))
    assert y.dtype == np.float32


@given(p=st.floats(0.05, 0.95), rows=st.integers(1, 40), columns=st.integers(1, 40), seed=st.integers(0, 1000))
def test_kept_values_match_torch_scaling(p, rows, columns, seed):
    """PyTorch's and our outputs hold only 0 and x / (1 - p); compare those values element by element."""
    torch = require_torch()
    x = np.random.default_rng(seed).uniform(1, 2, (rows, columns)).astype(np.float32)
    minicnn.manual_seed(seed)
    ours = to_numpy(F.dropout(minicnn.tensor(x), p))
    theirs = torch.nn.functional.dropout(torch.tensor(x), p).numpy()
    for output in (ours, theirs):
        kept = output != 0
        np.testing.assert_allclose(output[kept], x[kept] / (1 - p), rtol=1e-6)
    ours_kept, theirs_kept = ours != 0, theirs != 0
    assert within_binomial_bound(int(ours_kept.sum()), x.size, 1 - p)
    np.testing.assert_allclose(ours[ours_kept & theirs_kept], theirs[ours_kept & theirs_kept], rtol=1e-6)


def test_expected_value_is_preserved():
    minicnn.manual_seed(4)
    x = minicnn.ones(1000, 1000)
    assert abs(F.dropout(x, 0.5).mean().item() - 1.0) < 5 * math.sqrt(1.0 / x.numel())


@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_zeroes_whole_channels(device):
    minicnn.manual_seed(5)
    x = minicnn.tensor(np.random.default_rng(5).uniform(1, 2, (40, 50, 3, 3)).astype(np.float32), device=device)
    y = to_numpy(F.dropout2d(x, 0.3))
    ratio = y / to_numpy(x)
    # every feature map is either all zero or all scaled by 1/(1 - p)
    np.testing.assert_allclose(ratio.min(axis=(2, 3)), ratio.max(axis=(2, 3)), rtol=1e-6)
    channel_kept = ratio[:, :, 0, 0] != 0
    assert within_binomial_bound(int(channel_kept.sum()), channel_kept.size, 0.7)
    np.testing.assert_allclose(ratio[:, :, 0, 0][channel_kept], 1 / 0.7, rtol=1e-6)


def test_dropout2d_three_dimensional_input_is_read_as_n_c_l_like_torch():
    torch = require_torch()
    x = minicnn.ones(20, 30, 4)
    with pytest.warns(UserWarning, match="3-D input"):
        y = to_numpy(F.dropout2d(x, 0.5))
    assert (y.min(axis=2) == y.max(axis=2)).all()  # one decision per (row of axis 0, row of axis 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.functional.dropout2d(torch.ones(20, 30, 4), 0.5).numpy()
    assert (theirs.min(axis=2) == theirs.max(axis=2)).all()


def test_dropout2d_other_ranks_warn():
    with pytest.warns(UserWarning, match="5-D input"):
        y = to_numpy(F.dropout2d(minicnn.ones(10, 20, 2, 2, 2), 0.5))
    assert (y.reshape(10, 20, -1).min(axis=2) == y.reshape(10, 20, -1).max(axis=2)).all()


# ---------------------------------------------------------------- seeding, evaluation, edge cases


@pytest.mark.parametrize("op", [F.dropout, F.dropout2d])
def test_same_seed_same_mask(op):
    x = minicnn.ones(8, 16, 4, 4)
    minicnn.manual_seed(6)
    first = to_numpy(op(x, 0.5))
    minicnn.manual_seed(6)
    second = to_numpy(op(x, 0.5))
    third = to_numpy(op(x, 0.5))  # the generator moved on
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


@pytest.mark.parametrize("op", [F.dropout, F.dropout2d])
def test_evaluation_and_p_zero_are_the_identity(op):
    x = minicnn.randn(2, 3, 4, 4, requires_grad=True)
    assert op(x, 0.5, training=False) is x
    assert op(x, 0.0) is x


@pytest.mark.parametrize("op", [F.dropout, F.dropout2d])
def test_p_one_gives_zeros_and_zero_gradient(op):
    x = minicnn.randn(2, 3, 4, 4, requires_grad=True)
    y = op(x, 1.0)
    y.sum().backward()
    assert (to_numpy(y) == 0).all() and (to_numpy(x.grad) == 0).all()  # no NaN from 0 * inf


def test_float64_is_preserved():
    x = minicnn.randn(6, 5, 2, 2, dtype=minicnn.float64, requires_grad=True)
    for op in (F.dropout, F.dropout2d):
        y = op(x, 0.4)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == np.float64


def test_inplace_is_accepted_and_input_is_untouched():
    x = minicnn.ones(10, 10)
    y = F.dropout(x, 0.5, inplace=True)
    assert (to_numpy(x) == 1).all()
    assert set(np.unique(to_numpy(y))) <= {0.0, 2.0}


def test_no_graph_under_no_grad():
    x = minicnn.randn(4, 4, requires_grad=True)
    with minicnn.no_grad():
        assert F.dropout(x, 0.5).grad_fn is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("op", [F.dropout, F.dropout2d])
def test_errors(op):
    x = minicnn.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"dropout probability has to be between 0 and 1, but got 1\.5"):
        op(x, 1.5)
    with pytest.raises(ValueError, match="but got -0.1"):
        op(x, -0.1)
    with pytest.raises(ValueError, match="but got nan"):
        op(x, float("nan"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        op(x, 2.0, training=False)  # checked even when it would do nothing, as PyTorch does
    with pytest.raises(TypeError, match="p must be a float"):
        op(x, "0.5")
    with pytest.raises(TypeError, match="floating point"):
        op(minicnn.ones(2, 3, 4, 4, dtype=minicnn.int64), 0.5)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        op(np.ones((2, 3, 4, 4), dtype=np.float32), 0.5)


def test_dropout2d_needs_two_dimensions():
    with pytest.raises(ValueError, match=r"dropout2d: .*at least 2 dimensions, got \(6,\)"):
        F.dropout2d(minicnn.ones(6), 0.5)


def test_public_names():
    import minicnn.ops.dropout as dropout_module

    assert dropout_module.__all__ == ["dropout", "dropout2d"]
    assert F.dropout is dropout_module.dropout and F.dropout2d is dropout_module.dropout2d
