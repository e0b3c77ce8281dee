"""The networks of Dive into Deep Learning's CNN chapters, built from lazy modules, against PyTorch.

Each network is written once (tests/d2l_chapters.py) and built on both libraries. After the dry run that
materialises the lazy layers (the chapters' ``layer_summary``, whose listing must read the same), minicnn takes
PyTorch's weights and buffers; then one training step's output, loss, every gradient and the batch-norm
buffers must match, and so must ``print(model)`` before and after the dry run. Input sizes are the chapters'
(28 for LeNet, 224 for AlexNet/VGG/NiN, 96 for the rest); the widest networks are divided in width to keep
the suite small, and the batch is 2.
"""

import numpy as np
import pytest
from d2l_chapters import chapter_networks
from helpers import assert_close, require_torch

import minicnn
from minicnn.utils.interop import from_torch

# name: (constructor arguments, input shape, width divisor, train mode?)  Networks with dropout are compared
# in eval mode (dropout draws differ between the libraries); networks with batch norm in training mode.
NETWORKS = {
    "LeNet": ((), (2, 1, 28, 28), 1, True),
    "AlexNet": ((), (2, 1, 224, 224), 8, False),
    "VGG": ((((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),), (2, 1, 224, 224), 16, False),
    "NiN": ((), (2, 1, 224, 224), 4, False),
    "GoogleNet": ((), (2, 1, 96, 96), 1, True),
    "BNLeNetScratch": ((), (2, 1, 28, 28), 1, True),
    "BNLeNet": ((), (2, 1, 28, 28), 1, True),
    "ResNet18": ((), (2, 1, 96, 96), 2, True),
    "DenseNet": ((), (2, 1, 96, 96), 1, True),
    "RegNetX32": ((), (2, 1, 96, 96), 1, True),
}
SLOW = {"GoogleNet", "ResNet18", "DenseNet", "RegNetX32", "NiN"}


def _libraries(width):
    torch = require_torch()
    theirs = chapter_networks(torch, torch.nn, torch.nn.functional, width)
    ours = chapter_networks(minicnn, minicnn.nn, minicnn.nn.functional, width)
    return torch, theirs, ours


def _array(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _their_listing(lines):
    return [line.replace("torch.Size", "minicnn.Size") for line in lines]


def _compare_gradients(our_params: dict, theirs, label: str):
    """Every gradient, to float32 rounding: relative to its own size and to the largest gradient of the net.

    (A conv bias just before batch norm has a true gradient of 0: both libraries give rounding noise there.)
    """
    largest = max(float(p.grad.abs().max()) for p in theirs.parameters())
    for name, param in theirs.named_parameters():
        atol = 2e-4 * float(param.grad.abs().max()) + 1e-4 * largest
        assert_close(our_params[name].grad, param.grad, atol=atol, rtol=2e-3, name=f"{label} {name}")


def _compare_step(torch, ours, theirs, x, y, train: bool):
    """One forward and backward on both; compare output, loss, gradients and buffers."""
    ours.train(train)
    theirs.train(train)
    their_out = theirs(torch.tensor(x))
    their_loss = torch.nn.functional.cross_entropy(their_out, torch.tensor(y))
    their_loss.backward()
    our_out = ours(minicnn.tensor(x))
    our_loss = minicnn.nn.functional.cross_entropy(our_out, minicnn.tensor(y))
    our_loss.backward()
    assert_close(our_out, their_out, atol=1e-4, rtol=1e-3, name="output")
    assert abs(our_loss.item() - their_loss.item()) < 1e-4 * max(1.0, abs(their_loss.item()))
    our_params = dict(ours.named_parameters())
    assert list(our_params) == [name for name, _ in theirs.named_parameters()]
    _compare_gradients(our_params, theirs, "grad of")
    our_buffers = ours.state_dict()
    for name, buffer in theirs.named_buffers():
        assert_close(our_buffers[name], buffer, atol=1e-5, rtol=1e-4, name=name)
    return our_out


def _run_network(name):
    torch = require_torch()
    args, shape, width, train = NETWORKS[name]
    torch, theirs_lib, ours_lib = _libraries(width)
    theirs, ours = theirs_lib[name](*args), ours_lib[name](*args)
    assert repr(ours) == repr(theirs)  # the lazy layers print as PyTorch's: LazyConv2d(0, 6, ...)
    # the chapters' layer_summary: the dry run that materialises every lazy layer
    # (a batch of 1, as the chapters' layer_summary; BNLeNet's BatchNorm1d needs 2 values per channel in training)
    x = _array((2 if name == "BNLeNet" else 1,) + shape[1:], seed=0)
    their_lines = theirs.layer_summary(torch.tensor(x))
    our_lines = ours.layer_summary(minicnn.tensor(x))
    assert our_lines == _their_listing(their_lines)
    assert repr(ours) == repr(theirs)  # now Conv2d(1, 6, ...), Linear(in_features=400, ...)
    assert not any(type(m).__name__.startswith("Lazy") for m in ours.modules())
    # the chapters' apply_init (Xavier via init_cnn) runs on the materialised classes; then copy PyTorch's weights
    ours.apply(ours_lib["init_cnn"])
    ours.load_state_dict(from_torch(theirs))
    if name == "BNLeNetScratch":  # its moving statistics are plain attributes, not buffers: copy them too
        for our_bn, their_bn in zip(ours.net, theirs.net):
            if hasattr(their_bn, "moving_mean"):
                our_bn.moving_mean = minicnn.tensor(their_bn.moving_mean.numpy())
                our_bn.moving_var = minicnn.tensor(their_bn.moving_var.numpy())
    x, y = _array(shape, seed=1), np.arange(shape[0]) % 10
    _compare_step(torch, ours, theirs, x, y, train)
    if name == "BNLeNetScratch":
        for our_bn, their_bn in zip(ours.net, theirs.net):
            if hasattr(their_bn, "moving_mean"):
                assert_close(our_bn.moving_mean, their_bn.moving_mean, atol=1e-5, name="moving_mean")
                assert_close(our_bn.moving_var, their_bn.moving_var, atol=1e-5, name="moving_var")
        # prediction mode of the scratch layer: no_grad switches it to the moving statistics
        with torch.no_grad(), minicnn.no_grad():
            assert_close(ours(minicnn.tensor(x)), theirs(torch.tensor(x)), atol=1e-4, name="no_grad output")


@pytest.mark.parametrize("name", [n for n in NETWORKS if n not in SLOW])
def test_chapter_network_matches_pytorch(name):
    _run_network(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_chapter_network_matches_pytorch_slow(name):
    _run_network(name)


def test_chapter_blocks_match_pytorch():
    """The blocks the chapters try on their own: Residual, ResNeXtBlock, DenseBlock and transition_block."""
    torch, theirs_lib, ours_lib = _libraries(1)
    cases = [
        ("Residual", (3,), (4, 3, 6, 6)),
        ("Residual", (6,), (4, 3, 6, 6), {"use_1x1conv": True, "strides": 2}),
        ("ResNeXtBlock", (32, 16, 1), (2, 32, 12, 12)),  # the chapter's (4, 32, 96, 96), smaller
        ("DenseBlock", (2, 10), (4, 3, 8, 8)),
        ("transition_block", (10,), (4, 23, 8, 8)),
    ]
    for case in cases:
        name, args, shape = case[:3]
        kwargs = case[3] if len(case) > 3 else {}
        theirs, ours = theirs_lib[name](*args, **kwargs), ours_lib[name](*args, **kwargs)
        x = _array(shape, seed=2)
        assert tuple(ours(minicnn.tensor(x)).shape) == tuple(theirs(torch.tensor(x)).shape)
        ours.load_state_dict(from_torch(theirs))
        x2 = _array(shape, seed=3)
        their_out, our_out = theirs(torch.tensor(x2)), ours(minicnn.tensor(x2))
        assert_close(our_out, their_out, atol=1e-4, name=f"{name} output")
        their_out.square().sum().backward()
        our_out.square().sum().backward()
        _compare_gradients(dict(ours.named_parameters()), theirs, f"{name}:")
        assert repr(ours) == repr(theirs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["AlexNet", "NiN", "ResNet18"])
def test_chapter_listing_at_full_width_matches_pytorch(name):
    """The networks the gradient test narrows, at the chapters' own width: layer_summary's listing and print.

    (VGG at full width is left out: its first Linear alone holds 103 M weights, 400 MB per library.)
    """
    torch, theirs_lib, ours_lib = _libraries(1)
    args, shape, _, _ = NETWORKS[name]
    theirs, ours = theirs_lib[name](*args), ours_lib[name](*args)
    x = _array((1,) + shape[1:], seed=0)
    with torch.no_grad(), minicnn.no_grad():
        assert ours.layer_summary(minicnn.tensor(x)) == _their_listing(theirs.layer_summary(torch.tensor(x)))
    assert repr(ours) == repr(theirs)
