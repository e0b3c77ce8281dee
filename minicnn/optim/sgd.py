"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

PyTorch's algorithm, for each parameter p with gradient g:
    g = g + weight_decay * p                            (if weight_decay)
    buf = g                      on the first step      (if momentum)
    buf = momentum * buf + (1 - dampening) * g  after
    g = g + momentum * buf  if nesterov  else  buf
    p = p - lr * g
"""

from __future__ import annotations

from ..autograd.function import no_grad
from .optimizer import Optimizer, _check_non_negative


class SGD(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        _check_non_negative(type(self).__name__, "learning rate", lr)
        _check_non_negative(type(self).__name__, "momentum value", momentum)
        _check_non_negative(type(self).__name__, "weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for param, grad in self._gradients(group):
                if weight_decay:
                    grad = grad + weight_decay * param.array
                if momentum:
                    state = self.state.setdefault(param, {})
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = state["momentum_buffer"] = grad.copy()
                    else:
                        buffer *= momentum
                        buffer += (1 - dampening) * grad
                    grad = grad + momentum * buffer if nesterov else buffer
                param.array -= lr * grad
        return loss
