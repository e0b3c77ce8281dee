"""Pooling: hand-computed cases, float64 gradcheck, PyTorch parity (values, gradients, indices), errors."""

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from minicnn.ops import pooling
from minicnn.ops.arguments import output_length
from tests.helpers import DEVICES, assert_close, compare_with_torch, distinct_values, gradcheck, require_torch


def tensor(values, dtype=np.float32, **kwargs):
    return minicnn.tensor(np.asarray(values, dtype=dtype), **kwargs)


def torch_indices(torch, torch_fn, x):
    """The indices PyTorch returns for ``x`` (a NumPy array)."""
    return torch_fn(torch.tensor(x))[1].numpy()


# ---------------------------------------------------------------- tiny hand-computed cases


def test_max_pool2d_by_hand():
    x = tensor([[[[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 6, 7], [9, 1, 3, 2]]]], requires_grad=True)
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    assert y.tolist() == [[[[5, 8], [9, 7]]]]
    assert indices.tolist() == [[[[1, 6], [12, 11]]]]  # row * 4 + col of each maximum
    assert indices.dtype == minicnn.int64
    y.backward(tensor([[[[10, 20], [30, 40]]]]))
    assert x.grad.tolist() == [[[[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 0, 40], [30, 0, 0, 0]]]]


def test_max_pool2d_overlapping_windows_by_hand():
    # 3 windows of width 2, stride 1, on one row: the 9 is the max of two windows and gets both gradients
    x = tensor([[[[1, 9, 3, 2]]]], requires_grad=True)
    y, indices = F.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert y.tolist() == [[[[9, 9, 3]]]]
    assert indices.tolist() == [[[[1, 1, 2]]]]
    y.backward(tensor([[[[1, 2, 4]]]]))
    assert x.grad.tolist() == [[[[0, 3, 4, 0]]]]


def test_max_pool2d_padding_and_ceil_mode_by_hand():
    # padding is -inf: the negative values still win; ceil_mode keeps the partial last window
    x = tensor([[[[-1, -2, -3, -4, -5]]]])
    assert F.max_pool2d(x, (1, 2), padding=(0, 1)).tolist() == [[[[-1, -2, -4]]]]
    assert F.max_pool2d(x, (1, 2), ceil_mode=True).tolist() == [[[[-1, -3, -5]]]]
    assert F.max_pool2d(x, (1, 2)).tolist() == [[[[-1, -3]]]]
    # dilation 2: the window takes every other element
    assert F.max_pool2d(tensor([[[[1, 7, 3, 0, 2]]]]), (1, 2), stride=1, dilation=2).tolist() == [[[[3, 7, 3]]]]


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum():
    torch = require_torch()
    x = np.array([[[[2, 5, 5, 1], [5, 0, 3, 3], [1, 1, 1, 1], [0, 0, 0, 0]]]], dtype=np.float32)
    ours = minicnn.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, indices = F.max_pool2d(ours, 3, stride=1, return_indices=True)
    y_t, indices_t = torch.nn.functional.max_pool2d(theirs, 3, stride=1, return_indices=True)
    np.testing.assert_array_equal(np.asarray(indices), indices_t.numpy())
    y.sum().backward()
    y_t.sum().backward()
    assert_close(ours.grad, theirs.grad)
    assert indices.tolist()[0][0][0] == [1, 1]  # the 5 at (0, 1) comes first in row-major order


def test_avg_pool2d_by_hand():
    x = tensor([[[[1, 3, 5, 7], [1, 3, 5, 7], [0, 0, 2, 2], [4, 4, 6, 2]]]], requires_grad=True)
    y = F.avg_pool2d(x, 2)
    assert y.tolist() == [[[[2, 6], [2, 3]]]]
    y.backward(tensor([[[[4, 8], [12, 16]]]]))
    assert x.grad.tolist() == [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]


def test_avg_pool2d_3x3_stride_1_padding_1_corner_divides_by_9():
    ones = tensor(np.ones((1, 1, 3, 3)))
    y = F.avg_pool2d(ones, 3, stride=1, padding=1)  # count_include_pad=True by default
    expected = np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9
    assert_close(y, expected[None, None], atol=1e-7)
    assert_close(F.avg_pool2d(ones, 3, stride=1, padding=1, count_include_pad=False), np.ones((1, 1, 3, 3)))
    assert_close(F.avg_pool2d(ones, 3, stride=1, padding=1, divisor_override=2), expected[None, None] * 9 / 2)


def test_avg_pool2d_ceil_mode_window_past_the_padding_divides_by_less():
    # the third window of width 2 covers only element 4: it is not padding, so it divides by 1
    x = tensor([[[[1, 3, 5, 7, 9]]]])
    assert F.avg_pool2d(x, (1, 2), ceil_mode=True).tolist() == [[[[2, 6, 9]]]]


def test_adaptive_pools_by_hand():
    # 5 columns into 3 bins: [0, 2), [1, 4), [3, 5) -- uneven and overlapping
    x = tensor([[[[0, 4, 2, 6, 1]]]], requires_grad=True)
    y = F.adaptive_avg_pool2d(x, (1, 3))
    assert_close(y, [[[[2, 4, 3.5]]]])
    y.backward(tensor([[[[2, 3, 4]]]]))
    assert_close(x.grad, [[[[1, 2, 1, 3, 2]]]])  # 2/2; 2/2 + 3/3; 3/3; 3/3 + 4/2; 4/2

    x = tensor([[[[0, 4, 2, 6, 1]]]], requires_grad=True)
    y, indices = F.adaptive_max_pool2d(x, (1, 3), return_indices=True)
    assert y.tolist() == [[[[4, 6, 6]]]] and indices.tolist() == [[[[1, 3, 3]]]]
    y.backward(tensor([[[[2, 3, 4]]]]))
    assert x.grad.tolist() == [[[[0, 2, 0, 7, 0]]]]  # the 6 is the max of two bins


def test_global_pools_by_hand():
    x = tensor([[[[1, 2], [7, 2]], [[0, -1], [-3, -2]]]], requires_grad=True)
    assert_close(F.adaptive_avg_pool2d(x, 1), [[[[3]], [[-1.5]]]])
    y, indices = F.adaptive_max_pool2d(x, (1, 1), return_indices=True)
    assert y.tolist() == [[[[7]], [[0]]]] and indices.tolist() == [[[[2]], [[0]]]]
    y.backward(tensor([[[[5]], [[6]]]]))
    assert x.grad.tolist() == [[[[0, 0], [5, 0]], [[6, 0], [0, 0]]]]


# ---------------------------------------------------------------- float64 gradcheck

MAX_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
]


@pytest.mark.parametrize("config", MAX_CONFIGS, ids=str)
def test_max_pool2d_gradcheck(config):
    x = distinct_values(np.random.default_rng(0), (2, 2, 5, 6), dtype=np.float64)
    assert gradcheck(lambda t: F.max_pool2d(t, **config), [x])


AVG_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 2), stride=2, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=1, divisor_override=3),
]


@pytest.mark.parametrize("config", AVG_CONFIGS, ids=str)
def test_avg_pool2d_gradcheck(config):
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 6))
    assert gradcheck(lambda t: F.avg_pool2d(t, **config), [x])


# output sizes for a 6x6 input: global, regular (divisible) and uneven (overlapping bins) paths
ADAPTIVE_SIZES = [1, (3, 2), (4, 5), (None, 4), (8, 7)]


@pytest.mark.parametrize("output_size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_avg_pool2d_gradcheck(output_size):
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, output_size), [x])


@pytest.mark.parametrize("output_size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_max_pool2d_gradcheck(output_size):
    x = distinct_values(np.random.default_rng(0), (2, 2, 6, 6), dtype=np.float64)
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, output_size), [x])


# ---------------------------------------------------------------- PyTorch parity over many arguments


@st.composite
def window_cases(draw, with_dilation):
    """Kernel, stride, padding, dilation, ceil_mode and an input shape that gives at least one output."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.sampled_from([None, (draw(st.integers(1, 4)), draw(st.integers(1, 4)))]))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if with_dilation else (1, 1)
    sizes = []
    for k, p, d in zip(kernel, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)  # the dilated kernel must fit the padded input
        sizes.append(draw(st.integers(smallest, smallest + 6)))
    leading = draw(st.sampled_from([(1, 1), (2, 3), (3,)]))  # (3,) is an unbatched (C, H, W) input
    ceil_mode = draw(st.booleans())
    # a dilated window can skip over the whole input, lying wholly in the padding: PyTorch's backward
    # then aborts the process (an out-of-range index), so such cases are left out
    for size, k, s, p, d in zip(sizes, kernel, stride or kernel, padding, dilation):
        out = output_length(size, k, s, p, d, ceil_mode)
        assume(all(any(0 <= o * s - p + j * d < size for j in range(k)) for o in range(out)))
    args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if with_dilation:
        args["dilation"] = dilation
    return leading + tuple(sizes), args


@given(window_cases(with_dilation=True), st.integers(0, 2**16))
def test_max_pool2d_matches_torch(case, seed):
    torch = require_torch()
    shape, args = case
    x = distinct_values(np.random.default_rng(seed), shape)
    ours, theirs = compare_with_torch(
        lambda t: F.max_pool2d(t, **args), lambda t: torch.nn.functional.max_pool2d(t, **args), [x], seed=seed
    )
    our_indices = np.asarray(F.max_pool2d(minicnn.tensor(x), **args, return_indices=True)[1])
    their_indices = torch_indices(torch, lambda t: torch.nn.functional.max_pool2d(t, **args, return_indices=True), x)
    np.testing.assert_array_equal(our_indices, their_indices)
    # the same values with indices requested and the graph recorded
    with_indices = F.max_pool2d(minicnn.tensor(x, requires_grad=True), **args, return_indices=True)[0]
    np.testing.assert_array_equal(np.asarray(with_indices.detach()), np.asarray(ours.detach()))


@given(
    window_cases(with_dilation=False),
    st.booleans(),
    st.sampled_from([None, None, 1, 3, -2]),
    st.integers(0, 2**16),
)
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override, seed):
    torch = require_torch()
    shape, args = case
    args = dict(args, count_include_pad=count_include_pad, divisor_override=divisor_override)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    compare_with_torch(
        lambda t: F.avg_pool2d(t, **args), lambda t: torch.nn.functional.avg_pool2d(t, **args), [x], seed=seed
    )


adaptive_cases = st.tuples(
    st.sampled_from([(1, 1), (2, 3), (3,)]),
    st.integers(1, 12),
    st.integers(1, 12),
    st.one_of(
        st.integers(1, 6),
        st.tuples(st.one_of(st.none(), st.integers(1, 8)), st.one_of(st.none(), st.integers(1, 8))),
    ),
    st.integers(0, 2**16),
)


@given(adaptive_cases)
def test_adaptive_avg_pool2d_matches_torch(case):
    torch = require_torch()
    leading, H, W, output_size, seed = case
    x = np.random.default_rng(seed).standard_normal(leading + (H, W)).astype(np.float32)
    compare_with_torch(
        lambda t: F.adaptive_avg_pool2d(t, output_size),
        lambda t: torch.nn.functional.adaptive_avg_pool2d(t, output_size),
        [x],
        seed=seed,
    )


@given(adaptive_cases)
def test_adaptive_max_pool2d_matches_torch(case):
    torch = require_torch()
    leading, H, W, output_size, seed = case
    x = distinct_values(np.random.default_rng(seed), leading + (H, W))
    compare_with_torch(
        lambda t: F.adaptive_max_pool2d(t, output_size),
        lambda t: torch.nn.functional.adaptive_max_pool2d(t, output_size),
        [x],
        seed=seed,
    )
    our_indices = F.adaptive_max_pool2d(minicnn.tensor(x), output_size, return_indices=True)[1]
    their_indices = torch_indices(
        torch, lambda t: torch.nn.functional.adaptive_max_pool2d(t, output_size, return_indices=True), x
    )
    assert our_indices.dtype == minicnn.int64
    np.testing.assert_array_equal(np.asarray(our_indices), their_indices)


def test_output_sizes_follow_torch_including_the_ceil_mode_rule():
    """Every small (size, kernel, stride, padding, dilation, ceil_mode): the same output length as PyTorch,
    including the configurations where PyTorch drops a ceil_mode window that would start in the right padding."""
    torch = require_torch()
    dropped = 0
    for size in range(1, 8):
        for kernel in range(1, 5):
            for stride in range(1, 5):
                for padding in range(kernel // 2 + 1):
                    for dilation in (1, 2):
                        if dilation * (kernel - 1) + 1 > size + 2 * padding:
                            continue
                        x = torch.zeros(1, 1, 1, size)
                        args = dict(kernel_size=(1, kernel), stride=(1, stride), padding=(0, padding))
                        for ceil_mode in (False, True):
                            expected = torch.nn.functional.max_pool2d(
                                x, **args, dilation=(1, dilation), ceil_mode=ceil_mode
                            ).shape[-1]
                            ours = output_length(size, kernel, stride, padding, dilation, ceil_mode)
                            assert ours == expected, (size, kernel, stride, padding, dilation, ceil_mode)
                        plain_ceil = -(-(size + 2 * padding - dilation * (kernel - 1) - 1) // stride) + 1
                        dropped += plain_ceil != output_length(size, kernel, stride, padding, dilation, True)
    assert dropped > 0  # the grid does exercise PyTorch's drop rule


# ---------------------------------------------------------------- dtypes, devices, NaN, no_grad

OPS = [
    ("max_pool2d", lambda t: F.max_pool2d(t, 3, stride=2, padding=1), "max_pool2d", (3,), dict(stride=2, padding=1)),
    ("avg_pool2d", lambda t: F.avg_pool2d(t, 3, stride=1, padding=1), "avg_pool2d", (3,), dict(stride=1, padding=1)),
    ("adaptive_avg_uneven", lambda t: F.adaptive_avg_pool2d(t, (3, 4)), "adaptive_avg_pool2d", ((3, 4),), {}),
    ("adaptive_max_uneven", lambda t: F.adaptive_max_pool2d(t, (3, 4)), "adaptive_max_pool2d", ((3, 4),), {}),
    ("adaptive_avg_global", lambda t: F.adaptive_avg_pool2d(t, 1), "adaptive_avg_pool2d", (1,), {}),
    ("adaptive_max_global", lambda t: F.adaptive_max_pool2d(t, 1), "adaptive_max_pool2d", (1,), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", [o[1] for o in OPS], ids=[o[0] for o in OPS])
def test_dtype_is_preserved(op, dtype):
    x = minicnn.tensor(distinct_values(np.random.default_rng(0), (2, 3, 7, 7), dtype=dtype), requires_grad=True)
    y = op(x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, op, torch_name, torch_args, torch_kwargs", OPS, ids=[o[0] for o in OPS])
def test_on_each_device(name, op, torch_name, torch_args, torch_kwargs, device):
    torch = require_torch()
    x = distinct_values(np.random.default_rng(1), (4, 3, 9, 10))
    torch_op = getattr(torch.nn.functional, torch_name)
    ours, _ = compare_with_torch(op, lambda t: torch_op(t, *torch_args, **torch_kwargs), [x], device=device)
    assert ours.device == minicnn.device(device)


def test_kernel_with_more_than_127_offsets():
    # 12x12 = 144 offsets no longer fit the int8 arg-max bookkeeping: the wider type must be used
    torch = require_torch()
    x = distinct_values(np.random.default_rng(0), (2, 2, 24, 25))
    ours, _ = compare_with_torch(
        lambda t: F.max_pool2d(t, 12, stride=(12, 13)), lambda t: torch.nn.functional.max_pool2d(t, 12, (12, 13)), [x]
    )
    indices = F.adaptive_max_pool2d(minicnn.tensor(x), (2, 1), return_indices=True)[1]  # a 12x25 window
    expected = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), (2, 1), return_indices=True)[1]
    np.testing.assert_array_equal(np.asarray(indices), expected.numpy())


def test_unbatched_return_indices_shape():
    x = minicnn.tensor(distinct_values(np.random.default_rng(0), (3, 6, 6)))
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == (3, 3, 3) and indices.shape == (3, 3, 3)
    y, indices = F.adaptive_max_pool2d(x, (4, 5), return_indices=True)
    assert y.shape == (3, 4, 5) and indices.shape == (3, 4, 5)


def test_max_pool2d_propagates_nan_like_torch():
    torch = require_torch()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan  # inside the first 2x2 window, after its first element
    expected = torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()
    for requires_grad in (False, True):  # inference path and arg-max path
        y = F.max_pool2d(minicnn.tensor(x, requires_grad=requires_grad), 2)
        np.testing.assert_array_equal(np.asarray(y.detach()), expected)
    y = F.adaptive_max_pool2d(minicnn.tensor(x), (3, 3))
    np.testing.assert_array_equal(np.asarray(y), torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), 3).numpy())


def test_no_grad_gives_the_same_values_and_no_graph():
    x = minicnn.tensor(distinct_values(np.random.default_rng(0), (2, 3, 8, 8)), requires_grad=True)
    recorded = F.max_pool2d(x, 3, stride=1, padding=1)
    with minicnn.no_grad():
        plain = F.max_pool2d(x, 3, stride=1, padding=1)
    assert plain.grad_fn is None and recorded.grad_fn is not None
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(recorded.detach()))


def test_empty_batch():
    x = minicnn.tensor(np.zeros((0, 2, 4, 4), np.float32))
    assert F.max_pool2d(x, 2).shape == (0, 2, 2, 2)
    assert F.avg_pool2d(x, 3, padding=1).shape == (0, 2, 2, 2)
    assert F.adaptive_max_pool2d(x, 3).shape == (0, 2, 3, 3)


# ---------------------------------------------------------------- errors at the door


def test_kernel_larger_than_input_names_the_shapes():
    x = minicnn.tensor(np.zeros((1, 1, 2, 2), np.float32))
    message = "max_pool2d: kernel 3 with padding 0 is larger than the input 2x2 of shape (1, 1, 2, 2)"
    with pytest.raises(ValueError, match=re.escape(message)):
        F.max_pool2d(x, 3)
    with pytest.raises(ValueError, match=r"avg_pool2d: kernel \(3, 1\) with padding 0 is larger"):
        F.avg_pool2d(x, (3, 1))
    with pytest.raises(ValueError, match="kernel 3 and dilation 2 with padding 1 is larger"):
        F.max_pool2d(minicnn.tensor(np.zeros((1, 1, 1, 1), np.float32)), 3, padding=1, dilation=2)


POOL_FUNCTIONS = [("max_pool2d", F.max_pool2d), ("avg_pool2d", F.avg_pool2d)]


@pytest.mark.parametrize("name, pool", POOL_FUNCTIONS, ids=[p[0] for p in POOL_FUNCTIONS])
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(kernel_size=0), ValueError, "kernel_size must be positive, got 0"),
        (dict(kernel_size=(2, -1)), ValueError, r"kernel_size must be positive, got \(2, -1\)"),
        (dict(kernel_size=2, stride=0), ValueError, "stride must be positive"),
        (dict(kernel_size=2, padding=-1), ValueError, "padding must be non-negative"),
        (dict(kernel_size=2, padding=2), ValueError, "padding 2 must be at most half the kernel size 2"),
        (
            dict(kernel_size=(3, 4), padding=(2, 1)),
            ValueError,
            r"padding \(2, 1\) must be at most half the kernel size \(3, 4\)",
        ),
        (dict(kernel_size=(1, 2, 3)), ValueError, "kernel_size must be an int or a pair"),
        (dict(kernel_size=2.0), TypeError, "kernel_size must be an int or a pair"),
        (dict(kernel_size=2, stride=(1, 1.5)), TypeError, "stride must be an int or a pair"),
    ],
)
def test_bad_window_arguments(name, pool, kwargs, error, pattern):
    x = minicnn.tensor(np.zeros((1, 2, 6, 6), np.float32))
    with pytest.raises(error, match=f"{name}: {pattern}"):
        pool(x, **kwargs)


def test_bad_dilation_and_divisor():
    x = minicnn.tensor(np.zeros((1, 2, 6, 6), np.float32))
    with pytest.raises(ValueError, match="max_pool2d: dilation must be positive"):
        F.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must not be zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="avg_pool2d: divisor_override must be an int"):
        F.avg_pool2d(x, 2, divisor_override=1.5)


ALL_FUNCTIONS = [
    ("max_pool2d", lambda t: F.max_pool2d(t, 1)),
    ("avg_pool2d", lambda t: F.avg_pool2d(t, 1)),
    ("adaptive_avg_pool2d", lambda t: F.adaptive_avg_pool2d(t, 1)),
    ("adaptive_max_pool2d", lambda t: F.adaptive_max_pool2d(t, 1)),
]


@pytest.mark.parametrize("name, call", ALL_FUNCTIONS, ids=[f[0] for f in ALL_FUNCTIONS])
def test_bad_inputs(name, call):
    with pytest.raises(ValueError, match=rf"{name}: expected a 3-D \(C, H, W\) or 4-D .* got shape \(4, 4\)"):
        call(minicnn.tensor(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match=f"{name}: expected a 3-D"):
        call(minicnn.tensor(np.zeros((1, 1, 1, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=rf"{name}: expected non-empty .* got shape \(2, 0, 4, 4\)"):
        call(minicnn.tensor(np.zeros((2, 0, 4, 4), np.float32)))
    with pytest.raises(TypeError, match=f"{name}: expected a floating point input, got int64"):
        call(minicnn.tensor(np.zeros((1, 4, 4), np.int64)))
    with pytest.raises(TypeError, match=f"{name}: expected a Tensor, got ndarray"):
        call(np.zeros((1, 4, 4), np.float32))


ADAPTIVE_FUNCTIONS = [("adaptive_avg_pool2d", F.adaptive_avg_pool2d), ("adaptive_max_pool2d", F.adaptive_max_pool2d)]


@pytest.mark.parametrize("name, pool", ADAPTIVE_FUNCTIONS, ids=[p[0] for p in ADAPTIVE_FUNCTIONS])
def test_bad_output_size(name, pool):
    x = minicnn.tensor(np.zeros((1, 2, 6, 6), np.float32))
    with pytest.raises(ValueError, match=f"{name}: output_size must be positive, got 0"):
        pool(x, 0)
    with pytest.raises(ValueError, match=rf"{name}: output_size must be positive, got \(3, -1\)"):
        pool(x, (3, -1))
    with pytest.raises(ValueError, match=f"{name}: output_size must be an int or a pair"):
        pool(x, (1, 2, 3))
    with pytest.raises(TypeError, match=f"{name}: output_size must be an int or a pair"):
        pool(x, 2.5)


def test_public_names():
    assert sorted(pooling.__all__) == ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d"]
    for name in pooling.__all__:
        assert getattr(F, name) is getattr(pooling, name)
        assert getattr(pooling, name).__doc__
