"""Activation maximisation: gradient ascent on the input, the image a channel (or a class) responds to most."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import enable_grad
from ..tensor import Tensor
from ._layers import _frozen, _model_dtype_and_device, _resolve_layers
from ._plot import _to_numpy
from .pictures import image_grid


class _StopForward(Exception):
    """Raised by the hook once the chosen layer has run: the rest of the network is not needed."""


def _gaussian_blur(image, sigma: float):
    """Blur (1, C, H, W) with a Gaussian of ``sigma`` pixels: one 1-D kernel along H, then along W.

    The image is padded by repeating its edge pixels, so the border does not darken. Works on NumPy and
    CuPy arrays alike (slices and sums only).
    """
    xp = backend.get_array_module(image)
    radius = max(1, int(round(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (2, 3):
        padding = [(0, 0)] * 4
        padding[axis] = (radius, radius)
        padded = xp.pad(image, padding, mode="edge")
        size = image.shape[axis]
        image = sum(
            float(w) * padded[(slice(None),) * axis + (slice(k, k + size),)] for k, w in enumerate(taps)
        ).astype(image.dtype)
    return image


def maximize_activation(
    model,
    layer,
    channel: int,
    input_size,
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    value_range=(0.0, 1.0),
    decay: float = 0.03,
    jitter: int = 2,
    blur_every: int = 3,
    blur_sigma: float = 1.0,
    path=None,
) -> np.ndarray:
    """Find an input that excites one channel of a layer, or one class: gradient ascent on the input image.

    "What does the network see?": start from faint noise and repeatedly nudge the *input* (the weights
    stay fixed) in the direction that raises the mean activation of ``channel`` in ``layer``; with the
    network's output layer (or the model itself) as ``layer``, ``channel`` is a class and the image is
    what the network finds most like that class. Each step:

        shift x by a random (dy, dx), |dy|, |dx| <= jitter      (jitter, undone after the step)
        g = d mean(layer(x)[:, channel]) / dx
        x <- x + lr * g / rms(g)                                 (ascent, of a fixed size)
        x <- (1 - decay) * x                                     (L2 decay towards 0)
        every blur_every steps, and after the last: x <- gaussian_blur(x, blur_sigma)
        clip x to value_range

    Plain ascent finds high-frequency patterns the network happens to respond to: black-and-white pixel
    noise, not a picture. The three regularisers of Yosinski et al. (2015) keep the image natural:
    **jitter** (random shifts of the image at every step) asks for a pattern that works wherever it lands,
    not one tuned pixel by pixel; **L2 decay** pulls every pixel towards 0 (the black background of
    MNIST-like images scaled to [0, 1], or the mean pixel of normalised ones), so only pixels the
    objective keeps asking for stay bright; **Gaussian blur** every few steps removes the high
    frequencies that gradient ascent would otherwise pile up. Each is switched off by setting it to 0
    (``jitter=0``, ``decay=0``, ``blur_every=0``). Dividing by the gradient's root mean square makes the
    step size independent of the gradient's scale (as the Keras example does).

    The model runs in eval mode (dropout off, batch norm fixed); its parameters get no gradients (their
    ``requires_grad`` is turned off during the search and restored), and its modes are restored. The
    forward pass stops at ``layer`` (a hook raises a private exception), so later layers cost nothing.

    Args:
        model: the network.
        layer: the layer to probe: its name (``"layer1.0"``, ``"fc"``) or the module itself; the model
            itself (or its last layer) probes the output, where ``channel`` is a class.
        channel: the channel of that layer's output to maximise (for a (N, F) output, the feature or class).
        input_size: (C, H, W) or (1, C, H, W).
        steps, lr: gradient-ascent steps and step size (in input units).
        seed: for the starting noise and the jitter (a private generator; the global random state is untouched).
        value_range: (low, high) the input is kept in; (0, 1) suits images scaled by ToTensor.
        decay: L2 decay: the fraction of each pixel's value removed every step (0 = off).
        jitter: largest random shift in pixels, drawn anew every step (0 = off).
        blur_every: blur the image every this many steps (0 = off); blur_sigma: the blur's width in pixels.
        path: save the image as a PNG here.

    Returns:
        The input found, a float32 NumPy array of shape (C, H, W).

    Example:
        >>> digits = [viz.maximize_activation(model, "fc", c, (1, 28, 28)) for c in range(10)]
    """
    [(layer_name, module)] = _resolve_layers(model, [layer], "maximize_activation")
    size = tuple(input_size)[-3:]
    if len(size) != 3 or len(tuple(input_size)) > 4:
        raise ValueError(f"maximize_activation: input_size must be (C, H, W) or (1, C, H, W), got {input_size}")
    for name, value in (("steps", steps), ("jitter", jitter), ("blur_every", blur_every)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"maximize_activation: {name} must be an int >= 0, got {value!r}")
    if not 0 <= decay < 1 or blur_sigma < 0 or lr <= 0:
        raise ValueError(
            f"maximize_activation: need 0 <= decay < 1, blur_sigma >= 0 and lr > 0; got decay={decay}, "
            f"blur_sigma={blur_sigma}, lr={lr}"
        )
    low, high = value_range
    centre = (low + high) / 2
    dtype, device = _model_dtype_and_device(model)
    rng = np.random.default_rng(seed)
    start = centre + 0.1 * (high - low) * rng.standard_normal((1, *size))
    x = Tensor(backend.to_device(np.clip(start, low, high).astype(dtype), device), requires_grad=True)
    captured = []

    def capture(mod, args, output):
        captured.append(output[0] if isinstance(output, tuple) else output)
        if mod is not model:
            raise _StopForward

    handle = module.register_forward_hook(capture)
    try:
        with _frozen(model), enable_grad():
            for step in range(steps + 1):
                dy, dx = (int(d) for d in rng.integers(-jitter, jitter + 1, size=2)) if jitter else (0, 0)
                xp = backend.get_array_module(x.array)
                x.array = xp.roll(x.array, (dy, dx), axis=(2, 3))  # jitter: look at a shifted image
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
                if step < steps:
                    x.grad = None
                    output[:, channel].mean().backward()
                    grad = x.grad.array
                    x.array = x.array + lr * grad / (xp.sqrt((grad * grad).mean()) + 1e-8)  # up the gradient
                x.array = xp.roll(x.array, (-dy, -dx), axis=(2, 3))  # undo the shift
                if step == steps:
                    break
                if decay:
                    x.array *= 1 - decay
                if blur_every and blur_sigma and ((step + 1) % blur_every == 0 or step + 1 == steps):
                    x.array = _gaussian_blur(x.array, blur_sigma)
                xp.clip(x.array, low, high, out=x.array)
    finally:
        handle.remove()
    image = _to_numpy(x.array)[0].astype(np.float32)
    if path is not None:
        image_grid([image], path, titles=[f"{layer_name or 'output'} channel {channel}"])
    return image
