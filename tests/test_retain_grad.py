"""Tensor.retain_grad() and .retains_grad, step by step against PyTorch: a non-leaf keeps its gradient only
when asked, leaves are unaffected, gradients add up over backward passes, the value after an item
assignment is the one whose gradient is kept."""

import gc

import numpy as np
import pytest

import minicnn
from tests.helpers import require_torch


def both(torch, values):
    """The same float64 leaf in minicnn and PyTorch."""
    return minicnn.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def test_retain_grad_matches_torch():
    torch = require_torch()
    values = np.array([0.5, -1.5, 2.0])
    (x, tx) = both(torch, values)
    assert x.retains_grad is tx.retains_grad is False  # a leaf: False, before and after retain_grad()
    x.retain_grad()
    tx.retain_grad()
    assert x.retains_grad is tx.retains_grad is False

    y, ty = x * 2, tx * 2
    z, tz = x * 3, tx * 3  # a non-leaf that does not ask
    assert y.retains_grad is ty.retains_grad is False
    y.retain_grad()
    ty.retain_grad()
    assert y.retains_grad is ty.retains_grad is True and not y.is_leaf

    for _ in range(2):  # two backward passes through one graph: the gradients add up
        ((y * y).sum() + z.sum()).backward(retain_graph=True)
        ((ty * ty).sum() + tz.sum()).backward(retain_graph=True)
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), 2 * 2 * (2 * values))  # 2 passes of d(y^2)/dy = 2y
    assert z.grad is None  # a non-leaf without retain_grad keeps nothing (torch also gives None)

    unused, tunused = x * 4, tx * 4  # asked, but not on the path of this backward: stays None
    unused.retain_grad()
    tunused.retain_grad()
    (x * 5).sum().backward()
    (tx * 5).sum().backward()
    assert unused.grad is None and tunused.grad is None


def test_retain_grad_of_the_root_of_a_multi_output_op_and_after_item_assignment():
    torch = require_torch()
    values = np.array([[1.0, 4.0], [3.0, 2.0]])
    x, tx = both(torch, values)
    out, tout = x.max(dim=1), tx.max(dim=1)  # a node with two outputs (values, indices)
    out.values.retain_grad()
    tout.values.retain_grad()
    loss, tloss = (out.values * 3).sum(), (tout.values * 3).sum()
    loss.retain_grad()  # the root itself
    tloss.retain_grad()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(out.values.grad.numpy(), tout.values.grad.numpy())
    assert loss.grad.item() == tloss.grad.item() == 1.0

    a, ta = x * 2, tx * 2
    a.retain_grad()
    ta.retain_grad()
    a[0, 0] = 7.0  # an assignment: the kept gradient is that of the value after it
    ta[0, 0] = 7.0
    (a * a).sum().backward()
    (ta * ta).sum().backward()
    assert a.retains_grad and ta.retains_grad
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.array([[7.0, 8.0], [6.0, 4.0]]))


def test_retain_grad_errors_and_no_reference_cycle():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        minicnn.tensor([1.0]).retain_grad()
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with minicnn.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        y.retain_grad()
    # the graph holds the kept tensor weakly: dropping it frees it, and backward then skips it
    kept = x * 3
    kept.retain_grad()
    loss = (kept * 2).sum()
    del kept
    gc.collect()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
