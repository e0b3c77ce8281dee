"""Activation maximisation: gradient ascent on the input, the image a channel (or a class) responds to most."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor
from ._layers import _resolve_layers
from ._plot import _to_numpy
from .pictures import image_grid

# ---------------------------------------------------------------- what does the network see?


class _StopForward(Exception):
    """Raised by the hook once the chosen layer has run: the rest of the network is not needed."""


def maximize_activation(
    model,
    layer,
    channel: int,
    input_size,
    steps: int = 60,
    lr: float = 0.1,
    seed: int = 0,
    value_range=(0.0, 1.0),
    decay: float = 0.01,
    path=None,
) -> np.ndarray:
    """Find an input that excites one channel of one layer: gradient ascent on the input image.

    "What does the network see?": start from grey noise and repeatedly nudge the *input* (the weights
    stay fixed) in the direction that raises the mean activation of ``channel`` in ``layer``:

        x <- x + lr * g / rms(g),   g = d mean(layer(x)[:, channel]) / dx
        x <- centre + (1 - decay) * (x - centre),   then clip x to ``value_range``

    Dividing by the gradient's root mean square makes the step size independent of the gradient's scale
    (as the Keras example does); the decay towards the mid value and the clipping keep the image in the
    range the network was trained on, so the picture is not dominated by a few huge pixels.

    The model runs in eval mode (dropout off, batch norm fixed); its parameters get no gradients (their
    ``requires_grad`` is turned off during the search and restored), and its modes are restored. The
    forward pass stops at ``layer`` (a hook raises a private exception), so later layers cost nothing.

    Args:
        model: the network.
        layer: the layer to probe: its name (``"layer1.0"``) or the module itself.
        channel: the channel of that layer's output to maximise.
        input_size: (C, H, W) or (1, C, H, W).
        steps, lr: gradient-ascent steps and step size (in input units).
        seed: for the starting noise (a private generator; the global random state is untouched).
        value_range: (low, high) the input is kept in; (0, 1) suits images scaled by ToTensor.
        decay: pull towards the middle of the range at every step (a mild L2 regulariser).
        path: save the image as a PNG here.

    Returns:
        The input found, a float32 NumPy array of shape (C, H, W).
    """
    [(layer_name, module)] = _resolve_layers(model, [layer])
    size = tuple(input_size)[-3:]
    if len(size) != 3:
        raise ValueError(f"maximize_activation: input_size must be (C, H, W) or (1, C, H, W), got {input_size}")
    low, high = value_range
    centre = (low + high) / 2
    params = list(model.parameters())
    first = params[0] if params else None
    dtype = first.dtype if first is not None else np.float32
    device = first.device if first is not None else backend.device("cpu")
    rng = np.random.default_rng(seed)
    start = centre + 0.1 * (high - low) * rng.standard_normal((1, *size))
    x = Tensor(backend.to_device(np.clip(start, low, high).astype(dtype), device), requires_grad=True)
    captured = []

    def capture(mod, args, output):
        captured.append(output[0] if isinstance(output, tuple) else output)
        raise _StopForward

    modes = [(m, m.training) for m in model.modules()]
    grad_flags = [(p, p.requires_grad) for p in params]
    handle = module.register_forward_hook(capture)
    try:
        model.eval()
        for p in params:
            p.requires_grad = False  # only the input is optimised; no .grad left on the weights
        for step in range(steps + 1):
            captured.clear()
            try:
                model(x)
            except _StopForward:
                pass
            if not captured:
                raise ValueError(f"maximize_activation: layer {layer_name!r} did not run in the forward pass")
            output = captured[0]
            if output.ndim < 2 or not 0 <= channel < output.shape[1]:
                raise ValueError(
                    f"maximize_activation: channel {channel} is out of range for {layer_name!r} "
                    f"with output shape {tuple(output.shape)}"
                )
            if step == steps:
                break
            objective = output[:, channel].mean()
            x.grad = None
            objective.backward()
            grad = x.grad.array
            xp = backend.get_array_module(grad)
            rms = xp.sqrt((grad * grad).mean()) + 1e-8
            x.array += lr * grad / rms  # ascent: up the gradient
            x.array -= decay * (x.array - centre)
            xp.clip(x.array, low, high, out=x.array)
    finally:
        handle.remove()
        for p, flag in grad_flags:
            p.requires_grad = flag
        for mod, training in modes:
            mod.training = training
    image = _to_numpy(x.array)[0].astype(np.float32)
    if path is not None:
        image_grid([image], path, titles=[f"{layer_name} channel {channel}"])
    return image
