# ruff: noqa: UP008, UP031, UP032  (the tutorials' code is kept as published: super(Net, self), % and .format)
"""The promise: PyTorch code runs on minicnn by changing imports, and gives the same numbers.

Each program below is the code of a well-known tutorial, written ONCE as a function of the library
modules (``torch``, ``nn``, ``F``, ``optim``, ``datasets``, ``transforms``, ...). The tests run it twice,
once with PyTorch and torchvision, once with minicnn, and compare what it printed and what it returned.

What the harness changes, and why (nothing else in the programs is adapted):
- ``sync(model)`` right after the model is built gives both runs the same starting weights: PyTorch runs
  first and its weights are copied into minicnn's model with ``minicnn.utils.from_torch``.
- Dropout draws its masks from each library's own random numbers, which cannot agree, so the exact runs
  set every dropout probability to 0 (``test_mnist_example_trains_with_dropout`` runs it switched on).
- Loaders that shuffle get ``generator=`` a seeded ``torch.Generator`` in both runs (minicnn's DataLoader
  draws its order from a PyTorch generator when given one), so both see the batches in the same order.
- The datasets are the real MNIST digits bundled with minicnn, written to disk in torchvision's layout
  (``root/MNIST/raw/*-ubyte``): ``datasets.MNIST(root, download=True)`` finds them there in both
  libraries and downloads nothing. Only a few hundred digits are used, to keep the file fast.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import struct
import warnings
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest

import minicnn
from minicnn.utils import from_torch
from tests.helpers import assert_close, require_torch

# ---------------------------------------------------------------- the two sets of imports


def torch_imports() -> SimpleNamespace:
    """What ``import torch; import torch.nn as nn; ...; from torchvision import datasets, transforms`` binds."""
    torch = require_torch()
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR
    from torch.utils.data import DataLoader, Dataset

    try:
        from torchvision import datasets, transforms
    except ImportError:
        if os.environ.get("MINICNN_REQUIRE_TORCH") == "1":
            pytest.fail("torchvision is required (MINICNN_REQUIRE_TORCH=1) but is not installed")
        pytest.skip("torchvision is not installed")
    return SimpleNamespace(
        torch=torch,
        nn=nn,
        F=F,
        optim=optim,
        datasets=datasets,
        transforms=transforms,
        StepLR=StepLR,
        DataLoader=DataLoader,
        Dataset=Dataset,
    )


def minicnn_imports() -> SimpleNamespace:
    """The same names after changing the imports: ``import minicnn as torch``, ``import minicnn.nn as nn``, ..."""
    import minicnn as torch
    import minicnn.nn as nn
    import minicnn.nn.functional as F
    import minicnn.optim as optim
    from minicnn.optim.lr_scheduler import StepLR
    from minicnn.utils.data import DataLoader, Dataset
    from minicnn.vision import datasets, transforms

    return SimpleNamespace(
        torch=torch,
        nn=nn,
        F=F,
        optim=optim,
        datasets=datasets,
        transforms=transforms,
        StepLR=StepLR,
        DataLoader=DataLoader,
        Dataset=Dataset,
    )


# ---------------------------------------------------------------- harness


@pytest.fixture(autouse=True)
def same_device_choice(monkeypatch):
    """Both libraries answer "is there a GPU?" alike (the programs print and branch on it), and PyTorch's
    GPU convolutions use full float32 instead of TF32, so the runs stay comparable on a GPU machine."""
    try:
        import torch
    except ImportError:
        yield
        return
    if torch.cuda.is_available() and not minicnn.cuda.is_available():  # a GPU, but no CuPy for minicnn
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32


class Sync:
    """Gives both runs the same starting weights (PyTorch runs first); optionally switches dropout off."""

    def __init__(self, dropout_off: bool = True):
        self.state, self.dropout_off = None, dropout_off

    def __call__(self, model):
        if self.state is None:
            self.state = from_torch(model)
        else:
            model.load_state_dict(self.state)
        if self.dropout_off:
            for module in model.modules():
                if type(module).__name__.startswith("Dropout"):
                    module.p = 0.0
                if hasattr(module, "drop_rate"):  # the probability a forward passes to F.dropout
                    module.drop_rate = 0.0


def run_printing(program, *args, **kwargs):
    """Run ``program``; return (its result, what it printed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = program(*args, **kwargs)
    return result, printed.getvalue()


NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


def assert_same_printout(ours: str, theirs: str, rtol: float = 2e-3) -> None:
    """The same text; integers (counts, indices, epochs, whole percents) equal; decimals close."""
    assert NUMBER.sub("#", ours) == NUMBER.sub("#", theirs), f"printed text differs:\n{ours}\n---\n{theirs}"
    for a, b in zip(NUMBER.findall(ours), NUMBER.findall(theirs)):
        if "." in a:
            last_digit = 10.0 ** -len(a.split(".")[1])
            assert float(a) == pytest.approx(float(b), rel=rtol, abs=2 * last_digit), f"{a} != {b}\n{ours}"
        else:
            assert a == b, f"{a} != {b} in\n{ours}\n---\n{theirs}"


def assert_same_weights(model, torch_model, rtol=2e-3, atol=2e-5):
    theirs = from_torch(torch_model)
    ours = model.state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        scale = max(float(np.abs(value).max()), 1e-3) if value.dtype.kind == "f" else 0
        assert_close(ours[key], value, atol=atol + rtol * scale, rtol=rtol, name=key)


def write_mnist_idx(root, train_count: int, test_count: int) -> str:
    """Write the first digits of the bundled sample as uncompressed IDX files in torchvision's layout."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for train, count, prefix in ((True, train_count, "train"), (False, test_count, "t10k")):
        sample = minicnn.vision.datasets.MNIST(None, train=train, sample=True)
        images = sample.data.numpy()[:count]
        labels = sample.targets.numpy()[:count].astype(np.uint8)
        with open(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">iiii", 2051, count, 28, 28) + images.tobytes())
        with open(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">ii", 2049, count) + labels.tobytes())
    return str(root)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return write_mnist_idx(tmp_path_factory.mktemp("data"), train_count=192, test_count=100)


# ---------------------------------------------------------------- program 1: pytorch/examples mnist/main.py


def mnist_example(torch, nn, F, optim, datasets, transforms, StepLR, root, args, sync):
    """pytorch/examples ``mnist/main.py`` (the 2025 version, with ``torch.accelerator``), as published."""

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def train(args, model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print(
                    "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                        epoch,
                        batch_idx * len(data),
                        len(train_loader.dataset),
                        100.0 * batch_idx / len(train_loader),
                        loss.item(),
                    )
                )
                if args.dry_run:
                    break

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
                pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
                correct += pred.eq(target.view_as(pred)).sum().item()

        test_loss /= len(test_loader.dataset)

        print(
            "\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
                test_loss, correct, len(test_loader.dataset), 100.0 * correct / len(test_loader.dataset)
            )
        )
        return test_loss, correct

    use_accel = not args.no_accel and torch.accelerator.is_available()

    torch.manual_seed(args.seed)

    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    train_kwargs = {"batch_size": args.batch_size}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_accel:
        accel_kwargs = {"num_workers": 1, "persistent_workers": True, "pin_memory": True, "shuffle": True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset1 = datasets.MNIST(root, train=True, download=True, transform=transform)
    dataset2 = datasets.MNIST(root, train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    sync(model)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    results = []
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        results.append(test(model, device, test_loader))
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), os.path.join(root, f"mnist_cnn_{torch.__name__}.pt"))
    return model, results, optimizer


MNIST_ARGS = dict(
    batch_size=64,
    test_batch_size=1000,
    epochs=2,
    lr=1.0,
    gamma=0.7,
    no_accel=True,  # on a GPU machine PyTorch would shuffle with its own generator: keep the runs comparable
    dry_run=False,
    seed=1,
    log_interval=1,
    save_model=True,
)


def test_mnist_example_gives_pytorchs_numbers(mnist_root):
    """Adadelta + StepLR on MNIST: the printed log, test loss and accuracy, and the final weights agree."""
    theirs, ours = torch_imports(), minicnn_imports()
    args, sync = SimpleNamespace(**MNIST_ARGS), Sync()
    (their_model, their_results, their_optimizer), their_log = run_printing(
        mnist_example, theirs.torch, theirs.nn, theirs.F, theirs.optim, theirs.datasets, theirs.transforms,
        theirs.StepLR, mnist_root, args, sync,
    )  # fmt: skip
    (our_model, our_results, our_optimizer), our_log = run_printing(
        mnist_example, ours.torch, ours.nn, ours.F, ours.optim, ours.datasets, ours.transforms,
        ours.StepLR, mnist_root, args, sync,
    )  # fmt: skip
    assert our_log.count("Train Epoch") == 2 * 3 and "Test set: Average loss" in our_log
    assert_same_printout(our_log, their_log)
    for (our_loss, our_correct), (their_loss, their_correct) in zip(our_results, their_results):
        assert our_loss == pytest.approx(their_loss, rel=1e-3)
        assert our_correct == their_correct
    assert our_optimizer.param_groups[0]["lr"] == pytest.approx(their_optimizer.param_groups[0]["lr"])  # 0.49
    assert_same_weights(our_model, their_model)
    # torch.save(model.state_dict(), PATH) wrote a safetensors file; torch.load(PATH, weights_only=True) reads it
    saved = minicnn.load(os.path.join(mnist_root, "mnist_cnn_minicnn.pt"), weights_only=True, map_location="cpu")
    fresh = copy.deepcopy(our_model)
    for param in fresh.parameters():
        param.data.zero_()
    fresh.load_state_dict(saved)
    for key, value in our_model.state_dict().items():
        assert np.array_equal(fresh.state_dict()[key].numpy(), value.numpy()), key


def test_mnist_example_trains_with_dropout(mnist_root):
    """Dropout switched on (its masks are minicnn's own): one epoch learns, and dropout only acts in training."""
    ours = minicnn_imports()
    args = SimpleNamespace(**dict(MNIST_ARGS, save_model=False))
    (model, results, _), log = run_printing(
        mnist_example, ours.torch, ours.nn, ours.F, ours.optim, ours.datasets, ours.transforms, ours.StepLR,
        mnist_root, args, lambda model: None,
    )  # fmt: skip
    (first_loss, _), (second_loss, second_correct) = results
    assert second_loss < first_loss < np.log(10)  # below the loss of guessing, and falling
    assert second_correct > 25  # well above chance (10 of 100) after 6 small Adadelta steps
    x = minicnn.vision.datasets.MNIST(None, train=False, sample=True).to_tensor_dataset().tensors[0][:8]
    model.train()
    assert not np.allclose(model(x).detach().numpy(), model(x).detach().numpy())  # new masks each call
    model.eval()
    assert np.array_equal(model(x).detach().numpy(), model(x).detach().numpy())


# ------------------------------------------------ program 2: 刘二大人《PyTorch深度学习实践》, the CNN lectures


def course_example(torch, F, optim, datasets, transforms, DataLoader, root, sync, generator, net="inception"):
    """Lectures 10-11 of the course: MNIST with an Inception-A net or a residual net, SGD momentum 0.5."""
    batch_size = 64
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_dataset = datasets.MNIST(root=root, train=True, download=True, transform=transform)
    train_loader = DataLoader(train_dataset, shuffle=True, batch_size=batch_size, generator=generator)
    test_dataset = datasets.MNIST(root=root, train=False, download=True, transform=transform)
    test_loader = DataLoader(test_dataset, shuffle=False, batch_size=batch_size)

    class InceptionA(torch.nn.Module):
        def __init__(self, in_channels):
            super(InceptionA, self).__init__()
            self.branch1x1 = torch.nn.Conv2d(in_channels, 16, kernel_size=1)

            self.branch5x5_1 = torch.nn.Conv2d(in_channels, 16, kernel_size=1)
            self.branch5x5_2 = torch.nn.Conv2d(16, 24, kernel_size=5, padding=2)

            self.branch3x3_1 = torch.nn.Conv2d(in_channels, 16, kernel_size=1)
            self.branch3x3_2 = torch.nn.Conv2d(16, 24, kernel_size=3, padding=1)
            self.branch3x3_3 = torch.nn.Conv2d(24, 24, kernel_size=3, padding=1)

            self.branch_pool = torch.nn.Conv2d(in_channels, 24, kernel_size=1)

        def forward(self, x):
            branch1x1 = self.branch1x1(x)

            branch5x5 = self.branch5x5_1(x)
            branch5x5 = self.branch5x5_2(branch5x5)

            branch3x3 = self.branch3x3_1(x)
            branch3x3 = self.branch3x3_2(branch3x3)
            branch3x3 = self.branch3x3_3(branch3x3)

            branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
            branch_pool = self.branch_pool(branch_pool)

            outputs = [branch1x1, branch5x5, branch3x3, branch_pool]
            return torch.cat(outputs, dim=1)

    class InceptionNet(torch.nn.Module):
        def __init__(self):
            super(InceptionNet, self).__init__()
            self.conv1 = torch.nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = torch.nn.Conv2d(88, 20, kernel_size=5)

            self.incep1 = InceptionA(in_channels=10)
            self.incep2 = InceptionA(in_channels=20)

            self.mp = torch.nn.MaxPool2d(2)
            self.fc = torch.nn.Linear(1408, 10)

        def forward(self, x):
            in_size = x.size(0)
            x = F.relu(self.mp(self.conv1(x)))
            x = self.incep1(x)
            x = F.relu(self.mp(self.conv2(x)))
            x = self.incep2(x)
            x = x.view(in_size, -1)
            x = self.fc(x)
            return x

    class ResidualBlock(torch.nn.Module):
        def __init__(self, channels):
            super(ResidualBlock, self).__init__()
            self.channels = channels
            self.conv1 = torch.nn.Conv2d(channels, channels, kernel_size=3, padding=1)
            self.conv2 = torch.nn.Conv2d(channels, channels, kernel_size=3, padding=1)

        def forward(self, x):
            y = F.relu(self.conv1(x))
            y = self.conv2(y)
            return F.relu(x + y)

    class ResidualNet(torch.nn.Module):
        def __init__(self):
            super(ResidualNet, self).__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, kernel_size=5)
            self.conv2 = torch.nn.Conv2d(16, 32, kernel_size=5)
            self.mp = torch.nn.MaxPool2d(2)

            self.rblock1 = ResidualBlock(16)
            self.rblock2 = ResidualBlock(32)

            self.fc = torch.nn.Linear(512, 10)

        def forward(self, x):
            in_size = x.size(0)
            x = self.mp(F.relu(self.conv1(x)))
            x = self.rblock1(x)
            x = self.mp(F.relu(self.conv2(x)))
            x = self.rblock2(x)
            x = x.view(in_size, -1)
            x = self.fc(x)
            return x

    model = InceptionNet() if net == "inception" else ResidualNet()
    sync(model)
    print(model)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model.to(device)

    criterion = torch.nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)

    def train(epoch):
        running_loss = 0.0
        for batch_idx, data in enumerate(train_loader, 0):
            inputs, target = data
            inputs, target = inputs.to(device), target.to(device)
            optimizer.zero_grad()

            # forward + backward + update
            outputs = model(inputs)
            loss = criterion(outputs, target)
            loss.backward()
            optimizer.step()

            running_loss += loss.item()
            if batch_idx % 2 == 1:  # the course prints every 300 batches
                print("[%d, %5d] loss: %.3f" % (epoch + 1, batch_idx + 1, running_loss / 2))
                running_loss = 0.0

    def test():
        correct = 0
        total = 0
        with torch.no_grad():
            for data in test_loader:
                images, labels = data
                images, labels = images.to(device), labels.to(device)
                outputs = model(images)
                _, predicted = torch.max(outputs.data, dim=1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        print("accuracy on test set: %d %% [%d/%d]" % (100 * correct / total, correct, total))
        return correct

    accuracies = []
    for epoch in range(2):
        train(epoch)
        accuracies.append(test())
    return model, accuracies


@pytest.mark.parametrize("net", ["inception", "residual"])
def test_course_cnn_gives_pytorchs_numbers(tmp_path, net):
    theirs, ours = torch_imports(), minicnn_imports()
    root = write_mnist_idx(tmp_path, train_count=128, test_count=64)
    sync = Sync()
    outcomes = []
    for lib in (theirs, ours):
        generator = theirs.torch.Generator().manual_seed(0)  # the same shuffled order in both runs
        outcomes.append(
            run_printing(
                course_example,
                lib.torch,
                lib.F,
                lib.optim,
                lib.datasets,
                lib.transforms,
                lib.DataLoader,
                root,
                sync,
                generator,
                net,
            )  # fmt: skip
        )
    ((their_model, their_accuracy), their_log), ((our_model, our_accuracy), our_log) = outcomes
    assert "loss:" in our_log and "accuracy on test set" in our_log
    assert_same_printout(our_log, their_log)  # print(model) included
    assert our_accuracy == their_accuracy
    assert_same_weights(our_model, their_model)


# ---------------------------------------------------------------- program 3: the PyTorch CIFAR-10 tutorial


def cifar_tutorial(torch, nn, F, optim, datasets, transforms, root, sync, generator):
    """ "Training a classifier" (pytorch.org tutorials, CIFAR-10), on a small stand-in CIFAR-10 (see write_cifar10)."""

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    batch_size = 4

    trainset = datasets.CIFAR10(root=root, train=True, download=True, transform=transform)
    trainloader = torch.utils.data.DataLoader(
        trainset, batch_size=batch_size, shuffle=True, num_workers=0, generator=generator
    )

    testset = datasets.CIFAR10(root=root, train=False, download=True, transform=transform)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=0)

    classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    # get some random training images
    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    print(" ".join(f"{classes[labels[j]]:5s}" for j in range(batch_size)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()
    sync(net)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    print(device)
    net.to(device)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    for epoch in range(2):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data[0].to(device), data[1].to(device)

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % 5 == 4:  # print every 5 mini-batches (the tutorial: 2000)
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 5:.3f}")
                running_loss = 0.0

    print("Finished Training")

    PATH = os.path.join(root, f"cifar_net_{torch.__name__}.pth")
    torch.save(net.state_dict(), PATH)

    dataiter = iter(testloader)
    images, labels = next(dataiter)
    print("GroundTruth: ", " ".join(f"{classes[labels[j]]:5s}" for j in range(4)))

    net = Net()
    net.load_state_dict(torch.load(PATH, weights_only=True))
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print("Predicted: ", " ".join(f"{classes[predicted[j]]:5s}" for j in range(4)))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    for classname, correct_count in correct_pred.items():
        if total_pred[classname]:
            accuracy = 100 * float(correct_count) / total_pred[classname]
            print(f"Accuracy for class: {classname:5s} is {accuracy:.1f} %")
    return net, outputs


def write_cifar10(root, train_count: int = 40, test_count: int = 24) -> str:
    """The same random images in both of CIFAR-10's formats: the binary batches minicnn reads
    (``cifar-10-batches-bin/*.bin``) and the pickled batches torchvision reads (``cifar-10-batches-py/``).
    Each class gets its own mean colour, so there is something to learn."""
    import pickle  # only to write torchvision's format; minicnn itself never unpickles

    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "cifar-10-batches-bin"))
    os.makedirs(os.path.join(root, "cifar-10-batches-py"))
    splits = [(f"data_batch_{i}", train_count // 5) for i in range(1, 6)] + [("test_batch", test_count)]
    for name, count in splits:
        labels = rng.integers(0, 10, count)
        planes = rng.integers(0, 128, (count, 3, 32, 32)) + (labels[:, None, None, None] * [12, 5, 9]).reshape(
            count, 3, 1, 1
        )
        planes = planes.astype(np.uint8).reshape(count, 3072)
        records = np.concatenate([labels[:, None].astype(np.uint8), planes], axis=1)
        records.tofile(os.path.join(root, "cifar-10-batches-bin", f"{name}.bin"))
        with open(os.path.join(root, "cifar-10-batches-py", name), "wb") as f:
            pickle.dump({"data": planes, "labels": labels.tolist()}, f)
    with open(os.path.join(root, "cifar-10-batches-py", "batches.meta"), "wb") as f:
        pickle.dump({"label_names": minicnn.vision.datasets.CIFAR10.classes}, f)
    return str(root)


def accept_stand_in_cifar10(theirs, monkeypatch):
    """torchvision checks each file against the MD5 of the real CIFAR-10, which stand-in files cannot match."""
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    monkeypatch.setattr(theirs.datasets.CIFAR10, "_check_integrity", lambda self: True)


def test_cifar_tutorial_gives_pytorchs_numbers(tmp_path, monkeypatch):
    theirs, ours = torch_imports(), minicnn_imports()
    root = write_cifar10(tmp_path)
    accept_stand_in_cifar10(theirs, monkeypatch)
    sync = Sync()
    outcomes = []
    for lib in (theirs, ours):
        generator = theirs.torch.Generator().manual_seed(0)
        outcomes.append(
            run_printing(
                cifar_tutorial,
                lib.torch,
                lib.nn,
                lib.F,
                lib.optim,
                lib.datasets,
                lib.transforms,
                root,
                sync,
                generator,
            )  # fmt: skip
        )
    ((their_net, their_logits), their_log), ((our_net, our_logits), our_log) = outcomes
    assert our_log.count("loss:") == 4 and "Accuracy for class" in our_log
    assert_same_printout(our_log, their_log)
    assert_close(our_logits, their_logits, atol=1e-4, rtol=1e-3, name="logits of the last test batch")
    assert_same_weights(our_net, their_net)


def test_cifar10_reads_the_same_images_as_torchvision(tmp_path, monkeypatch):
    theirs = torch_imports()
    root = write_cifar10(tmp_path)
    accept_stand_in_cifar10(theirs, monkeypatch)
    for train in (True, False):
        ours = minicnn.vision.datasets.CIFAR10(root, train=train)
        reference = theirs.datasets.CIFAR10(root, train=train)
        assert ours.data.shape == reference.data.shape and ours.data.dtype == np.uint8
        assert np.array_equal(ours.data, reference.data) and ours.targets == reference.targets
        assert ours.classes == reference.classes and ours.class_to_idx == reference.class_to_idx
        assert repr(ours) == repr(reference)
        compose = [lib.transforms.Compose([lib.transforms.ToTensor()]) for lib in (minicnn.vision, theirs)]
        with_transforms = minicnn.vision.datasets.CIFAR10(
            root, train=train, transform=compose[0], target_transform=compose[0]
        )
        assert repr(with_transforms) == repr(
            theirs.datasets.CIFAR10(root, train, compose[1], target_transform=compose[1])
        )
        image, label = ours[3]
        assert np.array_equal(image, np.asarray(reference[3][0])) and label == reference[3][1]
        fast = ours.to_tensor_dataset(((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))).tensors[0]
        to_tensor = minicnn.vision.transforms
        slow = to_tensor.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(to_tensor.ToTensor()(ours[5][0]))
        np.testing.assert_array_equal(fast[5].numpy(), slow.numpy())


def test_cifar10_file_errors(tmp_path):
    cifar = minicnn.vision.datasets
    with pytest.raises(FileNotFoundError, match="no data_batch_1.bin in .*download=True"):
        cifar.CIFAR10(tmp_path)
    os.makedirs(tmp_path / "cifar-10-batches-py")
    with pytest.raises(FileNotFoundError, match="torchvision's pickled copy"):
        cifar.CIFAR10(tmp_path, train=False)
    folder = tmp_path / "cifar-10-batches-bin"
    os.makedirs(folder)
    (folder / "test_batch.bin").write_bytes(bytes(3073 + 5))
    with pytest.raises(cifar.DatasetError, match="test_batch.bin: expected whole 3073-byte records"):
        cifar.CIFAR10(tmp_path, train=False)
    (folder / "test_batch.bin").write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(cifar.DatasetError, match="expected labels 0..9, found 12"):
        cifar.CIFAR10(tmp_path, train=False)


def test_cifar10_download_unpacks_only_the_batch_files(tmp_path, monkeypatch):
    """The archive is MD5-checked, and only the expected regular files are copied out of it."""
    import hashlib
    import tarfile

    source = tmp_path / "source"
    write_cifar10(source)
    archive = tmp_path / "server" / "cifar-10-binary.tar.gz"
    os.makedirs(archive.parent)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
        tar.add(source / "cifar-10-batches-py", arcname="../escape")  # never extracted
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(minicnn.vision.datasets.CIFAR10, "mirrors", [archive.parent.as_uri() + "/"])
    monkeypatch.setattr(minicnn.vision.datasets.CIFAR10, "archive", ("cifar-10-binary.tar.gz", md5))
    root = tmp_path / "data"
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = minicnn.vision.datasets.CIFAR10(root, train=True, download=True)
    assert len(dataset) == 40 and sorted(os.listdir(root)) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    assert sorted(os.listdir(root / "cifar-10-batches-bin")) == [f"data_batch_{i}.bin" for i in range(1, 6)] + [
        "test_batch.bin"
    ]
    monkeypatch.setattr(minicnn.vision.datasets.CIFAR10, "archive", ("cifar-10-binary.tar.gz", "0" * 32))
    with pytest.raises(minicnn.vision.datasets.DownloadError, match="checksum mismatch"):
        minicnn.vision.datasets.CIFAR10(tmp_path / "elsewhere", download=True)


# ---------------------------------------------------------------- program 4: everyday idioms


def idioms_example(torch, nn, F, optim, sync, images, labels):
    """The idioms many training scripts share: init with apply(), OrderedDict Sequential, Dropout2d,
    hand-written SGD under no_grad, .data updates, schedulers, @no_grad predict, state_dict snapshots."""

    class Net(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.features = nn.Sequential(
                OrderedDict(
                    [
                        ("conv1", nn.Conv2d(1, 8, kernel_size=3, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(8)),
                        ("relu1", nn.ReLU(inplace=True)),
                        ("pool1", nn.MaxPool2d(kernel_size=2, stride=2)),
                        ("drop1", nn.Dropout2d(0.1)),
                        ("conv2", nn.Conv2d(8, 16, kernel_size=3, padding=1)),
                        ("relu2", nn.ReLU(inplace=True)),
                    ]
                )
            )
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, num_classes)
            self.drop_rate = 0.2

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            x = F.dropout(x, p=self.drop_rate, training=self.training)
            return self.fc(x)

    def init_weights(m):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)

    torch.manual_seed(0)
    model = Net()
    model.apply(init_weights)
    sync(model)
    num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"trainable parameters: {num_params}")

    x = torch.from_numpy(images)
    y = torch.tensor(labels, dtype=torch.long)
    x_val, y_val = torch.tensor(images[:16], dtype=torch.float32), y[:16]
    history = {"loss": [], "acc": []}

    # 1. plain gradient descent by hand, under no_grad
    lr = 0.1
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad.zero_()
        history["loss"].append(loss.item())

    # 2. the older style: update .data, zero the gradient outside no_grad
    loss = nn.CrossEntropyLoss()(model(x), y)
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data.add_(p.grad.data, alpha=-lr)
    for p in model.parameters():
        p.grad.zero_()
    history["loss"].append(loss.item())

    # 3. a Dataset of one's own, an optimizer with a schedule; keep the best weights
    class ArrayDataset(torch.utils.data.Dataset):
        def __init__(self, images, labels):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, idx):
            return torch.tensor(self.images[idx]), int(self.labels[idx])

    loader = torch.utils.data.DataLoader(ArrayDataset(images, labels), batch_size=16, shuffle=False)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    best_acc, best_state = -1.0, None
    for _epoch in range(3):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = F.cross_entropy(outputs, targets)
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            out = model(x_val)
            preds = torch.argmax(out, dim=1)
            acc = torch.sum(preds == y_val).item() / y_val.shape[0]
        history["loss"].append(loss.item())
        history["acc"].append(acc)
        if acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)

    @torch.no_grad()
    def predict(batch):
        model.eval()
        return F.softmax(model(batch), dim=1)

    probs = predict(x_val)
    torch.set_grad_enabled(False)
    logits = model(x_val)
    grad_was_recorded = logits.requires_grad
    torch.set_grad_enabled(True)
    log_probs = F.log_softmax(logits, dim=1)
    summary = {
        "probs": probs.detach().cpu().numpy(),
        "probs_again": torch.exp(log_probs).numpy(),
        "clamped": logits.clamp(min=0).numpy(),
        "clipped": torch.clamp(logits, -0.01, 0.01).numpy(),
        "zeros": torch.zeros_like(logits).numpy(),
        "mean_correct": torch.mean((probs.argmax(dim=1) == y_val).float()).item(),
        "random": torch.randn(1, 1, 28, 28).shape,
        "grad_was_recorded": grad_was_recorded,
        "lr": scheduler.get_last_lr()[0],
    }
    print("losses", " ".join(f"{v:.5f}" for v in history["loss"]), "best", best_acc)
    return model, history, summary


def test_everyday_idioms_give_pytorchs_numbers():
    theirs, ours = torch_imports(), minicnn_imports()
    rng = np.random.default_rng(0)
    images = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    sync = Sync()
    (their_model, their_history, their_summary), their_log = run_printing(
        idioms_example, theirs.torch, theirs.nn, theirs.F, theirs.optim, sync, images, labels
    )
    (our_model, our_history, our_summary), our_log = run_printing(
        idioms_example, ours.torch, ours.nn, ours.F, ours.optim, sync, images, labels
    )
    assert_same_printout(our_log, their_log)
    np.testing.assert_allclose(our_history["loss"], their_history["loss"], rtol=1e-4)
    assert our_history["acc"] == their_history["acc"]
    for key, value in their_summary.items():
        if isinstance(value, np.ndarray):
            assert_close(our_summary[key], value, atol=1e-5, rtol=1e-3, name=key)
        else:
            assert our_summary[key] == pytest.approx(value), key
    assert_same_weights(our_model, their_model)
    assert not our_summary["grad_was_recorded"]


def initialised_model(torch, nn):
    """torchvision's ResNet/VGG initialisation, applied to every layer with ``model.apply``."""

    def init_weights(m):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 128, 3, bias=False), nn.Flatten(),
        nn.Linear(512, 256), nn.BatchNorm1d(256),
    )  # fmt: skip
    model.apply(init_weights)
    return {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}


def test_initialisation_by_apply_follows_the_pytorch_scheme():
    """``model.apply(init_fn)`` reaches every layer; the random values differ, their statistics agree."""
    theirs, ours = torch_imports(), minicnn_imports()
    their_state, our_state = initialised_model(theirs.torch, theirs.nn), initialised_model(ours.torch, ours.nn)
    assert list(our_state) == list(their_state)
    for key, value in their_state.items():
        if value.dtype.kind != "f":
            continue
        if value.std() == 0:  # constants: biases, batch-norm weights and statistics
            assert np.array_equal(our_state[key], value), key
        else:  # kaiming_normal_ (fan_out) for convolutions, normal_(0, 0.01) for linear layers
            assert our_state[key].mean() == pytest.approx(0, abs=0.1 * float(value.std())), key
            assert our_state[key].std() == pytest.approx(float(value.std()), rel=0.05), key


# ---------------------------------------------------------------- program 5: the pytorch.org quickstart


def quickstart_example(torch, nn, DataLoader, datasets, ToTensor, root):
    """ "Quickstart" (pytorch.org/tutorials/beginner/basics/quickstart_tutorial), on the MNIST files."""
    training_data = datasets.MNIST(root=root, train=True, download=True, transform=ToTensor())
    test_data = datasets.MNIST(root=root, train=False, download=True, transform=ToTensor())
    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    torch.manual_seed(0)
    model = NeuralNetwork().to(device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 1 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    return model, train, test, train_dataloader, test_dataloader, loss_fn, optimizer


def test_quickstart_tutorial_gives_pytorchs_numbers(mnist_root):
    theirs, ours = torch_imports(), minicnn_imports()
    logs, initial = [], None
    for lib in (theirs, ours):
        (model, train, test, train_loader, test_loader, loss_fn, optimizer), log = run_printing(
            quickstart_example, lib.torch, lib.nn, lib.DataLoader, lib.datasets, lib.transforms.ToTensor, mnist_root
        )
        if initial is None:
            initial = from_torch(model)  # PyTorch's starting weights, before it trains
        else:
            model.load_state_dict(initial)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            for _ in range(2):
                train(train_loader, model, loss_fn, optimizer)
                test(test_loader, model, loss_fn)
        logs.append(log + printed.getvalue())
    # PyTorch prints a shape as torch.Size([64, 1, 28, 28]), minicnn as the tuple (64, 1, 28, 28)
    their_log = re.sub(r"torch\.Size\(\[([^\]]*)\]\)", r"(\1)", logs[0]).replace("torch.int64", "int64")
    assert_same_printout(logs[1].replace(",)", ")"), their_log)


# ---------------------------------------------------------------- small doors: devices, spellings, loaders


def test_device_questions_get_honest_answers():
    """cuda / accelerator / mps / cudnn answer what is true here; the settings scripts make are accepted."""
    import minicnn.backends.cudnn as cudnn
    from minicnn.backends import mps

    gpu = minicnn.cuda.is_available()
    assert minicnn.accelerator.is_available() == gpu
    assert minicnn.accelerator.device_count() == minicnn.cuda.device_count()
    accelerator = minicnn.accelerator.current_accelerator()
    assert (accelerator is None) == (minicnn.backend.cupy is None)
    if accelerator is not None:
        assert accelerator.type == "cuda" and str(minicnn.device(f"{accelerator}:0")) == "cuda:0"
    assert minicnn.accelerator.current_accelerator(check_available=True) == (accelerator if gpu else None)
    assert mps.is_available() is False and minicnn.backends.mps.is_built() is False
    assert cudnn.is_available() is False
    cudnn.benchmark, cudnn.deterministic = True, True  # what seeded scripts write; minicnn ignores them
    assert minicnn.backends.cudnn.benchmark is True
    cudnn.benchmark, cudnn.deterministic = False, False
    device = minicnn.device("cuda" if minicnn.cuda.is_available() else "cpu")
    assert str(device) == ("cuda" if gpu else "cpu")
    # pytorch/examples mnist/main.py before torch.accelerator (2023-2024)
    use_cuda, use_mps = minicnn.cuda.is_available(), minicnn.backends.mps.is_available()
    device = minicnn.device("cuda") if use_cuda else minicnn.device("mps") if use_mps else minicnn.device("cpu")
    assert device.type == ("cuda" if gpu else "cpu")
    minicnn.accelerator.synchronize()


PIECEWISE_CONSTANT = {"div floor", "round", "sign", "floor", "ceil"}


def test_top_level_spellings_match_torch():
    torch = require_torch()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    m = rng.standard_normal((2, 4, 5)).astype(np.float32)
    cases = [
        ("add", lambda L, x, y: L.add(x, y, alpha=2)),
        ("sub", lambda L, x, y: L.sub(x, y, alpha=0.5)),
        ("mul", lambda L, x, y: L.mul(x, y)),
        ("div", lambda L, x, y: L.div(x, y + 3)),
        ("div floor", lambda L, x, y: L.div(x * 4, 1.5, rounding_mode="floor")),
        ("pow", lambda L, x, y: L.pow(L.abs(x), 1.5)),
        ("mm", lambda L, x, y: L.mm(x, y.t())),
        ("bmm", lambda L, x, y: L.bmm(L.stack([x, y]), L.tensor(m))),
        ("std", lambda L, x, y: L.std(x, dim=1)),
        ("std unbiased=False", lambda L, x, y: L.std(x, 0, False, keepdim=True)),
        ("maximum", lambda L, x, y: L.maximum(x, y)),
        ("minimum", lambda L, x, y: L.minimum(x, y)),
        ("eq", lambda L, x, y: L.eq(x, x * (y > 0))),
        ("ne", lambda L, x, y: L.ne(x, 0.5)),
        ("gt", lambda L, x, y: L.gt(x, y)),
        ("ge", lambda L, x, y: L.ge(x, y)),
        ("lt", lambda L, x, y: L.lt(x, y)),
        ("le", lambda L, x, y: L.le(x, y)),
        ("isnan", lambda L, x, y: L.isnan(L.log(x))),
        ("isinf", lambda L, x, y: L.isinf(x / (y > 0).float())),
        ("isfinite", lambda L, x, y: L.isfinite(L.log(x))),
        ("FloatTensor", lambda L, x, y: L.FloatTensor([[1, 2], [3, 4]])),
        ("LongTensor", lambda L, x, y: L.LongTensor([2, 0, 1])),
        ("FloatTensor sizes", lambda L, x, y: L.FloatTensor(2, 3).zero_()),
        ("type(LongTensor)", lambda L, x, y: (x * 3).type(L.LongTensor)),
        ("type(FloatTensor)", lambda L, x, y: L.cat((x, y), 0).type(L.FloatTensor)),
        ("round", lambda L, x, y: L.round(x * 3)),
        ("sign", lambda L, x, y: L.sign(x)),
        ("floor", lambda L, x, y: L.floor(x * 3)),
        ("ceil", lambda L, x, y: L.ceil(x * 3)),
        ("norm", lambda L, x, y: L.norm(x)),
        ("norm p=1 dim", lambda L, x, y: L.norm(x, p=1, dim=1)),
        ("norm p=inf", lambda L, x, y: L.norm(x * y, p=float("inf"), dim=0, keepdim=True)),
        ("norm p=3", lambda L, x, y: L.norm(x, p=3, dim=1)),
        ("split", lambda L, x, y: L.cat([part * (i + 1) for i, part in enumerate(L.split(x, [1, 2]))])),
        ("split size", lambda L, x, y: L.stack([part.sum() for part in L.split(x, 3, dim=1)])),
        ("chunk", lambda L, x, y: L.cat([part * (i + 1) for i, part in enumerate(L.chunk(x, 2, dim=1))], 1)),
        ("normal", lambda L, x, y: L.normal(x.detach(), 0.0)),  # std 0: no randomness to compare
        ("normal size", lambda L, x, y: L.normal(1.5, 0.0, size=(2, 3))),
    ]
    for name, fn in cases:
        with np.errstate(invalid="ignore", divide="ignore"):  # log(-1) and 1/0 on purpose
            ours = fn(minicnn, minicnn.tensor(a, requires_grad=True), minicnn.tensor(b, requires_grad=True))
        theirs = fn(torch, torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), name
        assert_close(ours, theirs, atol=1e-5, rtol=1e-5, name=name)
        if theirs.requires_grad and name not in PIECEWISE_CONSTANT:  # PyTorch's gradient is 0 there, ours none
            assert ours.requires_grad, name
            x, y = minicnn.tensor(a, requires_grad=True), minicnn.tensor(b, requires_grad=True)
            tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            fn(minicnn, x, y).sum().backward()
            fn(torch, tx, ty).sum().backward()
            assert_close(x.grad, tx.grad, atol=1e-5, rtol=1e-4, name=f"{name} gradient")
    minicnn.manual_seed(0)
    draws = minicnn.normal(minicnn.full((20000,), 2.0), minicnn.tensor([0.5]))
    assert draws.shape == (20000,) and not draws.requires_grad
    assert float(draws.mean()) == pytest.approx(2.0, abs=0.02) and float(draws.std()) == pytest.approx(0.5, rel=0.03)
    with pytest.raises(TypeError, match="normal: give mean or std as a Tensor"):
        minicnn.normal(0.0, 1.0)
    x = minicnn.tensor(a)
    assert minicnn.allclose(x, x + 1e-9) and not minicnn.allclose(x, x + 1)
    assert minicnn.equal(x, minicnn.tensor(a)) and not minicnn.equal(x, x[:2])
    assert minicnn.is_floating_point(x) and not minicnn.is_floating_point(x.long())
    assert minicnn.get_default_dtype() == minicnn.float32 == minicnn.float
    assert x.shape == minicnn.Size([3, 4]) and minicnn.Size([3, 4]).numel() == 12
    with pytest.raises(ValueError, match=r"mm: input must be a matrix \(2-D\), got shape \(2, 4, 5\)"):
        minicnn.mm(minicnn.tensor(m), x)
    with pytest.raises(ValueError, match="bmm: batch sizes differ"):
        minicnn.bmm(minicnn.tensor(m), minicnn.tensor(m[:1].transpose(0, 2, 1)))
    with pytest.raises(TypeError, match="add: expected a Tensor, got list"):
        minicnn.add([1.0], x)
    with pytest.raises(ValueError, match="rounding_mode"):
        minicnn.div(x, 2, rounding_mode="round")
    with pytest.raises(TypeError, match="FloatTensor: expected sizes or one sequence"):
        minicnn.FloatTensor([1.0], [2.0])
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] must sum to the size of dim 0 \(3\)"):
        minicnn.split(x, [1, 1])
    with pytest.raises(ValueError, match="chunk: chunks must be a positive int"):
        minicnn.chunk(x, 0)
    with pytest.raises(ValueError, match="norm: p must be"):
        minicnn.norm(x, p="nuc")


def test_inference_mode_and_no_grad_decorators():
    x = minicnn.ones(2, requires_grad=True)
    with minicnn.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @minicnn.inference_mode()
    def predict(t):
        return t * 2

    @minicnn.no_grad()
    def predict_no_grad(t):
        return t * 2

    assert not predict(x).requires_grad and not predict_no_grad(x).requires_grad
    assert (x * 2).requires_grad
    with minicnn.inference_mode(False):
        assert (x * 2).requires_grad
    with minicnn.no_grad(), minicnn.inference_mode(False):
        assert not (x * 2).requires_grad  # inference_mode(False) does not switch recording back on


def test_parameter_updates_by_hand():
    """``p -= lr * p.grad`` under no_grad changes the parameter in place; outside it PyTorch refuses, and so do we."""
    layer = minicnn.nn.Linear(3, 2)
    weight = layer.weight
    before = weight.detach().numpy().copy()
    layer(minicnn.ones(4, 3)).sum().backward()
    with minicnn.no_grad():
        weight -= 0.5 * weight.grad
    assert layer.weight is weight and weight.is_leaf and weight.requires_grad
    np.testing.assert_allclose(weight.detach().numpy(), before - 0.5 * weight.grad.numpy())
    weight.grad.zero_()  # a gradient needs no grad itself: zero_() works outside no_grad too
    assert not weight.grad.numpy().any()
    with pytest.raises(RuntimeError, match="no_grad"):
        weight -= 0.5 * weight.grad
    updated = weight.detach().numpy().copy()
    weight.data -= 1.0  # .data is outside the graph: allowed anywhere
    np.testing.assert_allclose(weight.detach().numpy(), updated - 1.0)
    weight.data.add_(weight.grad.data + 1, alpha=-0.5)
    np.testing.assert_allclose(weight.detach().numpy(), updated - 1.5)


def test_dataloader_takes_pytorchs_worker_options(mnist_root):
    """``**{'batch_size': 64, 'shuffle': True, 'num_workers': 1, 'pin_memory': True, 'persistent_workers': True}``."""
    from minicnn.utils.data import DataLoader
    from minicnn.vision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(mnist_root, train=True, download=True, transform=transform)
    kwargs = {"batch_size": 64, "shuffle": True, "num_workers": 1, "pin_memory": True, "persistent_workers": True}
    loader = DataLoader(dataset, **kwargs, prefetch_factor=2)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and len(loader.dataset) == 192
    data, target = batches[0]
    assert data.shape == (64, 1, 28, 28) and data.dtype == minicnn.float32 and target.dtype == minicnn.int64
    assert sorted(np.concatenate([t.numpy() for _, t in batches])) == sorted(dataset.targets.numpy())
    images, labels = next(iter(loader))
    assert images.shape[0] == labels.shape[0] == 64


def test_bundled_sample_works_like_the_downloaded_dataset():
    """``datasets.MNIST(None, sample=True)`` in a PyTorch-style loop: ToTensor + Normalize per sample."""
    from minicnn.vision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    test_set = datasets.MNIST(None, train=False, sample=True, transform=transform)
    loader = minicnn.utils.data.DataLoader(test_set, batch_size=250)
    fast = minicnn.utils.data.DataLoader(test_set.to_tensor_dataset(((0.1307,), (0.3081,))), batch_size=250)
    for (images, labels), (fast_images, fast_labels) in zip(loader, fast):
        np.testing.assert_allclose(images.numpy(), fast_images.numpy(), atol=1e-6)
        assert np.array_equal(labels.numpy(), fast_labels.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(loader) == 4
