"""Adagrad.

PyTorch's algorithm, for each parameter p with gradient g, at step t:
    g = g + weight_decay * p                              (if weight_decay)
    clr = lr / (1 + (t - 1) * lr_decay)                   (the decayed learning rate)
    sum = sum + g^2                                       (every squared gradient so far; starts at
                                                           initial_accumulator_value)
    p = p - clr * g / (sqrt(sum) + eps)

Weights that got large gradients so far take smaller steps from then on.
"""

from __future__ import annotations

from ..autograd.function import no_grad
from ..backend import get_array_module
from .optimizer import Optimizer, _check_non_negative


class Adagrad(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused=None,
    ):
        _check_non_negative(type(self).__name__, "learning rate", lr)
        _check_non_negative(type(self).__name__, "lr_decay value", lr_decay)
        _check_non_negative(type(self).__name__, "weight_decay value", weight_decay)
        _check_non_negative(type(self).__name__, "initial_accumulator_value value", initial_accumulator_value)
        _check_non_negative(type(self).__name__, "epsilon value", eps)
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                eps=eps,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                foreach=foreach,
                maximize=maximize,
                differentiable=differentiable,
                fused=fused,
            ),
        )
        # As PyTorch, the state exists from the start (its sum starts at initial_accumulator_value).
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group["initial_accumulator_value"])

    def _init_state(self, param, initial_value):
        xp = get_array_module(param.array)
        self.state[param] = {"step": 0, "sum": xp.full_like(param.array, initial_value)}

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
            for param, grad in self._gradients(group):
                xp = get_array_module(grad)
                if param not in self.state:  # a group added later with add_param_group
                    self._init_state(param, group["initial_accumulator_value"])
                state = self.state[param]
                state["step"] += 1
                if weight_decay:
                    grad = grad + weight_decay * param.array
                decayed_lr = lr / (1 + (state["step"] - 1) * lr_decay)
                state["sum"] += grad * grad  # in place: the accumulator grows, never reallocated
                param.array -= decayed_lr * grad / (xp.sqrt(state["sum"]) + eps)
        return loss
