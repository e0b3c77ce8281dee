"""Lazy modules (nn/lazy.py) and their placeholders (nn/parameter.py), checked against PyTorch's."""

import copy

import numpy as np
import pytest
from helpers import DEVICES, assert_close, require_torch

import minicnn
from minicnn import nn
from minicnn.utils.interop import from_torch

# (lazy constructor, eager class, input shape, the same layer built eagerly with the size the input gives)
LAZY_CASES = {
    "conv": (lambda m: m.LazyConv2d(4, 3, padding=1), "Conv2d", (2, 3, 5, 5), lambda m: m.Conv2d(3, 4, 3, padding=1)),
    "conv_grouped": (
        lambda m: m.LazyConv2d(4, (3, 1), stride=2, groups=2, bias=False),
        "Conv2d",
        (2, 6, 5, 5),
        lambda m: m.Conv2d(6, 4, (3, 1), stride=2, groups=2, bias=False),
    ),
    "linear": (lambda m: m.LazyLinear(3), "Linear", (2, 5), lambda m: m.Linear(5, 3)),
    "bn1d": (lambda m: m.LazyBatchNorm1d(), "BatchNorm1d", (4, 3), lambda m: m.BatchNorm1d(3)),
    "bn2d": (
        lambda m: m.LazyBatchNorm2d(momentum=0.2),
        "BatchNorm2d",
        (2, 3, 4, 4),
        lambda m: m.BatchNorm2d(3, momentum=0.2),
    ),
}


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("case", sorted(LAZY_CASES))
def test_lazy_module_becomes_the_plain_class_with_the_eager_initialisation(case):
    make_lazy, class_name, shape, make_eager = LAZY_CASES[case]
    minicnn.manual_seed(7)
    lazy = make_lazy(nn)
    with minicnn.no_grad():  # the dry run may run without a graph, as PyTorch's
        lazy(minicnn.tensor(_input(shape)))
    minicnn.manual_seed(7)
    eager = make_eager(nn)
    with minicnn.no_grad():  # (batch norm updates its running statistics in both)
        eager(minicnn.tensor(_input(shape)))
    assert type(lazy) is getattr(nn, class_name) and isinstance(lazy, nn.Module)
    assert repr(lazy) == repr(eager)
    assert not hasattr(lazy, "_initialize_hook")
    assert [name for name, _ in lazy.named_parameters()] == [name for name, _ in eager.named_parameters()]
    for (name, ours), theirs in zip(lazy.state_dict().items(), eager.state_dict().values()):
        assert type(ours) is minicnn.Tensor
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)  # same draws, same order
    assert all(type(p) is nn.Parameter and p.requires_grad for p in lazy.parameters())


@pytest.mark.parametrize("case", sorted(LAZY_CASES))
def test_lazy_module_prints_shapes_and_computes_as_pytorch(case):
    torch = require_torch()
    make_lazy, _, shape, _ = LAZY_CASES[case]
    ours, theirs = make_lazy(nn), make_lazy(torch.nn)
    assert repr(ours) == repr(theirs)  # LazyConv2d(0, 4, ...), LazyLinear(in_features=0, ...)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = _input(shape)
    theirs_out = theirs(torch.tensor(x))
    ours(minicnn.tensor(x))  # dry run, then the weights of PyTorch's layer
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    ours.load_state_dict(from_torch(theirs))
    # a second batch, compared after the buffers were copied
    x2 = _input(shape, seed=1)
    assert_close(ours(minicnn.tensor(x2)), theirs(torch.tensor(x2)), name="forward")
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, name=key)
    assert theirs_out.shape == tuple(ours(minicnn.tensor(x)).shape)


def _uninitialized_uses(m, nn_module):
    """What a user might do to a lazy Linear before its dry run, written once for both libraries."""
    return {
        "shape": lambda: m.weight.shape,
        "numel": lambda: m.weight.numel(),
        "add": lambda: m.weight + 1,
        "sum": lambda: m.weight.sum(),
        "detach": lambda: m.weight.detach(),
        "item": lambda: m.weight.item(),
        "tolist": lambda: m.weight.tolist(),
        "count_params": lambda: sum(p.numel() for p in m.parameters()),
        "init.normal_": lambda: nn_module.init.normal_(m.weight),
        "init.xavier_uniform_": lambda: nn_module.init.xavier_uniform_(m.weight),
        "requires_grad_": lambda: m.weight.requires_grad_(False),
    }


def test_uninitialized_parameters_raise_what_pytorch_raises():
    torch = require_torch()
    ours, theirs = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    our_uses, their_uses = _uninitialized_uses(ours, nn), _uninitialized_uses(theirs, torch.nn)
    for name in their_uses:
        with pytest.raises(Exception) as their_error:
            their_uses[name]()
        with pytest.raises(Exception) as our_error:
            our_uses[name]()
        assert our_error.type is their_error.type, name
    assert "uninitialized" in str(our_error.value)
    # what does work before the dry run, in both
    for module in (ours, theirs):
        assert repr(module.weight) == "<UninitializedParameter>" and module.weight.requires_grad
        assert module.weight.grad is None and module.weight.is_leaf and module.weight.ndim == 1
        assert module.weight.data.numel() == 0 and tuple(module.weight.size()) == (0,)
        assert str(module.weight.dtype).endswith("float32")
    assert all(type(v).__name__ == "UninitializedParameter" for v in ours.state_dict().values())
    assert ours.state_dict()["weight"] is ours.weight  # the placeholder itself, as PyTorch's


def test_loading_an_uninitialized_state_dict_into_an_initialized_module_raises_as_pytorch():
    torch = require_torch()
    with pytest.raises(RuntimeError, match="uninitialized"):
        torch.nn.Linear(2, 3).load_state_dict(torch.nn.LazyLinear(3).state_dict())
    with pytest.raises(RuntimeError, match="uninitialized"):
        nn.Linear(2, 3).load_state_dict(nn.LazyLinear(3).state_dict())
    # placeholder onto placeholder: nothing to do, nothing raised (both)
    torch.nn.LazyLinear(3).load_state_dict(torch.nn.LazyLinear(3).state_dict())
    lazy = nn.LazyLinear(3)
    lazy.load_state_dict(nn.LazyLinear(3).state_dict())
    assert lazy.has_uninitialized_params()


def test_lazy_module_loads_an_initialized_state_dict_and_keeps_it_through_the_dry_run():
    torch = require_torch()
    source = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    x = _input((1, 2, 5, 5))
    expected = source(torch.tensor(x))
    ours = nn.Sequential(nn.LazyConv2d(4, 3), nn.Flatten(), nn.LazyLinear(2))
    ours.load_state_dict(from_torch(source))
    assert type(ours[0]) is nn.LazyConv2d and not ours[0].has_uninitialized_params()  # still lazy, as PyTorch
    assert ours[0].weight.shape == (4, 2, 3, 3)
    minicnn.manual_seed(0)
    assert_close(ours(minicnn.tensor(x)), expected, name="loaded weights survive the dry run")
    assert repr(ours) == repr(source)  # Conv2d(2, 4, ...) and Linear(in_features=36, ...)


def test_optimizer_made_before_the_dry_run_trains_the_materialized_parameters():
    torch = require_torch()
    ours = nn.Sequential(nn.LazyConv2d(3, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    theirs = torch.nn.Sequential(
        torch.nn.LazyConv2d(3, 3),
        torch.nn.LazyBatchNorm2d(),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(2),
    )
    our_opt = minicnn.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    our_opt.step()  # no gradients yet: nothing happens (both)
    their_opt.step()
    x, target = _input((2, 2, 6, 6)), np.array([0, 1])
    theirs(torch.tensor(x))
    with minicnn.no_grad():
        ours(minicnn.tensor(x))
    ours.load_state_dict(from_torch(theirs))
    for _ in range(2):
        for model, opt, lib in ((ours, our_opt, minicnn), (theirs, their_opt, torch)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(target))
            loss.backward()
            opt.step()
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, atol=1e-4, name=key)


@pytest.mark.parametrize("device", DEVICES)
def test_dtype_and_device_set_before_the_dry_run_are_kept(device):
    lazy = nn.Sequential(nn.LazyConv2d(2, 3), nn.LazyBatchNorm2d()).double()
    assert lazy[0].weight.dtype == minicnn.float64 and lazy[1].running_mean.dtype == minicnn.float64
    lazy.to(device)
    assert lazy[0].weight.device.type == device
    lazy(minicnn.randn(1, 1, 4, 4, dtype=minicnn.float64, device=device))
    assert all(p.dtype == minicnn.float64 and p.device.type == device for p in lazy.parameters())
    assert lazy[1].running_var.dtype == minicnn.float64 and lazy[1].running_var.device.type == device
    placed = nn.LazyLinear(3, device=device)  # the device= keyword, as PyTorch's
    assert placed(minicnn.randn(2, 4, device=device)).device.type == device


def test_apply_init_after_the_dry_run_sees_the_plain_classes():
    def init_cnn(module):  # the book's init_cnn: type(), not isinstance
        if type(module) is nn.Linear or type(module) is nn.Conv2d:
            nn.init.xavier_uniform_(module.weight)
            seen.append(type(module).__name__)

    net = nn.Sequential(nn.LazyConv2d(2, 3), nn.Flatten(), nn.LazyLinear(2))
    seen = []
    net.apply(init_cnn)  # before the dry run the layers are lazy: nothing to initialise
    assert seen == [] and isinstance(net[0], nn.Conv2d)
    net(minicnn.randn(1, 1, 5, 5))
    net.apply(init_cnn)
    assert seen == ["Conv2d", "Linear"]
    bound = np.sqrt(6 / (1 * 9 + 2 * 9))
    assert np.abs(net[0].weight.detach().numpy()).max() <= bound


def test_summary_runs_the_dry_run_of_a_lazy_network():
    lazy = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    stats = minicnn.summary(lazy, (1, 8, 8))
    eager = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    assert (
        stats.total_params
        == sum(p.numel() for p in eager.parameters())
        == minicnn.summary(eager, (1, 8, 8)).total_params
    )
    assert [row.type_name for row in stats.rows] == ["Sequential", "Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"]
    assert lazy.training and type(lazy[0]) is nn.Conv2d


def test_lazy_modules_copy_and_report_bad_input():
    lazy = nn.LazyConv2d(4, 3, groups=2)
    twin = copy.deepcopy(lazy)
    assert twin.has_uninitialized_params() and twin.weight is not lazy.weight
    with pytest.raises(ValueError, match=r"in_channels \(3.*divisible by groups \(2\)"):
        lazy(minicnn.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        twin(minicnn.randn(5, 5))
    with pytest.raises(ValueError, match="out_channels"):
        nn.LazyConv2d(5, 3, groups=2)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.LazyBatchNorm2d()(minicnn.randn(2, 3))
    assert twin(minicnn.randn(1, 4, 5, 5)).shape == (1, 4, 3, 3)
