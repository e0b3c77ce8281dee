"""Adadelta (the optimizer of PyTorch's MNIST example: ``optim.Adadelta(model.parameters(), lr=1.0)``).

PyTorch's algorithm, for each parameter p with gradient g:
    g = g + weight_decay * p                                        (if weight_decay)
    square_avg = rho * square_avg + (1 - rho) * g^2                 (running mean of squared gradients)
    delta      = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g (the step, in the units of p)
    acc_delta  = rho * acc_delta + (1 - rho) * delta^2              (running mean of squared steps)
    p = p - lr * delta

The ratio of the two running means makes the step size adapt per weight without a hand-set scale,
which is why the default ``lr`` is 1.0.
"""

from __future__ import annotations

from ..autograd.function import no_grad
from ..backend import get_array_module
from .optimizer import Optimizer, _check_non_negative


class Adadelta(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach=None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        _check_non_negative(type(self).__name__, "learning rate", lr)
        if not isinstance(rho, (int, float)) or not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {rho}")
        _check_non_negative(type(self).__name__, "epsilon value", eps)
        _check_non_negative(type(self).__name__, "weight_decay value", weight_decay)
        # foreach / capturable / differentiable choose PyTorch kernels; one NumPy/CuPy path serves here
        super().__init__(
            params,
            dict(
                lr=lr,
                rho=rho,
                eps=eps,
                weight_decay=weight_decay,
                foreach=foreach,
                capturable=capturable,
                maximize=maximize,
                differentiable=differentiable,
            ),
        )

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for param, grad in self._gradients(group):
                xp = get_array_module(grad)
                state = self.state.setdefault(param, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(param.array)
                    state["acc_delta"] = xp.zeros_like(param.array)
                state["step"] += 1
                if weight_decay:
                    grad = grad + weight_decay * param.array
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                # update the running means in place: no new state arrays per step
                square_avg *= rho
                square_avg += (1 - rho) * grad * grad
                delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
                acc_delta *= rho
                acc_delta += (1 - rho) * delta * delta
                param.array -= lr * delta
        return loss
