"""Gradients AT the non-smooth points, compared with PyTorch's convention (issue 18, item 1).

Elsewhere the suite keeps inputs away from kinks (|x| >= 0.1, distinct values): gradcheck cannot judge a
kink, and a tie makes the arg-max a convention. But exact zeros and ties are ordinary in training
(``ToTensor()`` images in [0, 1] with zero biases put most of LeNet's first ReLU inputs at exactly 0), so
here every op with a non-smooth point is fed exactly those values and must pick PyTorch's side:

- relu'(0) = 0, leaky_relu'(0) = negative_slope, abs'(0) = sign(0) = 0, sign' = 0 everywhere;
- clamp/clip: 0 at either bound (min == max too), 1 strictly inside;
- maximum/minimum at a tie: half the gradient each; max/min/amax/amin over several elements at a tie:
  split evenly; max/min along a dim: all to the first index (the one returned);
- max pooling: the first maximum of the window in row-major order, padding never wins, every window
  position, with dilation, ceil_mode, return_indices, unbatched inputs, the fast 2x2 tournament in both
  memory layouts, adaptive max pooling (even, uneven and global bins), in the fast and textbook tiers;
- norm at the zero vector: gradient 0 (not NaN); l1_loss at input == target: 0; BCE at p = 0 and 1;
- dropout with p = 0 (identity) and p = 1 (zeros), functional and modules.
"""

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.fast.layout import from_channels_last, to_channels_last
from tests.helpers import assert_close, compare_with_torch, to_numpy

# exact kink values (0, -0, the clamp bounds 0 and 1) next to values on either side
KINKS = np.array([-2.0, -1.0, -0.5, -0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0])


def require_torch():
    """tests.helpers.require_torch, looked up when called (the fixture below wraps it)."""
    from tests import helpers

    return helpers.require_torch()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def kinks(dtype, shape=(2, 5)):
    return KINKS.astype(dtype).reshape(shape)


# ---------------------------------------------------------------- elementwise kinks

ELEMENTWISE = {
    "relu": (lambda x: minicnn.relu(x), lambda x: x.relu()),
    "F.relu": (lambda x: F.relu(x), lambda x: x.relu()),
    "Tensor.relu": (lambda x: x.relu(), lambda x: x.relu()),
    "nn.ReLU": (lambda x: minicnn.nn.ReLU()(x), lambda x: x.relu()),
    "leaky_relu": (lambda x: F.leaky_relu(x), lambda x: __import__("torch").nn.functional.leaky_relu(x)),
    "leaky_relu_0.2": (
        lambda x: minicnn.nn.LeakyReLU(0.2)(x),
        lambda x: __import__("torch").nn.functional.leaky_relu(x, 0.2),
    ),
    "abs": (lambda x: minicnn.abs(x), lambda x: x.abs()),
    "abs()": (lambda x: abs(x), lambda x: abs(x)),
    "clamp_0_1": (lambda x: minicnn.clamp(x, 0, 1), lambda x: x.clamp(0, 1)),
    "clip_0_1": (lambda x: minicnn.clip(x, 0.0, 1.0), lambda x: x.clip(0.0, 1.0)),
    "Tensor.clamp_min": (lambda x: x.clamp(min=0), lambda x: x.clamp(min=0)),
    "Tensor.clamp_max": (lambda x: x.clamp(max=1), lambda x: x.clamp(max=1)),
    "clamp_-1_1": (lambda x: x.clamp(-1, 1), lambda x: x.clamp(-1, 1)),
    "clamp_min_eq_max": (lambda x: x.clamp(1, 1), lambda x: x.clamp(1, 1)),
    "norm_fro": (lambda x: x.norm(), lambda x: x.norm()),
    "l1_loss_at_target": (
        lambda x: F.l1_loss(x, x.detach().clone(), reduction="none"),
        lambda x: __import__("torch").nn.functional.l1_loss(x, x.detach().clone(), reduction="none"),
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_kinks_follow_pytorch(name, dtype):
    ours, theirs = ELEMENTWISE[name]
    compare_with_torch(ours, theirs, [kinks(dtype)], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("p", [2, "fro", 1, 3, float("inf")])
def test_norm_at_the_zero_vector_has_gradient_zero(p):
    """PyTorch defines the norm's subgradient at 0 as 0; 0/0 (NaN) would poison a whole update."""
    x = np.zeros((2, 3), dtype=np.float64)
    x[1] = [3.0, 0.0, -4.0]  # one zero row, one row with a zero element
    compare_with_torch(lambda t: t.norm(p=p, dim=1), lambda t: t.norm(p=p, dim=1), [x], atol=1e-12)
    compare_with_torch(lambda t: t[0].norm(p=p), lambda t: t[0].norm(p=p), [x], atol=1e-12)


def test_sign_passes_no_gradient():
    """sign is piecewise constant: PyTorch's gradient is 0 everywhere (at the jump too)."""
    torch = require_torch()
    x = minicnn.tensor(kinks(np.float64), requires_grad=True)
    tx = torch.tensor(kinks(np.float64), requires_grad=True)
    (minicnn.sign(x) * 3 + x).sum().backward()
    (torch.sign(tx) * 3 + tx).sum().backward()
    assert_close(minicnn.sign(x.detach()), torch.sign(tx.detach()), atol=0, rtol=0, name="sign")
    assert_close(x.grad, tx.grad, atol=0, rtol=0, name="gradient through sign")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smallest", [False, True])
@pytest.mark.parametrize("b_shape", [(2, 5), (5,), (1, 1)], ids=["same", "broadcast_row", "broadcast_scalar"])
def test_maximum_minimum_split_ties_in_half(b_shape, smallest, dtype):
    a = np.array([[0.0, 1.0, 2.0, 1.0, -1.0], [1.0, 1.0, 0.0, 3.0, 1.0]], dtype=dtype)
    b = np.ones(b_shape, dtype=dtype)
    if b_shape == (5,):
        b = np.array([0.0, 1.0, 3.0, 1.0, -1.0], dtype=dtype)
    name = "minimum" if smallest else "maximum"
    compare_with_torch(getattr(minicnn, name), lambda x, y: getattr(__import__("torch"), name)(x, y), [a, b], atol=0)
    compare_with_torch(  # torch.max(a, b) is the elementwise maximum too
        lambda x, y: (minicnn.min if smallest else minicnn.max)(x, y),
        lambda x, y: getattr(__import__("torch"), "min" if smallest else "max")(x, y),
        [a, b],
        atol=0,
    )


TIED = np.array([[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.0, -1.0, 0.0, -1.0]]] * 2)  # (2, 3, 4)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_along_a_dim_send_ties_to_the_returned_index(op, dim, keepdim):
    torch = require_torch()
    x = TIED.copy()
    x[1] *= -1  # the second batch: ties of minima where the first has ties of maxima
    ours, theirs = compare_with_torch(
        lambda t: getattr(t, op)(dim, keepdim), lambda t: getattr(t, op)(dim, keepdim), [x], atol=0
    )
    assert to_numpy(getattr(minicnn.tensor(x), op)(dim, keepdim)[1]).tolist() == (
        getattr(torch.tensor(x), op)(dim, keepdim)[1].tolist()
    ), "index of the first extreme"


@pytest.mark.parametrize(
    "call",
    [
        "max()",
        "min()",
        "amax(1)",
        "amin(1)",
        "amax((0, 2))",
        "amin((1, 2))",
        "amax(-1, keepdim=True)",
        "amin(-1, keepdim=True)",
        "amax()",
    ],
)
def test_full_reductions_split_ties_evenly(call):
    x = TIED.copy()
    x[1] = -x[1]
    compare_with_torch(lambda t: eval(f"t.{call}"), lambda t: eval(f"t.{call}"), [x], atol=1e-12)


def test_binary_cross_entropy_at_probabilities_zero_and_one():
    """log is clamped at -100 and the derivative's denominator p (1 - p) at 1e-12, as in PyTorch."""
    # 0 and 1 exactly, and within 1e-9 of them, where p (1 - p) meets the clamp
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-9, 1 - 1e-9, 1e-13], dtype=np.float64)
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.3, 1.0], dtype=np.float64)
    with np.errstate(divide="ignore"):
        for reduction in ("none", "mean", "sum"):
            compare_with_torch(
                lambda a, b, reduction=reduction: F.binary_cross_entropy(a, b, reduction=reduction),
                lambda a, b, reduction=reduction: __import__("torch").nn.functional.binary_cross_entropy(
                    a, b, reduction=reduction
                ),
                [p, t],
                grad_inputs=[0],
                rtol=1e-7,
            )


# ---------------------------------------------------------------- dropout at p = 0 and p = 1


@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize(
    "how", ["F.dropout", "F.dropout2d", "nn.Dropout", "nn.Dropout2d", "Tensor op after dropout", "eval"]
)
def test_dropout_at_p_zero_and_one(how, p):
    """p = 0 is the identity (gradient 1), p = 1 gives zeros (gradient 0), whatever the random draw."""
    torch = require_torch()
    x = np.linspace(-1, 1, 2 * 3 * 2 * 2).reshape(2, 3, 2, 2).astype(np.float32)

    def run(lib, t):
        if how == "F.dropout":
            return lib.nn.functional.dropout(t, p, training=True)
        if how == "F.dropout2d":
            return lib.nn.functional.dropout2d(t, p, training=True)
        if how == "nn.Dropout":
            return lib.nn.Dropout(p).train()(t)
        if how == "nn.Dropout2d":
            return lib.nn.Dropout2d(p).train()(t)
        if how == "eval":
            return lib.nn.Dropout(p).eval()(t) * 2
        return lib.nn.functional.dropout(t * 3, p) + t

    compare_with_torch(lambda t: run(minicnn, t), lambda t: run(torch, t), [x], atol=0, rtol=0)


# ---------------------------------------------------------------- max pooling ties, every position and path


def tie_input(shape, seed=0, low=-2, high=2):
    """Small integers: every window holds ties, at every position, and negative maxima meet the padding."""
    return np.random.default_rng(seed).integers(low, high, size=shape).astype(np.float32)


POOL_TIE_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    (2, 2, 0, 1, False),  # the fast 2x2 tournament (default tier)
    (2, 1, 0, 1, False),
    (2, 2, 1, 1, False),
    (2, 2, 0, 1, True),
    (3, 1, 1, 1, False),
    (3, 2, 1, 1, True),
    (3, 3, 0, 1, True),
    ((2, 3), (1, 2), (1, 0), 1, False),
    (2, 1, 0, 2, False),
    (3, 2, 1, 2, True),
    ((3, 2), 1, (1, 1), (2, 3), False),
]


@pytest.mark.parametrize("return_indices", [False, True])
@pytest.mark.parametrize("values", ["small_integers", "constant", "negative_constant"])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOL_TIE_CASES)
def test_max_pool_ties_go_to_the_first_maximum(
    tier, kernel, stride, padding, dilation, ceil_mode, values, return_indices
):
    torch = require_torch()
    x = {
        "small_integers": tie_input((2, 2, 7, 6)),
        "constant": np.ones((2, 2, 7, 6), dtype=np.float32),
        "negative_constant": np.full((2, 2, 7, 6), -3.0, dtype=np.float32),  # padding (-inf) must not win
    }[values]
    args = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=return_indices)
    compare_with_torch(
        lambda t: F.max_pool2d(t, kernel, **args),
        lambda t: torch.nn.functional.max_pool2d(t, kernel, **args),
        [x],
        atol=1e-6,  # overlapping windows add gradients in another order
        rtol=1e-6,
    )
    if return_indices:
        ours = F.max_pool2d(minicnn.tensor(x), kernel, **args)[1]
        theirs = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, **args)[1]
        assert to_numpy(ours).tolist() == theirs.tolist(), "indices of the first maxima"


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("size", [(4, 4), (5, 7), (6, 3)], ids=["even", "odd", "odd_width"])
@pytest.mark.parametrize("values", ["small_integers", "constant", "pairs"])
def test_max_pool_2x2_ties_in_both_memory_layouts(tier, size, layout, values):
    """The 2x2 tournament keeps ties left, then top: check every one of the four tie patterns, in the
    memory order the fast kernel has a path for (channels-last comes out of the fast convolution)."""
    torch = require_torch()
    shape = (2, 3) + size
    x = {
        "small_integers": tie_input(shape, seed=1, low=0, high=2),
        "constant": np.zeros(shape, dtype=np.float32),
        # rows equal two by two: ties between top and bottom, columns decide left against right
        "pairs": np.repeat(tie_input((2, 3, (size[0] + 1) // 2, size[1]), seed=2), 2, axis=2)[:, :, : size[0]],
    }[values]
    array = np.ascontiguousarray(x)
    if layout == "channels_last":
        array = from_channels_last(to_channels_last(array))
    ours = minicnn.Tensor(array, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = F.max_pool2d(ours, 2), torch.nn.functional.max_pool2d(theirs, 2)
    if tier == "fast" and layout == "channels_last":
        assert y.grad_fn.function.__name__ == "MaxPool2x2", "the fast tournament should run here"
    assert_close(y, ty, atol=0, rtol=0, name="forward")
    upstream = np.random.default_rng(3).standard_normal(ty.shape).astype(np.float32)
    y.backward(minicnn.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    assert_close(ours.grad, theirs.grad, atol=0, rtol=0, name="gradient to the first maximum")


@pytest.mark.parametrize("output_size", [1, (1, 1), 2, (3, 2), (2, 4), 5], ids=str)
def test_adaptive_max_pool_ties(tier, output_size):
    torch = require_torch()
    for x in (tie_input((2, 2, 6, 8), seed=4), np.ones((2, 2, 6, 8), dtype=np.float32)):
        for return_indices in (False, True):
            compare_with_torch(
                lambda t, r=return_indices: F.adaptive_max_pool2d(t, output_size, return_indices=r),
                lambda t, r=return_indices: torch.nn.functional.adaptive_max_pool2d(t, output_size, return_indices=r),
                [x],
                atol=0,
                rtol=0,
            )


def test_unbatched_max_pool_and_module_ties(tier):
    torch = require_torch()
    x = tie_input((3, 6, 5), seed=5)
    compare_with_torch(
        lambda t: minicnn.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)(t),
        lambda t: torch.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)(t),
        [x],
        atol=1e-6,
        rtol=1e-6,
    )
    compare_with_torch(lambda t: minicnn.nn.MaxPool2d(2)(t), lambda t: torch.nn.MaxPool2d(2)(t), [x], atol=0, rtol=0)


# ---------------------------------------------------------------- networks on ToTensor() images with zero biases


def mnist_images(count=8):
    """Real digits as ToTensor() makes them: float32 in [0, 1], mostly exact zeros (the background)."""
    images = minicnn.vision.datasets.MNIST(None, train=False, sample=True)
    return np.stack([images[i][0] for i in range(count)])[:, None].astype(np.float32) / 255.0


def zero_bias_pair(name, seed=0):
    torch = require_torch()
    from minicnn.utils import from_torch
    from tests import torch_twins as tt

    ours_factory, torch_factory = {
        "lenet": (minicnn.models.LeNet, tt.LeNet),
        "seed_cnn": (minicnn.models.SeedCNN, tt.SeedCNN),
        "inception": (minicnn.models.InceptionNet, tt.InceptionNet),
        "residual": (minicnn.models.ResidualNet, tt.ResidualNet),
        "keras_style": (minicnn.models.KerasStyleCNN, tt.KerasStyleCNN),
    }[name]
    torch.manual_seed(seed)
    twin = torch_factory()
    with torch.no_grad():
        for param_name, param in twin.named_parameters():
            if param_name.endswith("bias"):
                param.zero_()  # zero-initialised biases: a zero image patch gives exactly 0 into the ReLU
    ours = ours_factory()
    ours.load_state_dict(from_torch(twin))
    return ours, twin


@pytest.mark.parametrize("name", ["lenet", "seed_cnn", "inception", "residual", "keras_style"])
def test_network_on_exact_zeros_equals_pytorch(tier, name):
    """Every parameter gradient equals PyTorch's where most ReLU and max-pool inputs sit on their kinks."""
    torch = require_torch()
    ours, twin = zero_bias_pair(name)
    x = mnist_images(4 if name == "inception" else 8)
    target = np.arange(x.shape[0]) % 10
    first_conv = next(m for m in twin.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        zeros = float((first_conv(torch.tensor(x)) == 0).float().mean())
    assert zeros > 0.3, f"only {zeros:.0%} of the first conv's outputs are exact zeros: the test lost its point"
    loss = F.cross_entropy(ours(minicnn.tensor(x)), minicnn.tensor(target))
    their_loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(target))
    assert abs(loss.item() - their_loss.item()) <= 1e-5 * max(1.0, abs(their_loss.item()))
    loss.backward()
    their_loss.backward()
    theirs = dict(twin.named_parameters())
    model_scale = max(float(theirs[n].grad.abs().max()) for n in theirs)
    for param_name, param in ours.named_parameters():
        expected = to_numpy(theirs[param_name].grad)
        scale = float(np.abs(expected).max())
        if scale < 1e-3 * model_scale:  # zero but for rounding (a conv bias before batch norm): absolute check
            scale = model_scale
        error = float(np.abs(to_numpy(param.grad) - expected).max()) / scale
        assert error < 2e-4, f"{name}: gradient of {param_name} off by {error:.2e} (relative to its largest)"
