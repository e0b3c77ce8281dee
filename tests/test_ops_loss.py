"""Losses: nll_loss, cross_entropy, mse_loss, l1_loss, binary_cross_entropy(_with_logits).

Evidence for each: a hand-computed case, float64 gradchecks over the option mixes, float32 forward and
backward equal to PyTorch over hypothesis-drawn shapes and options, and one test per argument check.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import DEVICES, assert_close, compare_with_torch, gradcheck, require_torch
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from minicnn.ops import loss as loss_module

REDUCTIONS = ["mean", "sum", "none"]


def torch_F():
    return require_torch().nn.functional


def class_index_arrays(seed, shape, num_classes, ignore=None, dtype=np.float32):
    """Logits of ``shape`` (class axis 1, or 0 when unbatched) and integer targets; ``ignore`` marks some."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(shape) * 2).astype(dtype)
    target_shape = shape[:1] + shape[2:] if len(shape) >= 2 else ()
    target = rng.integers(0, num_classes, target_shape).astype(np.int64)
    if ignore == "marked" and target.ndim:  # (a scalar target is never marked: all would be ignored)
        target.reshape(-1)[::2] = -100  # every other element is ignored through ignore_index=-100
    weight = (rng.random(num_classes) + 0.2).astype(dtype)
    return logits, np.asarray(target), weight


def probability_arrays(seed, shape, class_dim=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(shape) * 2).astype(dtype)
    scores = np.exp(rng.standard_normal(shape))
    target = (scores / scores.sum(axis=class_dim, keepdims=True)).astype(dtype)
    weight = (rng.random(shape[class_dim]) + 0.2).astype(dtype)
    return logits, target, weight


# ---------------------------------------------------------------- hand-computed cases


def test_cross_entropy_hand_computed_two_samples_three_classes():
    logits = minicnn.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype="float64", requires_grad=True)
    target = minicnn.tensor([2, 0])
    loss = F.cross_entropy(logits, target)
    # sample 0: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2); sample 1: uniform, log 3
    expected = (math.log(1 + math.exp(-1) + math.exp(-2)) + math.log(3)) / 2
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    # d loss / d logits = (softmax - one_hot) / N
    e = np.exp([1.0, 2.0, 3.0])
    softmax0 = e / e.sum()
    expected_grad = np.array([softmax0 - [0, 0, 1], np.full(3, 1 / 3) - [1, 0, 0]]) / 2
    np.testing.assert_allclose(np.asarray(logits.grad), expected_grad, rtol=1e-12, atol=1e-15)


def test_nll_loss_hand_computed_weighted_mean_and_ignore():
    log_probs = minicnn.tensor([[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5], [-4.0, -5.0, -6.0]], dtype="float64")
    target = minicnn.tensor([2, 0, -100])
    weight = minicnn.tensor([1.0, 2.0, 4.0], dtype="float64")
    # rows: 4 * 3 = 12 and 1 * 0.5 = 0.5; the third is ignored; mean divides by 4 + 1
    assert F.nll_loss(log_probs, target, weight=weight).item() == pytest.approx(12.5 / 5)
    assert F.nll_loss(log_probs, target, weight=weight, reduction="sum").item() == pytest.approx(12.5)
    np.testing.assert_allclose(
        np.asarray(F.nll_loss(log_probs, target, weight=weight, reduction="none")), [12.0, 0.5, 0.0]
    )
    assert F.nll_loss(log_probs, target).item() == pytest.approx((3.0 + 0.5) / 2)


def test_label_smoothing_hand_computed():
    logits = minicnn.tensor([[0.0, math.log(3.0)]], dtype="float64")  # softmax (1/4, 3/4)
    eps = 0.2
    # (1 - eps) * -log(3/4) + eps / 2 * (-log(1/4) - log(3/4))
    expected = (1 - eps) * -math.log(0.75) + eps / 2 * (-math.log(0.25) - math.log(0.75))
    loss = F.cross_entropy(logits, minicnn.tensor([1]), label_smoothing=eps)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_mse_and_l1_hand_computed():
    x = minicnn.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = minicnn.tensor([1.0, 0.0, 1.0])
    loss = F.mse_loss(x, y)
    assert loss.item() == pytest.approx((0 + 4 + 9) / 3)
    loss.backward()
    np.testing.assert_allclose(np.asarray(x.grad), [0.0, 4 / 3, 2.0], rtol=1e-6)
    assert F.l1_loss(x, y, reduction="sum").item() == pytest.approx(5.0)


# ---------------------------------------------------------------- float64 gradient checks

CLASS_INDEX_OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=True),
    dict(weight=True, reduction="none"),
    dict(ignore="marked"),
    dict(ignore="marked", weight=True),
    dict(ignore_index=1, weight=True, reduction="sum"),
    dict(label_smoothing=0.3),
    dict(label_smoothing=0.3, weight=True, ignore="marked"),
    dict(label_smoothing=0.3, weight=True, ignore="marked", reduction="sum"),
    dict(label_smoothing=1.0, reduction="none", ignore="marked"),
]


def _loss_options(options, weight_array):
    kwargs = {k: v for k, v in options.items() if k not in ("weight", "ignore")}
    weight = minicnn.tensor(weight_array.astype(np.float64)) if options.get("weight") else None
    return kwargs, weight


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2), (4,)], ids=["NC", "NCHW", "C"])
@pytest.mark.parametrize("options", CLASS_INDEX_OPTIONS, ids=str)
def test_cross_entropy_gradcheck(shape, options):
    num_classes = shape[0] if len(shape) == 1 else shape[1]
    logits, target, weight_array = class_index_arrays(1, shape, num_classes, options.get("ignore"))
    kwargs, weight = _loss_options(options, weight_array)
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, weight=weight, **kwargs), [logits, target], [0])


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2), (4,)], ids=["NC", "NCHW", "C"])
@pytest.mark.parametrize(
    "options", [dict(), dict(weight=True, ignore="marked"), dict(reduction="none", weight=True)], ids=str
)
def test_nll_loss_gradcheck(shape, options):
    num_classes = shape[0] if len(shape) == 1 else shape[1]
    logits, target, weight_array = class_index_arrays(2, shape, num_classes, options.get("ignore"))
    kwargs, weight = _loss_options(options, weight_array)
    assert gradcheck(lambda x, t: F.nll_loss(x, t, weight=weight, **kwargs), [logits, target], [0])


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2), (4,)], ids=["NC", "NCHW", "C"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets_gradcheck(shape, reduction, label_smoothing):
    class_dim = 0 if len(shape) == 1 else 1
    logits, target, weight = probability_arrays(3, shape, class_dim)

    def loss(x, t, w):
        return F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=label_smoothing)

    # PyTorch differentiates soft targets and the weight here too
    assert gradcheck(loss, [logits, target, weight], [0, 1, 2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_losses_gradcheck(reduction):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, y])
    assert gradcheck(lambda a, b: F.l1_loss(a, b, reduction=reduction), [x, y])  # no ties: x != y
    p, t, w = rng.uniform(0.1, 0.9, (3, 4)), rng.random((3, 4)), rng.random(4) + 0.5
    weight = minicnn.tensor(w)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=weight, reduction=reduction), [p, t])
    pos_weight = minicnn.tensor(rng.random(4) * 3)
    assert gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight, reduction=reduction, pos_weight=pos_weight),
        [x * 3, t],
    )
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x * 3, t])


def test_mse_loss_broadcast_gradcheck():
    rng = np.random.default_rng(5)
    with pytest.warns(UserWarning, match="different to the input size"):
        assert gradcheck(lambda a, b: F.mse_loss(a, b), [rng.standard_normal((3, 1)), rng.standard_normal(4)])


# ---------------------------------------------------------------- float32 against PyTorch


@st.composite
def class_index_cases(draw):
    batch = draw(st.integers(1, 6))
    num_classes = draw(st.integers(1, 6))
    spatial = draw(st.sampled_from([(), (3,), (2, 3)]))  # unbatched (C,) input has its own test
    return dict(
        shape=(batch, num_classes) + spatial,
        num_classes=num_classes,
        reduction=draw(st.sampled_from(REDUCTIONS)),
        label_smoothing=draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0])),
        use_weight=draw(st.booleans()),
        ignore=draw(st.sampled_from([None, "marked", "class"])),
        seed=draw(st.integers(0, 2**16)),
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a batch whose every target is ignored: 0/0 = nan
@given(case=class_index_cases())
def test_cross_entropy_matches_torch(case):
    logits, target, weight = class_index_arrays(case["seed"], case["shape"], case["num_classes"], case["ignore"])
    ignore_index = 0 if case["ignore"] == "class" else -100  # "class": every target of class 0 is ignored
    options = dict(reduction=case["reduction"], ignore_index=ignore_index, label_smoothing=case["label_smoothing"])
    weight = weight if case["use_weight"] else None
    compare_with_torch(
        lambda x, t, w: F.cross_entropy(x, t, weight=w, **options),
        lambda x, t, w: torch_F().cross_entropy(x, t, weight=w, **options),
        [logits, target, weight],
        grad_inputs=[0],
    )
    # nll_loss on the same log-probabilities (no label smoothing there)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll_options = dict(reduction=case["reduction"], ignore_index=ignore_index)
    compare_with_torch(
        lambda x, t, w: F.nll_loss(x, t, weight=w, **nll_options),
        lambda x, t, w: torch_F().nll_loss(x, t, weight=w, **nll_options),
        [log_probs.astype(np.float32), target, weight],
        grad_inputs=[0],
    )


@given(
    batch=st.integers(1, 5),
    num_classes=st.integers(1, 5),
    spatial=st.sampled_from([(), (2, 3)]),
    reduction=st.sampled_from(REDUCTIONS),
    label_smoothing=st.sampled_from([0.0, 0.2, 1.0]),
    use_weight=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_probability_targets_match_torch(
    batch, num_classes, spatial, reduction, label_smoothing, use_weight, seed
):
    logits, target, weight = probability_arrays(seed, (batch, num_classes) + spatial)
    options = dict(reduction=reduction, label_smoothing=label_smoothing)
    compare_with_torch(
        lambda x, t, w: F.cross_entropy(x, t, weight=w, **options),
        lambda x, t, w: torch_F().cross_entropy(x, t, weight=w, **options),
        [logits, target, weight if use_weight else None],
        grad_inputs=[0, 1],
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.4])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_unbatched_input_matches_torch(label_smoothing, reduction):
    logits, target, weight = class_index_arrays(6, (5,), 5)
    options = dict(reduction=reduction, label_smoothing=label_smoothing)
    out, _ = compare_with_torch(
        lambda x, t, w: F.cross_entropy(x, t, weight=w, **options),
        lambda x, t, w: torch_F().cross_entropy(x, t, weight=w, **options),
        [logits, target, weight],
        grad_inputs=[0],
    )
    assert out.shape == ()
    probabilities = probability_arrays(6, (5,), class_dim=0)[1]
    compare_with_torch(
        lambda x, t: F.cross_entropy(x, t, **options),
        lambda x, t: torch_F().cross_entropy(x, t, **options),
        [logits, probabilities],
    )


@given(
    shape=st.sampled_from([(5,), (3, 4), (2, 3, 4)]),
    target_shape=st.sampled_from(["same", "broadcast"]),
    reduction=st.sampled_from(REDUCTIONS),
    seed=st.integers(0, 2**16),
)
def test_mse_and_l1_match_torch(shape, target_shape, reduction, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal(shape if target_shape == "same" else shape[-1:]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # both libraries warn about the broadcast
        for ours, theirs in ((F.mse_loss, torch_F().mse_loss), (F.l1_loss, torch_F().l1_loss)):
            compare_with_torch(
                lambda a, b, ours=ours: ours(a, b, reduction=reduction),
                lambda a, b, theirs=theirs: theirs(a, b, reduction=reduction),
                [x, y],
            )


@given(
    shape=st.sampled_from([(5,), (3, 4), (2, 3, 4)]),
    reduction=st.sampled_from(REDUCTIONS),
    use_weight=st.booleans(),
    use_pos_weight=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_binary_cross_entropies_match_torch(shape, reduction, use_weight, use_pos_weight, seed):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(shape) * 3).astype(np.float32)
    target = rng.random(shape).astype(np.float32)
    weight = (rng.random(shape[-1:]) + 0.5).astype(np.float32) if use_weight else None
    pos_weight = (rng.random(shape[-1:]) * 3).astype(np.float32) if use_pos_weight else None
    compare_with_torch(
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
        lambda x, t, w, pw: torch_F().binary_cross_entropy_with_logits(x, t, w, reduction=reduction, pos_weight=pw),
        [logits, target, weight, pos_weight],
        grad_inputs=[0, 1],
    )
    probabilities = rng.uniform(0.05, 0.95, shape).astype(np.float32)
    compare_with_torch(
        lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction=reduction),
        lambda p, t, w: torch_F().binary_cross_entropy(p, t, w, reduction=reduction),
        [probabilities, target, weight],
        grad_inputs=[0, 1],
        rtol=2e-4,
    )


# ---------------------------------------------------------------- stability and edge cases


def test_cross_entropy_is_stable_for_huge_logits():
    torch = require_torch()
    values = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4 - 1.0], [-1e4, -1e4, 1e4]], dtype=np.float32)
    target = np.array([1, 1, 0])
    ours_in = minicnn.tensor(values, requires_grad=True)
    theirs_in = torch.tensor(values, requires_grad=True)
    ours = F.cross_entropy(ours_in, minicnn.tensor(target), label_smoothing=0.1)
    theirs = torch.nn.functional.cross_entropy(theirs_in, torch.tensor(target), label_smoothing=0.1)
    assert math.isfinite(ours.item())
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)
    ours.backward()
    theirs.backward()
    assert np.isfinite(np.asarray(ours_in.grad)).all()
    assert_close(ours_in.grad, theirs_in.grad, atol=1e-6)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = minicnn.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, minicnn.tensor([0.0, 1.0, 1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(np.asarray(loss), [1e4, 1e4, 0.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [1.0, -1.0, 0.0, 0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns about log(0) before the clamp
def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = minicnn.tensor([0.0, 1.0, 0.5])
    loss = F.binary_cross_entropy(p, minicnn.tensor([1.0, 0.0, 0.5]), reduction="none")
    np.testing.assert_allclose(np.asarray(loss), [100.0, 100.0, math.log(2)], rtol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 / 0 in NumPy
def test_all_targets_ignored_gives_nan_mean_and_zero_gradient_like_torch():
    logits, target, _ = class_index_arrays(7, (3, 4), 4)
    target[:] = -100
    for label_smoothing in (0.0, 0.3):
        x = minicnn.tensor(logits, requires_grad=True)
        loss = F.cross_entropy(x, minicnn.tensor(target), label_smoothing=label_smoothing)
        assert math.isnan(loss.item())
        loss.backward()
        np.testing.assert_array_equal(np.asarray(x.grad), 0.0)
    assert F.cross_entropy(minicnn.tensor(logits), minicnn.tensor(target), reduction="sum").item() == 0.0


def test_ignored_elements_contribute_zero_even_with_infinite_log_probs():
    log_probs = minicnn.tensor([[-np.inf, 0.0], [-1.0, -2.0]], requires_grad=True)
    loss = F.nll_loss(log_probs, minicnn.tensor([0, 1]), ignore_index=0, reduction="none")
    np.testing.assert_array_equal(np.asarray(loss), [0.0, 2.0])
    loss.sum().backward()
    np.testing.assert_array_equal(np.asarray(log_probs.grad), [[0.0, 0.0], [0.0, -1.0]])


def test_non_finite_logits_are_not_an_error():
    loss = F.cross_entropy(minicnn.tensor([[np.nan, 0.0], [0.0, 1.0]]), minicnn.tensor([0, 1]))
    assert math.isnan(loss.item())


def test_empty_batch_like_torch():
    empty = minicnn.tensor(np.zeros((0, 4), dtype=np.float32))
    no_targets = minicnn.tensor(np.zeros(0, dtype=np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert math.isnan(F.cross_entropy(empty, no_targets).item())
    assert F.cross_entropy(empty, no_targets, reduction="sum").item() == 0.0
    assert F.cross_entropy(empty, no_targets, reduction="none").shape == (0,)


def test_unsigned_and_int32_targets_are_accepted():
    logits, target, _ = class_index_arrays(8, (4, 3), 3)
    expected = F.cross_entropy(minicnn.tensor(logits), minicnn.tensor(target)).item()
    for dtype in ("uint8", "int32"):
        targets = minicnn.tensor(target.astype(dtype))
        assert F.cross_entropy(minicnn.tensor(logits), targets).item() == pytest.approx(expected)


def test_legacy_size_average_and_reduce_flags():
    logits, target, _ = class_index_arrays(9, (4, 3), 3)
    x, t = minicnn.tensor(logits), minicnn.tensor(target)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        summed = F.cross_entropy(x, t, size_average=False)
    assert summed.item() == pytest.approx(F.cross_entropy(x, t, reduction="sum").item())
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.nll_loss(x, t, reduce=False).shape == (4,)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        assert F.mse_loss(x, x + 1, size_average=True).item() == pytest.approx(1.0)


def test_weight_requiring_grad_is_fine_under_no_grad():
    logits, target, weight = class_index_arrays(10, (4, 3), 3)
    with minicnn.no_grad():
        loss = F.cross_entropy(
            minicnn.tensor(logits), minicnn.tensor(target), weight=minicnn.tensor(weight, requires_grad=True)
        )
    assert math.isfinite(loss.item())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_preserved(dtype):
    logits, target, weight = class_index_arrays(11, (4, 3, 2), 3, dtype=np.dtype(dtype))
    x = minicnn.tensor(logits, requires_grad=True)
    outputs = [
        F.cross_entropy(x, minicnn.tensor(target), weight=minicnn.tensor(weight), label_smoothing=0.1),
        F.cross_entropy(x, minicnn.tensor(np.abs(logits)), reduction="none"),
        F.nll_loss(x, minicnn.tensor(target), reduction="sum"),
        F.mse_loss(x, minicnn.tensor(np.zeros_like(logits))),
        F.l1_loss(x, minicnn.tensor(np.zeros_like(logits))),
        F.binary_cross_entropy_with_logits(x, minicnn.tensor(np.ones_like(logits))),
        F.binary_cross_entropy(x.sigmoid(), minicnn.tensor(np.ones_like(logits))),
    ]
    for out in outputs:
        assert out.dtype == np.dtype(dtype)
        x.grad = None
        out.sum().backward()
        assert x.grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_losses_on_each_device(device):
    logits, target, weight = class_index_arrays(12, (4, 5, 3), 5, ignore="marked")
    options = dict(ignore_index=-100, label_smoothing=0.1)
    out, _ = compare_with_torch(
        lambda x, t, w: F.cross_entropy(x, t, weight=w, **options),
        lambda x, t, w: torch_F().cross_entropy(x, t, weight=w, **options),
        [logits, target, weight],
        grad_inputs=[0],
        device=device,
    )
    assert out.device == minicnn.device(device)
    probabilities = probability_arrays(12, (4, 5, 3))[1]
    compare_with_torch(
        lambda x, t: F.cross_entropy(x, t),
        lambda x, t: torch_F().cross_entropy(x, t),
        [logits, probabilities],
        device=device,
    )
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.random((3, 4)).astype(np.float32)
    for ours, theirs in (
        (F.mse_loss, torch_F().mse_loss),
        (F.l1_loss, torch_F().l1_loss),
        (F.binary_cross_entropy_with_logits, torch_F().binary_cross_entropy_with_logits),
    ):
        compare_with_torch(ours, theirs, [x, y], device=device)
    compare_with_torch(F.binary_cross_entropy, torch_F().binary_cross_entropy, [y * 0.9 + 0.05, y], device=device)


def test_public_names_reach_functional():
    assert set(loss_module.__all__) == {
        "nll_loss",
        "cross_entropy",
        "mse_loss",
        "l1_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    }
    for name in loss_module.__all__:
        assert getattr(F, name) is getattr(loss_module, name)


# ---------------------------------------------------------------- argument checks


@pytest.fixture
def batch():
    logits, target, weight = class_index_arrays(13, (3, 10), 10)
    return minicnn.tensor(logits), minicnn.tensor(target), minicnn.tensor(weight)


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_target_out_of_range(batch, op):
    x, _, _ = batch
    with pytest.raises(IndexError, match=f"^{op}: target 12 is out of bounds for 10 classes$"):
        getattr(F, op)(x, minicnn.tensor([0, 12, 3]))
    with pytest.raises(IndexError, match=f"{op}: target -1 is out of bounds"):
        getattr(F, op)(x, minicnn.tensor([0, -1, 3]))
    with pytest.raises(IndexError, match="target -100 is out of bounds"):  # not the ignore_index in use here
        getattr(F, op)(x, minicnn.tensor([0, -100, 3]), ignore_index=-1)


def test_target_out_of_range_spatial():
    x = minicnn.tensor(np.zeros((2, 3, 2, 2), dtype=np.float32))
    target = np.zeros((2, 2, 2), dtype=np.int64)
    target[1, 1, 0] = 3
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, minicnn.tensor(target))


def test_batch_size_mismatch_names_both_shapes(batch):
    x, _, _ = batch
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(3, 10\) .* got target of shape \(4,\)"):
        F.cross_entropy(x, minicnn.tensor([0, 1, 2, 3]))
    images = minicnn.tensor(np.zeros((2, 3, 4, 4), dtype=np.float32))
    with pytest.raises(
        ValueError, match=r"nll_loss: input of shape \(2, 3, 4, 4\) needs a target of shape \(2, 4, 4\)"
    ):
        F.nll_loss(images, minicnn.tensor(np.zeros((2, 4, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"needs a target of shape \(\)"):
        F.cross_entropy(minicnn.tensor([0.0, 1.0]), minicnn.tensor([1]))


def test_target_dtype_checks(batch):
    x, target, _ = batch
    with pytest.raises(TypeError, match="cross_entropy: expected integer class indices as target, got float32"):
        F.cross_entropy(x, target.float())
    with pytest.raises(TypeError, match="nll_loss: expected integer class indices as target, got bool"):
        F.nll_loss(x, target > 3)
    with pytest.raises(TypeError, match="class probabilities and must be floating point, got int64"):
        F.cross_entropy(x, minicnn.tensor(np.zeros((3, 10), dtype=np.int64)))
    with pytest.raises(TypeError, match="nll_loss: expected integer class indices"):
        F.nll_loss(x, minicnn.tensor(np.zeros((3, 10), dtype=np.float32)))
    with pytest.raises(TypeError, match="cross_entropy: target must be a Tensor, got list"):
        F.cross_entropy(x, [0, 1, 2])


def test_input_checks(batch):
    _, target, _ = batch
    with pytest.raises(TypeError, match="cross_entropy: input must be a Tensor, got ndarray"):
        F.cross_entropy(np.zeros((3, 10)), target)
    with pytest.raises(TypeError, match="cross_entropy: input must be a floating point tensor, got int64"):
        F.cross_entropy(minicnn.tensor(np.zeros((3, 10), dtype=np.int64)), target)
    with pytest.raises(ValueError, match="nll_loss: input must have a class dimension"):
        F.nll_loss(minicnn.tensor(1.0), minicnn.tensor(0))


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy"])
def test_bad_reduction(op):
    x = minicnn.tensor([[0.5, 0.5]])
    target = minicnn.tensor([0]) if op in ("cross_entropy", "nll_loss") else x
    with pytest.raises(ValueError, match=f"{op}: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        getattr(F, op)(x, target, reduction="avg")


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.5, float("nan")])
def test_label_smoothing_outside_unit_interval(batch, label_smoothing):
    x, target, _ = batch
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, target, label_smoothing=label_smoothing)


def test_label_smoothing_type(batch):
    x, target, _ = batch
    with pytest.raises(TypeError, match="label_smoothing must be a float"):
        F.cross_entropy(x, target, label_smoothing="0.1")


def test_weight_checks(batch):
    x, target, weight = batch
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(10,\).* got \(5,\)"):
        F.cross_entropy(x, target, weight=weight[:5])
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(10,\).* got \(10, 1\)"):
        F.nll_loss(x, target, weight=weight.reshape(10, 1))
    with pytest.raises(TypeError, match="weight dtype float64 does not match input dtype float32"):
        F.cross_entropy(x, target, weight=weight.double())
    with pytest.raises(TypeError, match="weight must be a floating point tensor, got int64"):
        F.cross_entropy(x, target, weight=minicnn.tensor(np.ones(10, dtype=np.int64)))
    with pytest.raises(ValueError, match="cross_entropy: weight cannot require grad"):
        F.cross_entropy(x, target, weight=minicnn.tensor(weight, requires_grad=True))


def test_ignore_index_checks(batch):
    x, target, _ = batch
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        F.cross_entropy(x, target, ignore_index=1.5)
    probabilities = minicnn.tensor(np.full((3, 10), 0.1, dtype=np.float32))
    with pytest.raises(ValueError, match="ignore_index .3. is not supported for class-probability targets"):
        F.cross_entropy(x, probabilities, ignore_index=3)


def test_pointwise_loss_checks():
    x = minicnn.tensor(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"mse_loss: shapes \(3, 2\) and \(4,\) cannot be broadcast"):
        F.mse_loss(x, minicnn.tensor(np.zeros(4, dtype=np.float32)))
    with pytest.raises(TypeError, match="l1_loss: input must be a floating point tensor"):
        F.l1_loss(minicnn.tensor([1, 2]), minicnn.tensor([1, 2]))
    with pytest.warns(UserWarning, match=r"target size \(2,\) that is different to the input size \(3, 2\)"):
        F.mse_loss(x, minicnn.tensor([1.0, 2.0]))


def test_binary_cross_entropy_checks():
    p = minicnn.tensor([[0.2, 0.7]])
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(minicnn.tensor([[1.5, 0.5]]), p)
    with pytest.raises(ValueError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(p, minicnn.tensor([[-0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"target of shape \(2,\) must have the input's shape \(1, 2\)"):
        F.binary_cross_entropy(p, minicnn.tensor([0.2, 0.7]))
    with pytest.raises(TypeError, match="target dtype float64 does not match input dtype float32"):
        F.binary_cross_entropy(p, p.double())
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) cannot broadcast to input shape \(1, 2\)"):
        F.binary_cross_entropy(p, p, weight=minicnn.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target size \(2,\) must be the same"):
        F.binary_cross_entropy_with_logits(p, minicnn.tensor([0.2, 0.7]))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2, 2\) cannot broadcast"):
        F.binary_cross_entropy_with_logits(p, p, pos_weight=minicnn.tensor(np.ones((2, 2), dtype=np.float32)))
    with pytest.raises(ValueError, match="pos_weight cannot require grad"):
        F.binary_cross_entropy_with_logits(p, p, pos_weight=minicnn.tensor([1.0, 2.0], requires_grad=True))
