"""RMSprop.

PyTorch's algorithm, for each parameter p with gradient g:
    g = g + weight_decay * p                                   (if weight_decay)
    square_avg = alpha * square_avg + (1 - alpha) * g^2
    centered: grad_avg = alpha * grad_avg + (1 - alpha) * g;  avg = sqrt(square_avg - grad_avg^2) + eps
    else:     avg = sqrt(square_avg) + eps
    momentum: buf = momentum * buf + g / avg;  p = p - lr * buf
    else:     p = p - lr * g / avg
"""

from __future__ import annotations

from ..autograd.function import no_grad
from ..backend import get_array_module
from .optimizer import Optimizer, _check_non_negative


class RMSprop(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        _check_non_negative(type(self).__name__, "learning rate", lr)
        _check_non_negative(type(self).__name__, "epsilon value", eps)
        _check_non_negative(type(self).__name__, "momentum value", momentum)
        _check_non_negative(type(self).__name__, "weight_decay value", weight_decay)
        _check_non_negative(type(self).__name__, "alpha value", alpha)
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
        )

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            for param, grad in self._gradients(group):
                xp = get_array_module(grad)
                state = self.state.setdefault(param, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(param.array)
                    if momentum > 0:
                        state["momentum_buffer"] = xp.zeros_like(param.array)
                    if centered:
                        state["grad_avg"] = xp.zeros_like(param.array)
                state["step"] += 1
                if weight_decay:
                    grad = grad + weight_decay * param.array
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if centered:
                    grad_avg = state["grad_avg"]
                    grad_avg *= alpha
                    grad_avg += (1 - alpha) * grad
                    avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
                else:
                    avg = xp.sqrt(square_avg) + eps
                if momentum > 0:
                    buffer = state["momentum_buffer"]
                    buffer *= momentum
                    buffer += grad / avg
                    param.array -= lr * buffer
                else:
                    param.array -= lr * grad / avg
        return loss
