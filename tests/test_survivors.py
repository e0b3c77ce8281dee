"""Tests written for the mutants that survived the suite (scripts/mutants.py, docs/testing.md).

Each test names the mutant it kills. The gaps they close: a layer's bias initialised with the wrong bound
(only the upper limit of |bias| was checked, so a 10x smaller bound passed), a scheduler's closed form
(``scheduler.step(epoch)``) never compared with PyTorch at epochs that are not multiples of the step, and
checkpoint names that collide three times.
"""

import math

import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.serialization import load, save
from tests.helpers import require_torch


def uniform_spread_ok(values, bound):
    """Drawn from U(-bound, bound): inside it, reaching near both ends, with the uniform's std."""
    values = np.asarray(values).reshape(-1)
    return (
        np.abs(values).max() <= bound
        and values.max() > 0.8 * bound
        and values.min() < -0.8 * bound
        and abs(values.std() - bound / math.sqrt(3)) < 0.15 * bound
    )


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: nn.Linear(50, 400), 50),
        (lambda: nn.Linear(7, 300), 7),
        (lambda: nn.Conv2d(3, 200, 3), 27),
        (lambda: nn.Conv2d(8, 300, (1, 2), groups=2), 8),  # fan_in = C/G * KH * KW
    ],
    ids=["linear", "linear_narrow", "conv", "conv_groups"],
)
def test_default_init_of_weight_and_bias_follows_pytorch(make, fan_in):
    """Kills ``linear-init-bound``: weight and bias both U(+-1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5))."""
    minicnn.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert uniform_spread_ok(layer.weight.detach().numpy(), bound), "weight"
    assert uniform_spread_ok(layer.bias.detach().numpy(), bound), "bias"


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.25, total_iters=4)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch deprecates step(epoch); its result still counts
@pytest.mark.parametrize("name, options", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_scheduler_step_with_an_epoch_follows_pytorch(name, options):
    """Kills ``steplr-floor``: ``step(epoch)`` uses the closed form, at any epoch, in any order."""
    torch = require_torch()
    ours = minicnn.optim.SGD([minicnn.zeros(2, requires_grad=True)], lr=0.1)
    theirs = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    our_scheduler = getattr(minicnn.optim.lr_scheduler, name)(ours, **options)
    their_scheduler = getattr(torch.optim.lr_scheduler, name)(theirs, **options)
    for epoch in [1, 2, 4, 5, 7, 3, 8, 0, 11]:
        our_scheduler.step(epoch)
        their_scheduler.step(epoch)
        assert math.isclose(ours.param_groups[0]["lr"], theirs.param_groups[0]["lr"], rel_tol=1e-12), (name, epoch)


def test_three_arrays_whose_paths_read_the_same_all_survive_a_round_trip(tmp_path):
    """Kills ``unique-name-collision``: 'a/b/c' three ways; each array keeps its own name in the file."""
    state = {
        "a/b/c": minicnn.tensor([1.0]),
        "a/b": {"c": minicnn.tensor([2.0])},
        "a": {"b/c": minicnn.tensor([3.0]), "b": {"c": minicnn.tensor([4.0])}},
    }
    path = tmp_path / "collide.pt"
    save(state, path)
    loaded = load(path)
    assert loaded["a/b/c"].tolist() == [1.0]
    assert loaded["a/b"]["c"].tolist() == [2.0]
    assert loaded["a"]["b/c"].tolist() == [3.0]
    assert loaded["a"]["b"]["c"].tolist() == [4.0]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_optimizer_state_dict_resumes_exactly(name):
    """Kills ``optimizer-load-state-order``: two steps, a round trip of the optimizer's state_dict into a fresh
    optimizer over a copy of the parameters, two more steps: equal to four uninterrupted steps, for
    parameters of different shapes and sizes of one group and of two."""
    options = {"SGD": dict(lr=0.1, momentum=0.9)}.get(name, dict(lr=0.05))
    rng = np.random.default_rng(60)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((2, 2, 2))]

    def loss_of(params):
        return sum(((p * (i + 1)) ** 2).sum() + p.sum() for i, p in enumerate(params))

    def make(params):
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}]
        return getattr(minicnn.optim, name)(groups, **options)

    def steps(params, optimizer, count):
        for _ in range(count):
            optimizer.zero_grad()
            loss_of(params).backward()
            optimizer.step()

    straight = [minicnn.tensor(a.copy(), requires_grad=True) for a in start]
    steps(straight, make(straight), 4)
    first = [minicnn.tensor(a.copy(), requires_grad=True) for a in start]
    optimizer = make(first)
    steps(first, optimizer, 2)
    resumed = [minicnn.tensor(p.detach().numpy().copy(), requires_grad=True) for p in first]
    new_optimizer = make(resumed)
    new_optimizer.load_state_dict(optimizer.state_dict())
    steps(resumed, new_optimizer, 2)
    for i, (a, b) in enumerate(zip(resumed, straight)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=f"param {i}")


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_without_set_to_none_zeroes_in_place(owner):
    """Kills ``module-zero-grad-noop`` and ``zero-grad-set-to-none-false``: the gradient tensors stay, filled
    with zeros, so the next backward gives exactly the fresh gradient (as PyTorch)."""
    torch = require_torch()
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    our_optimizer, their_optimizer = (
        minicnn.optim.SGD(ours.parameters(), lr=0.1),
        torch.optim.SGD(theirs.parameters(), lr=0.1),
    )
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for _ in range(2):
        ours(minicnn.tensor(x)).sum().backward()
        theirs(torch.tensor(x)).sum().backward()
    kept = [p.grad for p in ours.parameters()]
    (ours if owner == "module" else our_optimizer).zero_grad(set_to_none=False)
    (theirs if owner == "module" else their_optimizer).zero_grad(set_to_none=False)
    for p, tp, before in zip(ours.parameters(), theirs.parameters(), kept):
        assert p.grad is before and not np.asarray(p.grad.detach()).any() and not tp.grad.any()
    ours(minicnn.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(np.asarray(p.grad.detach()), tp.grad.numpy(), rtol=1e-6)
