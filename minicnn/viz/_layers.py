"""Finding a model's layers by name or module, and putting one input on the model's device."""

from __future__ import annotations

import contextlib

import numpy as np

from .. import backend, nn
from ..tensor import Tensor

# ---------------------------------------------------------------- activations and feature maps

_CONV_AND_POOL = (
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)


def _input_batch(model, x, caller: str, requires_grad: bool = False, first_only: bool = False) -> Tensor:
    """Images (N, C, H, W), or one image (C, H, W), as a fresh tensor in the model's dtype and on its device
    (a copy: the caller's ``x`` is not touched); ``first_only`` keeps the first image."""
    array = x.array if isinstance(x, Tensor) else x
    if not hasattr(array, "ndim"):
        array = np.asarray(array)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"{caller}: expected images (N, C, H, W) or one image (C, H, W), got shape {array.shape}")
    dtype, device = _model_dtype_and_device(model)
    array = backend.to_device(array[:1] if first_only else array, device).astype(dtype, copy=True)
    return Tensor(array, requires_grad=requires_grad)


def _resolve_layers(model, layers, caller: str) -> list:
    """(name, module) pairs: the named/given modules, or every conv and pooling layer."""
    named = list(model.named_modules())
    if layers is None:
        return [(name, m) for name, m in named if isinstance(m, _CONV_AND_POOL)]
    by_name = dict(named)
    by_id = {id(m): name for name, m in reversed(named)}
    chosen = []
    for layer in [layers] if isinstance(layers, (str, nn.Module)) else layers:
        if isinstance(layer, str):
            if layer not in by_name:
                raise ValueError(f"{caller}: no layer named {layer!r}; names are {[n for n, _ in named if n]}")
            chosen.append((layer, by_name[layer]))
        elif isinstance(layer, nn.Module) and id(layer) in by_id:
            chosen.append((by_id[id(layer)], layer))
        else:
            raise ValueError(f"{caller}: layer {layer!r} is not a module of this model")
    return chosen


@contextlib.contextmanager
def _frozen(model):
    """Eval mode and no gradients for the weights while inside; each module's mode and each parameter's
    ``requires_grad`` are put back afterwards (even after an error), and no ``.grad`` is left on them."""
    modes = [(m, m.training) for m in model.modules()]
    grad_flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in grad_flags:
            p.requires_grad = False  # only the input gets a gradient
        yield
    finally:
        for p, flag in grad_flags:
            p.requires_grad = flag
        for module, training in modes:
            module.training = training


def _model_dtype_and_device(model):
    """The dtype and device of the model's first parameter (float32 on the CPU for a model without one)."""
    first = next(iter(model.parameters()), None)
    if first is None:
        return np.dtype(np.float32), backend.device("cpu")
    return first.dtype, first.device
