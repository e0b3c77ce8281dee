"""Hyperparameter checks match PyTorch's: NaN, infinities, negatives and zeros are refused exactly where PyTorch
refuses them (a check written ``value < 0`` lets NaN through; PyTorch writes ``not 0.0 <= value``), and minicnn's
refusal is a ValueError/TypeError naming the class or function and the argument."""

import math

import pytest

import minicnn
from tests.helpers import require_torch

VALUES = [math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 1.0, 2.0]

# Where minicnn is deliberately stricter than PyTorch: NaN everywhere (it would spread silently through every
# later step), a negative label smoothing (PyTorch documents [0, 1] but lets negatives through), and schedule
# lengths that are not positive (PyTorch accepts them and divides by them, or never steps)
STRICTER = {
    "label_smoothing": lambda value: value < 0,
    "step_size": lambda value: value <= 0,
    "T_max": lambda value: value <= 0,
}


def outcome(make, library, value):
    """None when ``make(library, value)`` succeeds, else the exception."""
    try:
        make(library, value)
    except Exception as error:  # noqa: BLE001 - the kind of error is what is compared
        return error
    return None


def param(library):
    return [library.nn.Parameter(library.ones(2))]


def sched(library):
    return library.optim.SGD(param(library), lr=0.1, momentum=0.9)


def call(path: str, argument: str, *args, first=None, **fixed):
    """A case: ``make(L, value)`` calls ``L.<path>(first(L), *args, **fixed, argument=value)``."""

    def make(library, value):
        target = library
        for part in path.split("."):
            target = getattr(target, part)
        leading = () if first is None else (first(library),)
        return target(*leading, *args, **{**fixed, argument: value})

    return (path.split(".")[-1], argument, make)


def betas(name: str, index: int):
    def make(library, value):
        pair = (value, 0.9) if index == 0 else (0.9, value)
        return getattr(library.optim, name)(param(library), betas=pair)

    return (name, f"betas[{index}]", make)


OPTIMIZER_CASES = [
    call("optim.SGD", "lr", first=param),
    call("optim.SGD", "momentum", first=param, lr=0.1),
    call("optim.SGD", "weight_decay", first=param, lr=0.1),
    call("optim.SGD", "dampening", first=param, lr=0.1, momentum=0.9),
    call("optim.SGD", "momentum", first=param, lr=0.1, nesterov=True),
    *[call(f"optim.{n}", a, first=param) for n in ("Adam", "AdamW") for a in ("lr", "eps", "weight_decay")],
    *[betas(n, i) for n in ("Adam", "AdamW") for i in (0, 1)],
    *[call("optim.RMSprop", a, first=param) for a in ("lr", "eps", "momentum", "weight_decay", "alpha")],
    *[
        call("optim.Adagrad", a, first=param)
        for a in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    ],
    *[call("optim.Adadelta", a, first=param) for a in ("lr", "rho", "eps", "weight_decay")],
]

SCHEDULER_CASES = [
    call("optim.lr_scheduler.StepLR", "gamma", first=sched, step_size=1),
    call("optim.lr_scheduler.StepLR", "step_size", first=sched),
    call("optim.lr_scheduler.MultiStepLR", "gamma", [1, 2], first=sched),
    call("optim.lr_scheduler.ExponentialLR", "gamma", first=sched),
    call("optim.lr_scheduler.CosineAnnealingLR", "eta_min", 5, first=sched),
    call("optim.lr_scheduler.CosineAnnealingLR", "T_max", first=sched),
    call("optim.lr_scheduler.LinearLR", "start_factor", first=sched),
    call("optim.lr_scheduler.LinearLR", "end_factor", first=sched),
    *[
        call("optim.lr_scheduler.OneCycleLR", a, 1.0, 10, first=sched)
        for a in ("pct_start", "div_factor", "final_div_factor", "base_momentum", "max_momentum")
    ],
    call("optim.lr_scheduler.OneCycleLR", "max_lr", first=sched, total_steps=10),
    *[call("optim.lr_scheduler.ReduceLROnPlateau", a, first=sched) for a in ("factor", "threshold", "min_lr", "eps")],
]

LAYER_CASES = [
    ("Dropout", "p", lambda L, v: L.nn.Dropout(v)),
    ("Dropout2d", "p", lambda L, v: L.nn.Dropout2d(v)),
    ("dropout", "p", lambda L, v: L.nn.functional.dropout(L.ones(2, 3), v)),
    ("dropout2d", "p", lambda L, v: L.nn.functional.dropout2d(L.ones(2, 3, 2, 2), v)),
    ("LeakyReLU", "negative_slope", lambda L, v: L.nn.LeakyReLU(v)(L.ones(2))),
    ("leaky_relu", "negative_slope", lambda L, v: L.nn.functional.leaky_relu(L.ones(2), v)),
    ("BatchNorm2d", "eps", lambda L, v: L.nn.BatchNorm2d(2, eps=v)(L.ones(3, 2, 2, 2))),
    ("BatchNorm2d", "momentum", lambda L, v: L.nn.BatchNorm2d(2, momentum=v)(L.ones(3, 2, 2, 2))),
    ("batch_norm", "eps", lambda L, v: L.nn.functional.batch_norm(L.ones(3, 2), None, None, training=True, eps=v)),
    ("batch_norm", "eps", lambda L, v: L.nn.functional.batch_norm(L.ones(3, 2), L.zeros(2), L.ones(2), eps=v)),
    ("batch_norm", "momentum", lambda L, v: L.nn.functional.batch_norm(
        L.ones(3, 2), L.zeros(2), L.ones(2), training=True, momentum=v)),
    ("BatchNorm1d", "eps", lambda L, v: L.nn.BatchNorm1d(2, eps=v).eval()(L.ones(3, 2))),
    ("CrossEntropyLoss", "label_smoothing", lambda L, v: L.nn.CrossEntropyLoss(label_smoothing=v)(
        L.ones(2, 3), L.tensor([0, 1]))),
    ("cross_entropy", "label_smoothing", lambda L, v: L.nn.functional.cross_entropy(
        L.ones(2, 3), L.tensor([0, 1]), label_smoothing=v)),
]  # fmt: skip

DATA_CASES = [
    ("DataLoader", "batch_size", lambda L, v: L.utils.data.DataLoader(list(range(4)), batch_size=v)),
    ("random_split", "lengths", lambda L, v: L.utils.data.random_split(list(range(4)), [v, 1 - v])),
    ("random_split", "lengths", lambda L, v: L.utils.data.random_split(list(range(4)), [v, 0.5])),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")  # inf momentum, empty splits
@pytest.mark.parametrize(
    "name, argument, make",
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{i}") for i, case in enumerate(OPTIMIZER_CASES + SCHEDULER_CASES)]
    + [pytest.param(*case, id=f"{case[0]}-{case[1]}-{i}") for i, case in enumerate(LAYER_CASES + DATA_CASES)],
)
def test_refused_exactly_where_pytorch_refuses(name, argument, make):
    torch = require_torch()
    for value in VALUES + ([1, 2, 0, -1, 3.0] if name in ("DataLoader",) else []):
        theirs, ours = outcome(make, torch, value), outcome(make, minicnn, value)
        if theirs is None and ours is not None and (value != value or STRICTER.get(argument, lambda _: False)(value)):
            theirs = "refused by minicnn only"  # see STRICTER
        assert (ours is None) == (theirs is None), f"{name}({argument}={value}): PyTorch {theirs!r}, minicnn {ours!r}"
        if ours is not None:
            assert isinstance(ours, (ValueError, TypeError)), f"{name}({argument}={value}): {ours!r}"
            assert name.lower() in str(ours).lower(), f"{name}({argument}={value}): {ours} does not name {name}"


def test_normalize_refuses_nan_which_torchvision_lets_through():
    require_torch()
    import torchvision

    torchvision.transforms.Normalize((math.nan,), (1.0,))  # accepted there: every pixel would become NaN
    for mean, std in (((math.nan,), (1.0,)), ((0.5,), (math.nan,))):
        with pytest.raises(ValueError, match="Normalize: mean and std must not contain NaN"):
            minicnn.vision.transforms.Normalize(mean, std)
