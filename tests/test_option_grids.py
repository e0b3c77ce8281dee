"""Option grids, not draws: every combination of an op's interacting options vs PyTorch (issue 18, item 2).

A bug confined to one combination (a loss's mean over label smoothing x ignore_index without class weights,
a pool's divisor under ceil_mode without count_include_pad) changes forward and backward consistently, so
gradcheck cannot see it, and a few random draws rarely combine the right options. Each grid below is the
FULL product of its options (no covering array: every grid is small enough), run as explicit parametrised
cases, forward and backward, on tiny float64 shapes so the tolerance can be tight (1e-10 absolute):

- cross_entropy: reduction x weight x ignore_index x label_smoothing x target kind (classes or
  probabilities) x input rank (unbatched (C,), (N, C), (N, C, H, W))                          144 cases
- nll_loss: reduction x weight x ignore_index x rank                                            36 cases
- binary_cross_entropy: reduction x weight (none, full, broadcast) x rank                      27 cases
- binary_cross_entropy_with_logits: reduction x weight x pos_weight (none, per class, one) x rank  54 cases
- max_pool2d: kernel x stride x padding x dilation x ceil_mode, x both tiers                   288 cases
- avg_pool2d: kernel x stride x padding x ceil_mode x count_include_pad x divisor_override, x tiers  576 cases
- conv2d: channels (first-layer / square / few-outputs, which pick different fast layouts) x groups x
  stride x padding (0, 1, (1, 2), 'valid', 'same') x dilation x bias, x both tiers (invalid ones dropped)
- batch norm: affine x track_running_stats x training x momentum (0.1, None) x input (N, C) /
  (N, C, H, W) / channels-last, x both tiers: outputs, every gradient, running statistics over two steps.

Where PyTorch refuses a combination, minicnn must refuse it too (with its own ValueError/RuntimeError).
Hypothesis still draws shapes on top of these in the per-op test files.
"""

import itertools

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.fast.layout import from_channels_last, to_channels_last
from tests.helpers import assert_close, compare_with_torch, distinct_values

ATOL, RTOL = 1e-10, 1e-8
REFUSALS = (ValueError, TypeError, RuntimeError)


def require_torch():
    """tests.helpers.require_torch, looked up when called (the fixture below wraps it)."""
    from tests import helpers

    return helpers.require_torch()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def compare_or_both_refuse(ours, theirs, arrays, grad_inputs=None, atol=ATOL, rtol=RTOL):
    """compare_with_torch, or, when PyTorch refuses the call, check that minicnn refuses it as well."""
    torch = require_torch()
    try:
        theirs(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays])
    except REFUSALS:
        with pytest.raises(REFUSALS):
            ours(*[minicnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays])
        return
    compare_with_torch(ours, theirs, arrays, grad_inputs=grad_inputs, atol=atol, rtol=rtol)


def torch_f():
    return require_torch().nn.functional


def ids(values):
    return [str(v) for v in values]


# ---------------------------------------------------------------- classification losses

C = 4
RANKS = {"unbatched": (C,), "2d": (3, C), "4d": (2, C, 2, 3)}


def class_targets(shape, seed):
    """Integer targets for an input of ``shape``: every class appears, including class 1 (the ignored one)."""
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    values = np.random.default_rng(seed).integers(0, C, size=target_shape)
    if values.ndim:
        values.reshape(-1)[:2] = [1, 3]  # class 1 is both weighted and, in half the grid, ignored
    else:
        values = np.array(1)
    return values.astype(np.int64)


def probability_targets(shape, seed):
    q = np.random.default_rng(seed).random(shape) + 0.05
    return q / q.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)


CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
CE_GRID = list(
    itertools.product(["none", "mean", "sum"], [False, True], [-100, 1], [0.0, 0.2], ["classes", "probs"], RANKS)
)


@pytest.mark.parametrize(
    "reduction, weighted, ignore_index, label_smoothing, target_kind, rank", CE_GRID, ids=map(str, CE_GRID)
)
def test_cross_entropy_grid(reduction, weighted, ignore_index, label_smoothing, target_kind, rank):
    shape = RANKS[rank]
    logits = np.random.default_rng(0).standard_normal(shape)
    target = class_targets(shape, 1) if target_kind == "classes" else probability_targets(shape, 1)
    weight = CLASS_WEIGHT if weighted else None
    options = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)

    def ours(x, t, w):
        return F.cross_entropy(x, t, weight=w, **options)

    def theirs(x, t, w):
        return torch_f().cross_entropy(x, t, weight=w, **options)

    compare_or_both_refuse(ours, theirs, [logits, target, weight], grad_inputs=[0])


NLL_GRID = list(itertools.product(["none", "mean", "sum"], [False, True], [-100, 1], RANKS))


@pytest.mark.parametrize("reduction, weighted, ignore_index, rank", NLL_GRID, ids=map(str, NLL_GRID))
def test_nll_loss_grid(reduction, weighted, ignore_index, rank):
    shape = RANKS[rank]
    logits = np.random.default_rng(2).standard_normal(shape)
    log_probs = logits - np.log(np.exp(logits).sum(axis=0 if len(shape) == 1 else 1, keepdims=True))
    options = dict(reduction=reduction, ignore_index=ignore_index)
    compare_or_both_refuse(
        lambda x, t, w: F.nll_loss(x, t, weight=w, **options),
        lambda x, t, w: torch_f().nll_loss(x, t, weight=w, **options),
        [log_probs, class_targets(shape, 3), CLASS_WEIGHT if weighted else None],
        grad_inputs=[0],
    )


BINARY_RANKS = {"1d": (5,), "2d": (3, 5), "4d": (2, 3, 2, 5)}
BCE_GRID = list(itertools.product(["none", "mean", "sum"], ["none", "full", "broadcast"], BINARY_RANKS))


def binary_targets(shape, seed):
    """Soft targets in [0, 1], with exact 0s and 1s among them."""
    t = np.random.default_rng(seed).random(shape)
    t.reshape(-1)[:2] = [0.0, 1.0]
    return t


def elementwise_weight(kind, shape, seed):
    if kind == "none":
        return None
    rng = np.random.default_rng(seed)
    return rng.random(shape) + 0.5 if kind == "full" else rng.random(shape[-1:]) + 0.5


@pytest.mark.parametrize("reduction, weight_kind, rank", BCE_GRID, ids=map(str, BCE_GRID))
def test_binary_cross_entropy_grid(reduction, weight_kind, rank):
    shape = BINARY_RANKS[rank]
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, shape)
    compare_or_both_refuse(
        lambda x, t, w: F.binary_cross_entropy(x, t, weight=w, reduction=reduction),
        lambda x, t, w: torch_f().binary_cross_entropy(x, t, weight=w, reduction=reduction),
        [p, binary_targets(shape, 5), elementwise_weight(weight_kind, shape, 6)],
        grad_inputs=[0, 1],
    )


BCE_LOGITS_GRID = list(
    itertools.product(["none", "mean", "sum"], ["none", "broadcast"], ["none", "per_class", "one"], BINARY_RANKS)
)


@pytest.mark.parametrize(
    "reduction, weight_kind, pos_weight_kind, rank", BCE_LOGITS_GRID, ids=map(str, BCE_LOGITS_GRID)
)
def test_binary_cross_entropy_with_logits_grid(reduction, weight_kind, pos_weight_kind, rank):
    shape = BINARY_RANKS[rank]
    logits = np.random.default_rng(7).standard_normal(shape) * 3
    pos_weight = {"none": None, "per_class": np.linspace(0.5, 3.0, shape[-1]), "one": np.array([2.5])}[pos_weight_kind]
    compare_or_both_refuse(
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction=reduction, pos_weight=pw),
        lambda x, t, w, pw: torch_f().binary_cross_entropy_with_logits(
            x, t, weight=w, reduction=reduction, pos_weight=pw
        ),
        [logits, binary_targets(shape, 8), elementwise_weight(weight_kind, shape, 9), pos_weight],
        grad_inputs=[0, 1],
    )


# ---------------------------------------------------------------- pooling

KERNELS = [2, 3, (2, 3)]
STRIDES = [None, 1, 2]
MAX_POOL_GRID = list(itertools.product(KERNELS, STRIDES, [0, 1], [1, 2], [False, True]))


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_POOL_GRID, ids=map(str, MAX_POOL_GRID))
def test_max_pool2d_grid(tier, kernel, stride, padding, dilation, ceil_mode):
    torch = require_torch()
    x = distinct_values(np.random.default_rng(10), (2, 2, 7, 6), dtype=np.float64)  # no ties: geometry only
    options = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    compare_or_both_refuse(
        lambda t: F.max_pool2d(t, kernel, **options), lambda t: torch_f().max_pool2d(t, kernel, **options), [x]
    )
    try:
        expected = torch_f().max_pool2d(torch.tensor(x), kernel, return_indices=True, **options)[1]
    except REFUSALS:
        return
    indices = F.max_pool2d(minicnn.tensor(x), kernel, return_indices=True, **options)[1]
    assert np.asarray(indices).tolist() == expected.tolist(), "return_indices"


AVG_POOL_GRID = list(itertools.product(KERNELS, STRIDES, [0, 1], [False, True], [False, True], [None, 5]))


@pytest.mark.parametrize(
    "kernel, stride, padding, ceil_mode, count_include_pad, divisor_override",
    AVG_POOL_GRID,
    ids=map(str, AVG_POOL_GRID),
)
def test_avg_pool2d_grid(tier, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x = np.random.default_rng(11).standard_normal((2, 2, 7, 6))
    options = dict(
        stride=stride,
        padding=padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    compare_or_both_refuse(
        lambda t: F.avg_pool2d(t, kernel, **options), lambda t: torch_f().avg_pool2d(t, kernel, **options), [x]
    )


# ---------------------------------------------------------------- convolution

# (C, O): a one-channel first layer (textbook "image" columns in the fast tier), a square layer (channels-last
# rows), few outputs from wide windows (kernel-row columns); the kernel (3, 2) and input 7 x 9 are not square
CHANNELS = {"first_layer": (1, 4), "square": (4, 4), "few_outputs": (8, 2)}
CONV_GRID = [
    case
    for case in itertools.product(
        CHANNELS, [1, 2], [1, 2, (2, 1)], [0, 1, (1, 2), "valid", "same"], [1, 2], [True, False]
    )
    if CHANNELS[case[0]][0] % case[1] == 0  # groups must divide the channels
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("channels, groups, stride, padding, dilation, bias", CONV_GRID, ids=map(str, CONV_GRID))
def test_conv2d_grid(tier, channels, groups, stride, padding, dilation, bias):
    (C_in, O), rng = CHANNELS[channels], np.random.default_rng(12)
    x = rng.standard_normal((2, C_in, 7, 9))
    w = rng.standard_normal((O, C_in // groups, 3, 2))
    b = rng.standard_normal(O) if bias else None
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    compare_or_both_refuse(
        lambda t, u, v: F.conv2d(t, u, v, **options),
        lambda t, u, v: torch_f().conv2d(t, u, v, **options),
        [x, w, b],
        grad_inputs=[0, 1, 2] if bias else [0, 1],
    )


POINTWISE_GRID = list(itertools.product([1, 2], [1, 2, (2, 1), (1, 3)], [0, 1], [True, False]))


@pytest.mark.parametrize("groups, stride, padding, bias", POINTWISE_GRID, ids=map(str, POINTWISE_GRID))
def test_conv2d_1x1_grid(tier, groups, stride, padding, bias):
    """1x1 kernels take their own path in the fast tier (the pixels are the columns; strided views)."""
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((2, 4, 5, 7)), rng.standard_normal((6, 4 // groups, 1, 1))
    b = rng.standard_normal(6) if bias else None
    options = dict(stride=stride, padding=padding, groups=groups)
    compare_or_both_refuse(
        lambda t, u, v: F.conv2d(t, u, v, **options),
        lambda t, u, v: torch_f().conv2d(t, u, v, **options),
        [x, w, b],
        grad_inputs=[0, 1, 2] if bias else [0, 1],
    )


# ---------------------------------------------------------------- softmax and log_softmax over every dim


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_every_dim(op, dim):
    x = np.random.default_rng(14).standard_normal((2, 3, 4))
    compare_or_both_refuse(lambda t: getattr(F, op)(t, dim=dim), lambda t: getattr(torch_f(), op)(t, dim=dim), [x])


# ---------------------------------------------------------------- batch norm

BN_INPUTS = {"2d": (6, 3), "4d": (2, 3, 3, 2), "4d_channels_last": (2, 3, 3, 2)}
BN_GRID = list(itertools.product([True, False], [True, False], [True, False], [0.1, None], BN_INPUTS))


def bn_input(kind, seed):
    x = np.random.default_rng(seed).standard_normal(BN_INPUTS[kind]) * 2 + 0.5
    if kind == "4d_channels_last":
        return x, from_channels_last(to_channels_last(x))
    return x, x


@pytest.mark.parametrize("affine, track, training, momentum, kind", BN_GRID, ids=map(str, BN_GRID))
def test_batch_norm_grid(tier, affine, track, training, momentum, kind):
    """Two steps in the given mode, then one in eval: outputs, gradients (input, weight, bias), buffers."""
    torch = require_torch()
    layer = "BatchNorm1d" if kind == "2d" else "BatchNorm2d"
    options = dict(affine=affine, track_running_stats=track, momentum=momentum)
    ours = getattr(minicnn.nn, layer)(3, **options).double()
    theirs = getattr(torch.nn, layer)(3, **options).double()
    start = {}
    if affine:  # not the default 1 and 0, so a swapped weight and bias would show
        start.update(weight=[0.5, 2.0, -1.0], bias=[0.1, -0.3, 0.7])
    if track:  # running statistics away from their defaults too
        start.update(running_mean=[0.2, -0.1, 0.4], running_var=[1.5, 0.5, 2.0])
    ours.load_state_dict({key: np.array(value) for key, value in start.items()}, strict=False)
    theirs.load_state_dict(
        {key: torch.tensor(value, dtype=torch.float64) for key, value in start.items()}, strict=False
    )
    ours.train(training), theirs.train(training)
    for step in range(2):
        x, x_ours = bn_input(kind, 20 + step)
        mx = minicnn.Tensor(x_ours.copy() if kind != "4d_channels_last" else x_ours, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = ours(mx), theirs(tx)
        assert_close(y, ty, ATOL, RTOL, name=f"step {step} output")
        upstream = np.random.default_rng(30 + step).standard_normal(x.shape)
        y.backward(minicnn.tensor(upstream))
        ty.backward(torch.tensor(upstream))
        assert_close(mx.grad, tx.grad, ATOL, RTOL, name=f"step {step} gradient of the input")
        for name, param in theirs.named_parameters():
            assert_close(getattr(ours, name).grad, param.grad, ATOL, RTOL, name=f"step {step} gradient of {name}")
            param.grad = None
            getattr(ours, name).grad = None
        for name, buffer in theirs.named_buffers():
            assert_close(getattr(ours, name), buffer, ATOL, RTOL, name=f"step {step} {name}")
    ours.eval(), theirs.eval()
    x, x_ours = bn_input(kind, 40)
    assert_close(ours(minicnn.Tensor(x_ours)), theirs(torch.tensor(x)), ATOL, RTOL, name="eval output")


# ---------------------------------------------------------------- optimizers

OPTIMIZER_GRIDS = {
    "SGD": dict(
        momentum=[0, 0.9], dampening=[0, 0.5], nesterov=[False, True], weight_decay=[0, 0.1], maximize=[False, True]
    ),
    "Adam": dict(amsgrad=[False, True], weight_decay=[0, 0.1], maximize=[False, True], eps=[1e-8, 0.1]),
    "AdamW": dict(amsgrad=[False, True], weight_decay=[0, 0.1], maximize=[False, True], eps=[1e-8, 0.1]),
    "RMSprop": dict(
        centered=[False, True], momentum=[0, 0.5], weight_decay=[0, 0.1], maximize=[False, True], eps=[1e-8, 0.1]
    ),
    "Adagrad": dict(
        lr_decay=[0, 0.1],
        weight_decay=[0, 0.1],
        initial_accumulator_value=[0, 0.5],
        maximize=[False, True],
        eps=[1e-10, 0.1],
    ),
    "Adadelta": dict(rho=[0.9, 0.5], weight_decay=[0, 0.1], maximize=[False, True], eps=[1e-6, 0.1]),
}
OPTIMIZER_GRID = [
    (name, dict(zip(grid, values)), scale)
    for name, grid in OPTIMIZER_GRIDS.items()
    for values in itertools.product(*grid.values())
    for scale in (1.0, 1e-7)  # tiny gradients: where eps decides the step
]


@pytest.mark.parametrize("name, options, scale", OPTIMIZER_GRID, ids=[f"{n}-{o}-{s}" for n, o, s in OPTIMIZER_GRID])
def test_optimizer_grid(name, options, scale):
    """Four steps on a quadratic bowl: every parameter equals PyTorch's after each step, in float64."""
    torch = require_torch()
    rng = np.random.default_rng(50)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    centre = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    lr = {"Adadelta": 1.0, "SGD": 0.1}.get(name, 0.05)
    ours = [minicnn.tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    try:
        their_optimizer = getattr(torch.optim, name)(theirs, lr=lr, **options)
    except REFUSALS:
        with pytest.raises(REFUSALS):
            getattr(minicnn.optim, name)(ours, lr=lr, **options)
        return
    our_optimizer = getattr(minicnn.optim, name)(ours, lr=lr, **options)
    for step in range(4):
        for lib, params, optimizer in ((minicnn, ours, our_optimizer), (torch, theirs, their_optimizer)):
            optimizer.zero_grad()
            loss = sum((((p - lib.tensor(c)) * (i + 1)) ** 2).sum() for i, (p, c) in enumerate(zip(params, centre)))
            (loss * scale).backward()
            optimizer.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            assert_close(p, tp, 1e-12, 1e-9, name=f"step {step}, parameter {i}")
