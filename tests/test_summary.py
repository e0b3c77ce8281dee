"""summary(): parameter counts, output shapes, mult-adds and the tree, checked against the PyTorch twins."""

import numpy as np
import pytest

import minicnn
import minicnn.models as models
from minicnn import nn
from minicnn.summary import summary
from tests.helpers import require_torch

# (minicnn factory, torch twin factory or torchvision name, input shape without the batch)
NETS = {
    "seed_cnn": (models.SeedCNN, "SeedCNN", (1, 28, 28)),
    "lenet": (models.LeNet, "LeNet", (1, 28, 28)),
    "inception": (models.InceptionNet, "InceptionNet", (1, 28, 28)),
    "residual": (models.ResidualNet, "ResidualNet", (1, 28, 28)),
    "keras_style": (models.KerasStyleCNN, "KerasStyleCNN", (1, 28, 28)),
    "vgg11_div8_32px": (
        lambda: models.VGG(11, width_divisor=8, input_size=32),
        lambda tt: tt.VGG(11, width_divisor=8, input_size=32),
        (1, 32, 32),
    ),
    "resnet18": (lambda: models.resnet18(num_classes=10), "resnet18", (3, 64, 64)),
    "vgg11_bn": (lambda: models.vgg11_bn(num_classes=10), "vgg11_bn", (3, 64, 64)),
}
SLOW = {"vgg11_bn"}  # 129M parameters: seconds just to initialise


def torch_twin(key):
    """The PyTorch network, built on the meta device: shapes, parameter counts and FLOPs need no weights."""
    torch = require_torch()
    import torchvision

    from tests import torch_twins as tt

    twin = NETS[key][1]
    with torch.device("meta"):
        if callable(twin):
            return twin(tt)
        if hasattr(tt, twin):
            return getattr(tt, twin)()
        return getattr(torchvision.models, twin)(weights=None, num_classes=10)


def torch_calls(model, shape):
    """(name, output shape) of every module call of a PyTorch model, and its total FLOPs (2 per MAC)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    names = {id(m): name for name, m in model.named_modules()}
    calls, handles = [], []
    for module in model.modules():
        handles.append(
            module.register_forward_hook(lambda m, args, out: calls.append((names[id(m)], tuple(out.shape))))
        )
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape, device="meta"))
    for handle in handles:
        handle.remove()
    return calls, counter.get_total_flops()


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in NETS], ids=list(NETS)
)
def test_summary_matches_the_pytorch_twin(key):
    """Params = sum of numel (ours and the twin's); every call's output shape and the MACs equal PyTorch's."""
    model = NETS[key][0]()
    shape = NETS[key][2]
    stats = summary(model, shape)
    twin = torch_twin(key)
    assert stats.total_params == sum(p.numel() for p in model.parameters())
    assert stats.total_params == sum(p.numel() for p in twin.parameters())
    assert stats.trainable_params == stats.total_params and stats.non_trainable_params == 0
    # the Param # column adds up to the total (own parameters, each module listed once)
    assert sum(row.num_params for row in stats.rows) == stats.total_params
    twin_calls, twin_flops = torch_calls(twin, shape)
    our_calls = [(row.name, row.output_shape) for row in stats.rows]
    # same calls with the same shapes (torchvision's BasicBlock runs downsample last, ours first: compare sorted)
    assert sorted(our_calls) == sorted(twin_calls)
    assert 2 * stats.total_mult_adds == twin_flops  # PyTorch's FlopCounterMode counts 2 FLOPs per MAC
    with minicnn.no_grad():
        output = model.eval()(minicnn.randn(1, *shape))
    assert stats.rows[0].output_shape == output.shape
    assert stats.param_bytes == 4 * stats.total_params
    assert stats.input_bytes == 4 * int(np.prod(shape))


def test_seed_cnn_table_by_hand():
    stats = summary(models.SeedCNN(), (1, 28, 28))
    conv, bn, relu, pool, fc = (stats[name] for name in ("layer1.0", "layer1.1", "layer1.2", "layer1.3", "fc"))
    assert conv.mult_adds == 8 * 28 * 28 * (1 * 5 * 5)  # output elements x C_in x kh x kw
    assert fc.mult_adds == 10 * 1568  # output elements x in_features
    assert bn.mult_adds == relu.mult_adds == pool.mult_adds == 0  # the documented convention
    assert stats.total_mult_adds == 156_800 + 15_680
    assert (conv.num_params, bn.num_params, fc.num_params) == (8 * 25 + 8, 16, 15_690)
    assert conv.output_bytes == 4 * 8 * 28 * 28
    assert stats.activation_bytes == sum(r.output_bytes for r in (conv, bn, relu, pool, fc))
    assert stats.total_bytes == stats.input_bytes + stats.activation_bytes + stats.param_bytes
    text = str(stats)
    for expected in ("Total params: 15,914", "156,800", "15,690", "(1, 8, 14, 14)", "Trainable params: 15,914"):
        assert expected in text
    assert repr(stats) == text


def test_nested_modules_form_an_indented_tree():
    stats = summary(models.InceptionNet(), (1, 28, 28))
    root = stats.rows[0]
    assert (root.name, root.depth, root.parent, root.is_leaf) == ("", 0, None, False)
    incep = stats["incep1"]
    assert incep.depth == 1 and not incep.is_leaf and incep.type_name == "InceptionA"
    branches = [row for row in stats.rows if row.name.startswith("incep1.")]
    assert [row.name.split(".")[1] for row in branches] == [
        "branch1x1",
        "branch5x5_1",
        "branch5x5_2",
        "branch3x3_1",
        "branch3x3_2",
        "branch3x3_3",
        "branch_pool",
    ]
    assert all(row.depth == 2 and stats.rows[row.parent] is incep and row.is_leaf for row in branches)
    lines = str(stats).splitlines()
    assert any(line.startswith("├─incep1 (InceptionA)") for line in lines)
    assert any(line.startswith("│ ├─branch1x1 (Conv2d)") for line in lines)
    assert any(line.startswith("│ └─branch_pool (Conv2d)") for line in lines)
    assert any(line.startswith("└─fc (Linear)") for line in lines)
    # ResNet-18: a Sequential in a BasicBlock in a Sequential
    deep = summary(models.resnet18(num_classes=10), (3, 32, 32))["layer2.0.downsample.0"]
    assert deep.depth == 4 and deep.type_name == "Conv2d"


def test_a_module_called_twice_is_listed_per_call_and_counted_once():
    stats = summary(models.LeNet(), (1, 28, 28))
    pools = [row for row in stats.rows if row.name == "pool"]
    assert [row.output_shape for row in pools] == [(1, 16, 13, 13), (1, 32, 5, 5)]
    assert [row.repeated for row in pools] == [False, True]

    class Tied(nn.Module):  # one Linear applied twice: its parameters count once, its MACs twice
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(6, 6)

        def forward(self, x):
            return self.shared(self.shared(x))

    tied = summary(Tied(), (2, 6))
    calls = [row for row in tied.rows if row.name == "shared"]
    assert len(calls) == 2 and calls[0].num_params == 42 and calls[1].num_params == 0
    assert tied.total_params == 42
    assert tied.total_mult_adds == 2 * (2 * 6 * 6)
    assert "(shared)" in str(tied)


def test_input_size_conventions_and_frozen_parameters():
    model = models.SeedCNN()
    assert summary(model, (1, 28, 28)).input_shapes == [(1, 1, 28, 28)]  # (C, H, W): a batch of one
    assert summary(model, (5, 1, 28, 28)).input_shapes == [(5, 1, 28, 28)]  # (N, C, H, W) as is
    stats = summary(model, (1, 28, 28), batch_size=3)
    assert stats.input_shapes == [(3, 1, 28, 28)] and stats["fc"].output_shape == (3, 10)
    assert stats.total_mult_adds == 3 * summary(model, (1, 28, 28)).total_mult_adds
    x = minicnn.randn(2, 1, 28, 28)
    assert summary(model, input_data=x).rows[0].output_shape == (2, 10)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    assert summary(mlp, (7, 12)).rows[-1].output_shape == (7, 4)  # 2-d: (N, features) as is
    double = summary(models.SeedCNN().double(), (1, 28, 28), dtypes=[minicnn.float64])
    assert double.input_bytes == 8 * 28 * 28 and double.param_bytes == 8 * double.total_params
    for p in model.layer1.parameters():
        p.requires_grad = False
    frozen = summary(model, (1, 28, 28))
    assert frozen.non_trainable_params == 208 + 16 and frozen.trainable_params == 15_690


def test_modes_are_restored_and_running_statistics_untouched():
    model = models.SeedCNN()
    model.train()
    model.fc.eval()  # a mixed state must come back exactly
    running_mean = np.array(model.layer1[1].running_mean.array)
    summary(model, (4, 1, 28, 28))
    assert model.training and model.layer1.training and not model.fc.training
    np.testing.assert_array_equal(model.layer1[1].running_mean.array, running_mean)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_depth_limit_keeps_totals_and_folds_children():
    full = summary(models.resnet18(num_classes=10), (3, 32, 32))
    short = summary(models.resnet18(num_classes=10), (3, 32, 32), depth=1)
    assert max(row.depth for row in short.rows) == 1
    assert short.total_params == full.total_params and short.total_mult_adds == full.total_mult_adds
    layer1 = short["layer1"]
    assert layer1.num_params == sum(p.numel() for p in models.resnet18().layer1.parameters())
    assert layer1.mult_adds == sum(row.mult_adds for row in full.rows if row.name.startswith("layer1."))
    assert "layer1 (Sequential)" in str(short) and "conv1 (Conv2d)" in str(short)


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="nn.Module"):
        summary(lambda x: x, (1, 28, 28))
    with pytest.raises(ValueError, match="input_size"):
        summary(models.SeedCNN())
    with pytest.raises(ValueError, match="positive"):
        summary(models.SeedCNN(), (1, 0, 28))
    # the wrong number of channels: the error says which layer failed, and the hooks are gone
    model = models.SeedCNN()
    with pytest.raises(RuntimeError, match=r"inside layer1\.0 \(Conv2d\)"):
        summary(model, (3, 28, 28))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
