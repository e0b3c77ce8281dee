"""Reductions and normalisations over zero-length dimensions give PyTorch's values and shapes (an empty sum is
0, an empty mean NaN, softmax over an empty dim an empty tensor), and raise where PyTorch raises: never a bare
NumPy error."""

import warnings

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from tests.helpers import require_torch

SHAPES = [(0,), (0, 3), (3, 0), (2, 0, 3)]


def dims_of(shape):
    return [None, *range(len(shape)), -1]


# name -> (ours(x, dim), theirs(torch, x, dim), dim=None allowed); x is a tensor of the library
OPS = {
    "sum": (lambda x, d: x.sum() if d is None else x.sum(d), lambda t, x, d: x.sum() if d is None else x.sum(d)),
    "sum_keepdim": (lambda x, d: x.sum(d, keepdim=True), lambda t, x, d: x.sum(d, keepdim=True)),
    "mean": (lambda x, d: x.mean() if d is None else x.mean(d), lambda t, x, d: x.mean() if d is None else x.mean(d)),
    "var": (lambda x, d: x.var() if d is None else x.var(d), lambda t, x, d: x.var() if d is None else x.var(d)),
    "std": (lambda x, d: x.std() if d is None else x.std(d), lambda t, x, d: x.std() if d is None else x.std(d)),
    "max": (lambda x, d: x.max() if d is None else x.max(d)[0], lambda t, x, d: x.max() if d is None else x.max(d)[0]),
    "min": (lambda x, d: x.min() if d is None else x.min(d)[0], lambda t, x, d: x.min() if d is None else x.min(d)[0]),
    "amax": (lambda x, d: x.amax() if d is None else x.amax(d), lambda t, x, d: x.amax() if d is None else x.amax(d)),
    "amin": (lambda x, d: x.amin() if d is None else x.amin(d), lambda t, x, d: x.amin() if d is None else x.amin(d)),
    "argmax": (lambda x, d: x.argmax(d), lambda t, x, d: x.argmax(d)),
    "argmin": (lambda x, d: x.argmin(d), lambda t, x, d: x.argmin(d)),
    "norm": (lambda x, d: x.norm(dim=d), lambda t, x, d: x.norm(dim=d)),
    "softmax": (lambda x, d: F.softmax(x, d), lambda t, x, d: t.nn.functional.softmax(x, d)),
    "log_softmax": (lambda x, d: F.log_softmax(x, d), lambda t, x, d: t.nn.functional.log_softmax(x, d)),
    "Softmax": (lambda x, d: minicnn.nn.Softmax(d)(x), lambda t, x, d: t.nn.Softmax(d)(x)),
    "LogSoftmax": (lambda x, d: minicnn.nn.LogSoftmax(d)(x), lambda t, x, d: t.nn.LogSoftmax(d)(x)),
}


def run(make, *args):
    """``(make(*args), None)``, or ``(None, the exception)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch warns about degrees of freedom <= 0 for var / std
            return make(*args), None
    except Exception as error:  # noqa: BLE001 - compared below
        return None, error


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 / 0 in the backward of an empty mean (as NumPy says)
@pytest.mark.parametrize("name", list(OPS))
def test_over_empty_dimensions_as_pytorch(name):
    torch = require_torch()
    ours_op, theirs_op = OPS[name]
    for shape in SHAPES:
        for dim in dims_of(shape):
            if name in ("softmax", "log_softmax", "Softmax", "LogSoftmax") and dim is None:
                continue  # softmax needs a dim
            where = f"{name}(shape {shape}, dim={dim})"
            x = minicnn.zeros(*shape, requires_grad=True)
            tx = torch.zeros(*shape, requires_grad=True)
            theirs, their_error = run(theirs_op, torch, tx, dim)
            ours, our_error = run(ours_op, x, dim)
            if their_error is not None:
                assert our_error is not None, f"{where}: PyTorch raised {their_error!r}, minicnn returned {ours}"
                assert isinstance(our_error, (ValueError, RuntimeError, IndexError, TypeError)), where
                assert not isinstance(our_error, np.exceptions.AxisError), f"{where}: {our_error!r}"
                op = {"sum_keepdim": "sum", "Softmax": "softmax", "LogSoftmax": "log_softmax"}.get(name, name)
                assert op in str(our_error), f"{where}: {our_error} does not name {op}"
                continue
            assert our_error is None, f"{where}: PyTorch gave shape {tuple(theirs.shape)}, minicnn raised {our_error!r}"
            assert tuple(ours.shape) == tuple(theirs.shape), f"{where}: {ours.shape} vs {tuple(theirs.shape)}"
            assert ours.dtype.kind == np.dtype(str(theirs.dtype).split(".")[-1]).kind, where
            np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy(), err_msg=where)
            if theirs.dtype.is_floating_point:  # and the gradient: zeros of the input's (empty) shape
                ours.sum().backward()
                theirs.sum().backward()
                assert x.grad.shape == tuple(tx.grad.shape), where


def _losses_and_norms(L):
    """(name, make(L) -> output) over empty batches: losses reduce over them, batch norm normalises them."""
    F_ = L.nn.functional
    logits = L.zeros(0, 3, requires_grad=True)
    target = L.zeros(0, dtype=L.int64)
    pred = L.zeros(0, 4, requires_grad=True)
    return {
        "cross_entropy-mean": lambda: F_.cross_entropy(logits, target),
        "cross_entropy-sum": lambda: F_.cross_entropy(logits, target, reduction="sum"),
        "cross_entropy-none": lambda: F_.cross_entropy(logits, target, reduction="none"),
        "cross_entropy-smoothing": lambda: F_.cross_entropy(logits, target, label_smoothing=0.1),
        "nll_loss": lambda: F_.nll_loss(F_.log_softmax(logits, 1), target),
        "mse_loss": lambda: F_.mse_loss(pred, L.zeros(0, 4)),
        "l1_loss": lambda: F_.l1_loss(pred, L.zeros(0, 4)),
        "binary_cross_entropy_with_logits": lambda: F_.binary_cross_entropy_with_logits(pred, L.zeros(0, 4)),
        "BatchNorm1d-train": lambda: L.nn.BatchNorm1d(4)(pred),
        "BatchNorm2d-train": lambda: L.nn.BatchNorm2d(4)(L.zeros(0, 4, 2, 2, requires_grad=True)),
        "BatchNorm2d-eval": lambda: L.nn.BatchNorm2d(4).eval()(L.zeros(0, 4, 2, 2, requires_grad=True)),
        "BatchNorm2d-empty-image": lambda: L.nn.BatchNorm2d(4)(L.zeros(2, 4, 0, 3, requires_grad=True)),
        "batch_norm-eval": lambda: F_.batch_norm(L.zeros(0, 4), L.zeros(4), L.ones(4)),
    }


@pytest.mark.parametrize("name", list(_losses_and_norms(minicnn)))
def test_losses_and_batch_norm_over_empty_batches_as_pytorch(name):
    torch = require_torch()
    theirs, their_error = run(_losses_and_norms(torch)[name])
    ours, our_error = run(_losses_and_norms(minicnn)[name])
    if their_error is not None:
        assert our_error is not None, f"{name}: PyTorch raised {their_error!r}, minicnn returned {ours}"
        assert isinstance(our_error, (ValueError, RuntimeError, TypeError)), f"{name}: {our_error!r}"
        return
    assert our_error is None, f"{name}: PyTorch gave {theirs}, minicnn raised {our_error!r}"
    assert tuple(ours.shape) == tuple(theirs.shape), name
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy(), err_msg=name)
