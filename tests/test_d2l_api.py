"""The tensor API the d2l CNN chapters and their training loop use, each behaviour against PyTorch.

``Tensor.__format__``, the ``axis=``/``keepdims=`` aliases, the ``size=`` keywords of the creation functions,
``Size`` as the type of shapes, ``.type(dtype)``, ``reshape(-1)``, in-place updates under ``no_grad``,
``is_grad_enabled``, gradient clipping by the global norm (the book's and ``clip_grad_norm_``), the book's
training step, and its Fashion-MNIST loader on local IDX files.
"""

import gzip
import struct

import numpy as np
import pytest
from helpers import assert_close, require_torch

import minicnn
from minicnn import nn
from minicnn.nn import functional as F
from minicnn.utils.interop import from_torch


def _both(torch, array):
    return minicnn.tensor(array), torch.tensor(array)


def _outcome(call):
    """What a call gives: ('ok', its value as text) or ('error', the exception type's name)."""
    try:
        return "ok", call()
    except Exception as error:  # noqa: BLE001  (the type is what is compared)
        return "error", type(error).__name__


# ---------------------------------------------------------------- Tensor.__format__


@pytest.mark.parametrize(
    "data, spec",
    [(1.23456, ".3f"), (2.5, ""), (3, "d"), (3, ">5"), (-0.000123, ".2e"), ([1.23456], ".3f"), ([1.5, 2.0], ".3f")],
)
def test_format_as_pytorch(data, spec):
    torch = require_torch()
    ours, theirs = _both(torch, data)
    our_result = _outcome(lambda: format(ours, spec))
    their_result = _outcome(lambda: format(theirs, spec))
    if their_result[0] == "ok":
        assert our_result == ("ok", their_result[1].replace("torch", "minicnn"))
    else:
        assert our_result == their_result  # a 1-element 1-d tensor or more elements: TypeError with a spec


def test_format_of_loss_and_parameter_as_pytorch():
    torch = require_torch()
    ours, theirs = _both(torch, [[0.5, -1.0], [2.0, 0.25]])
    assert f"loss {(ours**2).sum():.3f}" == f"loss {(theirs**2).sum():.3f}" == "loss 5.312"
    assert f"{minicnn.tensor(2.5, requires_grad=True):.2f}" == f"{torch.tensor(2.5, requires_grad=True):.2f}"
    # PyTorch formats plain tensors only: a 0-d Parameter refuses a format spec
    assert _outcome(lambda: f"{nn.Parameter(minicnn.tensor(2.5)):.1f}") == _outcome(
        lambda: f"{torch.nn.Parameter(torch.tensor(2.5)):.1f}"
    )


# ---------------------------------------------------------------- axis= / keepdims=

ALIAS_CALLS = [
    ("sum", {"axis": 1}),
    ("sum", {"axis": 1, "keepdims": True}),
    ("sum", {"axis": (0, 2)}),
    ("mean", {"axis": 1, "keepdims": True}),
    ("mean", {"axis": (0, 2)}),
    ("var", {"axis": 2}),
    ("std", {"axis": 1, "keepdims": True}),
    ("amax", {"axis": (1, 2)}),
    ("amin", {"axis": 0, "keepdims": True}),
    ("argmax", {"axis": 1}),
    ("argmin", {"axis": 2, "keepdims": True}),
    ("softmax", {"axis": 1}),
    ("log_softmax", {"axis": -1}),
    ("squeeze", {"axis": 0}),
    ("unsqueeze", {"axis": 1}),
]


@pytest.mark.parametrize("method, kwargs", ALIAS_CALLS, ids=[f"{m}-{sorted(k)}" for m, k in ALIAS_CALLS])
def test_axis_and_keepdims_aliases_as_pytorch(method, kwargs):
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((1, 3, 4)).astype(np.float32)
    ours, theirs = _both(torch, x)
    assert_close(getattr(ours, method)(**kwargs), getattr(theirs, method)(**kwargs), name=f"{method} method")
    if hasattr(torch, method) and method not in ("softmax", "log_softmax"):  # torch.sum(x, axis=1) ...
        assert_close(getattr(minicnn, method)(ours, **kwargs), getattr(torch, method)(theirs, **kwargs), name=method)


@pytest.mark.parametrize("method", ["max", "min"])
def test_max_min_with_axis_give_values_and_indices_as_pytorch(method):
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    ours, theirs = _both(torch, x)
    for our_result, their_result in (
        (getattr(ours, method)(axis=1), getattr(theirs, method)(axis=1)),
        (getattr(minicnn, method)(ours, axis=0, keepdims=True), getattr(torch, method)(theirs, axis=0, keepdims=True)),
    ):
        assert_close(our_result.values, their_result.values)
        np.testing.assert_array_equal(our_result.indices.numpy(), their_result.indices.numpy())


def test_stack_with_axis_and_the_book_accuracy_as_pytorch():
    torch = require_torch()
    a, b = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    assert_close(
        minicnn.stack([minicnn.tensor(a), minicnn.tensor(b)], axis=1),
        torch.stack([torch.tensor(a), torch.tensor(b)], axis=1),
    )
    # d2l.Classifier.accuracy: argmax(axis=1), .type(Y.dtype), reshape(-1), .type(float32), mean
    logits, labels = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]], np.float32), np.array([1, 2, 2])
    results = []
    for lib in (minicnn, torch):
        Y_hat, Y = lib.tensor(logits), lib.tensor(labels)
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(axis=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(lib.float32)
        assert str(preds.dtype).endswith("int64") and str(compare.dtype).endswith("float32")
        results.append(float(compare.mean()))
    assert results[0] == results[1] == pytest.approx(2 / 3)


def test_giving_a_name_and_its_alias_is_a_type_error_as_pytorch():
    torch = require_torch()
    ours, theirs = _both(torch, np.ones((2, 3), np.float32))
    for call in (lambda x: x.sum(dim=1, axis=1), lambda x: x.mean(1, axis=0), lambda x: x.argmax(dim=0, axis=1)):
        assert _outcome(lambda c=call: c(ours)) == _outcome(lambda c=call: c(theirs)) == ("error", "TypeError")


# ---------------------------------------------------------------- creation keywords

CREATION_CALLS = [
    ("rand", (), {"size": (8, 8)}),
    ("randn", (), {"size": [2, 3], "dtype": "float64"}),
    ("zeros", (), {"size": (2, 3), "requires_grad": True}),
    ("ones", (), {"size": (4,), "device": "cpu"}),
    ("empty", (), {"size": (2, 2)}),
    ("zeros", ((2, 3),), {"dtype": "int64"}),
    ("ones", (), {"size": ()}),
    ("full", (), {"size": (2, 2), "fill_value": 1.5}),
    ("randint", (0, 10), {"size": (2, 3)}),
    ("normal", (0.0, 1.0), {"size": (3, 3, 3)}),
    ("arange", (16,), {"dtype": "float32"}),
    ("zeros", (2,), {"size": (2,)}),  # positional sizes and size=: TypeError
    ("ones", (), {"size": 3}),  # size= must be a sequence: TypeError
]


@pytest.mark.parametrize("name, args, kwargs", CREATION_CALLS)
def test_creation_keywords_as_pytorch(name, args, kwargs):
    torch = require_torch()

    def run(lib):
        options = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
        x = getattr(lib, name)(*args, **options)
        return tuple(x.shape), str(x.dtype).split(".")[-1], x.requires_grad, x.device.type

    assert _outcome(lambda: run(minicnn)) == _outcome(lambda: run(torch))


# ---------------------------------------------------------------- Size


def test_size_behaves_as_torch_size():
    torch = require_torch()
    x = np.zeros((1, 6, 28, 28), np.float32)
    ours, theirs = _both(torch, x)
    our_shape, their_shape = ours.shape, theirs.shape
    assert type(our_shape) is minicnn.Size and type(ours.size()) is minicnn.Size
    assert repr(our_shape) == repr(their_shape).replace("torch", "minicnn") == "minicnn.Size([1, 6, 28, 28])"
    assert str(our_shape) == str(their_shape).replace("torch", "minicnn")
    checks = [
        lambda s: s == (1, 6, 28, 28),
        lambda s: hash(s) == hash((1, 6, 28, 28)),
        lambda s: isinstance(s, tuple),
        lambda s: s[1],
        lambda s: s[-2:] == (28, 28),
        lambda s: type(s[2:]).__name__,
        lambda s: type((1, 1) + s[2:]).__name__,
        lambda s: tuple((1, 1) + s[2:]),
        lambda s: type(s + (3,)).__name__,
        lambda s: type(s * 2).__name__,
        lambda s: s.numel(),
        lambda s: len(s),
        lambda s: list(s),
        lambda s: s.index(28),
        lambda s: s.count(28),
        lambda s: np.zeros(s).shape,
        lambda s: s[0:0].numel(),
        lambda s: {s: 1}[(1, 6, 28, 28)],
    ]
    for check in checks:
        assert check(our_shape) == check(their_shape)
    n, c, h, w = our_shape
    assert (n, c, h, w) == (1, 6, 28, 28)
    assert minicnn.Size([2, 3]).numel() == torch.Size([2, 3]).numel() == 6
    assert minicnn.Size().numel() == torch.Size().numel() == 1
    assert _outcome(lambda: minicnn.Size([2.0])) == _outcome(lambda: torch.Size([2.0])) == ("error", "TypeError")
    assert f"{our_shape}" == "(1, 6, 28, 28)"  # (minicnn's one difference: f-strings show the tuple)


# ---------------------------------------------------------------- reshape, in place under no_grad, grad mode


def test_reshape_with_minus_one_as_pytorch():
    torch = require_torch()
    ours, theirs = _both(torch, np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    for shape in (-1, (-1,), (4, -1), (-1, 2, 3), ((1, 1) + (2, 12))):
        assert tuple(ours.reshape(shape).shape) == tuple(theirs.reshape(shape).shape)
    assert tuple(ours.reshape(6, -1).shape) == tuple(theirs.reshape(6, -1).shape)
    assert _outcome(lambda: ours.reshape(5, -1)) == ("error", "ValueError")  # minicnn: ValueError naming the shape
    assert _outcome(lambda: theirs.reshape(5, -1))[0] == "error"


def test_in_place_updates_under_no_grad_as_the_chapters_write_them():
    """conv-layer.md: ``conv2d.weight.data[:] -= lr * conv2d.weight.grad``; Trainer.clip_gradients:
    ``param.grad[:] *= grad_clip_val / norm``; and the Trainer's ``backward()`` inside ``no_grad``."""
    torch = require_torch()
    x = np.random.default_rng(3).standard_normal((1, 1, 6, 8)).astype(np.float32)
    target = np.random.default_rng(4).standard_normal((1, 1, 6, 7)).astype(np.float32)
    ours, theirs = nn.Conv2d(1, 1, (1, 2), bias=False), torch.nn.Conv2d(1, 1, (1, 2), bias=False)
    ours.load_state_dict(from_torch(theirs))
    for lib, conv in ((minicnn, ours), (torch, theirs)):
        X, Y = lib.tensor(x), lib.tensor(target)
        for _ in range(3):
            loss = ((conv(X) - Y) ** 2).sum()
            conv.zero_grad()
            with lib.no_grad():  # as d2l's Trainer: backward inside no_grad still fills the gradients
                loss.backward()
            conv.weight.data[:] -= 3e-2 * conv.weight.grad
        norm = lib.sqrt(sum(lib.sum(p.grad**2) for p in conv.parameters()))
        with lib.no_grad():
            for p in conv.parameters():
                p.grad[:] *= 0.5 / norm
    assert_close(ours.weight, theirs.weight, name="weight after three steps")
    assert_close(ours.weight.grad, theirs.weight.grad, name="clipped gradient")
    assert ours.weight.requires_grad and ours.weight.is_leaf


def test_is_grad_enabled_as_pytorch():
    torch = require_torch()
    states = []
    for lib in (minicnn, torch):
        with lib.no_grad():
            inside = lib.is_grad_enabled()
            with lib.enable_grad():
                nested = lib.is_grad_enabled()
        states.append((lib.is_grad_enabled(), inside, nested))
    assert states[0] == states[1] == (True, False, True)


def test_gradient_clipping_by_global_norm_as_pytorch():
    """The book's clip_gradients (rnn-scratch.md, used by its Trainer) and nn.utils.clip_grad_norm_."""
    torch = require_torch()
    ours, theirs = (
        nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)),
        torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)),
    )
    ours.load_state_dict(from_torch(theirs))
    x = np.random.default_rng(5).standard_normal((8, 4)).astype(np.float32) * 10

    def clip_gradients(lib, grad_clip_val, model):
        params = [p for p in model.parameters() if p.requires_grad]
        norm = lib.sqrt(sum(lib.sum(p.grad**2) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm
        return norm

    norms = []
    for lib, model in ((minicnn, ours), (torch, theirs)):
        model(lib.tensor(x)).square().sum().backward()
        norms.append(float(clip_gradients(lib, 1.0, model)))
        clipped = lib.sqrt(sum(lib.sum(p.grad**2) for p in model.parameters()))
        assert float(clipped) == pytest.approx(1.0, rel=1e-5)
        model(lib.tensor(x)).square().sum().backward()  # accumulates onto the clipped gradients
        norms.append(float(lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
    assert norms[:2] == pytest.approx(norms[2:], rel=1e-5)
    for (name, param), theirs_param in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(param.grad, theirs_param.grad, name=name)


def test_the_book_training_step_as_pytorch():
    """d2l's Trainer.fit_epoch with Classifier.loss and SGD, reduced to plain code, on a lazy LeNet."""
    torch = require_torch()

    def lenet(nn_):
        return nn_.Sequential(
            nn_.LazyConv2d(6, kernel_size=5, padding=2), nn_.Sigmoid(), nn_.AvgPool2d(kernel_size=2, stride=2),
            nn_.LazyConv2d(16, kernel_size=5), nn_.Sigmoid(), nn_.AvgPool2d(kernel_size=2, stride=2),
            nn_.Flatten(), nn_.LazyLinear(120), nn_.Sigmoid(), nn_.LazyLinear(84), nn_.Sigmoid(), nn_.LazyLinear(10),
        )  # fmt: skip

    rng = np.random.default_rng(6)
    batches = [(rng.random((4, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 4)) for _ in range(3)]
    ours, theirs = lenet(nn), lenet(torch.nn)
    theirs(torch.tensor(batches[0][0]))
    ours(minicnn.tensor(batches[0][0]))
    ours.load_state_dict(from_torch(theirs))
    losses = {}
    for lib, model in ((minicnn, ours), (torch, theirs)):
        optim = lib.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        for X, Y in batches:
            Y_hat = model(lib.tensor(X))
            loss = lib.nn.functional.cross_entropy(Y_hat.reshape((-1, Y_hat.shape[-1])), lib.tensor(Y).reshape((-1,)))
            optim.zero_grad()
            with lib.no_grad():
                loss.backward()
                optim.step()
            losses.setdefault(lib.__name__, []).append(f"{loss:.5f}")
    assert losses["minicnn"] == losses["torch"]
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, name=key)
    assert F.cross_entropy(minicnn.zeros(2, 10), minicnn.tensor([1, 2]), reduction="none").shape == (2,)


# ---------------------------------------------------------------- the chapters' Fashion-MNIST loader


def _write_idx(folder, images, labels, gz=True):
    """The four IDX files (gzipped, as Debian ships them; torchvision reads them extracted)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, (imgs, labs) in (("train", (images, labels)), ("t10k", (images[:3], labels[:3]))):
        contents = {
            f"{split}-images-idx3-ubyte": struct.pack(">iiii", 0x0803, *imgs.shape) + imgs.tobytes(),
            f"{split}-labels-idx1-ubyte": struct.pack(">ii", 0x0801, len(labs)) + labs.astype(np.uint8).tobytes(),
        }
        for name, content in contents.items():
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(content))
            else:
                (folder / name).write_bytes(content)


def test_fashion_mnist_loader_of_the_chapters_works_offline_on_idx_files(tmp_path, monkeypatch):
    """d2l.FashionMNIST: ``FashionMNIST(root, train, transform=Compose([Resize(r), ToTensor()]), download=True)``
    on a folder that holds the IDX files (Debian's layout): nothing is fetched, nothing is written."""
    torch = require_torch()
    import torchvision

    from minicnn.vision import datasets, transforms

    rng = np.random.default_rng(7)
    images, labels = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), rng.integers(0, 10, 6)
    _write_idx(tmp_path / "debian", images, labels)
    _write_idx(tmp_path / "torchvision" / "FashionMNIST" / "raw", images, labels, gz=False)
    before = sorted(p.name for p in (tmp_path / "debian").iterdir())
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/unreachable/"])  # a fetch would fail
    for resize in ((28, 28), (32, 32)):
        trans = transforms.Compose([transforms.Resize(resize), transforms.ToTensor()])
        train = datasets.FashionMNIST(root=tmp_path / "debian", train=True, transform=trans, download=True)
        val = datasets.FashionMNIST(root=tmp_path / "debian", train=False, transform=trans, download=True)
        their_trans = torchvision.transforms.Compose(
            [torchvision.transforms.Resize(resize), torchvision.transforms.ToTensor()]
        )
        theirs = torchvision.datasets.FashionMNIST(root=tmp_path / "torchvision", train=True, transform=their_trans)
        assert (len(train), len(val)) == (6, 3)
        X, y = next(iter(minicnn.utils.data.DataLoader(train, 4, shuffle=False, num_workers=4)))
        X_t, y_t = next(iter(torch.utils.data.DataLoader(theirs, 4, shuffle=False)))
        assert tuple(X.shape) == tuple(X_t.shape) == (4, 1) + resize and y.dtype == minicnn.int64
        np.testing.assert_array_equal(y.numpy(), y_t.numpy())
        assert_close(X, X_t, atol=1.01 / 255, rtol=0, name=f"images resized to {resize}")  # PIL rounds in 8 bits
    assert sorted(p.name for p in (tmp_path / "debian").iterdir()) == before  # no FashionMNIST/raw/ made


def test_the_code_of_docs_d2l_runs(tmp_path, capsys):
    """docs/d2l.md's code blocks (imports, the reduced d2l helpers, the data and training loop) run as written,
    on small IDX files, one epoch, with the chapter's LeNet."""
    import pathlib
    import re

    doc = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "d2l.md").read_text()
    imports, d2l_helpers, training = re.findall(r"```python\n(.*?)```", doc, re.S)[1:4]
    rng = np.random.default_rng(8)
    _write_idx(tmp_path, rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10))
    lenet = (
        "class LeNet(Classifier):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),\n"
        "            nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(), nn.LazyLinear(10))\n"
    )
    training = training.replace("'../data'", repr(str(tmp_path))).replace("range(10)", "range(1)")
    exec("\n".join([imports, d2l_helpers, lenet, training]), {})  # noqa: S102  (the page's own code)
    assert re.search(r"epoch 1, loss \d+\.\d{3}, val acc \d\.\d{3}", capsys.readouterr().out)
