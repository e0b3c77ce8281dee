"""Every reference network equals its PyTorch twin with copied weights: logits, loss, gradients, three
optimizer steps (Adam and SGD with momentum), BatchNorm running statistics, eval logits and print(model)."""

import numpy as np
import pytest

import minicnn
import minicnn.models as models
from minicnn.utils import from_torch
from tests.helpers import DEVICES, require_torch, to_numpy

FORWARD_TOL = 1e-4  # relative to the largest magnitude, float32
GRAD_TOL = 2e-3


def twins():
    """(name, minicnn factory, torch factory, input shape)"""
    require_torch()
    import torchvision

    from tests import torch_twins as tt

    return {
        "seed_cnn": (models.SeedCNN, tt.SeedCNN, (8, 1, 28, 28)),
        "lenet": (models.LeNet, tt.LeNet, (8, 1, 28, 28)),
        "inception": (models.InceptionNet, tt.InceptionNet, (4, 1, 28, 28)),
        "residual": (models.ResidualNet, tt.ResidualNet, (4, 1, 28, 28)),
        "keras_style": (models.KerasStyleCNN, tt.KerasStyleCNN, (8, 1, 28, 28)),
        "vgg11_div8_32px": (
            lambda: models.VGG(11, width_divisor=8, input_size=32),
            lambda: tt.VGG(11, width_divisor=8, input_size=32),
            (4, 1, 32, 32),
        ),
        "vgg13_div8_32px": (
            lambda: models.VGG(13, width_divisor=8, input_size=32),
            lambda: tt.VGG(13, width_divisor=8, input_size=32),
            (2, 1, 32, 32),
        ),
        "vgg16_div16_64px_nobn": (
            lambda: models.VGG(16, width_divisor=16, input_size=64, batch_norm=False),
            lambda: tt.VGG(16, width_divisor=16, input_size=64, batch_norm=False),
            (2, 1, 64, 64),
        ),
        "vgg19_div16_32px_3ch": (
            lambda: models.VGG(19, width_divisor=16, input_size=32, in_channels=3, num_classes=7),
            lambda: tt.VGG(19, width_divisor=16, input_size=32, in_channels=3, num_classes=7),
            (2, 3, 32, 32),
        ),
        "torchvision_resnet18": (
            lambda: models.resnet18(num_classes=10),
            lambda: torchvision.models.resnet18(weights=None, num_classes=10),
            (4, 3, 64, 64),
        ),
        # torchvision's vgg11_bn with its classifier's hidden layers 4096 -> 64 wide in both libraries: at full
        # width its 129M weights need 4 GB per library for three float64 Adam steps (weights, gradients and two
        # moments). The full-width network is compared by test_torchvision_vgg_bn_weights_load_and_give_the_same_logits.
        "torchvision_vgg11_bn": (
            lambda: narrow_classifier(models.vgg11_bn(num_classes=10), minicnn.nn),
            lambda: narrow_classifier(torchvision.models.vgg11_bn(weights=None, num_classes=10), torch_nn()),
            (4, 3, 64, 64),
        ),
    }


def torch_nn():
    return require_torch().nn


def narrow_classifier(model, nn, width=64):
    """``model`` with the hidden layers of its VGG classifier ``width`` wide; every other layer unchanged."""
    first, second, last = model.classifier[0], model.classifier[3], model.classifier[6]
    model.classifier[0] = nn.Linear(first.in_features, width)
    model.classifier[3] = nn.Linear(width, width)
    model.classifier[6] = nn.Linear(width, last.out_features)
    assert second.in_features == second.out_features == first.out_features  # the layers replaced are the hidden ones
    return model


SLOW = {"torchvision_vgg11_bn", "torchvision_resnet18", "vgg16_div16_64px_nobn"}
NAMES = [
    "seed_cnn",
    "lenet",
    "inception",
    "residual",
    "keras_style",
    "vgg11_div8_32px",
    "vgg13_div8_32px",
    "vgg16_div16_64px_nobn",
    "vgg19_div16_32px_3ch",
    "torchvision_resnet18",
    "torchvision_vgg11_bn",
]


def assert_relative(ours, theirs, tol, name, floor=1e-12):
    """max |ours - theirs| <= tol * max |theirs|; ``floor`` bounds the scale from below."""
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs {theirs.shape}"
    scale = max(float(np.abs(theirs).max()) if theirs.size else 0.0, floor)
    error = float(np.abs(ours - theirs).max()) / scale
    assert error <= tol, f"{name}: relative error {error:.2e} > {tol}"


def build_pair(name, seed=0, dtype="float32", device="cpu"):
    torch = require_torch()
    ours_factory, torch_factory, shape = twins()[name]
    torch.manual_seed(seed)
    twin = torch_factory().to(getattr(torch, dtype))
    ours = ours_factory().to(dtype)
    ours.load_state_dict(from_torch(twin))
    ours.to(device)  # PyTorch stays on the CPU: the reference
    for model in (ours, twin):  # dropout draws different random numbers in each library: switch it off
        for module in model.modules():
            if type(module).__name__ == "Dropout":
                module.p = 0.0
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.integers(0, 10 if "19" not in name else 7, shape[0])
    return ours, twin, x, y


def train_steps(model, library, x, y, optimizer_name, steps=3, device="cpu"):
    """Run ``steps`` training steps; returns the first loss."""
    make_optimizer = {
        "adam": lambda params: library.optim.Adam(params, lr=1e-3),
        "sgd": lambda params: library.optim.SGD(params, lr=0.01, momentum=0.9),
    }[optimizer_name]
    optimizer = make_optimizer(model.parameters())
    loss_fn = library.nn.CrossEntropyLoss()
    xt, yt = library.tensor(x).to(device), library.tensor(y).to(device)
    first = None
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    return first


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES])
@pytest.mark.parametrize("device", DEVICES)
def test_network_equals_pytorch_twin(device, name):
    torch = require_torch()
    # On the GPU in float64: cuBLAS and CuPy add float32 numbers in another order than the CPU, and a max-pool
    # window whose two largest values differ by less than that (torchvision vgg11_bn's features.21 has one at
    # 2.5e-6) then picks the other pixel, moving that gradient. float64 keeps every choice the same.
    ours, twin, x, y = build_pair(name, dtype="float32" if device == "cpu" else "float64", device=device)

    if device == "cpu":  # print(model) does not depend on the device (and a GPU machine may have another torch)
        assert str(ours) == str(twin), f"print(model) differs:\n{ours}\n---\n{twin}"
    assert list(ours.state_dict()) == list(twin.state_dict())

    # forward, loss and every parameter gradient in training mode
    our_logits, their_logits = ours(minicnn.tensor(x, device=device)), twin(torch.tensor(x))
    assert_relative(our_logits, their_logits, FORWARD_TOL, "train logits")
    our_loss = minicnn.nn.functional.cross_entropy(our_logits, minicnn.tensor(y, device=device))
    their_loss = torch.nn.functional.cross_entropy(their_logits, torch.tensor(y))
    assert abs(our_loss.item() - their_loss.item()) <= FORWARD_TOL * max(1.0, abs(their_loss.item()))
    our_loss.backward()
    their_loss.backward()
    their_params = dict(twin.named_parameters())
    # a gradient that is zero in exact arithmetic (a conv bias feeding BatchNorm) is float noise in both
    # libraries: such tensors are compared on the scale of the largest gradient of the model, / 1000
    largest = max(float(p.grad.abs().max()) for p in twin.parameters())
    for key, param in ours.named_parameters():
        assert_relative(param.grad, their_params[key].grad, GRAD_TOL, f"gradient of {key}", floor=1e-3 * largest)

    # BatchNorm running statistics after that forward
    their_buffers = dict(twin.named_buffers())
    for key, buffer in ours.named_buffers():
        assert_relative(buffer, their_buffers[key], FORWARD_TOL, f"buffer {key}")

    # eval mode uses the running statistics
    ours.eval()
    twin.eval()
    with minicnn.no_grad(), torch.no_grad():
        assert_relative(ours(minicnn.tensor(x, device=device)), twin(torch.tensor(x)), FORWARD_TOL, "eval logits")


@pytest.mark.parametrize("optimizer_name", ["adam", "sgd"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES])
@pytest.mark.parametrize("device", DEVICES)
def test_three_optimizer_steps_equal_pytorch(device, name, optimizer_name):
    """Three training steps in float64 land on PyTorch's weights to 1e-7 (their changes to 1e-6).

    Run in float64 because of Adam: its first update is lr * g / |g|, so float32 round-off in a gradient
    that is zero in exact arithmetic (a conv bias feeding BatchNorm, ~1e-9) becomes a step of +-lr in
    either library. In float64 that round-off (~1e-17) sits far below Adam's eps and the runs agree.
    """
    torch = require_torch()
    ours, twin, x, y = build_pair(name, seed=1, dtype="float64", device=device)
    # CuPy's reductions add in another order than NumPy's: a gradient that is zero in exact arithmetic comes
    # out ~1e-14 instead of ~1e-17, and Adam turns it into a step of about lr * g / eps ~ 1e-9
    tolerance = 1e-7 if device == "cpu" else 1e-6  # and 10x that for the changes
    before = {key: to_numpy(value).copy() for key, value in ours.state_dict().items()}
    first_ours = train_steps(ours, minicnn, x, y, optimizer_name, device=device)
    first_theirs = train_steps(twin, torch, x, y, optimizer_name)
    assert abs(first_ours - first_theirs) <= 1e-9 * max(1.0, abs(first_theirs))
    their_state = twin.state_dict()
    for key, value in ours.state_dict().items():
        # floors: a conv bias feeding BatchNorm starts at 0 (torchvision) and gets a zero gradient
        assert_relative(value, their_state[key], tolerance, f"{key} after 3 {optimizer_name} steps", floor=1e-2)
        if key.endswith(("weight", "bias")):  # the steps are small next to the weights: check them too
            change = to_numpy(value) - before[key]
            their_change = to_numpy(their_state[key]) - before[key]
            assert_relative(change, their_change, 10 * tolerance, f"change of {key}", floor=1e-3)


@pytest.mark.parametrize("name", ["seed_cnn", "lenet", "keras_style", "residual"])
def test_three_sgd_steps_equal_pytorch_in_float32(name):
    torch = require_torch()
    ours, twin, x, y = build_pair(name, seed=2)
    train_steps(ours, minicnn, x, y, "sgd")
    train_steps(twin, torch, x, y, "sgd")
    their_state = twin.state_dict()
    for key, value in ours.state_dict().items():
        assert_relative(value, their_state[key], GRAD_TOL, f"{key} after 3 sgd steps")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11_bn", "vgg16_bn"])
def test_torchvision_vgg_bn_weights_load_and_give_the_same_logits(name):
    """The full-width networks (1000 classes, 4096-wide classifier) have torchvision's layout, load its state dicts
    and give its logits. The two networks share one copy of the weights (0.5 GB): torchvision's is built on the
    meta device and takes minicnn's arrays, so minicnn's keys must name the same layers for the logits to agree."""
    torch = require_torch()
    import torchvision

    ours = getattr(models, name)().eval()
    with torch.device("meta"):  # torchvision's layout, without its own 0.5 GB of weights
        twin = getattr(torchvision.models, name)(weights=None).eval()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in twin.state_dict().items()
    ]
    assert str(ours) == str(twin)
    twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()}, assign=True)
    ours.load_state_dict(twin.state_dict())  # torch tensors load directly
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with minicnn.no_grad(), torch.no_grad():
        assert_relative(ours(minicnn.tensor(x)), twin(torch.tensor(x)), FORWARD_TOL, f"{name} eval logits")


def test_module_paths_are_attributes_after_import_minicnn():
    import minicnn as torch_like

    for path in ["nn", "nn.functional", "nn.init", "optim", "optim.lr_scheduler", "utils.data", "autograd", "cuda"]:
        value = torch_like
        for part in path.split("."):
            value = getattr(value, part)
    assert (
        torch_like.utils.data.DataLoader
        and torch_like.optim.Adam
        and torch_like.cuda.is_available()
        in (
            True,
            False,
        )
    )
