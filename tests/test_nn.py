"""nn.Module, the containers, every layer (PyTorch parity, repr, errors) and nn.init."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn.utils import from_torch, to_torch_state_dict
from tests.helpers import assert_close, require_torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.block = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(4 * 4 * 4, 3)
        self.register_buffer("scale", minicnn.ones(1))

    def forward(self, x):
        return self.fc(self.block(self.bn(self.conv(x))).flatten(1)) * self.scale


def test_registration_order_and_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "conv.weight",
        "conv.bias",
        "bn.weight",
        "bn.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == [
        "scale",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_children()] == ["conv", "bn", "block", "fc"]
    assert [n for n, _ in net.named_modules()] == ["", "conv", "bn", "block", "block.0", "block.1", "fc"]
    assert (
        list(net.state_dict())
        == [
            "conv.weight",
            "conv.bias",
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
            "fc.weight",
            "fc.bias",
            "scale",
        ]
        or "scale" in net.state_dict()
    )
    assert len(list(net.parameters())) == 6 and len(list(net.modules())) == 7


def test_state_dict_keys_match_pytorch_for_the_same_structure():
    torch = require_torch()

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(4)
            self.block = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(2))
            self.fc = torch.nn.Linear(4 * 4 * 4, 3)
            self.register_buffer("scale", torch.ones(1))

    assert list(Net().state_dict()) == list(TorchNet().state_dict())
    assert str(Net()) == str(TorchNet()).replace("TorchNet", "Net")


def test_load_state_dict_accepts_torch_numpy_and_tensors_and_round_trips():
    torch = require_torch()
    source = Net()
    target = Net()
    target.load_state_dict(source.state_dict())
    for (key, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert_close(a, b, name=key)
    as_numpy = {k: v.numpy() for k, v in source.state_dict().items()}
    target.load_state_dict(as_numpy)
    as_torch = to_torch_state_dict(source)
    assert isinstance(as_torch["fc.weight"], torch.Tensor)
    target.load_state_dict(as_torch)
    assert_close(target.fc.weight, source.fc.weight)
    back = from_torch(as_torch)
    assert isinstance(back["fc.weight"], np.ndarray)


def test_load_state_dict_checks_everything_before_changing_anything():
    net = Net()
    before = net.fc.weight.numpy().copy() if not net.fc.weight.requires_grad else net.fc.weight.detach().numpy().copy()
    state = {k: v.numpy() for k, v in Net().state_dict().items()}
    state["fc.weight"] = np.zeros((2, 2), dtype=np.float32)
    del state["conv.bias"]
    state["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert 'Missing key(s) in state_dict: "conv.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message
    assert "size mismatch for fc.weight: copying a param with shape (2, 2)" in message
    np.testing.assert_array_equal(net.fc.weight.detach().numpy(), before)
    state.pop("fc.weight")
    result = Net().load_state_dict(state, strict=False)
    assert result.missing_keys == ["conv.bias", "fc.weight"] and result.unexpected_keys == ["extra.weight"]


def test_initialising_a_large_layer_needs_no_full_size_temporary_and_draws_the_same_numbers():
    import tracemalloc

    from minicnn import backend

    minicnn.manual_seed(0)
    tracemalloc.start()  # NumPy reports its array memory to tracemalloc
    layer = nn.Linear(4096, 4096, bias=False)  # 64 MB of float32 weights, drawn 16 MB at a time
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    weight_bytes = 4096 * 4096 * 4
    assert peak < 1.6 * weight_bytes, f"construction peaked at {peak / weight_bytes:.2f} x the weight's size"
    minicnn.manual_seed(0)  # the same numbers as one draw of the whole shape, scaled as kaiming_uniform does
    bound = 1 / math.sqrt(4096)
    expected = backend.random_uniform(np, (4096, 4096), np.float32)
    expected *= 2 * bound
    expected += -bound
    np.testing.assert_array_equal(layer.weight.detach().numpy(), expected)


def test_replacing_a_module_keeps_its_place_as_in_pytorch():
    torch = require_torch()
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 4))
    ours[0], theirs[0] = nn.Linear(2, 5), torch.nn.Linear(2, 5)
    ours.add_module("1", nn.Tanh())
    theirs.add_module("1", torch.nn.Tanh())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert str(ours) == str(theirs)


def test_batchnorm_without_num_batches_tracked_follows_pytorchs_rule():
    """A state dict that records no version (a plain dict, a safetensors file) or BatchNorm version < 2 may lack
    num_batches_tracked: the layer keeps its own count. One recording version 2 must have it (strict)."""
    torch = require_torch()

    def pair(track=True):
        ours = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, track_running_stats=track))
        theirs = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3, track_running_stats=track))
        if track:  # a count of its own, to see that it is kept
            ours[1].num_batches_tracked.array[...] = 5
            theirs[1].num_batches_tracked.fill_(5)
        return ours, theirs

    def outcome(model, state, strict=True):
        try:
            result = model.load_state_dict(state, strict=strict)
        except RuntimeError as error:
            return "missing" if 'Missing key(s) in state_dict: "1.num_batches_tracked"' in str(error) else str(error)
        count = model[1].num_batches_tracked
        return (list(result.missing_keys), None if count is None else int(count.item()))

    source = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    source[1].num_batches_tracked.array[...] = 9
    plain = {k: v.numpy() for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    cases = {
        "plain dict": (lambda: dict(plain), lambda: {k: torch.tensor(v) for k, v in plain.items()}),
        "version 2": (None, None),  # each library's own state_dict(), key deleted: its _metadata says version 2
        "version 1": (None, None),
        "no entry for the layer": (None, None),
    }
    for case in cases:
        for strict in (True, False):
            ours, theirs = pair()
            if case == "plain dict":
                our_state, their_state = cases[case][0](), cases[case][1]()
            else:
                our_state, their_state = ours.state_dict(), theirs.state_dict()
                for state in (our_state, their_state):
                    del state["1.num_batches_tracked"]
                    if case == "version 1":
                        state._metadata["1"] = {"version": 1}
                    if case == "no entry for the layer":
                        del state._metadata["1"]
            expected = outcome(theirs, their_state, strict)
            assert outcome(ours, our_state, strict) == expected, (case, strict)
            # PyTorch's own state dict (with its _metadata) loads into minicnn by the same rule
            assert outcome(pair()[0], their_state, strict) == expected, (case, strict)
    assert outcome(pair()[0], dict(plain)) == ([], 5)  # the count kept is the layer's own
    assert outcome(pair()[0], torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3)).state_dict()) == (
        [],
        0,
    )  # present: loaded
    ours, theirs = pair(track=False)  # no buffer at all: nothing to fill in
    their_plain = {k: torch.tensor(v) for k, v in plain.items()}
    assert outcome(ours, dict(plain), strict=False) == outcome(theirs, their_plain, strict=False) == ([], None)
    assert list(source.state_dict()._metadata) == ["", "0", "1"]
    assert source.state_dict()._metadata["1"] == {"version": 2} == theirs.state_dict()._metadata["1"]


def test_hooks_train_eval_apply_zero_grad_requires_grad():
    net = Net()
    seen = []
    handle = net.fc.register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    net(minicnn.randn(2, 1, 8, 8))
    handle.remove()
    net(minicnn.randn(2, 1, 8, 8))
    assert seen == [(2, 3)]
    net.eval()
    assert not net.training and not net.bn.training and not net.block[0].training
    net.train()
    assert net.bn.training
    names = []
    net.apply(lambda m: names.append(type(m).__name__))
    assert names[-1] == "Net" and "Conv2d" in names
    net(minicnn.randn(2, 1, 8, 8)).sum().backward()
    assert net.conv.weight.grad is not None
    net.zero_grad()
    assert net.conv.weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_keeps_parameter_identity():
    net = Net()
    weight = net.fc.weight
    net.double()
    assert net.fc.weight is weight and weight.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64  # integer buffers stay integers
    assert net(minicnn.randn(2, 1, 8, 8, dtype=minicnn.float64)).dtype == np.float64
    net.float()
    assert weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(minicnn.int64)


def test_sequential_modulelist_moduledict():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert len(seq[1:]) == 2 and [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    seq.append(nn.Sigmoid())
    seq.add_module("extra", nn.Identity())
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq(minicnn.randn(4, 2)).shape == (4, 1)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 5))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    table = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(table.keys()) == ["a", "b"] and "a" in table and len(list(table.parameters())) == 2
    with pytest.raises(IndexError, match="out of range"):
        seq[10]


def test_container_reprs_match_pytorch():
    torch = require_torch()
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2)])
    assert str(ours) == str(theirs)
    assert str(nn.ModuleDict({"a": nn.ReLU()})) == str(torch.nn.ModuleDict({"a": torch.nn.ReLU()}))


LAYERS = [
    ("Conv2d", (3, 8, 5), {}, (2, 3, 12, 12)),
    ("Conv2d", (4, 6, 3), dict(stride=2, padding=1, dilation=1, groups=2, bias=False), (2, 4, 9, 9)),
    ("Conv2d", (2, 4, (3, 1)), dict(padding="same", dilation=2), (2, 2, 7, 7)),
    ("Conv2d", (2, 4, 1), dict(padding="valid"), (2, 2, 5, 5)),
    ("Linear", (6, 4), {}, (3, 6)),
    ("Linear", (6, 4), dict(bias=False), (2, 5, 6)),
    ("BatchNorm1d", (4,), {}, (5, 4)),
    ("BatchNorm1d", (4,), dict(affine=False, momentum=0.3), (5, 4, 3)),
    ("BatchNorm2d", (3,), dict(eps=1e-3, momentum=None), (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 5, 5)),
    ("ReLU", (), dict(inplace=True), (3, 4)),
    ("LeakyReLU", (0.2,), {}, (3, 4)),
    ("Sigmoid", (), {}, (3, 4)),
    ("Tanh", (), {}, (3, 4)),
    ("Softmax", (), dict(dim=1), (3, 4)),
    ("LogSoftmax", (), dict(dim=1), (3, 4)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 8, 8)),
    ("AvgPool2d", (3,), dict(stride=1, padding=1), (2, 3, 6, 6)),
    ("AvgPool2d", (2,), dict(count_include_pad=False, ceil_mode=True), (2, 3, 7, 7)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 6, 6)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 7, 7)),
    ("AdaptiveMaxPool2d", ((1, 1),), {}, (2, 3, 6, 6)),
    ("Dropout", (0.3,), {}, (3, 4)),
    ("Dropout2d", (0.3,), {}, (2, 3, 4, 4)),
    ("Dropout2d", (), dict(p=0.5, inplace=True), (2, 3, 4, 4)),
    ("Flatten", (), {}, (2, 3, 4, 5)),
    ("Flatten", (0, 2), {}, (2, 3, 4, 5)),
    ("Identity", (), {}, (2, 3)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS, ids=[f"{x[0]}-{i}" for i, x in enumerate(LAYERS)])
def test_layer_matches_torch(name, args, kwargs, shape):
    torch = require_torch()
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert str(ours) == str(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(from_torch(theirs))
    if name.startswith("Dropout"):  # random masks differ between libraries: compare in eval mode
        ours.eval()
        theirs.eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x_ours, x_theirs = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = ours(x_ours * 1.0), theirs(x_theirs * 1.0)  # non-leaf: torch's inplace ReLU works
    assert_close(out_ours, out_theirs, atol=1e-5, rtol=1e-4, name="forward")
    upstream = np.random.default_rng(1).standard_normal(out_theirs.shape).astype(np.float32)
    out_ours.backward(minicnn.tensor(upstream))
    out_theirs.backward(torch.tensor(upstream))
    assert_close(x_ours.grad, x_theirs.grad, atol=1e-5, rtol=1e-4, name="input gradient")
    their_params = dict(theirs.named_parameters())
    for key, param in ours.named_parameters():
        assert_close(param.grad, their_params[key].grad, atol=1e-4, rtol=1e-4, name=key)
    their_buffers = dict(theirs.named_buffers())
    for key, buffer in ours.named_buffers():
        assert_close(buffer, their_buffers[key], atol=1e-6, rtol=1e-5, name=key)


@pytest.mark.parametrize(
    "name, args",
    [
        ("CrossEntropyLoss", dict(label_smoothing=0.1)),
        ("NLLLoss", {}),
        ("CrossEntropyLoss", dict(reduction="sum", ignore_index=1)),
    ],
)
def test_loss_layers_match_torch(name, args):
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 1, 0])
    ours = getattr(nn, name)(**args)(minicnn.tensor(x), minicnn.tensor(y))
    theirs = getattr(torch.nn, name)(**args)(torch.tensor(x), torch.tensor(y))
    assert str(getattr(nn, name)(**args)) == str(getattr(torch.nn, name)(**args))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    mse = nn.MSELoss()(minicnn.tensor(x), minicnn.tensor(x * 2)).item()
    assert mse == pytest.approx(torch.nn.MSELoss()(torch.tensor(x), torch.tensor(x * 2)).item(), rel=1e-5)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("L1Loss", {}),
        ("L1Loss", dict(reduction="sum")),
        ("BCELoss", {}),
        ("BCELoss", dict(reduction="none")),
        ("BCEWithLogitsLoss", {}),
        ("BCEWithLogitsLoss", dict(reduction="sum")),
    ],
)
def test_pointwise_loss_layers_match_torch(name, kwargs):
    torch = require_torch()
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    x = 1 / (1 + np.exp(-logits)) if name == "BCELoss" else logits  # BCELoss takes probabilities
    y = rng.integers(0, 2, (5, 3)).astype(np.float32)
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert str(ours) == str(theirs)
    x_ours, x_theirs = minicnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = ours(x_ours, minicnn.tensor(y)), theirs(x_theirs, torch.tensor(y))
    assert_close(out_ours, out_theirs, atol=1e-6, rtol=1e-5, name="loss")
    out_ours.sum().backward()
    out_theirs.sum().backward()
    assert_close(x_ours.grad, x_theirs.grad, atol=1e-6, rtol=1e-5, name="gradient")


def test_bce_with_logits_layer_weights_are_buffers_like_pytorch():
    torch = require_torch()
    weight, pos_weight = np.array([1.0, 2.0, 0.5], np.float32), np.array([3.0, 1.0, 0.2], np.float32)
    ours = nn.BCEWithLogitsLoss(weight=minicnn.tensor(weight), pos_weight=minicnn.tensor(pos_weight))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(weight), pos_weight=torch.tensor(pos_weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    y = (x > 0).astype(np.float32)
    expected = theirs(torch.tensor(x), torch.tensor(y)).item()
    assert ours(minicnn.tensor(x), minicnn.tensor(y)).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = require_torch()
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(shape).astype(np.float32) * 3 for shape in [(4, 3), (5,), (2, 2, 3)]]
    results = []
    for library in (minicnn, torch):
        params = [library.zeros(*g.shape, requires_grad=True) for g in grads]
        for param, grad in zip(params, grads):
            (param * library.tensor(grad)).sum().backward()
        params.append(library.zeros(2, requires_grad=True))  # no gradient: skipped
        total = library.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        results.append((float(total), [p.grad for p in params[:-1]]))
    (our_total, our_grads), (their_total, their_grads) = results
    assert our_total == pytest.approx(their_total, rel=1e-5)
    for ours, theirs in zip(our_grads, their_grads):
        assert_close(ours, theirs, atol=1e-6, rtol=1e-5, name="clipped gradient")
    clipped_total = float(minicnn.nn.utils.clip_grad_norm_([minicnn.tensor(0.0)], 1.0))
    assert clipped_total == 0.0  # nothing has a gradient


def test_clip_grad_value_and_errors():
    torch = require_torch()
    grad = np.array([-3.0, -0.5, 0.2, 4.0], np.float32)
    ours, theirs = minicnn.zeros(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    (ours * minicnn.tensor(grad)).sum().backward()
    (theirs * torch.tensor(grad)).sum().backward()
    minicnn.nn.utils.clip_grad_value_(ours, 1.0)
    torch.nn.utils.clip_grad_value_(theirs, 1.0)
    assert_close(ours.grad, theirs.grad)
    bad = minicnn.zeros(2, requires_grad=True)
    bad.grad = minicnn.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        minicnn.nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
    with pytest.raises(TypeError, match="clip_grad_value_: expected Tensors"):
        minicnn.nn.utils.clip_grad_value_([np.zeros(2)], 1.0)


def test_default_initialisation_bounds_follow_pytorch():
    minicnn.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    weight = conv.weight.detach().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.1 * bound  # uniform's std is bound / sqrt(3)
    linear = nn.Linear(100, 10)
    assert np.abs(linear.weight.detach().numpy()).max() <= 0.1


def test_init_functions():
    torch = require_torch()
    w = minicnn.empty(200, 300)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 500)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 200)) < 0.01
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 500)) < 0.01
    nn.init.kaiming_uniform_(w, a=0)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 300)
    nn.init.constant_(w, 0.5)
    assert (w.numpy() == 0.5).all()
    nn.init.zeros_(w)
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    nn.init.normal_(w, 1.0, 0.1)
    assert abs(w.numpy().mean() - 1.0) < 0.01
    nn.init.uniform_(w, -2, -1)
    assert w.numpy().max() < -1 and w.numpy().min() >= -2
    for name, param in [("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("sigmoid", None), ("conv2d", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(minicnn.empty(3))


@pytest.mark.parametrize(
    "make, x_shape, error, message",
    [
        (lambda: nn.Conv2d(3, 8, 3), (2, 1, 8, 8), ValueError, r"Conv2d\(3, 8.*expected input with 3 channels"),
        (lambda: nn.Conv2d(3, 8, 3), (2, 3), ValueError, "expected 3D or 4D input"),
        (lambda: nn.Linear(4, 2), (2, 5), ValueError, r"Linear\(in_features=4.*last dimension 4"),
        (lambda: nn.BatchNorm2d(4), (2, 3, 5, 5), ValueError, r"BatchNorm2d\(4.*4 channels"),
        (lambda: nn.BatchNorm2d(4), (2, 4), ValueError, "expected 4D input"),
        (lambda: nn.BatchNorm1d(4), (2, 4, 3, 3), ValueError, "expected 2D or 3D input"),
        (lambda: nn.MaxPool2d(2), (4, 4), ValueError, "MaxPool2d"),
    ],
)
def test_layer_input_errors_name_the_layer(make, x_shape, error, message):
    with pytest.raises(error, match=message):
        make()(minicnn.zeros(*x_shape))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.Conv2d(3, 8, 3, groups=2), "divisible by groups"),
        (lambda: nn.Conv2d(3, 8, 3, padding="full"), "padding must be"),
        (lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), "strided"),
        (lambda: nn.Conv2d(3, 8, 0), "positive"),
        (lambda: nn.Conv2d(3, 8, 3, padding=-1), "non-negative"),
        (lambda: nn.Conv2d(3, 8, 3, padding_mode="reflect"), "zeros"),
        (lambda: nn.Dropout(1.5), "between 0 and 1"),
        (lambda: nn.Dropout2d(-0.1), "between 0 and 1"),
        (lambda: nn.BCELoss(reduction="avg"), "BCELoss: reduction"),
        (lambda: nn.L1Loss(reduction="avg"), "L1Loss: reduction"),
        (lambda: nn.CrossEntropyLoss(reduction="avg"), "reduction"),
    ],
)
def test_layer_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_pytorch_style_training_loop_gives_the_same_loss_curve():
    """DataLoader over a TensorDataset, zero_grad/backward/step, torch.max(outputs.data, 1), .item(), .size(0)."""
    torch = require_torch()
    from tests.torch_twins import LeNet as TorchLeNet

    torch.manual_seed(0)
    twin = TorchLeNet()
    ours = minicnn.models.LeNet()
    ours.load_state_dict(from_torch(twin))
    rng = np.random.default_rng(0)
    images = rng.standard_normal((48, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 48)

    def run(library, model):
        data = library.utils.data
        loader = data.DataLoader(data.TensorDataset(library.tensor(images), library.tensor(labels)), batch_size=16)
        criterion = library.nn.CrossEntropyLoss()
        optimizer = library.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        losses, correct, total = [], 0, 0
        for _epoch in range(2):
            model.train()
            for inputs, targets in loader:
                optimizer.zero_grad()
                outputs = model(inputs)
                loss = criterion(outputs, targets)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        model.eval()
        with library.no_grad():
            for inputs, targets in loader:
                outputs = model(inputs)
                _, predicted = library.max(outputs.data, 1)
                total += targets.size(0)
                correct += (predicted == targets).sum().item()
        return losses, correct / total

    our_losses, our_accuracy = run(minicnn, ours)
    their_losses, their_accuracy = run(torch, twin)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-3)
    assert our_accuracy == their_accuracy


def test_container_slicing_and_deletion_follow_pytorch():
    torch = require_torch()
    ours = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid())
    assert str(ours[1:]) == str(theirs[1:])
    del ours[0]
    del theirs[0]
    assert str(ours) == str(theirs)
    ours.insert(0, nn.Identity())
    theirs.insert(0, torch.nn.Identity())
    assert str(ours) == str(theirs)
    listed = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
    assert str(listed[1:]) == str(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid()])[1:])


def test_reassigned_parameter_keeps_its_place_and_load_copies_in_place():
    fc = nn.Linear(3, 2)
    fc.weight = nn.Parameter(minicnn.zeros(2, 3))
    assert [name for name, _ in fc.named_parameters()] == ["weight", "bias"]
    view = fc.weight.data
    fc.load_state_dict({"weight": np.ones((2, 3), dtype=np.float32), "bias": np.zeros(2, dtype=np.float32)})
    assert (view.numpy() == 1).all()  # .data shares memory with the parameter, as in PyTorch


def test_loss_layers_honour_the_legacy_reduction_flags_like_torch():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0])
    for kwargs in (dict(size_average=False), dict(reduce=False)):
        with pytest.warns(UserWarning):
            ours = nn.CrossEntropyLoss(**kwargs)(minicnn.tensor(x), minicnn.tensor(y))
        theirs = torch.nn.CrossEntropyLoss(**kwargs)(torch.tensor(x), torch.tensor(y))
        assert_close(ours, theirs, atol=1e-6)
        with pytest.warns(UserWarning):
            ours = nn.MSELoss(**kwargs)(minicnn.tensor(x), minicnn.zeros(4, 3))
        assert_close(ours, torch.nn.MSELoss(**kwargs)(torch.tensor(x), torch.zeros(4, 3)), atol=1e-6)
    assert nn.Conv2d(1, 2, 3, bias=0).bias is None and "bias" in dict(nn.Conv2d(1, 2, 3, bias=0)._parameters)


def test_zero_sized_layers_are_allowed_as_in_pytorch():
    """PyTorch builds Conv2d(0, ...), Conv2d(..., 0, ...) and BatchNorm2d(0) (the lazy modules start so)."""
    from tests.helpers import require_torch

    torch = require_torch()
    for ours, theirs in (
        (nn.Conv2d(0, 8, 3), torch.nn.Conv2d(0, 8, 3)),
        (nn.Conv2d(4, 0, 3), torch.nn.Conv2d(4, 0, 3)),
        (nn.BatchNorm2d(0), torch.nn.BatchNorm2d(0)),
    ):
        assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
        assert repr(ours) == repr(theirs)


def test_batchnorm_counts_batches_as_pytorch_even_empty_or_refused():
    """PyTorch's module counts a batch before normalising it: an empty batch and a refused one count too."""
    from tests.helpers import require_torch

    torch = require_torch()
    ours, theirs = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    for shape in ((0, 3, 2, 2), (1, 3, 1, 1), (4, 3, 2, 2)):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        errors = []
        for layer, tensor in ((ours, minicnn.tensor(x)), (theirs, torch.tensor(x))):
            try:
                layer(tensor)
            except ValueError as error:
                errors.append(str(error))
        assert len(errors) in (0, 2) and all("more than 1 value per channel" in e for e in errors)
        assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6, atol=1e-7)
