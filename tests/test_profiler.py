"""minicnn.profiler.profile: call counts, op times that add up to the wall time, allocations, and the
patching undone on exit."""

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import autograd, models
from minicnn.profiler import profile


def patched_state():
    """What profile swaps: Function.apply and every subclass's own backward."""
    classes, stack = [], [autograd.Function]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    return {
        (cls, name): cls.__dict__[name] for cls in classes for name in ("apply", "backward") if name in cls.__dict__
    }


def test_call_counts_and_bytes():
    x = minicnn.randn(4, 5, requires_grad=True)
    w = minicnn.randn(5, 5, requires_grad=True)
    with profile() as prof:
        h = minicnn.relu(x @ w)
        h = minicnn.relu(h @ w)  # w used twice: two MatMul nodes
        loss = h.sum()
        loss.backward()
    stats = prof.stats
    assert (stats["MatMul"].forward_calls, stats["MatMul"].backward_calls) == (2, 2)
    assert (stats["ReLU"].forward_calls, stats["ReLU"].backward_calls) == (2, 2)
    assert (stats["Sum"].forward_calls, stats["Sum"].backward_calls) == (1, 1)
    assert set(stats) == {"MatMul", "ReLU", "Sum"}
    assert stats["MatMul"].forward_bytes == 2 * 4 * 5 * 4  # two (4, 5) float32 outputs
    assert stats["MatMul"].backward_bytes == 2 * (4 * 5 + 5 * 5) * 4  # dx and dw each time
    assert stats["Sum"].forward_bytes == 4
    text = str(prof)
    assert "MatMul" in text and "Wall time" in text and "Largest arrays" in text


def test_ops_without_grad_are_counted_but_have_no_backward():
    with profile() as prof:
        with minicnn.no_grad():
            minicnn.randn(3, 3).exp().sum()
    assert prof.stats["Exp"].forward_calls == 1 and prof.stats["Exp"].backward_calls == 0


def test_op_times_add_up_to_about_the_wall_time(fast_kernels_on):
    """A conv-heavy training step spends most of its time inside ops."""
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((16, 8, 32, 32)).astype(np.float32))
    conv = minicnn.nn.Conv2d(8, 16, 3, padding=1)
    target = minicnn.tensor(rng.integers(0, 16, 16))
    F.cross_entropy(conv(x).mean((2, 3)), target).backward()  # warm up (first calls allocate)
    with profile() as prof:
        for _ in range(2):
            loss = F.cross_entropy(conv(x).mean((2, 3)), target)
            loss.backward()
    assert prof.stats["FastConv2d"].forward_calls == 2 and prof.stats["FastConv2d"].backward_calls == 2
    assert 0.5 * prof.wall_time <= prof.op_time <= prof.wall_time
    assert prof.stats["FastConv2d"].total_time > 0.3 * prof.op_time  # the conv dominates
    assert prof.allocations[0].bytes == 16 * 16 * 32 * 32 * 4  # the conv output / its input gradient
    assert [a.bytes for a in prof.allocations] == sorted((a.bytes for a in prof.allocations), reverse=True)


def test_a_network_step_and_the_table():
    minicnn.manual_seed(0)
    model = models.SeedCNN()
    x, y = minicnn.randn(8, 1, 28, 28), minicnn.tensor(np.arange(8))
    with profile(top_allocations=3) as prof:
        F.cross_entropy(model(x), y).backward()
    names = set(prof.stats)
    # the default mode runs the fast kernels (FastConv2d, MaxPool2x2, FastBatchNorm: ops/fast/)
    kinds = {n.removeprefix("Fast") for n in names}
    kinds = {"MaxPool2d" if n.startswith("MaxPool") else n for n in kinds}
    assert kinds == {"Conv2d", "BatchNorm", "ReLU", "MaxPool2d", "Reshape", "Linear", "LogSoftmax", "NLLLoss"}
    assert all(s.forward_calls == 1 and s.backward_calls == 1 for s in prof.stats.values())
    assert len(prof.allocations) == 3
    rows = prof.table(sort_by="name").splitlines()[2 : 2 + len(names)]
    assert [row.split()[0] for row in rows] == sorted(names)
    by_total = prof.key_averages().table(sort_by="cpu_time_total", row_limit=2).splitlines()
    slowest = max(prof.stats.values(), key=lambda s: s.total_time).name
    assert by_total[2].split()[0] == slowest and by_total[4].startswith("-")
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="speed")
    assert "ops" in repr(prof)


def test_results_unchanged_and_patches_undone_even_on_error():
    before = patched_state()
    x = minicnn.randn(2, 3, 6, 6, requires_grad=True)
    w = minicnn.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).tanh().sum().backward()
    expected = x.grad.numpy().copy()
    x.grad = None
    with pytest.raises(ZeroDivisionError):
        with profile():
            F.conv2d(x, w).tanh().sum().backward()
            raise ZeroDivisionError("an error inside the block")
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert patched_state() == before
    with profile():
        with pytest.raises(RuntimeError, match="nest"):
            with profile():
                pass
    assert patched_state() == before
