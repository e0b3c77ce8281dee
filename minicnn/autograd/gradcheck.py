"""``gradcheck``: compare an op's backward with central differences, in float64."""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..dtypes import float64
from ..tensor import Tensor
from .function import no_grad


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare the backward of ``fn`` with central differences, in float64.

    For a random output weighting ``v`` the analytic vector-Jacobian product ``J^T v`` (one backward) is
    compared, element by element, with the numerical one ``(f(x + eps) - f(x - eps)) . v / (2 eps)``. A
    random ``v`` makes a wrong backward show up with probability 1, at the cost of one backward plus two
    forwards per input element.

    Args:
        fn: a function of the tensors in ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or tuple of tensors; those with ``requires_grad`` are checked (must be float64).
        eps, atol, rtol: step and tolerances; an element passes when ``|a - n| <= atol + rtol * |n|``.
        raise_exception: raise ``GradcheckError`` naming the input and worst element (else return False).

    Returns:
        True when every checked gradient matches.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 for a meaningful check")

    def outputs_of(args):
        out = fn(*args)
        return out if isinstance(out, tuple) else (out,)

    rng = np.random.default_rng(seed)
    outputs = [o for o in outputs_of(inputs) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    weights = [rng.standard_normal(o.shape) for o in outputs]

    def weighted_sum(outs):
        outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
        return sum(float((np.asarray(o.detach()) * w).sum()) for o, w in zip(outs, weights))

    # analytic J^T v: one backward through sum(output * v)
    for i in checked:
        inputs[i].grad = None
    objective = None
    for out, w in zip(outputs, weights):
        if out.requires_grad:
            term = (out * Tensor(get_array_module(out.array).asarray(w))).sum()
            objective = term if objective is None else objective + term
    if objective is not None:
        objective.backward()

    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad.detach(), dtype=np.float64)
        numerical = np.zeros(x.shape)
        x.array = get_array_module(x.array).ascontiguousarray(x.array)  # so the flat view below is a view
        flat_values = x.array.reshape(-1)  # a view: nudging it nudges x
        for k in range(flat_values.size):
            original = flat_values[k].item()
            flat_values[k] = original + eps
            with no_grad():
                plus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original - eps
            with no_grad():
                minus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original
            numerical.reshape(-1)[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
        if (error > 0).any() or not np.isfinite(analytic).all():
            worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(error), error, np.inf))), x.shape)
            message = (
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index {tuple(map(int, worst))}: "
                f"analytic {analytic[worst]:.8g} vs numerical {numerical[worst]:.8g} "
                f"(atol={atol}, rtol={rtol}; {int((error > 0).sum())} of {error.size} elements off)"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
