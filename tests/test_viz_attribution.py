"""viz.saliency and viz.grad_cam equal the same computation in PyTorch on the twin model with copied weights
(hooks and retain_grad on the PyTorch side, as Grad-CAM code for PyTorch is written), leave the model as they
found it, draw real pictures, and refuse bad layers, targets and inputs with clear errors."""

import numpy as np
import pytest

import minicnn
from minicnn import models, viz
from minicnn.utils import from_torch
from tests.helpers import DEVICES, require_torch


def twin_pair(name, seed=0):
    """A minicnn reference network and its PyTorch twin with the same weights and batch-norm statistics."""
    torch = require_torch()
    from tests import torch_twins as tt

    ours_factory, torch_factory = {
        "seed_cnn": (models.SeedCNN, tt.SeedCNN),
        "lenet": (models.LeNet, tt.LeNet),
        "residual": (models.ResidualNet, tt.ResidualNet),
    }[name]
    torch.manual_seed(seed)
    theirs = torch_factory().double()
    for module in theirs.modules():  # batch norm in eval mode uses these: make them count
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    ours = ours_factory().to("float64")
    ours.load_state_dict(from_torch(theirs))
    return ours, theirs.eval()


def digits(n=4, seed=0):
    """Real MNIST digits from the bundled sample, scaled to [0, 1], float64 (N, 1, 28, 28)."""
    from minicnn.vision.datasets import MNIST

    sample = MNIST(None, train=False, sample=True)
    images = np.stack([np.asarray(sample[k][0], dtype=np.float64) for k in range(n)]) / 255.0
    return images.reshape(n, 1, 28, 28), np.array([int(sample[k][1]) for k in range(n)])


def torch_saliency(torch, model, x, target):
    x = torch.tensor(x, requires_grad=True)
    logits = model(x)
    logits.gather(1, torch.tensor(target)[:, None]).sum().backward()
    return x.grad.abs().amax(dim=1).numpy()


def torch_grad_cam(torch, model, layer, x, target):
    """Grad-CAM as PyTorch users write it: a forward hook keeps the layer's output and calls retain_grad()."""
    kept = {}

    def hook(module, args, output):
        output.retain_grad()
        kept["A"] = output

    handle = layer.register_forward_hook(hook)
    logits = model(torch.tensor(x, requires_grad=True))
    handle.remove()
    logits.gather(1, torch.tensor(target)[:, None]).sum().backward()
    A, grad = kept["A"], kept["A"].grad
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * A).sum(dim=1)).detach().numpy()


def model_state(model):
    return (
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        [p.grad for p in model.parameters()],
    )


@pytest.mark.parametrize("name", ["seed_cnn", "lenet", "residual"])
def test_saliency_equals_pytorch(name):
    torch = require_torch()
    ours, theirs = twin_pair(name)
    x, labels = digits()
    ours.train()  # saliency switches to eval mode and back
    before = model_state(ours)
    with torch.no_grad():
        predicted = theirs(torch.tensor(x)).argmax(1).numpy()
    for target, expected_target in ((None, predicted), (labels, labels), (3, np.full(4, 3))):
        maps = viz.saliency(ours, minicnn.tensor(x), target=target)
        assert maps.shape == (4, 28, 28) and maps.dtype == np.float32
        np.testing.assert_allclose(maps, torch_saliency(torch, theirs, x, expected_target), rtol=1e-5, atol=1e-7)
    assert model_state(ours) == before and ours.training
    assert all(p.grad is None for p in ours.parameters())


@pytest.mark.parametrize(
    "name, ours_layer, their_layer",
    [
        ("seed_cnn", "layer1.2", lambda m: m.layer1[2]),  # a Sequential child, by name
        ("seed_cnn", "layer1.0", lambda m: m.layer1[0]),  # the conv, before batch norm
        ("lenet", "conv2", lambda m: m.conv2),  # an attribute
        ("residual", "rblock2", lambda m: m.rblock2),  # a block of the user's own
        ("residual", "rblock1.conv2", lambda m: m.rblock1.conv2),  # inside it
    ],
)
def test_grad_cam_equals_pytorch(name, ours_layer, their_layer):
    torch = require_torch()
    ours, theirs = twin_pair(name)
    x, labels = digits()
    before = model_state(ours)
    with torch.no_grad():
        predicted = theirs(torch.tensor(x)).argmax(1).numpy()
    for target, expected_target in ((None, predicted), (labels, labels)):
        cams = viz.grad_cam(ours, ours_layer, x, target=target)
        expected = torch_grad_cam(torch, theirs, their_layer(theirs), x, expected_target)
        assert cams.shape == expected.shape and cams.dtype == np.float32
        np.testing.assert_allclose(cams, expected, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(expected).max()))
    assert cams.max() > 0  # not an empty map
    module = dict(ours.named_modules())[ours_layer]  # the module itself works as well as its name
    np.testing.assert_allclose(viz.grad_cam(ours, module, x, target=labels), cams, rtol=1e-12)
    assert model_state(ours) == before


def test_pictures_of_saliency_and_grad_cam(tmp_path):
    from tests.test_viz import assert_real_png

    pytest.importorskip("matplotlib")
    minicnn.manual_seed(0)
    model = models.SeedCNN()
    x, labels = digits(3)
    viz.saliency(model, x, target=labels, path=tmp_path / "saliency.png")
    viz.grad_cam(model, "layer1.3", x, target=labels, path=tmp_path / "grad_cam.png")
    assert_real_png(tmp_path / "saliency.png")
    assert_real_png(tmp_path / "grad_cam.png")


def test_attribution_errors():
    minicnn.manual_seed(0)
    model = models.SeedCNN()
    x, _ = digits(2)
    other = models.LeNet()
    with pytest.raises(ValueError, match="not a module of this model"):
        viz.grad_cam(model, other.conv1, x)
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        viz.grad_cam(model, "conv9", x)
    with pytest.raises(ValueError, match=r"'fc' outputs \(2, 10\).*\(N, K, h, w\)"):
        viz.grad_cam(model, "fc", x)
    with pytest.raises(ValueError, match="not the model itself"):
        viz.grad_cam(model, model, x)
    mp_twice = models.InceptionNet()  # its max-pool runs twice per forward
    with pytest.raises(ValueError, match="'mp' ran 2 times"):
        viz.grad_cam(mp_twice, "mp", x)
    for fn in (lambda **k: viz.saliency(model, x, **k), lambda **k: viz.grad_cam(model, "layer1.0", x, **k)):
        with pytest.raises(ValueError, match=r"target \[10\] out of range for a model with 10 classes"):
            fn(target=10)
        with pytest.raises(ValueError, match=r"target \[-1\] out of range"):
            fn(target=[3, -1])
        with pytest.raises(ValueError, match=r"one per image, shape \(2,\); got shape \(3,\)"):
            fn(target=[1, 2, 3])
        with pytest.raises(ValueError, match=r"got shape \(2, 1\)"):
            fn(target=[[1], [2]])
        with pytest.raises(TypeError, match="integer class indices"):
            fn(target=1.5)
    with pytest.raises(ValueError, match=r"saliency: expected images \(N, C, H, W\).*got shape \(28, 28\)"):
        viz.saliency(model, x[0, 0])
    with pytest.raises(ValueError, match=r"grad_cam: expected images .*got shape \(1, 2, 1, 28, 28\)"):
        viz.grad_cam(model, "layer1.0", x[None])
    with pytest.raises(ValueError, match="expected input with 1 channel"):  # the model's own message
        viz.saliency(model, np.zeros((2, 3, 28, 28)))
    assert all(p.requires_grad for p in model.parameters()) and model.training  # restored after the errors
    one = viz.saliency(model, x[0])  # one image (C, H, W) is a batch of one
    assert one.shape == (1, 28, 28)


@pytest.mark.parametrize("device", DEVICES)
def test_attribution_and_maximize_run_where_the_model_is(device):
    """On the GPU (CuPy) the maps and the class image equal the CPU's; inputs may come from either device."""
    minicnn.manual_seed(0)
    cpu_model = models.SeedCNN()
    model = models.SeedCNN()
    model.load_state_dict(cpu_model.state_dict())
    model.to(device)
    x, labels = digits(2)
    images = minicnn.tensor(x.astype(np.float32)).to(device)
    np.testing.assert_allclose(viz.saliency(model, images, labels), viz.saliency(cpu_model, x, labels), rtol=1e-4)
    np.testing.assert_allclose(
        viz.grad_cam(model, "layer1.2", x, labels), viz.grad_cam(cpu_model, "layer1.2", x, labels), rtol=1e-4, atol=1e-7
    )
    np.testing.assert_allclose(
        viz.maximize_activation(model, "fc", 3, (1, 28, 28), steps=6),
        viz.maximize_activation(cpu_model, "fc", 3, (1, 28, 28), steps=6),
        atol=1e-4,
    )
