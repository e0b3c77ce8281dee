"""``gradcheck``: compare an op's backward with central differences, in float64 (or float32)."""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..dtypes import float32, float64
from ..tensor import Tensor
from .function import no_grad


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numerical one."""


# default (eps, atol, rtol) per dtype of the checked inputs; float64's are PyTorch's own
TOLERANCES = {"float64": (1e-6, 1e-5, 1e-3), "float32": (1e-3, 2e-3, 1e-2)}


def gradcheck(
    fn,
    inputs,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare the backward of ``fn`` with central differences, element by element, for every checked input.

    For a random output weighting ``v`` the analytic vector-Jacobian product ``J^T v`` (one backward) is
    compared, element by element, with the numerical one ``(f(x + eps) - f(x - eps)) . v / (2 eps)``. A
    random ``v`` makes a wrong backward show up with probability 1 (a fixed ``v = 1`` would miss a backward
    that permutes the output's gradient), at the cost of one backward plus two forwards per input element.
    Every element of every checked input is compared on its own: one wrong element fails the check, and
    the message names the input, the worst element and how many are off.

    Tolerances (an element passes when ``|analytic - numerical| <= atol + rtol * |numerical|``):

    - float64 inputs: eps 1e-6, atol 1e-5, rtol 1e-3, PyTorch's defaults. Use float64 whenever you can.
    - float32 inputs: eps 1e-3, atol 2e-3, rtol 1e-2. A float32 output carries a rounding error of about
      6e-8 of its size, which a step of 1e-6 would turn into a numerical derivative off by ~0.1; with
      eps 1e-3 that error is ~1e-4, and the truncation error of central differences (eps^2 times the third
      derivative) stays below it for smooth ops of unit scale. So in float32 a backward wrong by more than
      ~1% (or 2e-3) at any single element is caught; smaller errors may pass. (PyTorch's gradcheck accepts
      float32 with a warning and its float64 tolerances, which fail even correct float32 ops.) When the
      inputs mix float32 and float64, float32's tolerances apply. Other dtypes (float16, integers) are refused.
    - The step actually taken is measured (float32 rounds x + eps), and the difference divided by it.

    Args:
        fn: a function of the tensors in ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or tuple of tensors; those with ``requires_grad`` are checked (float64 or float32).
        eps, atol, rtol: step and tolerances; None takes the default of the inputs' dtype (above).
        raise_exception: raise ``GradcheckError`` naming the input and worst element (else return False).
        seed: seed of the random output weighting ``v``.

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
        if inputs[i].dtype not in (float64, float32):
            raise ValueError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 (or float32) for a meaningful check"
            )
    precision = "float32" if any(inputs[i].dtype == float32 for i in checked) else "float64"
    default_eps, default_atol, default_rtol = TOLERANCES[precision]
    eps = default_eps if eps is None else eps
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol

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
            step_up = flat_values[k].item() - original  # the step x's dtype could take (float32 rounds it)
            with no_grad():
                plus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original - eps
            step_down = original - flat_values[k].item()
            with no_grad():
                minus = weighted_sum(outputs_of(inputs))
            flat_values[k] = original
            numerical.reshape(-1)[k] = (plus - minus) / (step_up + step_down)
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
