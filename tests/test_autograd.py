"""The autograd core: Function, the backward walk, graph freeing, no_grad, gradcheck."""

import numpy as np
import pytest

import minicnn
from minicnn.autograd import Function, GradcheckError, Variable, gradcheck


def test_gradient_accumulates_into_a_tensor_used_twice():
    x = minicnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x  # x feeds three places
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 1)


def test_grad_accumulates_across_backward_calls():
    x = minicnn.tensor([1.0, -2.0], requires_grad=True)
    (3 * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_shared_gradient_arrays_are_not_aliased_between_leaves():
    a = minicnn.tensor([1.0, 2.0], requires_grad=True)
    b = minicnn.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add's backward hands the same array to both
    with minicnn.no_grad():
        a.grad.mul_(10)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_a_thousand_op_chain_needs_no_recursion():
    x = minicnn.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**3000], rtol=1e-3)


def test_diamond_graph_topological_order():
    x = minicnn.tensor([2.0], dtype=minicnn.float64, requires_grad=True)
    a = x * 3
    b = a.exp()
    c = a * b  # a is used by b and c: its node must run after both
    c.backward()
    expected = 3 * np.exp(6.0) + 6 * 3 * np.exp(6.0)
    np.testing.assert_allclose(x.grad.numpy(), [expected])


def test_second_backward_raises_unless_graph_retained():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2 + 2, 4 + 4 + 4])


def test_graph_frees_saved_arrays_after_backward():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    node = y.grad_fn
    y.sum().backward()
    assert node.released and node.inputs == ()


def test_grad_kept_on_leaves_only():
    x = minicnn.tensor([1.0], requires_grad=True)
    h = x * 2
    (h * 3).backward()
    assert h.grad is None and x.grad is not None
    assert x.is_leaf and not h.is_leaf


def test_no_grad_context_and_decorator():
    x = minicnn.tensor([1.0], requires_grad=True)
    with minicnn.no_grad():
        y = x * 2
        assert not minicnn.is_grad_enabled()
        with minicnn.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert minicnn.is_grad_enabled()

    @minicnn.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert minicnn.is_grad_enabled()


def test_backward_needs_scalar_or_gradient():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="single-element"):
        (x * 2).backward()
    (x * 2).backward(minicnn.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(ValueError, match="gradient has shape"):
        (x * 2).backward(minicnn.tensor([1.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        minicnn.tensor([1.0]).sum().backward()


def test_custom_function_with_ctx():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x, scale=1.0):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * ctx.scale * 3 * x**2

    x = minicnn.tensor([1.0, 2.0], dtype=minicnn.float64, requires_grad=True)
    y = Cube.apply(x, scale=2.0)
    assert isinstance(y, minicnn.Tensor) and repr(y.grad_fn) == "<CubeBackward>"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])
    assert gradcheck(
        lambda t: Cube.apply(t, scale=2.0), (minicnn.tensor([0.3, -1.2], dtype=minicnn.float64, requires_grad=True),)
    )


def test_function_with_two_outputs_and_scalar_input():
    class SplitScale(Function):
        @staticmethod
        def forward(ctx, x, factor):
            ctx.factor = factor
            return x * factor, x + factor

        @staticmethod
        def backward(ctx, grad_a, grad_b):
            return grad_a * ctx.factor + grad_b, None

    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    a, b = SplitScale.apply(x, 3.0)
    a.sum().backward()  # b unused: its gradient is taken as zero
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_backward_returning_wrong_shape_is_named():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad[:1]

    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="BrokenBackward.*shape"):
        Broken.apply(x).sum().backward()


def test_gradcheck_rejects_a_backward_one_percent_off():
    class AlmostSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x * 1.01  # 1% wrong

    x = minicnn.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 .* analytic .* numerical"):
        gradcheck(AlmostSquare.apply, (x,))
    assert gradcheck(AlmostSquare.apply, (x,), raise_exception=False) is False
    assert gradcheck(lambda t: t * t, (x,))


def test_gradcheck_needs_float64_or_float32():
    x = minicnn.tensor(np.array([1.0, 2.0], dtype=np.float16), requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * t, (x,))
    assert gradcheck(lambda t: t * t, (x.detach().float().requires_grad_(),))  # float32: its own tolerances


def test_variable_returns_its_argument():
    x = minicnn.tensor([1.0])
    assert Variable(x) is x
    assert Variable(x, requires_grad=True).requires_grad


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        minicnn.tensor([1, 2], requires_grad=True)
    x = minicnn.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    assert y.detach().requires_grad is False


def test_inplace_on_leaf_requiring_grad_is_refused_outside_no_grad():
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        w += 1
    with minicnn.no_grad():
        w -= 0.5
    np.testing.assert_allclose(w.numpy() if not w.requires_grad else w.detach().numpy(), [0.5, 1.5])


def test_data_is_a_detached_view():
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    w.data -= 1.0  # the PyTorch idiom for a manual update
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 1.0])
    assert w.requires_grad and w.is_leaf


def test_leaf_gradients_never_share_memory_with_arrays_in_flight():
    a = minicnn.tensor([1.0, 2.0], requires_grad=True)
    c = minicnn.tensor([1.0, 1.0], requires_grad=True)
    (((a + c * 3) + a) * 2).sum().backward()
    assert c.grad.tolist() == [6.0, 6.0] and a.grad.tolist() == [4.0, 4.0]
    x = minicnn.ones(3, requires_grad=True)
    gradient = minicnn.tensor([1.0, 2.0, 3.0])
    (x + 0).backward(gradient)
    x.grad.zero_()
    assert gradient.tolist() == [1.0, 2.0, 3.0]  # the caller's gradient is untouched


def test_augmented_assignment_and_setitem_keep_the_graph():
    w = minicnn.nn.Parameter(minicnn.tensor([1.0, -2.0]))
    penalty = minicnn.tensor(0.0)
    penalty += (w * w).sum()  # a plain tensor plus a graph: becomes part of the graph
    ((w * 0.5).sum() + 0.1 * penalty).backward()
    np.testing.assert_allclose(w.grad.numpy(), [0.7, 0.1], rtol=1e-6)
    w.grad = None
    out = minicnn.zeros(2, 2)
    out[0] = w * 3
    out.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="other operand requires grad"):
        minicnn.zeros(2).add_(w)
    assert gradcheck(lambda v: _assign_row(v), (minicnn.tensor(np.ones(2), requires_grad=True),))


def _assign_row(value):
    out = minicnn.zeros(3, 2, dtype=minicnn.float64)
    out[1] = value * value
    return out * minicnn.tensor(np.arange(6.0).reshape(3, 2))


def test_set_grad_enabled_as_call_context_and_decorator():
    @minicnn.set_grad_enabled(False)
    def doubled_requires_grad(t):
        return (t * 2).requires_grad

    assert minicnn.is_grad_enabled()  # decorating changes nothing by itself
    assert doubled_requires_grad(minicnn.ones(2, requires_grad=True)) is False
    assert minicnn.is_grad_enabled()
    minicnn.set_grad_enabled(False)  # a plain call switches at once
    assert not minicnn.is_grad_enabled()
    minicnn.set_grad_enabled(True)
    early = minicnn.no_grad()
    with minicnn.no_grad():
        with early:
            pass
        assert not minicnn.is_grad_enabled()  # a context made earlier restores the mode at its entry
    assert minicnn.is_grad_enabled()


def test_gradcheck_on_a_non_contiguous_input():
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((3, 4))).T.detach().requires_grad_()
    assert gradcheck(lambda a: (a * a).sum(), (x,))


# ---------------------------------------------------------------- in-place changes of saved inputs


def _pair(values=(1.0, 2.0, 3.0)):
    """A constant x and a weight w that needs a gradient (float64)."""
    return minicnn.tensor(np.array(values)), minicnn.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)


def test_changing_a_saved_input_in_place_is_refused_by_backward_as_in_pytorch():
    from tests.helpers import require_torch

    torch = require_torch()
    x, w = _pair()
    loss = (x * w).sum()  # Mul keeps x: dL/dw = x
    x.add_(1)
    with pytest.raises(RuntimeError, match=r"MulBackward: input 0 of shape \(3,\) was changed in place"):
        loss.backward()
    tx, tw = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    torch_loss = (tx * tw).sum()
    tx.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch_loss.backward()


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.mul_(2),
        lambda t: t.zero_(),
        lambda t: t.fill_(3),
        lambda t: t.copy_(np.ones(3)),
        lambda t: t.clamp_(0, 1),
        lambda t: t.__setitem__(0, 7.0),
        lambda t: t.__iadd__(1),
    ],
    ids=["mul_", "zero_", "fill_", "copy_", "clamp_", "setitem", "+="],
)
def test_every_in_place_change_counts(change):
    x, w = _pair()
    loss = (x * w).sum()
    change(x)
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_a_change_through_another_view_of_the_same_memory_is_seen():
    base = minicnn.tensor(np.arange(6.0).reshape(2, 3))
    row = base[1]  # a view: Mul below saves it
    w = minicnn.tensor(np.ones(3), requires_grad=True)
    loss = (row * w).sum()
    base.mul_(2)  # changes the row's memory through the base tensor
    with pytest.raises(RuntimeError, match="MulBackward: input 0 of shape"):
        loss.backward()


def test_changing_an_input_that_was_not_saved_is_allowed_and_the_gradient_is_right():
    x, w = _pair()
    loss = (x + w).sum()  # Add keeps nothing
    x.add_(1)
    loss.backward()
    np.testing.assert_array_equal(w.grad.array, np.ones(3))
    y, v = _pair()
    kept = y.clone()  # a copy: changing y afterwards does not touch what Mul saved
    loss = (kept * v).sum()
    y.mul_(10)
    loss.backward()
    np.testing.assert_array_equal(v.grad.array, [1.0, 2.0, 3.0])


def test_batch_norm_refuses_an_input_changed_after_forward(fast_kernels_on):
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((4, 2, 3, 3)))
    weight, bias = minicnn.ones(2, dtype=minicnn.float64, requires_grad=True), minicnn.zeros(2, dtype=minicnn.float64)
    y = minicnn.nn.functional.batch_norm(x, None, None, weight, bias, training=True)
    x.mul_(2)
    with pytest.raises(RuntimeError, match="BatchNormBackward: input 0 of shape"):
        (y * y).sum().backward()


def test_an_optimizer_step_before_a_second_backward_is_refused():
    layer = minicnn.nn.Linear(3, 2)
    loss = layer(minicnn.ones(4, 3)).square().sum()
    loss.backward(retain_graph=True)
    minicnn.optim.SGD(layer.parameters(), lr=0.1).step()  # changes the weight the graph saved
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


# ---------------------------------------------------------------- grad mode is per thread, as in PyTorch


def run_together(*functions):
    """Run each function in a thread of its own, all at once; return when all are done."""
    import threading

    threads = [threading.Thread(target=function) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _grad_mode_seen_by_threads(lib):
    """Run the thread scenarios of PyTorch's per-thread grad mode with ``lib`` (minicnn or torch)."""
    import threading

    seen = {}
    inside, done = threading.Event(), threading.Event()

    def holds_no_grad():
        with lib.no_grad():
            inside.set()
            done.wait(5)

    def other_thread():
        inside.wait(5)
        seen["other thread while A is in no_grad"] = lib.is_grad_enabled()
        done.set()

    run_together(holds_no_grad, other_thread)
    seen["main thread after"] = lib.is_grad_enabled()
    with lib.no_grad():  # a thread started inside no_grad starts with gradients on
        run_together(lambda: seen.__setitem__("child started in no_grad", lib.is_grad_enabled()))
        seen["main thread inside"] = lib.is_grad_enabled()
    # two overlapping no_grad blocks in two threads, exited in the "wrong" order, leave nothing switched off
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def block_a():
        with lib.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def block_b():
        a_in.wait(5)
        with lib.no_grad():
            b_in.set()
            a_out.wait(5)
        seen["thread B after its block"] = lib.is_grad_enabled()

    run_together(block_a, block_b)
    seen["main thread at the end"] = lib.is_grad_enabled()
    return seen


def test_grad_mode_is_per_thread_as_in_pytorch():
    from tests.helpers import require_torch

    torch = require_torch()
    ours, theirs = _grad_mode_seen_by_threads(minicnn), _grad_mode_seen_by_threads(torch)
    assert ours == theirs
    assert ours["other thread while A is in no_grad"] and ours["child started in no_grad"]
    assert not ours["main thread inside"] and ours["main thread at the end"]


# ---------------------------------------------------------------- every saved value is version-checked


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.exp(),
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
        lambda t: t.softmax(1),
        lambda t: t.relu(),
        lambda t: t.sqrt(),
    ],
    ids=["exp", "sigmoid", "tanh", "softmax", "relu", "sqrt"],
)
@pytest.mark.parametrize("change", ["whole", "view"])
def test_changing_a_saved_output_in_place_is_refused_as_in_pytorch(op, change):
    from tests.helpers import require_torch

    torch = require_torch()
    values = np.abs(np.random.default_rng(0).standard_normal((2, 3))) + 0.5

    def run(lib, modify=True):
        x = lib.tensor(values, requires_grad=True)
        y = op(x)
        if modify:
            with lib.no_grad():
                (y if change == "whole" else y[0]).mul_(2)  # the op's result, or a view of it, changed in place
        try:
            (y * lib.tensor(values)).sum().backward()
        except RuntimeError as error:
            return error, None
        return None, x.grad

    torch_error, _ = run(torch)
    our_error, our_grad = run(minicnn)
    if our_error is not None:
        assert torch_error is not None
        assert "changed in place" in str(our_error) and "Backward" in str(our_error)
    else:  # minicnn's op kept no copy of its output (ReLU keeps a mask): the gradient must then be right
        _, true_grad = run(torch, modify=False)
        np.testing.assert_allclose(np.asarray(our_grad), true_grad.numpy(), rtol=1e-12)


def test_a_saved_output_changed_in_place_is_named_as_the_output():
    x = minicnn.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    with minicnn.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=r"ExpBackward: output 0 of shape \(2,\) was changed in place"):
        y.sum().backward()
