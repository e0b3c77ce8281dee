"""Channels-last memory (ops/fast/layout.py): every path of conv2d, max- and average pooling, batch norm and cat,
fed and fed back arrays in either memory order, equals PyTorch; and the layout is passed on where the docs say it is.

The speed paths are chosen by shape, so each one is also forced here by name (monkeypatching the choice),
so that every path is proven on the same cases whatever the heuristics pick for them.
"""

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.fast import allocator
from minicnn.ops.fast import conv as conv_module
from minicnn.ops.fast.layout import from_channels_last, is_channels_last, to_channels_last
from tests.helpers import DEVICES, assert_close, compare_with_torch, gradcheck, require_torch

ATOL, RTOL = 1e-4, 1e-4  # as tests/test_ops_conv.py: float32 sums of up to a few hundred products

pytestmark = pytest.mark.usefixtures("fast_kernels_on")  # these are tests of the fast kernels


def channels_last_copy(array):
    """The same logical (N, C, H, W) values, stored (N, H, W, C) in memory."""
    return from_channels_last(np.ascontiguousarray(array.transpose(0, 2, 3, 1)))


def in_layout(array, layout):
    return channels_last_copy(array) if layout == "channels_last" else np.ascontiguousarray(array)


# ---------------------------------------------------------------- the helpers themselves


def test_layout_helpers_round_trip():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    stored = channels_last_copy(x)
    assert is_channels_last(stored) and not is_channels_last(x)
    assert stored.shape == x.shape and np.array_equal(stored, x)
    assert to_channels_last(stored).base is not None  # already channels-last: a view, no copy
    assert np.array_equal(to_channels_last(x), x.transpose(0, 2, 3, 1))
    assert not is_channels_last(np.zeros((2, 3, 4)))  # only 4-D arrays have a channels-last order


# ---------------------------------------------------------------- conv2d: every path, both layouts

CONV_CASES = [  # (N, C, H, W, O, KH, KW), options
    ((2, 3, 7, 6, 4, 3, 3), dict(padding=1)),
    ((2, 4, 8, 8, 3, 5, 5), dict()),  # 'valid', fewer outputs than inputs
    ((2, 2, 9, 7, 4, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ((1, 4, 9, 9, 4, 3, 3), dict(dilation=2, padding=2, groups=2)),
    ((2, 3, 9, 10, 2, 3, 2), dict(dilation=(2, 3), stride=(1, 2), padding=(2, 1))),  # few outputs, dilated
    ((2, 3, 6, 5, 2, 2, 3), dict(padding="same")),  # asymmetric padding
    ((2, 4, 5, 6, 6, 1, 1), dict(groups=2)),  # 1x1: the pixels are the columns
    ((2, 1, 12, 12, 5, 3, 3), dict(padding=1)),  # one channel, long rows: the textbook columns
]
CONV_IDS = [f"{shape}-{options}" for shape, options in CONV_CASES]


@pytest.fixture(params=["auto", "textbook", "rows", "kernel_rows"])
def column_path(request, monkeypatch):
    """Force which im2col layout _correlate uses (1x1 convolutions always use their pixels; kernel rows
    need one group)."""
    if request.param != "auto":
        monkeypatch.setattr(conv_module, "_image_columns", lambda *args: request.param == "textbook")
        monkeypatch.setattr(
            conv_module,
            "_kernel_rows",
            lambda *args: request.param == "kernel_rows" and args[5] == 1,  # args[5]: groups
        )
    return request.param


@pytest.fixture(params=["auto", "convolution", "col2im"])
def grad_path(request, monkeypatch):
    """Force how dL/dx is computed: as a convolution of dL/dy (where possible) or by col2im."""
    if request.param != "auto":

        def choose(x_shape, weight_shape, stride, padding, dilation):
            possible = conv_module._grad_by_convolution_possible(x_shape, weight_shape, stride, padding, dilation)
            return possible and request.param == "convolution"

        monkeypatch.setattr(conv_module, "_grad_by_convolution", choose)
    return request.param


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note about its own copy
@pytest.mark.parametrize("upstream_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("input_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("shape, options", CONV_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_every_path_and_layout_matches_torch(
    device, shape, options, input_layout, upstream_layout, column_path, grad_path
):
    torch = require_torch()
    n, c, h, w, o, kh, kw = shape
    rng = np.random.default_rng(sum(shape))
    groups = options.get("groups", 1)
    x = in_layout(rng.standard_normal((n, c, h, w)).astype(np.float32), input_layout)
    weight = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    out_shape = torch.nn.functional.conv2d(torch.tensor(np.ascontiguousarray(x)), torch.tensor(weight), **options).shape
    upstream = in_layout(rng.standard_normal(tuple(out_shape)).astype(np.float32), upstream_layout)
    compare_with_torch(
        lambda x, w, b: F.conv2d(x, w, b, **options),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **options),
        [x, weight, bias],
        atol=ATOL,
        rtol=RTOL,
        device=device,
        upstream=upstream,
    )


@pytest.mark.parametrize("shape, options", CONV_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_every_path_passes_gradcheck(device, shape, options, column_path, grad_path):
    n, c, h, w, o, kh, kw = shape
    rng = np.random.default_rng(sum(shape) + 1)
    groups = options.get("groups", 1)
    arrays = [
        channels_last_copy(rng.standard_normal((n, c, h, w))),
        rng.standard_normal((o, c // groups, kh, kw)),
        rng.standard_normal(o),
    ]
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **options), arrays, device=device)


@pytest.mark.parametrize("kernel", [1, 3])
def test_conv2d_bias_gradient_with_a_frozen_weight(kernel, column_path):
    """The bias' gradient normally comes out of dL/dW's GEMM (a column of ones); without dL/dW it must not be lost."""
    torch = require_torch()
    rng = np.random.default_rng(kernel)
    x = channels_last_copy(rng.standard_normal((2, 3, 6, 5)).astype(np.float32))
    weight = rng.standard_normal((4, 3, kernel, kernel)).astype(np.float32)
    ours_b = minicnn.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    theirs_b = torch.tensor(ours_b.array.copy(), requires_grad=True)
    F.conv2d(minicnn.tensor(x), minicnn.tensor(weight), ours_b, padding=1).square().sum().backward()
    theirs_x, theirs_w = torch.tensor(np.ascontiguousarray(x)), torch.tensor(weight)
    torch.nn.functional.conv2d(theirs_x, theirs_w, theirs_b, padding=1).square().sum().backward()
    assert_close(ours_b.grad, theirs_b.grad, ATOL, RTOL, name="bias gradient")


def test_conv2d_output_is_channels_last_after_the_first_layer():
    rng = np.random.default_rng(3)
    x = minicnn.tensor(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
    w = minicnn.tensor(rng.standard_normal((5, 4, 3, 3)).astype(np.float32))
    y = F.conv2d(x, w, padding=1)
    assert is_channels_last(y.array)  # an NCHW view of NHWC memory: the next op reads it in order
    assert y.shape == (2, 5, 6, 6)
    assert np.array_equal(y.contiguous().array, y.array)  # the values do not depend on the layout
    first = F.conv2d(minicnn.tensor(rng.standard_normal((2, 1, 20, 20)).astype(np.float32)), w[:, :1])
    assert first.array.flags.c_contiguous  # the textbook path of a one-channel first layer writes NCHW


def test_relu_and_the_residual_add_pass_the_layout_on():
    x = minicnn.tensor(channels_last_copy(np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32)))
    assert is_channels_last(F.relu(x).array)  # NumPy's ufuncs keep their input's memory order
    assert is_channels_last((x + F.relu(x)).array)
    assert np.array_equal(F.relu(x).array, np.maximum(np.ascontiguousarray(x.array), 0))


# ---------------------------------------------------------------- max-pool, batch norm, cat


@pytest.mark.parametrize("upstream_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("input_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("size", [(6, 8), (7, 8), (6, 9), (5, 5)], ids=str)  # odd sizes crop (floor mode)
@pytest.mark.parametrize("device", DEVICES)
def test_max_pool_2x2_matches_torch_in_both_layouts_with_ties(device, size, input_layout, upstream_layout):
    torch = require_torch()
    rng = np.random.default_rng(size[0] * size[1])
    # after a ReLU most windows hold several exact zeros: PyTorch sends the gradient to the first of them
    x = np.maximum(rng.standard_normal((2, 3, *size)), 0).astype(np.float32)
    x[0, 0, :2, :2] = 1.5  # a window of four equal maxima
    x = in_layout(x, input_layout)
    out_shape = (2, 3, size[0] // 2, size[1] // 2)
    upstream = in_layout(rng.standard_normal(out_shape).astype(np.float32), upstream_layout)
    y, _ = compare_with_torch(
        lambda t: F.max_pool2d(t, 2),
        lambda t: torch.nn.functional.max_pool2d(t, 2),
        [x],
        atol=ATOL,
        rtol=RTOL,
        device=device,
        upstream=upstream,
    )
    assert is_channels_last(y.array) == (input_layout == "channels_last")  # the layout is passed on


AVG_POOL_CASES = [  # kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    (3, 1, 1, False, True, None),  # Inception's branch pool
    (2, 2, 0, False, True, None),
    ((3, 2), (2, 1), (1, 0), True, False, None),  # overlapping rows, ceil_mode edge windows divide by less
    (3, 2, 1, True, True, None),
    (3, 1, 1, False, True, 4),
]


@pytest.mark.parametrize("upstream_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("input_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=[str(case) for case in AVG_POOL_CASES])
@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool_matches_torch_in_both_layouts(device, case, input_layout, upstream_layout):
    torch = require_torch()
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override = case
    args = dict(
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    rng = np.random.default_rng(11)
    x = in_layout(rng.standard_normal((2, 3, 7, 6)).astype(np.float32), input_layout)
    out_shape = tuple(torch.nn.functional.avg_pool2d(torch.zeros(x.shape), **args).shape)
    upstream = in_layout(rng.standard_normal(out_shape).astype(np.float32), upstream_layout)
    y, _ = compare_with_torch(
        lambda t: F.avg_pool2d(t, **args),
        lambda t: torch.nn.functional.avg_pool2d(t, **args),
        [x],
        atol=ATOL,
        rtol=RTOL,
        device=device,
        upstream=upstream,
    )
    assert is_channels_last(y.array) == (input_layout == "channels_last")  # the layout is passed on


@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=[str(case) for case in AVG_POOL_CASES])
@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool_on_channels_last_input_passes_gradcheck(device, case):
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override = case
    x = channels_last_copy(np.random.default_rng(3).standard_normal((2, 3, 7, 6)))
    x = minicnn.tensor(x, requires_grad=True, device=device)
    assert gradcheck(
        lambda t: F.avg_pool2d(t, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override), [x]
    )


@pytest.mark.parametrize("upstream_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm_on_channels_last_input_matches_torch(device, training, upstream_layout):
    torch = require_torch()
    rng = np.random.default_rng(5)
    x = channels_last_copy((rng.standard_normal((4, 3, 5, 6)) * 2 + 1).astype(np.float32))
    weight, bias = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    ours_stats = [
        minicnn.tensor(rng.random(3).astype(np.float32), device=device),
        minicnn.tensor(rng.random(3).astype(np.float32) + 1, device=device),
    ]
    theirs_stats = [torch.tensor(np.array(s)) for s in ours_stats]
    upstream = in_layout(rng.standard_normal(x.shape).astype(np.float32), upstream_layout)
    y, _ = compare_with_torch(
        lambda t, w, b: F.batch_norm(t, *ours_stats, w, b, training=training),
        lambda t, w, b: torch.nn.functional.batch_norm(t, *theirs_stats, w, b, training=training),
        [x, weight, bias],
        atol=ATOL,
        rtol=RTOL,
        device=device,
        upstream=upstream,
    )
    assert is_channels_last(y.array)
    for ours, theirs in zip(ours_stats, theirs_stats):
        assert_close(ours, theirs, ATOL, RTOL, name="running statistic")


def test_cat_of_channels_last_tensors_stays_channels_last():
    torch = require_torch()
    rng = np.random.default_rng(6)
    parts = [channels_last_copy(rng.standard_normal((2, c, 3, 4)).astype(np.float32)) for c in (2, 3, 1)]
    ours = [minicnn.tensor(p, requires_grad=True) for p in parts]
    theirs = [torch.tensor(np.ascontiguousarray(p), requires_grad=True) for p in parts]
    joined = minicnn.cat(ours, dim=1)
    assert is_channels_last(joined.array)
    assert_close(joined, torch.cat(theirs, dim=1), 0, 0)
    upstream = rng.standard_normal(joined.shape).astype(np.float32)
    (joined * minicnn.tensor(upstream)).sum().backward()
    (torch.cat(theirs, dim=1) * torch.tensor(upstream)).sum().backward()
    for o, t in zip(ours, theirs):
        assert_close(o.grad, t.grad, 0, 0)
    mixed = minicnn.cat([ours[0], minicnn.tensor(np.ascontiguousarray(parts[1]))], dim=1)  # any mix still works
    assert_close(mixed, torch.cat([theirs[0], theirs[1]], dim=1), 0, 0)


# ---------------------------------------------------------------- the allocator setting in backend.py


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, option, value):
        self.calls.append((option, value))
        return 1


def test_allocator_keeps_freed_memory_unless_the_user_chose(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: libc)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    allocator.keep_freed_memory_for_reuse()
    assert libc.calls == [(-3, 64 << 20), (-1, 512 << 20)]  # M_MMAP_THRESHOLD 64 MiB, M_TRIM_THRESHOLD 512 MiB
    libc.calls.clear()
    monkeypatch.setenv("MINICNN_KEEP_MEMORY", "0")  # the opt-out
    allocator.keep_freed_memory_for_reuse()
    assert libc.calls == []
    monkeypatch.delenv("MINICNN_KEEP_MEMORY")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")  # the user's own glibc setting wins
    allocator.keep_freed_memory_for_reuse()
    assert libc.calls == []


def test_allocator_setting_is_skipped_without_glibc(monkeypatch):
    def no_glibc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(allocator.ctypes, "CDLL", no_glibc)
    allocator.keep_freed_memory_for_reuse()  # no error: macOS, Windows and musl keep their defaults
