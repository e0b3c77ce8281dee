"""Elementwise arithmetic and activations: gradcheck, PyTorch parity (with broadcasting), errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from tests.helpers import DEVICES, away_from_zero, compare_with_torch, gradcheck, require_torch


def positive(rng, shape):
    return (rng.random(shape) + 0.5).astype(np.float32)


def normal(rng, shape):
    return away_from_zero(rng, shape)


# name, minicnn function, torch function (given the torch module), input makers
UNARY = [
    ("neg", lambda x: -x, lambda t: lambda x: -x, normal),
    ("exp", minicnn.exp, lambda t: t.exp, normal),
    ("log", minicnn.log, lambda t: t.log, positive),
    ("sqrt", minicnn.sqrt, lambda t: t.sqrt, positive),
    ("abs", minicnn.abs, lambda t: t.abs, normal),
    ("pow_scalar", lambda x: x**3, lambda t: lambda x: x**3, normal),
    ("rpow", lambda x: 2.0**x, lambda t: lambda x: 2.0**x, normal),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), lambda t: lambda x: x.clamp(-0.5, 0.7), normal),
    ("clamp_min", lambda x: x.clamp(min=0.2), lambda t: lambda x: x.clamp(min=0.2), normal),
    ("relu", F.relu, lambda t: t.nn.functional.relu, normal),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda t: lambda x: t.nn.functional.leaky_relu(x, 0.2), normal),
    ("sigmoid", F.sigmoid, lambda t: t.sigmoid, normal),
    ("tanh", F.tanh, lambda t: t.tanh, normal),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda t: lambda x: t.softmax(x, dim=1), normal),
    ("softmax_last", lambda x: F.softmax(x, dim=-1), lambda t: lambda x: t.softmax(x, dim=-1), normal),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1), lambda t: lambda x: t.log_softmax(x, dim=1), normal),
    ("scalar_ops", lambda x: (1 - x) / 2 + 3 * x - x / 4, lambda t: lambda x: (1 - x) / 2 + 3 * x - x / 4, normal),
]

BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, normal),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, normal),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, normal),
    ("div", lambda a, b: a / b, lambda a, b: a / b, positive),
    ("pow", lambda a, b: a**b, lambda a, b: a**b, positive),
]

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((), (2, 2))]


@pytest.mark.parametrize("name, ours, _, make", UNARY, ids=[c[0] for c in UNARY])
def test_unary_gradcheck(name, ours, _, make):
    rng = np.random.default_rng(1)
    assert gradcheck(ours, [make(rng, (3, 4)).astype(np.float64)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, ours, theirs, make", UNARY, ids=[c[0] for c in UNARY])
def test_unary_matches_torch(name, ours, theirs, make, device):
    torch = require_torch()
    rng = np.random.default_rng(2)
    for shape in [(2, 5), (3, 4), (2, 3, 4)]:
        compare_with_torch(ours, theirs(torch), [make(rng, shape)], device=device)


@pytest.mark.parametrize("name, ours, theirs, make", BINARY, ids=[c[0] for c in BINARY])
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_PAIRS)
def test_binary_gradcheck_with_broadcasting(name, ours, theirs, make, shape_a, shape_b):
    rng = np.random.default_rng(3)
    a, b = make(rng, shape_a).astype(np.float64), make(rng, shape_b).astype(np.float64)
    assert gradcheck(ours, [a, b])


@st.composite
def broadcastable_shapes(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    other = [draw(st.sampled_from([1, size])) for size in shape]
    other = other[draw(st.integers(0, len(other))) :]  # drop leading dims too
    return tuple(shape), tuple(other)


@given(shapes=broadcastable_shapes(), case=st.sampled_from(BINARY), swap=st.booleans())
def test_binary_matches_torch_on_broadcast_shapes(shapes, case, swap):
    _, ours, theirs, make = case
    shape_a, shape_b = shapes[::-1] if swap else shapes
    rng = np.random.default_rng(4)
    compare_with_torch(ours, theirs, [make(rng, shape_a), make(rng, shape_b)])


def test_where_gradcheck_and_parity():
    rng = np.random.default_rng(5)
    condition = rng.random((3, 4)) > 0.5
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    assert gradcheck(lambda x, y: minicnn.where(minicnn.tensor(condition), x, y), [a, b])
    torch = require_torch()
    compare_with_torch(
        lambda x, y: minicnn.where(minicnn.tensor(condition), x, y),
        lambda x, y: torch.where(torch.tensor(condition), x, y),
        [a.astype(np.float32), b.astype(np.float32)],
    )


def test_hand_computed_softmax():
    probabilities = F.softmax(minicnn.tensor([[0.0, np.log(3.0)]]), dim=1)
    np.testing.assert_allclose(probabilities.numpy(), [[0.25, 0.75]], rtol=1e-6)


def test_softmax_is_stable_for_large_logits():
    x = minicnn.tensor([[1000.0, 0.0, -1000.0]])
    assert np.isfinite(F.log_softmax(x, dim=1).numpy()).all()
    np.testing.assert_allclose(F.softmax(x, dim=1).numpy(), [[1.0, 0.0, 0.0]])
    assert np.isfinite(F.sigmoid(minicnn.tensor([-1000.0, 1000.0])).numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_float_precision_in_both_tails(dtype):
    """1 - (something close to 1) would round sigmoid(-20) = 2.06e-9 to 0 in float32; PyTorch keeps it."""
    torch = require_torch()
    x = np.array([-80, -30, -20, -12, -9, -1e-3, 0, 1e-3, 9, 12, 20, 30, 80], dtype=dtype)
    ours_x, theirs_x = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = F.sigmoid(ours_x), torch.sigmoid(theirs_x)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=4 * np.finfo(dtype).eps)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-5, atol=1e-30)
    limits = F.sigmoid(minicnn.tensor(np.array([-np.inf, np.inf, np.nan], dtype=dtype))).numpy()
    assert limits[0] == 0 and limits[1] == 1 and np.isnan(limits[2])


def test_dtype_is_kept():
    x64 = minicnn.tensor(np.ones(3), requires_grad=True)
    for fn in (lambda x: x * 2, minicnn.exp, F.relu, F.sigmoid, lambda x: F.softmax(x, 0), lambda x: x**2):
        y = fn(x64)
        assert y.dtype == np.float64
    x32 = minicnn.ones(3)
    assert (x32 * 2.5).dtype == np.float32 and (x32**0.5).dtype == np.float32 and (2.0**x32).dtype == np.float32


def test_errors_name_the_op_and_shapes():
    a, b = minicnn.zeros(2, 3), minicnn.zeros(4)
    for op, fn in [("add", lambda: a + b), ("mul", lambda: a * b), ("sub", lambda: a - b), ("div", lambda: a / b)]:
        with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
            fn()
    with pytest.raises(TypeError, match="relu: expected a floating point tensor"):
        F.relu(minicnn.tensor([1, 2]))
    with pytest.raises(TypeError, match="relu: expected a Tensor"):
        F.relu([1.0])
    with pytest.raises(IndexError, match="softmax: dimension out of range"):
        F.softmax(a, dim=2)
    with pytest.raises(ValueError, match="clamp"):
        a.clamp()
    with pytest.raises(TypeError, match="where: condition must be a bool"):
        minicnn.where(a, a, a)
    with pytest.raises(ValueError, match=r"where: shapes \(2, 3\) and \(4,\)"):
        minicnn.where(a > 0, a, b)
    with pytest.raises(ValueError, match=r"pow: shapes \(2, 3\) and \(4,\)"):
        a**b
    with pytest.raises(TypeError, match="leaky_relu: expected a floating point"):
        F.leaky_relu(minicnn.tensor([1]))
    for name in ["exp", "log", "sqrt", "abs", "clamp", "neg", "sigmoid", "tanh", "relu"]:
        function = getattr(minicnn.ops.elementwise, name, None) or getattr(minicnn.ops.activation, name)
        with pytest.raises(TypeError, match=f"{name}: expected a Tensor"):
            function([1.0, 2.0])
    for name in ["softmax", "log_softmax"]:
        with pytest.raises(TypeError, match=f"{name}: expected a Tensor"):
            getattr(F, name)([1.0], dim=0)


def test_numpy_scalars_and_0d_tensors_do_not_upcast_float32():
    x = minicnn.ones(3)
    assert (x * np.float64(0.5)).dtype == np.float32 and (x / np.sqrt(4.0)).dtype == np.float32
    assert (x * minicnn.tensor(np.array(2.0))).dtype == np.float32
    assert minicnn.where(x > 0, 1.0, 0.0).dtype == np.float32


def test_clamp_and_maximum_gradients_at_bounds_and_ties_match_torch():
    torch = require_torch()
    x = np.array([0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    compare_with_torch(lambda t: t.clamp(0, 1), lambda t: t.clamp(0, 1), [x])
    compare_with_torch(lambda t: t.clamp(min=0), lambda t: t.clamp(min=0), [x])
    a, b = np.array([1.0, 2.0, -1.0], dtype=np.float32), np.array([1.0, 0.0, 3.0], dtype=np.float32)
    compare_with_torch(minicnn.max, torch.max, [a, b])
    compare_with_torch(minicnn.min, torch.min, [a, b])
    assert gradcheck(lambda p, q: minicnn.max(p, q), [a.astype(np.float64), b.astype(np.float64) + 0.5])
