"""How a tensor prints: PyTorch's format, so ported code prints what its author expects."""

from __future__ import annotations

import numpy as np

from . import backend


def _format_floats(values: np.ndarray):
    """PyTorch's float formatting: integers as '1.', otherwise 4 decimals, scientific for wide ranges."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return lambda v: f"{v}"
    nonzero = finite[finite != 0]
    if np.all(finite == np.round(finite)) and (finite.max() < 1e8):
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    if nonzero.size and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8 or nonzero.min() < 1e-4):
        return lambda v: f"{v:.4e}" if np.isfinite(v) else f"{v}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else f"{v}"


def tensor_repr(tensor) -> str:
    """``repr(tensor)`` as PyTorch prints it: ``tensor([[1., 2.]], requires_grad=True)``."""
    values = np.asarray(backend.to_device(tensor.array, backend.device("cpu")))
    summarize = values.size > 1000
    if values.dtype.kind == "f":
        shown = values if not summarize else values.reshape(-1)[:1000]
        fmt = _format_floats(shown.astype(np.float64))
        width = max(len(fmt(v)) for v in shown.reshape(-1)) if shown.size else 0
        formatter = {"float_kind": lambda v: fmt(v).rjust(width)}
    elif values.dtype.kind == "b":
        formatter = {"bool": lambda v: str(bool(v)).rjust(5 if values.any() and not values.all() else 0)}
    else:
        width = max((len(str(v)) for v in values.reshape(-1)[:1000]), default=0)
        formatter = {"int": lambda v: str(v).rjust(width)}
    body = np.array2string(
        values,
        separator=", ",
        prefix="tensor(",
        formatter=formatter,
        threshold=1000,
        edgeitems=3,
        max_line_width=80,
    )
    extras = []
    if tensor.device.type == "cuda":
        extras.append(f"device='{tensor.device}'")
    if values.dtype not in (np.float32, np.int64, np.bool_) or (values.size == 0 and values.dtype != np.float32):
        extras.append(f"dtype=minicnn.{values.dtype}")
    if tensor.grad_fn is not None:
        extras.append(f"grad_fn={tensor.grad_fn!r}")
    elif tensor.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
