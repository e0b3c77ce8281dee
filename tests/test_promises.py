"""Every library promise tested where it can break (issue 18, item 3).

- ``gradcheck`` catches a backward wrong at ONE element, of ANY input, in float64 and float32, and a
  backward that permutes its upstream gradient (which a fixed all-ones weighting would miss);
- ``load_state_dict`` changes nothing on any refused load: every tensor is compared before and after,
  for a wrong shape in one key among many (first, middle, last), missing / unexpected keys under strict,
  values that are not numbers, and mixtures;
- tied parameters (one module used twice, one Parameter in two modules) are counted once by
  ``parameters()``, ``named_parameters()``, optimizers, ``clip_grad_norm_`` and ``summary``, while
  ``state_dict()`` keeps every key, all as PyTorch does (checked against PyTorch);
- hooks removed by their handles never fire again;
- ``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` / ``inference_mode`` / ``textbook`` restore the
  outer mode when their block raises, at any nesting.
"""

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn.autograd import Function, GradcheckError, gradcheck
from minicnn.ops.fast import fast_kernels
from tests.helpers import assert_close, require_torch, to_numpy

# ---------------------------------------------------------------- gradcheck: one wrong element is enough


class ThreeInputs(Function):
    """y = a * b + sin-free smooth mix of three inputs: y = a * b + c ** 2 (all (2, 3))."""

    wrong = None  # (input index, flat element, relative error) planted into the backward

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b, c)
        return a * b + c * c

    @staticmethod
    def backward(ctx, grad):
        a, b, c = ctx.saved_tensors
        grads = [grad * b, grad * a, grad * 2 * c]
        if ThreeInputs.wrong is not None:
            which, element, error = ThreeInputs.wrong
            grads[which] = grads[which].copy()
            grads[which].reshape(-1)[element] *= 1 + error
        return tuple(grads)


def three_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    # values of order 1, away from 0, so a relative error is also an absolute one
    return tuple(minicnn.tensor(rng.uniform(0.5, 1.5, (2, 3)).astype(dtype), requires_grad=True) for _ in range(3))


@pytest.mark.parametrize("dtype, error", [(np.float64, 0.01), (np.float32, 0.05)], ids=["float64", "float32"])
@pytest.mark.parametrize("element", [0, 4, 5], ids=["first", "middle", "last"])
@pytest.mark.parametrize("which", [0, 1, 2], ids=["input0", "input1", "input2"])
def test_gradcheck_catches_one_wrong_element_of_any_input(which, element, dtype, error):
    inputs = three_inputs(dtype)
    ThreeInputs.wrong = None
    assert gradcheck(ThreeInputs.apply, inputs), "the correct backward passes"
    ThreeInputs.wrong = (which, element, error)
    try:
        expected_index = str(tuple(int(i) for i in np.unravel_index(element, (2, 3))))
        with pytest.raises(GradcheckError, match=rf"input {which} .* at index \({expected_index[1:-1]}\).*1 of 6"):
            gradcheck(ThreeInputs.apply, inputs)
        assert gradcheck(ThreeInputs.apply, inputs, raise_exception=False) is False
    finally:
        ThreeInputs.wrong = None


def test_gradcheck_catches_a_backward_that_permutes_the_upstream_gradient():
    """With every output weighted 1, reversing the upstream gradient would go unseen."""

    class Reversed(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.reshape(-1)[::-1].reshape(grad.shape) * 2

    x = minicnn.tensor(np.linspace(0.5, 1.5, 6), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(Reversed.apply, (x,))


def test_gradcheck_catches_a_missing_gradient_and_a_nan():
    class Forgetful(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 3 + b * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3, None  # forgot b

    class NaNBackward(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 3

        @staticmethod
        def backward(ctx, grad):
            out = grad * 3
            out.reshape(-1)[1] = np.nan
            return out

    a, b = (minicnn.tensor(np.ones(3), requires_grad=True) for _ in range(2))
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(Forgetful.apply, (a, b))
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(NaNBackward.apply, (a,))


def test_gradcheck_float32_passes_correct_ops_and_refuses_other_dtypes():
    rng = np.random.default_rng(1)
    x = minicnn.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32), requires_grad=True)
    w = minicnn.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, requires_grad=True)
    assert gradcheck(lambda a, b: minicnn.nn.functional.conv2d(a, b, padding=1).tanh(), (x, w))
    assert gradcheck(lambda a: minicnn.nn.functional.log_softmax(a.reshape(2, -1), dim=1), (x,))
    half = minicnn.tensor(np.ones(2, dtype=np.float16), requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (half,))


# ---------------------------------------------------------------- load_state_dict: all or nothing


def model_with_buffers():
    minicnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    model.train()
    model(minicnn.randn(2, 1, 4, 4))  # running statistics and num_batches_tracked away from their defaults
    return model


def snapshot(model):
    return {key: np.array(to_numpy(value), copy=True) for key, value in model.state_dict().items()}


def good_state(model):
    """A loadable state: every value different from the model's (so a partial copy would show)."""
    return {key: to_numpy(value) + 1 for key, value in model.state_dict().items()}


def refused_loads():
    model = model_with_buffers()
    keys = list(model.state_dict())
    loads = {}
    for position, key in (("first", keys[0]), ("middle", keys[len(keys) // 2]), ("last", keys[-1])):
        state = good_state(model)
        state[key] = np.zeros(np.asarray(state[key]).shape + (2,))
        loads[f"wrong_shape_{position}_key"] = (state, {})
        state = good_state(model)
        state[key] = np.array(["text"] * max(1, np.asarray(state[key]).size)).reshape(np.asarray(state[key]).shape)
        loads[f"text_in_{position}_key"] = (state, {})
    state = good_state(model)
    del state[keys[-1]]
    loads["missing_key_strict"] = (state, {})
    state = good_state(model)
    state["4.extra"] = np.zeros(3)
    loads["unexpected_key_strict"] = (state, {})
    state = good_state(model)
    del state[keys[0]]
    state[keys[-2]] = np.zeros((7,))
    loads["wrong_shape_with_strict_false"] = (state, {"strict": False})
    state = good_state(model)
    state[keys[-1]] = [[1.0, 2.0], [3.0]]  # ragged: not array-like
    loads["ragged_value"] = (state, {})
    loads["not_a_dict"] = ([("0.weight", np.zeros((2, 1, 3, 3)))], {})
    return loads


@pytest.mark.parametrize("case", sorted(refused_loads()))
def test_refused_load_changes_nothing(case):
    state, options = refused_loads()[case]
    model = model_with_buffers()
    before = snapshot(model)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        model.load_state_dict(state, **options)
    after = snapshot(model)
    assert list(after) == list(before)
    for key in before:
        assert before[key].dtype == after[key].dtype and np.array_equal(before[key], after[key]), f"{key} changed"


def test_refused_loads_are_refused_by_pytorch_too():
    """The cases above are loads PyTorch refuses as well (so minicnn is not stricter than PyTorch)."""
    torch = require_torch()
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 3)
    )
    for case, (state, options) in refused_loads().items():
        if case.startswith(("text_in", "ragged", "not_a_dict")):
            continue  # torch would need torch tensors here; its refusal of non-tensors is its own
        converted = {k: torch.tensor(np.asarray(v)) for k, v in state.items()}
        with pytest.raises(RuntimeError):
            twin.load_state_dict(converted, **options)


def test_accepted_load_with_strict_false_copies_what_it_can():
    model = model_with_buffers()
    state = good_state(model)
    del state["0.bias"]
    state["unknown"] = np.zeros(1)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.bias"] and unexpected == ["unknown"]
    for key, value in model.state_dict().items():
        if key != "0.bias":
            assert np.array_equal(to_numpy(value), np.asarray(state[key]).astype(to_numpy(value).dtype)), key


# ---------------------------------------------------------------- tied parameters


def tied_pair():
    """The same tied model in both libraries: one Linear used twice, and one Parameter shared by two Linears."""
    torch = require_torch()

    def build(lib):
        lib.manual_seed(0)
        shared = lib.nn.Linear(3, 3)
        first, second = lib.nn.Linear(3, 3, bias=False), lib.nn.Linear(3, 3)
        second.weight = first.weight  # one Parameter, two modules
        return lib.nn.Sequential(shared, lib.nn.Tanh(), shared, first, lib.nn.Tanh(), second)

    ours, theirs = build(minicnn), build(torch)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def test_tied_parameters_counted_once_as_in_pytorch():
    ours, theirs = tied_pair()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 4
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == [
        n for n, _ in theirs.named_parameters(remove_duplicate=False)
    ]
    assert list(ours.state_dict()) == list(theirs.state_dict()), "state_dict keeps every key, as PyTorch's"
    assert ours.state_dict()["2.weight"].array is ours.state_dict()["0.weight"].array or np.shares_memory(
        ours.state_dict()["2.weight"].array, ours.state_dict()["0.weight"].array
    )
    total = sum(p.numel() for p in theirs.parameters())
    stats = minicnn.summary(ours, (2, 3))
    assert stats.total_params == total == 3 * 3 + 3 + 3 * 3 + 3


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_tied_parameters_are_stepped_once_as_in_pytorch(optimizer):
    torch = require_torch()
    ours, theirs = tied_pair()
    options = {
        "SGD": dict(lr=0.1, momentum=0.9),
        "Adam": dict(lr=0.01),
        "AdamW": dict(lr=0.01),
        "RMSprop": dict(lr=0.01),
    }
    opt = getattr(minicnn.optim, optimizer)(ours.parameters(), **options[optimizer])
    topt = getattr(torch.optim, optimizer)(theirs.parameters(), **options[optimizer])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    for _ in range(3):
        opt.zero_grad(), topt.zero_grad()
        (ours(minicnn.tensor(x)) ** 2).sum().backward()
        (theirs(torch.tensor(x)) ** 2).sum().backward()
        for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert_close(p.grad, tp.grad, 1e-5, 1e-4, name=f"{name} gradient (both uses summed)")
        opt.step(), topt.step()
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, 1e-5, 1e-4, name=key)


def test_clip_grad_norm_counts_tied_parameters_once():
    torch = require_torch()
    ours, theirs = tied_pair()
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    (ours(minicnn.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    norm = minicnn.nn.utils.clip_grad_norm_(ours.parameters(), 0.5)
    their_norm = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
    assert abs(float(norm) - float(their_norm)) <= 1e-5 * float(their_norm)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, tp.grad, 1e-6, 1e-4, name=name)


def test_loading_a_tied_model_follows_pytorch():
    """Both keys of a tied weight are in the state dict; the later one is what stays, as in PyTorch."""
    torch = require_torch()
    ours, theirs = tied_pair()
    state = {k: v.detach().numpy() + i for i, (k, v) in enumerate(theirs.state_dict().items())}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, 0, 0, name=key)


# ---------------------------------------------------------------- hooks


@pytest.mark.parametrize("kind", ["forward", "forward_pre"])
def test_removed_hooks_never_fire(kind):
    layer = nn.Linear(2, 2)
    calls = []
    register = getattr(layer, f"register_{kind}_hook")
    kept = register(lambda *args: calls.append("kept"))
    removed = register(lambda *args: calls.append("removed"))
    removed.remove()
    removed.remove()  # twice is harmless
    layer(minicnn.ones(1, 2))
    assert calls == ["kept"]
    with register(lambda *args: calls.append("scoped")):
        layer(minicnn.ones(1, 2))
    layer(minicnn.ones(1, 2))
    assert calls == ["kept", "kept", "scoped", "kept"]

    def remove_itself(*args):  # a hook that removes itself while the forward runs fires exactly once
        calls.append("once")
        handle.remove()

    handle = register(remove_itself)
    kept.remove()
    for _ in range(3):
        layer(minicnn.ones(1, 2))
    assert calls == ["kept", "kept", "scoped", "kept", "once"]


def test_removing_a_hook_of_one_module_leaves_other_modules_alone():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    calls = []
    h1 = first.register_forward_hook(lambda *args: calls.append("first"))
    second.register_forward_hook(lambda *args: calls.append("second"))
    h1.remove()
    second(first(minicnn.ones(1, 2)))
    assert calls == ["second"]


# ---------------------------------------------------------------- grad modes restored on exceptions


class Boom(Exception):
    pass


SWITCHES = {
    "no_grad": (lambda: minicnn.no_grad(), False),
    "enable_grad": (lambda: minicnn.enable_grad(), True),
    "set_grad_enabled(False)": (lambda: minicnn.set_grad_enabled(False), False),
    "set_grad_enabled(True)": (lambda: minicnn.set_grad_enabled(True), True),
    "inference_mode": (lambda: minicnn.inference_mode(), False),
}


@pytest.mark.parametrize("outer", [None, *SWITCHES])
@pytest.mark.parametrize("inner", list(SWITCHES))
def test_grad_mode_restored_when_the_block_raises(outer, inner):
    assert minicnn.is_grad_enabled()
    make_inner, inner_mode = SWITCHES[inner]

    def body():
        before = minicnn.is_grad_enabled()
        with pytest.raises(Boom):
            with make_inner():
                assert minicnn.is_grad_enabled() == inner_mode
                raise Boom
        assert minicnn.is_grad_enabled() == before
        with make_inner():  # and on a normal exit
            assert minicnn.is_grad_enabled() == inner_mode
        assert minicnn.is_grad_enabled() == before
        return before

    if outer is None:
        assert body() is True
    else:
        make_outer, outer_mode = SWITCHES[outer]
        with pytest.raises(Boom):
            with make_outer():
                assert body() == outer_mode
                raise Boom
    assert minicnn.is_grad_enabled(), "the outermost mode (enabled) is back"


@pytest.mark.parametrize("switch", ["no_grad", "enable_grad", "set_grad_enabled(False)", "inference_mode"])
def test_grad_mode_decorators_restore_on_exceptions(switch):
    decorator = SWITCHES[switch][0]()

    @decorator
    def failing():
        assert minicnn.is_grad_enabled() == SWITCHES[switch][1]
        raise Boom

    for outer in (minicnn.enable_grad, minicnn.no_grad):
        with outer():
            before = minicnn.is_grad_enabled()
            with pytest.raises(Boom):
                failing()
            assert minicnn.is_grad_enabled() == before
    assert minicnn.is_grad_enabled()


def test_set_grad_enabled_as_a_call_and_as_a_context_follow_pytorch():
    torch = require_torch()
    for lib in (minicnn, torch):
        with lib.set_grad_enabled(False):
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled(), f"{lib.__name__}: the context restores"
        lib.set_grad_enabled(False)  # the plain call switches at once, and stays
        try:
            assert not lib.is_grad_enabled()
            with lib.enable_grad():
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        finally:
            lib.set_grad_enabled(True)
        assert lib.is_grad_enabled()


def test_textbook_restored_when_the_block_raises():
    start = fast_kernels()
    with pytest.raises(Boom):
        with minicnn.textbook():
            assert not fast_kernels()
            with pytest.raises(Boom):
                with minicnn.textbook(False):
                    assert fast_kernels()
                    raise Boom
            assert not fast_kernels()
            with minicnn.no_grad():
                raise Boom
    assert fast_kernels() == start and minicnn.is_grad_enabled()

    @minicnn.textbook()
    def failing():
        assert not fast_kernels()
        raise Boom

    with pytest.raises(Boom):
        failing()
    assert fast_kernels() == start


def test_no_graph_is_recorded_inside_and_one_is_after():
    x = minicnn.ones(2, requires_grad=True)
    with pytest.raises(Boom):
        with minicnn.no_grad():
            assert not (x * 2).requires_grad
            raise Boom
    y = (x * 2).sum()
    assert y.requires_grad
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
