"""``minicnn.nn.utils``: gradient clipping, as ``torch.nn.utils``.

Call between ``loss.backward()`` and ``optimizer.step()``: a rare huge gradient (an exploding batch)
then cannot throw the weights far away in one step.
"""

from __future__ import annotations

import math

from ..backend import get_array_module
from ..tensor import Tensor


def _grads(parameters, op: str) -> list:
    """The gradient arrays of ``parameters`` (a tensor or an iterable of tensors) that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for param in parameters:
        if not isinstance(param, Tensor):
            raise TypeError(f"{op}: expected Tensors (model.parameters()), got {type(param).__name__}")
        if param.grad is not None:
            grads.append(param.grad.array)
    return grads


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The joint norm treats every gradient as one long vector: ``(sum_p ||g_p||^n)^(1/n)`` for
    ``norm_type`` n (``inf``: the largest |g|). If it exceeds ``max_norm``, every gradient is multiplied
    by ``max_norm / (norm + 1e-6)``, which keeps the direction of the step and shortens it.

    Returns:
        the joint norm before clipping, as a 0-d tensor.
    """
    norm_type = float(norm_type)
    grads = _grads(parameters, "clip_grad_norm_")
    if not grads:
        return Tensor(0.0)
    xp = get_array_module(grads[0])
    if math.isinf(norm_type):
        norms = [xp.abs(g).max() for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [(xp.abs(g) ** norm_type).sum() ** (1.0 / norm_type) for g in grads]
        total = (xp.stack(norms) ** norm_type).sum() ** (1.0 / norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite, so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    # as PyTorch: always multiply by min(coefficient, 1), so no branch depends on a (GPU) value
    coefficient = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:  # the raw arrays, in place: outside any graph
        g *= coefficient.astype(g.dtype)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters, "clip_grad_value_"):
        get_array_module(g).clip(g, -clip_value, clip_value, out=g)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
