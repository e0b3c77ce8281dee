"""Each fast kernel of ``minicnn/ops/fast/`` equals the textbook Function of ``minicnn/ops/`` it stands in for.

Forward and backward (every input gradient, and batch norm's running buffers), over hypothesis-drawn shapes
and arguments, with the input (and the upstream gradient) in either memory layout: NCHW contiguous, or
channels-last (``from_channels_last(to_channels_last(x))``: NCHW-logical, NHWC in memory). float64 is held to
rtol 1e-10 (the two differ only in the order of their sums), float32 to float32 tolerances. The convolution's
speed paths are chosen by shape, so each column layout and each dL/dx method is also forced by name, as
tests/test_layout.py does. Max pooling is compared exactly: its inputs come from a few integers, so windows
often tie, and the gradient must go to the same element. The last tests check that the ops really dispatch:
to the fast kernels by default, to the textbook Functions under ``minicnn.textbook()`` or MINICNN_TEXTBOOK=1.
"""

import contextlib
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.arguments import output_length
from minicnn.ops.conv import Conv2d
from minicnn.ops.fast import conv as fast_conv
from minicnn.ops.fast import fast_kernels
from minicnn.ops.fast.conv import FastConv2d
from minicnn.ops.fast.layout import from_channels_last, is_channels_last, to_channels_last
from minicnn.ops.fast.pooling import MaxPool2x2
from minicnn.ops.pooling import MaxPool2d
from tests.helpers import to_numpy

DTYPES = [np.float64, np.float32]
# float64: the kernels sum in another order, nothing more (measured: within 2e-15 of the largest value).
# float32: conv sums up to ~100 products in another order (measured: 4e-7). Batch norm's dL/dx in training,
# dy - mean(dy) - xhat * mean(dy * xhat), cancels; the textbook rounds xhat to float32 before it, the fast
# kernel works from x - mean (measured: 1.1e-5 of the largest value; float64 agrees to 1e-15)
TOLERANCES = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
BATCH_NORM_FLOAT32 = dict(rtol=1e-4, atol=5e-5)
LAYOUTS = ["contiguous", "channels_last"]


def in_layout(array, layout, channel_axis=1):
    """``array`` with its memory in ``layout``: "channels_last" puts the channel axis innermost (for 4-D
    (N, C, H, W): NHWC memory, which the fast kernels recognise), "contiguous" is C order."""
    if layout == "contiguous":
        return np.ascontiguousarray(array)
    if array.ndim == 4 and channel_axis == 1:
        stored = from_channels_last(to_channels_last(array))
        assert is_channels_last(stored)
        return stored
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(array, channel_axis, -1)), -1, channel_axis)


def forward_backward(function, arrays, needs_grad, upstream):
    """y = function(*tensors) and, after ``y.backward(upstream)``, each input's gradient (None if frozen).

    ``minicnn.tensor`` copies each array keeping its memory order, so both runs see the same layout.
    """
    tensors = [None if a is None else minicnn.tensor(a, requires_grad=r) for a, r in zip(arrays, needs_grad)]
    y = function(*tensors)
    if y.requires_grad:
        y.backward(minicnn.tensor(upstream))
    return y, [None if t is None else t.grad for t in tensors]


def assert_same(fast, textbook, dtype, name, exact=False, tolerances=None):
    """Equal within ``tolerances`` (default: the dtype's) or exactly, with the same shape and dtype; None only
    with None."""
    assert (fast is None) == (textbook is None), f"{name}: fast {fast is None}, textbook {textbook is None}"
    if fast is None:
        return
    fast, textbook = to_numpy(fast), to_numpy(textbook)
    assert fast.shape == textbook.shape, f"{name}: shape {fast.shape} != textbook {textbook.shape}"
    assert fast.dtype == textbook.dtype == dtype, f"{name}: dtype {fast.dtype}, textbook {textbook.dtype}"
    if exact:
        np.testing.assert_array_equal(fast, textbook, err_msg=name)
    else:
        np.testing.assert_allclose(fast, textbook, **(tolerances or TOLERANCES[dtype]), err_msg=name)


def compare(fast_function, textbook_function, arrays, needs_grad, upstream, dtype, exact=False, tolerances=None):
    """Run both on copies of the same arrays; their outputs and every input's gradient must agree."""
    fast_y, fast_grads = forward_backward(fast_function, arrays, needs_grad, upstream)
    textbook_y, textbook_grads = forward_backward(textbook_function, arrays, needs_grad, upstream)
    assert_same(fast_y, textbook_y, dtype, "forward", exact, tolerances)
    for i, (fast_grad, textbook_grad) in enumerate(zip(fast_grads, textbook_grads)):
        assert_same(fast_grad, textbook_grad, dtype, f"gradient of input {i}", exact, tolerances)
    return fast_y, textbook_y


def recorded(y):
    """The name of the Function that made ``y`` (None when no graph was recorded)."""
    return None if y.grad_fn is None else y.grad_fn.function.__name__


# ---------------------------------------------------------------- FastConv2d vs Conv2d


@contextlib.contextmanager
def forced_conv_paths(columns: str, grad_input: str):
    """Force FastConv2d's column layout ("image", "rows", "kernel_rows"; kernel rows need one group) and its
    dL/dx method ("convolution" where possible, "col2im"); "auto" leaves the choice to the shape. A 1x1
    kernel without padding always takes its pixels as the columns. dL/dx as a convolution runs the forced
    column layout too. Yields the list of layouts ``_correlate`` used: forward's, then dL/dx's if a convolution.
    """
    layouts = []
    correlate = fast_conv._correlate

    def recording_correlate(*args, **kwargs):
        y, x_cols, layout = correlate(*args, **kwargs)
        layouts.append(layout)
        return y, x_cols, layout

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(fast_conv, "_correlate", recording_correlate))
        if columns != "auto":
            stack.enter_context(mock.patch.object(fast_conv, "_image_columns", lambda *args: columns == "image"))
            stack.enter_context(
                mock.patch.object(
                    fast_conv, "_kernel_rows", lambda *args: columns == "kernel_rows" and args[5] == 1
                )  # args[5]: groups
            )
        if grad_input != "auto":
            possible = fast_conv._grad_by_convolution_possible
            stack.enter_context(
                mock.patch.object(
                    fast_conv, "_grad_by_convolution", lambda *args: grad_input == "convolution" and possible(*args)
                )
            )
        yield layouts


@st.composite
def conv_cases(draw):
    """(x shape, weight shape, FastConv2d/Conv2d options, has bias, (x, weight, bias) need grad, upstream layout)."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))  # one group half the time: kernel rows need it
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    reach = [d * (k - 1) for k, d in zip(kernel, dilation)]
    padding_kind = draw(st.sampled_from(["symmetric", "same", "asymmetric"]))
    if padding_kind == "same":  # PyTorch's 'same': an odd total (even kernel) puts the extra row bottom/right
        stride, padding = (1, 1), tuple((total // 2, total - total // 2) for total in reach)
    else:
        stride = (draw(st.sampled_from([1, 1, 2, 3])), draw(st.sampled_from([1, 1, 2, 3])))  # dL/dx as a conv: 1
        if padding_kind == "symmetric":
            padding = tuple((p, p) for p in (draw(st.integers(0, 2)), draw(st.integers(0, 2))))
        else:
            padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    size = [max(1, r + 1 - sum(pads) + draw(st.integers(0, 4))) for r, pads in zip(reach, padding)]
    x_shape, weight_shape = (draw(st.integers(1, 2)), c, *size), (o, c // groups, *kernel)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    has_bias = draw(st.booleans())
    weight_needs_grad, bias_needs_grad = draw(st.booleans()), has_bias and draw(st.booleans())
    x_needs_grad = draw(st.booleans()) or not (weight_needs_grad or bias_needs_grad)  # something to differentiate
    upstream_layout = draw(st.sampled_from(LAYOUTS))
    return x_shape, weight_shape, options, has_bias, (x_needs_grad, weight_needs_grad, bias_needs_grad), upstream_layout


ONE_BY_ONE = ((2, 4, 3, 5), (6, 2, 1, 1), dict(stride=(1, 2), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=2))
EVEN_SAME = ((2, 3, 5, 6), (4, 3, 2, 4), dict(stride=(1, 1), padding=((0, 1), (1, 2)), dilation=(1, 1), groups=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_layout", LAYOUTS)
@pytest.mark.parametrize("grad_input", ["auto", "convolution", "col2im"])
@pytest.mark.parametrize("columns", ["auto", "image", "rows", "kernel_rows"])
@settings(max_examples=40)
@given(case=conv_cases())
@example(case=(*ONE_BY_ONE, True, (True, True, True), "contiguous"))  # the pixels as columns
@example(case=(*EVEN_SAME, False, (True, False, False), "channels_last"))  # 'same', even kernel, frozen weight
def test_fast_conv2d_equals_conv2d(columns, grad_input, input_layout, dtype, case):
    x_shape, weight_shape, options, has_bias, needs_grad, upstream_layout = case
    rng = np.random.default_rng(sum(x_shape) * 100 + sum(weight_shape))
    x = in_layout(rng.standard_normal(x_shape).astype(dtype), input_layout)
    weight = rng.standard_normal(weight_shape).astype(dtype)
    bias = rng.standard_normal(weight_shape[0]).astype(dtype) if has_bias else None
    size = [
        output_length(n + sum(pads), k, s, 0, d)
        for n, k, s, pads, d in zip(
            x_shape[2:], weight_shape[2:], options["stride"], options["padding"], options["dilation"]
        )
    ]
    upstream = in_layout(rng.standard_normal((x_shape[0], weight_shape[0], *size)).astype(dtype), upstream_layout)
    with forced_conv_paths(columns, grad_input) as layouts:
        fast_y, textbook_y = compare(
            lambda x, w, b: FastConv2d.apply(x, w, b, **options),
            lambda x, w, b: Conv2d.apply(x, w, b, **options),
            [x, weight, bias],
            needs_grad,
            upstream,
            dtype,
        )
    assert (recorded(fast_y), recorded(textbook_y)) == ("FastConv2d", "Conv2d")
    event(f"columns {'/'.join(layouts)}, groups {options['groups'] > 1}, stride {options['stride'] != (1, 1)}")
    # the paths forced were the paths taken
    if weight_shape[2:] == (1, 1) and options["padding"] == ((0, 0), (0, 0)):
        assert set(layouts) == {"rows"}  # the pixels are the columns (dL/dx's kernel is 1x1 too)
    elif columns != "auto":
        assert set(layouts) == {"rows" if columns == "kernel_rows" and options["groups"] > 1 else columns}
    by_convolution = fast_conv._grad_by_convolution_possible(x_shape, weight_shape, **options_without_groups(options))
    if grad_input != "auto" and needs_grad[0]:
        assert len(layouts) == (2 if grad_input == "convolution" and by_convolution else 1)


def options_without_groups(options):
    return {name: value for name, value in options.items() if name != "groups"}


# ---------------------------------------------------------------- MaxPool2x2 vs MaxPool2d


@st.composite
def max_pool_cases(draw):
    """(x shape, upstream layout): (N, C, H, W) or unbatched (C, H, W), odd sizes included (cropped)."""
    x_shape = (draw(st.integers(1, 2)),) * draw(st.sampled_from([1, 1, 0])) + (
        draw(st.integers(1, 3)),
        draw(st.integers(2, 7)),
        draw(st.integers(2, 7)),
    )
    return x_shape, draw(st.sampled_from(LAYOUTS))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_layout", LAYOUTS)
@settings(max_examples=40)
@given(case=max_pool_cases())
def test_max_pool_2x2_equals_max_pool2d(input_layout, dtype, case):
    """Exactly equal, forward and backward, on inputs from {-1, 0, 1}: windows tie often, and each window's
    gradient must go to the same (first, row-major) maximum."""
    x_shape, upstream_layout = case
    rng = np.random.default_rng(sum(x_shape) + len(x_shape))
    x = in_layout(rng.integers(-1, 2, x_shape).astype(dtype), input_layout, len(x_shape) - 3)
    out_size = (x_shape[-2] // 2, x_shape[-1] // 2)
    upstream = in_layout(rng.standard_normal(x_shape[:-2] + out_size).astype(dtype), upstream_layout, len(x_shape) - 3)
    compare(MaxPool2x2.apply, textbook_max_pool_2x2, [x], [True], upstream, dtype, exact=True)


def textbook_max_pool_2x2(x):
    out_size = (x.shape[-2] // 2, x.shape[-1] // 2)  # floor mode: an odd last row or column is in no window
    return MaxPool2d.apply(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), out_size=out_size)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_2x2_sends_a_tied_windows_gradient_to_its_first_element(layout):
    """Every window of x ties; both send its gradient to its top-left element, and nothing to a cropped row."""
    x = in_layout(np.zeros((1, 2, 5, 4)), layout)
    for function in (MaxPool2x2.apply, textbook_max_pool_2x2):
        _, (grad,) = forward_backward(function, [x], [True], np.arange(1.0, 9.0).reshape(1, 2, 2, 2))
        expected = np.zeros((1, 2, 5, 4))
        expected[:, :, 0:4:2, 0::2] = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
        np.testing.assert_array_equal(to_numpy(grad), expected)


# ---------------------------------------------------------------- SeparableAvgPool2d vs AvgPool2d


@st.composite
def avg_pool_cases(draw):
    """(x shape, avg_pool2d keyword arguments, upstream layout)."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = [max(1, k - 2 * p + draw(st.integers(0, 5))) for k, p in zip(kernel, padding)]
    x_shape = (draw(st.integers(1, 2)),) * draw(st.sampled_from([1, 1, 0])) + (draw(st.integers(1, 3)), *size)
    options = dict(
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        ceil_mode=draw(st.booleans()),
        count_include_pad=draw(st.sampled_from([True, False, False])),  # False: a divisor per window
        divisor_override=draw(st.sampled_from([None, None, 1, 3, -2])),
    )
    return x_shape, options, draw(st.sampled_from(LAYOUTS))


def in_both_modes(function):
    """(the function with the fast kernels on, the function under ``minicnn.textbook()``), whatever the
    process default (MINICNN_TEXTBOOK)."""
    return minicnn.textbook(False)(function), minicnn.textbook()(function)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_layout", LAYOUTS)
@settings(max_examples=80)
@given(case=avg_pool_cases())
def test_separable_avg_pool_equals_avg_pool2d(input_layout, dtype, case):
    x_shape, options, upstream_layout = case
    rng = np.random.default_rng(sum(x_shape) + len(x_shape))
    x = in_layout(rng.standard_normal(x_shape).astype(dtype), input_layout, len(x_shape) - 3)
    probe = F.avg_pool2d(minicnn.tensor(x, requires_grad=True), **options)  # the output's shape, the divisor
    upstream = in_layout(rng.standard_normal(probe.shape).astype(dtype), upstream_layout, len(x_shape) - 3)
    fast_y, textbook_y = compare(*in_both_modes(lambda x: F.avg_pool2d(x, **options)), [x], [True], upstream, dtype)
    assert (recorded(fast_y), recorded(textbook_y)) == ("SeparableAvgPool2d", "AvgPool2d")
    event(f"{len(x_shape)}-D {input_layout}, divisor {type(probe.grad_fn.divisor).__name__}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_layout", LAYOUTS)
@settings(max_examples=10)
@given(
    bins=st.tuples(st.integers(1, 3), st.integers(1, 3)).filter(lambda bins: bins != (1, 1)),  # (1, 1): a mean
    bin_size=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    upstream_layout=st.sampled_from(LAYOUTS),
)
def test_adaptive_avg_pool_with_even_bins_equals_the_textbook(input_layout, dtype, bins, bin_size, upstream_layout):
    """Even bins are regular windows (kernel = stride = bin size): SeparableAvgPool2d or AvgPool2d."""
    rng = np.random.default_rng(sum(bins) * 10 + sum(bin_size))
    x = in_layout(rng.standard_normal((2, 3, bins[0] * bin_size[0], bins[1] * bin_size[1])).astype(dtype), input_layout)
    upstream = in_layout(rng.standard_normal((2, 3, *bins)).astype(dtype), upstream_layout)
    pool = in_both_modes(lambda x: F.adaptive_avg_pool2d(x, bins))
    fast_y, textbook_y = compare(*pool, [x], [True], upstream, dtype)
    assert (recorded(fast_y), recorded(textbook_y)) == ("SeparableAvgPool2d", "AvgPool2d")


# ---------------------------------------------------------------- FastBatchNorm vs BatchNorm


@st.composite
def batch_norm_cases(draw, training: bool):
    """(x shape, running stats, affine, momentum, (x, weight, bias) need grad, upstream layout)."""
    ndim = draw(st.sampled_from([2, 3, 4, 4]))
    batch = draw(st.integers(1, 3))
    x_shape = (batch, draw(st.integers(1, 4))) + tuple(draw(st.integers(1, 4)) for _ in range(ndim - 2))
    if training and np.prod(x_shape) == x_shape[1]:  # training needs two values per channel
        x_shape = (2,) + x_shape[1:]
    running = draw(st.booleans()) if training else True  # evaluation reads the running statistics
    affine = draw(st.booleans())
    momentum = draw(st.sampled_from([0.1, 0.5, None]))  # None: the cumulative average, 1 / batches tracked
    weight_needs_grad, bias_needs_grad = affine and draw(st.booleans()), affine and draw(st.booleans())
    x_needs_grad = draw(st.booleans()) or not (weight_needs_grad or bias_needs_grad)  # something to differentiate
    needs_grad = (x_needs_grad, weight_needs_grad, bias_needs_grad)
    return x_shape, running, affine, momentum, needs_grad, draw(st.sampled_from(LAYOUTS))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("input_layout", LAYOUTS)
@pytest.mark.parametrize("training", [True, False])
@settings(max_examples=60)
@given(data=st.data())
def test_fast_batch_norm_equals_batch_norm(training, input_layout, dtype, data):
    """Through ``F.batch_norm`` (which turns momentum=None into 1 / num_batches_tracked) in both modes:
    the output, the gradients of x, weight and bias, and the running buffers after the call."""
    x_shape, running, affine, momentum, needs_grad, upstream_layout = data.draw(batch_norm_cases(training))
    rng = np.random.default_rng(sum(x_shape) * 10 + len(x_shape))
    channels = x_shape[1]
    x = in_layout((rng.standard_normal(x_shape) * 2 + 1).astype(dtype), input_layout)
    weight = rng.standard_normal(channels).astype(dtype) if affine else None
    bias = rng.standard_normal(channels).astype(dtype) if affine else None
    upstream = in_layout(rng.standard_normal(x_shape).astype(dtype), upstream_layout)
    running_mean = rng.standard_normal(channels).astype(dtype)
    running_var = rng.uniform(0.5, 2.0, channels).astype(dtype)
    batches_tracked = int(rng.integers(0, 4))
    buffers = {}  # mode -> the (running_mean, running_var, num_batches_tracked) that mode updated

    def normalize_with_own_buffers(mode):
        def normalize(x, weight, bias):
            state = [minicnn.tensor(running_mean), minicnn.tensor(running_var), minicnn.tensor([batches_tracked])]
            buffers[mode] = state
            running_stats = state[:2] if running else [None, None]
            return F.batch_norm(x, *running_stats, weight, bias, training, momentum, 1e-5, state[2])

        return normalize

    fast = minicnn.textbook(False)(normalize_with_own_buffers("fast"))
    textbook = minicnn.textbook()(normalize_with_own_buffers("textbook"))
    tolerances = BATCH_NORM_FLOAT32 if dtype == np.float32 else None
    fast_y, textbook_y = compare(fast, textbook, [x, weight, bias], needs_grad, upstream, dtype, tolerances=tolerances)
    assert (recorded(fast_y), recorded(textbook_y)) == ("FastBatchNorm", "BatchNorm")
    event(f"{len(x_shape)}-D, running {running}, momentum {momentum}")
    for name, fast_buffer, textbook_buffer in zip(
        ("running_mean", "running_var"), buffers["fast"], buffers["textbook"]
    ):
        assert_same(fast_buffer, textbook_buffer, dtype, name)  # (float32: the dtype's tolerances)
    assert buffers["fast"][2].item() == buffers["textbook"][2].item()
    if running and training:  # the buffers did move
        assert buffers["fast"][2].item() == batches_tracked + 1
        assert not np.array_equal(to_numpy(buffers["fast"][0]), running_mean)


# ---------------------------------------------------------------- the dispatch and the switch


def record_dispatch():
    """The Function each public op recorded: conv2d, max_pool2d(2), avg_pool2d, batch_norm."""
    x = minicnn.randn(2, 3, 6, 6, requires_grad=True)
    return [
        recorded(F.conv2d(x, minicnn.randn(4, 3, 3, 3))),
        recorded(F.max_pool2d(x, 2)),
        recorded(F.avg_pool2d(x, 3, stride=1, padding=1)),
        recorded(F.batch_norm(x, None, None, training=True)),
    ]


FAST = ["FastConv2d", "MaxPool2x2", "SeparableAvgPool2d", "FastBatchNorm"]
TEXTBOOK = ["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm"]


def test_ops_dispatch_to_the_fast_kernels_unless_inside_textbook():
    with minicnn.textbook(False):  # the default mode (unless MINICNN_TEXTBOOK=1, tested below)
        assert fast_kernels() and record_dispatch() == FAST
        with minicnn.textbook():
            assert not fast_kernels() and record_dispatch() == TEXTBOOK
            with minicnn.textbook(False):  # the fast kernels back on, inside a textbook region
                assert record_dispatch() == FAST
            assert record_dispatch() == TEXTBOOK
        assert record_dispatch() == FAST


def test_textbook_works_as_a_decorator_and_restores_the_mode_when_the_block_raises():
    @minicnn.textbook()
    def dispatch_inside():
        return record_dispatch()

    @minicnn.textbook()
    def fails():
        assert not fast_kernels()
        raise KeyError("inside the decorated function")

    with minicnn.textbook(False):
        assert dispatch_inside() == TEXTBOOK and fast_kernels()
        with pytest.raises(RuntimeError, match="inside the block"):
            with minicnn.textbook():
                assert not fast_kernels()
                raise RuntimeError("inside the block")
        assert fast_kernels() and record_dispatch() == FAST
        with pytest.raises(KeyError):
            fails()
        assert fast_kernels() and record_dispatch() == FAST
    with minicnn.textbook():  # restored to textbook too, when that was the mode before
        with pytest.raises(ValueError):
            with minicnn.textbook(False):
                raise ValueError("inside the block")
        assert not fast_kernels() and record_dispatch() == TEXTBOOK


@pytest.mark.parametrize("variable, default", [(None, FAST), ("0", FAST), ("1", TEXTBOOK)], ids=["unset", "0", "1"])
def test_minicnn_textbook_environment_variable_sets_the_default(variable, default):
    """A fresh process: unset or MINICNN_TEXTBOOK=0 gives the fast kernels, MINICNN_TEXTBOOK=1 the textbook
    Functions; ``textbook(False)`` still switches the fast kernels on there."""
    script = (
        "import minicnn, tests.test_fast_kernels as t; print(t.record_dispatch())\n"
        "with minicnn.textbook(False): print(t.record_dispatch())"
    )
    environment = {name: value for name, value in os.environ.items() if name != "MINICNN_TEXTBOOK"}
    if variable is not None:
        environment["MINICNN_TEXTBOOK"] = variable
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(default), str(FAST)]
