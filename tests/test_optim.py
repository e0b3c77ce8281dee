"""Optimizers and learning-rate schedules equal PyTorch's, step by step; their argument checks."""

import numpy as np
import pytest

import minicnn
from tests.helpers import assert_close, require_torch

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-8)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


def run_steps(library, name, kwargs, weights, grads_per_step, groups=False):
    params = [library.tensor(w.copy(), requires_grad=True) for w in weights]
    if groups:
        optimizer = getattr(library.optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], **kwargs)
    else:
        optimizer = getattr(library.optim, name)(params, **kwargs)
    for grads in grads_per_step:
        optimizer.zero_grad()
        loss = sum((p * library.tensor(g)).sum() for p, g in zip(params, grads))  # d(loss)/dp = g
        loss.backward()
        optimizer.step()
    return [p.detach() for p in params], optimizer


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
@pytest.mark.parametrize("groups", [False, True])
def test_optimizer_matches_torch(name, kwargs, groups):
    torch = require_torch()
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in weights] for _ in range(5)]
    ours, _ = run_steps(minicnn, name, kwargs, weights, grads, groups)
    theirs, _ = run_steps(torch, name, kwargs, weights, grads, groups)
    for a, b in zip(ours, theirs):
        assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_optimizer_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((2, 2)).astype(np.float32)]
    grads = [[rng.standard_normal((2, 2)).astype(np.float32)] for _ in range(4)]
    straight, _ = run_steps(minicnn, "Adam", dict(lr=0.1), weights, grads)
    half, optimizer = run_steps(minicnn, "Adam", dict(lr=0.1), weights, grads[:2])
    state = optimizer.state_dict()
    assert state["param_groups"][0]["params"] == [0] and state["state"][0]["step"] == 2
    param = minicnn.tensor(half[0].numpy().copy(), requires_grad=True)
    resumed = minicnn.optim.Adam([param], lr=0.5)
    resumed.load_state_dict(state)
    assert resumed.param_groups[0]["lr"] == 0.1
    for (g,) in grads[2:]:
        resumed.zero_grad()
        (param * minicnn.tensor(g)).sum().backward()
        resumed.step()
    assert_close(param.detach(), straight[0], atol=1e-7)


def test_zero_grad_set_to_none_or_zero():
    p = minicnn.tensor([1.0], requires_grad=True)
    optimizer = minicnn.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.tolist() == [0.0]
    optimizer.zero_grad()
    assert p.grad is None
    optimizer.step()  # no gradient: nothing happens
    assert p.tolist() == [1.0]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: minicnn.optim.SGD(p, lr=-1), "Invalid learning rate"),
        (lambda p: minicnn.optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum"),
        (lambda p: minicnn.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
        (lambda p: minicnn.optim.Adam(p, betas=(1.0, 0.9)), "beta parameter at index 0"),
        (lambda p: minicnn.optim.Adam(p, eps=-1), "Invalid epsilon"),
        (lambda p: minicnn.optim.AdamW(p, weight_decay=-1), "weight_decay"),
        (lambda p: minicnn.optim.RMSprop(p, alpha=-1), "alpha"),
        (lambda p: minicnn.optim.Adadelta(p, lr=-1.0), "Invalid learning rate"),
        (lambda p: minicnn.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
        (lambda p: minicnn.optim.Adadelta(p, eps=-1e-6), "Invalid epsilon value"),
        (lambda p: minicnn.optim.Adadelta(p, weight_decay=-0.1), "Invalid weight_decay value"),
        (lambda p: minicnn.optim.Adagrad(p, lr=-0.1), "Invalid learning rate"),
        (lambda p: minicnn.optim.Adagrad(p, lr_decay=-0.1), "Invalid lr_decay value"),
        (lambda p: minicnn.optim.Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
        (lambda p: minicnn.optim.Adagrad(p, eps=-1), "Invalid epsilon value"),
        (lambda p: minicnn.optim.Adagrad(p, weight_decay=-1), "Invalid weight_decay value"),
        (lambda p: minicnn.optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda p: minicnn.optim.SGD(p[0], lr=0.1), "iterable"),
        (lambda p: minicnn.optim.SGD([p[0] * 2], lr=0.1), "non-leaf"),
    ],
)
def test_optimizer_argument_errors(make, message):
    params = [minicnn.tensor([1.0], requires_grad=True)]
    with pytest.raises((ValueError, TypeError), match=message):
        make(params)


SCHEDULERS = [
    ("StepLR", dict(step_size=2, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=10)),
    ("OneCycleLR", dict(max_lr=0.5, epochs=2, steps_per_epoch=5, anneal_strategy="linear", three_phase=True)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch)),
    ("MultiplicativeLR", dict(lr_lambda=lambda epoch: 0.9 if epoch % 2 else 1.0)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=4)),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS, ids=[s[0] + str(i) for i, s in enumerate(SCHEDULERS)])
@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_scheduler_matches_torch(name, kwargs, optimizer_name):
    torch = require_torch()
    lrs = {}
    for library in (minicnn, torch):
        param = library.tensor([1.0], requires_grad=True)
        extra = {"momentum": 0.9} if optimizer_name == "SGD" else {}
        optimizer = getattr(library.optim, optimizer_name)([param], lr=0.1, **extra)
        scheduler = getattr(library.optim.lr_scheduler, name)(optimizer, **kwargs)
        history = []
        for _ in range(9):
            optimizer.step()
            scheduler.step()
            group = optimizer.param_groups[0]
            history.append((scheduler.get_last_lr()[0], group.get("momentum", group.get("betas", (0,))[0])))
        lrs[library.__name__] = history
    np.testing.assert_allclose(lrs["minicnn"], lrs["torch"], rtol=1e-9, atol=1e-12)


def test_reduce_lr_on_plateau_matches_torch():
    torch = require_torch()
    losses = [1.0, 0.9, 0.95, 0.94, 0.93, 0.96, 0.97, 0.5, 0.6, 0.61, 0.62, 0.63]
    result = {}
    for library in (minicnn, torch):
        optimizer = library.optim.SGD([library.tensor([1.0], requires_grad=True)], lr=0.1)
        scheduler = library.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=1)
        history = []
        for loss in losses:
            scheduler.step(loss)
            history.append(optimizer.param_groups[0]["lr"])
        result[library.__name__] = history
    assert result["minicnn"] == pytest.approx(result["torch"])


def test_scheduler_errors():
    optimizer = minicnn.optim.SGD([minicnn.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        minicnn.optim.lr_scheduler.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="total_steps"):
        minicnn.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0)
    with pytest.raises(ValueError, match="factor"):
        minicnn.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=2.0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        minicnn.optim.lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        minicnn.optim.lr_scheduler.LambdaLR(optimizer, [lambda e: 1.0, lambda e: 0.5])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        minicnn.optim.lr_scheduler.MultiplicativeLR(optimizer, 0.5)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        minicnn.optim.lr_scheduler.LinearLR(optimizer, start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        minicnn.optim.lr_scheduler.LinearLR(optimizer, end_factor=1.5)


def test_lambda_scheduler_state_dict_leaves_out_the_functions():
    """As PyTorch: a lambda is code, not state; the saved dict (safetensors-storable) keeps None in its place."""
    optimizer = minicnn.optim.SGD([minicnn.tensor([1.0], requires_grad=True)], lr=0.1)
    scheduler = minicnn.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None] and state["last_epoch"] == 3
    resumed = minicnn.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    resumed.load_state_dict(state)
    resumed.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)


def test_adagrad_state_exists_from_the_start_as_in_pytorch():
    torch = require_torch()
    states = []
    for library in (minicnn, torch):
        param = library.tensor([1.0, 2.0], requires_grad=True)
        states.append(library.optim.Adagrad([param], initial_accumulator_value=0.25).state_dict())
    ours, theirs = states
    assert list(ours["state"][0]) == list(theirs["state"][0]) == ["step", "sum"]
    assert ours["state"][0]["sum"].tolist() == theirs["state"][0]["sum"].tolist() == [0.25, 0.25]
    assert sorted(ours["param_groups"][0]) == sorted(theirs["param_groups"][0])


def test_one_cycle_state_dict_is_plain_data():
    optimizer = minicnn.optim.SGD([minicnn.tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = minicnn.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=10)
    state = scheduler.state_dict()
    assert not any(callable(value) for value in state.values())


def test_chained_schedulers_and_manual_lr_changes_match_torch():
    torch = require_torch()

    def run(library, manual_change):
        optimizer = library.optim.SGD([library.tensor([1.0], requires_grad=True)], lr=1.0)
        schedulers = library.optim.lr_scheduler
        chain = [
            schedulers.LinearLR(optimizer, start_factor=0.25, total_iters=4),
            schedulers.ExponentialLR(optimizer, 0.5),
            schedulers.StepLR(optimizer, 3, 0.3),
            schedulers.CosineAnnealingLR(optimizer, T_max=4),
            schedulers.MultiStepLR(optimizer, [2, 5]),
        ]
        history = []
        for epoch in range(12):
            optimizer.step()
            for scheduler in chain:
                scheduler.step()
            if manual_change and epoch == 2:
                optimizer.param_groups[0]["lr"] = 0.5
            history.append(optimizer.param_groups[0]["lr"])
        return history

    for manual_change in (False, True):
        np.testing.assert_allclose(run(minicnn, manual_change), run(torch, manual_change), rtol=1e-9, atol=1e-15)
