"""conv2d (stride, padding incl. 'same'/'valid', dilation, groups, bias, 1x1 path) and im2col / col2im."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from minicnn.ops import conv as conv_module
from minicnn.ops import windows as windows_module
from minicnn.ops.conv import col2im, conv2d, im2col
from minicnn.ops.fast import conv as fast_conv_module
from tests.helpers import DEVICES, assert_close, compare_with_torch, gradcheck, require_torch, to_numpy

# float32 against PyTorch: values are O(1) normals, outputs sums of <= 100 products (|y| up to ~30),
# weight gradients sums of <= ~500 products. float32 keeps ~7 digits, so 1e-4 relative plus 1e-4 absolute
# (for entries that cancel to near zero) is a bound with room to spare but no slack for a wrong index.
ATOL, RTOL = 1e-4, 1e-4


def torch_conv2d(*args, **kwargs):
    return require_torch().nn.functional.conv2d(*args, **kwargs)


def conv_arrays(rng, n, c, h, w, o, kh, kw, groups=1, bias=True, dtype=np.float32):
    arrays = [
        rng.standard_normal((n, c, h, w)).astype(dtype),
        rng.standard_normal((o, c // groups, kh, kw)).astype(dtype),
    ]
    if bias:
        arrays.append(rng.standard_normal(o).astype(dtype))
    return arrays


def with_options(function, **options):
    return lambda *tensors: function(*tensors, **options)


# ---------------------------------------------------------------- im2col / col2im


def test_im2col_tiny_case_by_hand():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    cols = im2col(x, 2, 2)
    assert cols.shape == (1, 1, 2, 2, 2, 2)  # (N, C, KH, KW, OH, OW)
    # cols[..., i, j, :, :] is what kernel tap (i, j) sees at each of the 2x2 output positions
    assert cols[0, 0, 0, 0].tolist() == [[0, 1], [3, 4]]
    assert cols[0, 0, 0, 1].tolist() == [[1, 2], [4, 5]]
    assert cols[0, 0, 1, 0].tolist() == [[3, 4], [6, 7]]
    assert cols[0, 0, 1, 1].tolist() == [[4, 5], [7, 8]]
    # the window at output position (p, q) = (1, 0) is the 2x2 block starting at row 1, column 0
    assert cols[0, 0, :, :, 1, 0].tolist() == [[3, 4], [6, 7]]


def test_im2col_stride_and_dilation_match_the_definition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    kh, kw, (sh, sw), (dh, dw) = 2, 3, (2, 1), (2, 3)
    cols = im2col(x, kh, kw, (sh, sw), (dh, dw))
    oh, ow = (7 - dh * (kh - 1) - 1) // sh + 1, (8 - dw * (kw - 1) - 1) // sw + 1
    assert cols.shape == (2, 3, kh, kw, oh, ow) == (2, 3, 2, 3, 3, 2)
    for i in range(kh):
        for j in range(kw):
            for p in range(oh):
                for q in range(ow):
                    np.testing.assert_array_equal(cols[:, :, i, j, p, q], x[:, :, sh * p + dh * i, sw * q + dw * j])


def test_im2col_returns_a_contiguous_copy():
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    cols = im2col(x[:, :, ::-1], 3, 3)  # a non-contiguous input view works too
    assert cols.flags["C_CONTIGUOUS"] and cols.flags["WRITEABLE"] and cols.dtype == np.float32
    cols[...] = 5
    assert (x == 1).all()  # writing to the columns never touches the input


def test_col2im_counts_how_many_windows_cover_each_pixel():
    counts = col2im(np.ones((1, 1, 2, 2, 2, 2)), (1, 1, 3, 3))
    assert counts[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    # with padding 1 the 3x3 input sits inside a 5x5 frame; a 3x3 kernel then covers every pixel 9 times
    # at the centre and 4 times in a corner
    padded = col2im(np.ones((1, 1, 3, 3, 3, 3)), (1, 1, 3, 3), padding=((1, 1), (1, 1)))
    assert padded[0, 0].tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]


@given(
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    extra=st.tuples(st.integers(0, 4), st.integers(0, 4)),
)
def test_col2im_is_the_adjoint_of_pad_then_im2col(kernel, stride, dilation, padding, extra):
    # <im2col(pad(x)), c> == <x, col2im(c)> for all x, c: exactly the property backward relies on
    rng = np.random.default_rng(0)
    top, bottom, left, right = padding
    height = max(1, dilation[0] * (kernel[0] - 1) + 1 - top - bottom + extra[0])
    width = max(1, dilation[1] * (kernel[1] - 1) + 1 - left - right + extra[1])
    x = rng.standard_normal((2, 3, height, width))
    x_padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    cols = im2col(x_padded, *kernel, stride, dilation)
    c = rng.standard_normal(cols.shape)
    back = col2im(c, x.shape, stride, ((top, bottom), (left, right)), dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose((cols * c).sum(), (x * back).sum(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- conv2d: by hand and gradcheck


def test_conv2d_tiny_case_by_hand():
    x = minicnn.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]], requires_grad=True)
    w = minicnn.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    b = minicnn.tensor([1.0], requires_grad=True)
    y = conv2d(x, w, b)
    # y[p, q] = 1*x[p, q] + 2*x[p, q+1] + 3*x[p+1, q] + 4*x[p+1, q+1] + 1, e.g. 1 + 4 + 12 + 20 + 1 = 38
    assert y.shape == (1, 1, 2, 2)
    assert to_numpy(y)[0, 0].tolist() == [[38.0, 48.0], [68.0, 78.0]]
    y.sum().backward()
    # dL/dx: the sum of the kernel taps that touch each pixel (the centre is touched by all four)
    assert to_numpy(x.grad)[0, 0].tolist() == [[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]
    # dL/dw[i, j]: the sum of the 2x2 block of x that tap (i, j) saw, e.g. 1 + 2 + 4 + 5 = 12
    assert to_numpy(w.grad)[0, 0].tolist() == [[12.0, 16.0], [24.0, 28.0]]
    assert to_numpy(b.grad).tolist() == [4.0]  # the bias was added to each of the 4 outputs


def test_conv2d_stride_and_padding_by_hand():
    x = minicnn.tensor(np.arange(1.0, 5.0, dtype=np.float32).reshape(1, 1, 2, 2))  # [[1 2] [3 4]]
    w = minicnn.ones(1, 1, 2, 2)
    # padded with a frame of zeros to 4x4, windows at rows/columns 0 and 2 each see one input pixel
    assert to_numpy(conv2d(x, w, stride=2, padding=1))[0, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]]


GRADCHECK_CONFIGS = [
    # (N, C, H, W, O, KH, KW), options
    ((2, 3, 5, 5, 2, 3, 3), dict()),
    ((2, 2, 7, 6, 3, 3, 2), dict(stride=2)),
    ((1, 2, 4, 5, 2, 3, 3), dict(padding=1)),
    ((1, 2, 4, 4, 2, 2, 3), dict(padding=(2, 0), stride=(1, 2))),
    ((1, 2, 7, 7, 2, 3, 3), dict(dilation=2)),
    ((2, 4, 5, 5, 4, 3, 3), dict(groups=2)),
    ((1, 6, 4, 4, 3, 2, 2), dict(groups=3, padding=1, stride=2)),
    ((2, 3, 4, 4, 2, 1, 1), dict()),  # 1x1 path
    ((2, 3, 5, 5, 2, 1, 1), dict(stride=2)),  # 1x1 path, strided
    ((1, 2, 5, 4, 3, 2, 2), dict(padding="same")),  # even kernel: asymmetric padding
    ((1, 2, 6, 5, 2, 3, 2), dict(padding="same", dilation=2)),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shape, options", GRADCHECK_CONFIGS, ids=[str(o) for _, o in GRADCHECK_CONFIGS])
def test_conv2d_gradcheck(shape, options, bias):
    n, c, h, w, o, kh, kw = shape
    rng = np.random.default_rng(sum(shape))
    arrays = conv_arrays(rng, n, c, h, w, o, kh, kw, options.get("groups", 1), bias, dtype=np.float64)
    assert gradcheck(with_options(conv2d, **options), arrays)


# ---------------------------------------------------------------- conv2d against PyTorch


@st.composite
def conv_configs(draw):
    """A valid conv2d call: shapes and every option, the input at least as large as one window."""
    groups = draw(st.integers(1, 3))
    channels_in, channels_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    padding = draw(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)), st.sampled_from(["same", "valid"])))
    stride = (1, 1) if padding == "same" else draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    pad_hw = (0, 0) if isinstance(padding, str) else padding
    reach = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = [max(1, r - 2 * p + draw(st.integers(0, 5))) for r, p in zip(reach, pad_hw)]
    shape = (draw(st.integers(1, 3)), channels_in, *size, channels_out, *kernel)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return shape, options, draw(st.booleans())


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note about its own copy
@settings(max_examples=max(100, settings().max_examples))  # the widest space of options here; ~3 s
@given(conv_configs())
def test_conv2d_matches_torch(config):
    (n, c, h, w, o, kh, kw), options, bias = config
    rng = np.random.default_rng(n * 1000 + h * 10 + w)
    arrays = conv_arrays(rng, n, c, h, w, o, kh, kw, options["groups"], bias)
    compare_with_torch(
        with_options(conv2d, **options), with_options(torch_conv2d, **options), arrays, atol=ATOL, rtol=RTOL
    )


REFERENCE_LAYERS = [
    # the reference networks' convolutions at a small batch (DESIGN.md)
    ((4, 1, 28, 28, 8, 5, 5), dict(padding=2)),  # seed CNN
    ((4, 16, 13, 13, 32, 3, 3), dict()),  # LeNet-style conv2
    ((4, 8, 16, 16, 16, 3, 3), dict(padding=1)),  # VGG
    ((4, 16, 12, 12, 24, 5, 5), dict(padding=2)),  # Inception 5x5 branch
    ((4, 88, 12, 12, 16, 1, 1), dict()),  # Inception 1x1 branch
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape, options", REFERENCE_LAYERS, ids=[str(s) for s, _ in REFERENCE_LAYERS])
def test_reference_layers_match_torch(shape, options, device):
    n, c, h, w, o, kh, kw = shape
    arrays = conv_arrays(np.random.default_rng(5), n, c, h, w, o, kh, kw)
    compare_with_torch(
        with_options(conv2d, **options),
        with_options(torch_conv2d, **options),
        arrays,
        atol=ATOL,
        rtol=RTOL,
        device=device,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "options", [dict(), dict(stride=2), dict(stride=(1, 3), dilation=2), dict(groups=2), dict(padding="same")]
)
def test_pointwise_path_matches_torch_without_im2col(options, device, monkeypatch, fast_kernels_on):
    def no_im2col(*args, **kwargs):
        raise AssertionError("the 1x1 path must not build columns")

    for module, builder in [
        (conv_module, "im2col"),
        (windows_module, "window_view"),
        (fast_conv_module, "window_view"),
    ]:
        monkeypatch.setattr(module, builder, no_im2col)  # every way of building columns
    for builder in ("_row_columns", "_kernel_row_columns"):
        monkeypatch.setattr(fast_conv_module, builder, no_im2col)
    arrays = conv_arrays(np.random.default_rng(6), 3, 4, 7, 6, 6, 1, 1, options.get("groups", 1))
    compare_with_torch(
        with_options(conv2d, **options),
        with_options(torch_conv2d, **options),
        arrays,
        atol=ATOL,
        rtol=RTOL,
        device=device,
    )


def test_pointwise_path_on_a_non_contiguous_input():
    torch = require_torch()
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((5, 4, 3, 2)).astype(np.float32), rng.standard_normal((3, 5, 1, 1)).astype(np.float32)
    ours_x, torch_x = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_w, torch_w = minicnn.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ours = conv2d(ours_x.permute(3, 0, 1, 2), ours_w, stride=2)  # (2, 5, 4, 3), not contiguous
    theirs = torch.nn.functional.conv2d(torch_x.permute(3, 0, 1, 2), torch_w, stride=2)
    assert_close(ours, theirs, ATOL, RTOL)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(ours_x.grad, torch_x.grad, ATOL, RTOL)
    assert_close(ours_w.grad, torch_w.grad, ATOL, RTOL)


@pytest.mark.parametrize("device", DEVICES)
def test_unbatched_input_matches_torch(device):
    arrays = conv_arrays(np.random.default_rng(8), 1, 2, 6, 5, 3, 3, 3)
    arrays[0] = arrays[0][0]  # (C, H, W)
    out, _ = compare_with_torch(
        with_options(conv2d, padding=1),
        with_options(torch_conv2d, padding=1),
        arrays,
        atol=ATOL,
        rtol=RTOL,
        device=device,
    )
    assert out.shape == (3, 6, 5)


def test_empty_batch_matches_torch():
    arrays = conv_arrays(np.random.default_rng(9), 0, 2, 5, 5, 3, 3, 3)
    out, _ = compare_with_torch(conv2d, torch_conv2d, arrays, atol=ATOL, rtol=RTOL)
    assert out.shape == (0, 3, 3, 3)


def test_functional_exports_conv2d():
    assert F.conv2d is conv2d
    assert conv_module.__all__ == ["conv2d", "im2col", "col2im", "Conv2d"]


# ---------------------------------------------------------------- dtypes and what is saved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [1, 3])
def test_dtype_is_kept_forward_and_backward(dtype, kernel):
    arrays = conv_arrays(np.random.default_rng(10), 2, 2, 5, 5, 3, kernel, kernel, dtype=dtype)
    x, w, b = (minicnn.tensor(a, requires_grad=True) for a in arrays)
    y = conv2d(x, w, b, padding=1)
    assert y.dtype == dtype
    y.sum().backward()
    for tensor in (x, w, b):
        assert tensor.grad.dtype == dtype
        assert tensor.grad.array.dtype == dtype


def test_columns_are_kept_only_when_the_weight_needs_a_gradient(fast_kernels_on):
    arrays = conv_arrays(np.random.default_rng(11), 2, 2, 5, 5, 3, 3, 3, bias=False)
    x = minicnn.tensor(arrays[0], requires_grad=True)
    frozen_w = minicnn.tensor(arrays[1])
    y = conv2d(x, frozen_w)
    assert y.grad_fn.saved_tensors[0] is None  # no (large) column buffer kept for a frozen weight
    y.sum().backward()
    assert x.grad is not None and frozen_w.grad is None
    w = minicnn.tensor(arrays[1], requires_grad=True)
    y = conv2d(minicnn.tensor(arrays[0]), w)  # e.g. the first layer: the images need no gradient
    y.sum().backward()
    assert w.grad is not None and w.grad.shape == w.shape


def test_no_graph_under_no_grad():
    arrays = conv_arrays(np.random.default_rng(12), 1, 2, 4, 4, 2, 3, 3)
    x, w, b = (minicnn.tensor(a, requires_grad=True) for a in arrays)
    with minicnn.no_grad():
        y = conv2d(x, w, b)
    assert y.grad_fn is None and not y.requires_grad


# ---------------------------------------------------------------- errors at the door


def make(*shape, dtype=np.float32):
    return minicnn.tensor(np.ones(shape, dtype=dtype))


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.ones((1, 1, 3, 3)), make(1, 1, 2, 2)), {}, TypeError, r"input must be a Tensor, got ndarray"),
        ((make(1, 1, 3, 3), [[1.0]]), {}, TypeError, r"weight must be a Tensor, got list"),
        ((make(1, 1, 3, 3), make(1, 1, 2, 2), [0.0]), {}, TypeError, r"bias must be a Tensor"),
        ((make(3, 3), make(1, 1, 2, 2)), {}, ValueError, r"expected input of shape \(N, C, H, W\).*\(3, 3\)"),
        ((make(1, 1, 1, 3, 3), make(1, 1, 2, 2)), {}, ValueError, r"got shape \(1, 1, 1, 3, 3\)"),
        ((make(1, 1, 3, 3), make(1, 2, 2)), {}, ValueError, r"weight must have shape .*got \(1, 2, 2\)"),
        ((make(1, 1, 3, 3), make(1, 1, 0, 2)), {}, ValueError, r"weight must have shape"),
        ((make(1, 1, 3, 3, dtype=np.float64), make(1, 1, 2, 2)), {}, TypeError, r"float64 does not match .*float32"),
        ((minicnn.tensor(np.ones((1, 1, 3, 3), np.int64)), make(1, 1, 2, 2)), {}, TypeError, r"floating point"),
        (
            (make(64, 1, 28, 28), make(8, 3, 5, 5)),
            {},
            ValueError,
            r"expected input with 3 channels \(weight \(8, 3, 5, 5\), groups=1\), got input of shape \(64, 1, 28, 28\)",
        ),
        ((make(1, 4, 5, 5), make(4, 2, 3, 3)), {"groups": 3}, ValueError, r"expected input with 6 channels"),
        (
            (make(1, 4, 5, 5), make(3, 2, 3, 3)),
            {"groups": 2},
            ValueError,
            r"out_channels=3 .*not divisible by groups=2",
        ),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"groups": 0}, ValueError, r"groups must be a positive int, got 0"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"groups": 1.5}, TypeError, r"groups must be an int, got 1.5"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"stride": 0}, ValueError, r"stride must be > 0, got \(0, 0\)"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"stride": (1, -1)}, ValueError, r"stride must be > 0"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"stride": 1.5}, TypeError, r"stride must be an int or a pair"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"stride": (1, 2, 3)}, ValueError, r"stride must be an int or a pair"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"dilation": 0}, ValueError, r"dilation must be > 0"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"padding": -1}, ValueError, r"padding must be >= 0"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"padding": (0, -2)}, ValueError, r"padding must be >= 0"),
        ((make(1, 1, 5, 5), make(1, 1, 3, 3)), {"padding": "full"}, ValueError, r"'valid' or 'same', got 'full'"),
        (
            (make(1, 1, 5, 5), make(1, 1, 3, 3)),
            {"padding": "same", "stride": 2},
            ValueError,
            r"padding='same' is not supported for strided convolutions",
        ),
        (
            (make(1, 1, 2, 2), make(1, 1, 3, 3)),
            {},
            ValueError,
            r"kernel \(3, 3\) with dilation \(1, 1\) spans \(3, 3\), larger than the padded input \(2, 2\)",
        ),
        ((make(1, 1, 4, 4), make(1, 1, 3, 3)), {"dilation": 2}, ValueError, r"spans \(5, 5\).*padded input \(4, 4\)"),
        ((make(1, 1, 5, 5), make(2, 1, 3, 3), make(3)), {}, ValueError, r"bias must have shape \(2,\).*got \(3,\)"),
        (
            (make(1, 1, 5, 5), make(2, 1, 3, 3), make(2, dtype=np.float64)),
            {},
            TypeError,
            r"bias dtype float64 does not match input dtype float32",
        ),
    ],
)
def test_conv2d_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        conv2d(*args, **kwargs)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 4), (4, 4)])
@pytest.mark.parametrize("dilation", [1, 2, (1, 3)])
def test_same_padding_keeps_the_size_and_matches_torch(kernel, dilation):
    # an odd total padding puts the extra row/column at the bottom/right, as PyTorch does
    arrays = conv_arrays(np.random.default_rng(13), 2, 3, 7, 6, 2, *kernel)
    options = dict(padding="same", dilation=dilation)
    out, _ = compare_with_torch(
        with_options(conv2d, **options), with_options(torch_conv2d, **options), arrays, atol=ATOL, rtol=RTOL
    )
    assert out.shape == (2, 2, 7, 6)


def test_conv2d_accepts_what_torch_accepts():
    torch = require_torch()
    rng = np.random.default_rng(14)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    for options in (
        dict(stride=(2,)),  # a one-element sequence means both directions
        dict(padding=[1, 2]),
        dict(dilation=np.int64(2)),
        dict(padding="valid"),
        dict(groups=np.int64(2)),
    ):
        w = rng.standard_normal((2, 2 // options.get("groups", 1), 3, 3)).astype(np.float32)
        ours = conv2d(minicnn.tensor(x), minicnn.tensor(w), **options)
        theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **options)
        assert_close(ours, theirs, ATOL, RTOL, name=str(options))
