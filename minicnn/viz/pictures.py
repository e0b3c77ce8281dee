"""Pictures of what a network holds and computes: conv filters, feature maps, a grid of images."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd.function import no_grad
from ._layers import _frozen, _input_batch, _resolve_layers
from ._plot import _mosaic, _new_figure, _normalize, _save, _shape_text, _show, _to_numpy

# ---------------------------------------------------------------- filters


def filters(conv, path=None, max_out: int = 64, max_in: int = 16, columns: int | None = None):
    """Draw the kernels of a conv layer, one small image per kernel, each scaled by its own largest weight.

    What a tile is depends on the input channels each output channel sees (C_in/groups):

    - 1 (a first layer on grey images): one tile per output channel, on a near-square grid.
    - 3 (a first layer on colour images): one RGB tile per output channel, its three input channels as
      red, green and blue (stretched together, so their balance shows).
    - otherwise: a grid with a row per output channel and a column per input channel, one tile per
      (out, in) kernel slice (at most ``max_out`` rows and ``max_in`` columns).

    Grey tiles keep the sign: mid-grey is 0, white the kernel's largest positive weight, black its largest
    negative one (each tile divided by its own largest absolute weight; the colour bar says so). RGB tiles
    are stretched from their minimum to their maximum.

    Args:
        conv: an ``nn.Conv2d``, or a weight tensor/array of shape (O, C/groups, KH, KW).
        path: save the figure as a PNG here.
        max_out, max_in: how many output / input channels to draw at most.
        columns: tiles per row for the one-tile-per-output layouts (default: two rows up to 8 tiles, else near square).

    Returns:
        The matplotlib Figure.
    """
    if isinstance(conv, nn.Module) and not hasattr(conv, "weight"):
        raise TypeError(f"filters: expected a Conv2d layer, got {type(conv).__name__}")
    weight = conv.weight if isinstance(conv, nn.Module) else conv
    weight = _to_numpy(weight)
    if weight.ndim != 4:
        raise ValueError(f"filters: expected a conv weight of shape (O, C/groups, KH, KW), got {weight.shape}")
    out_channels, in_channels = weight.shape[:2]
    shown = weight[:max_out]
    if in_channels in (1, 3):
        if in_channels == 1:
            tiles = [_signed(kernel[0]) for kernel in shown]
        else:
            tiles = [_normalize(kernel.transpose(1, 2, 0)) for kernel in shown]  # (KH, KW, 3) as RGB
        columns = columns or (-(-len(tiles) // 2) if len(tiles) <= 8 else int(np.ceil(np.sqrt(len(tiles)))))
        title = f"{out_channels} filters of shape {tuple(weight.shape[1:])}"
    else:
        shown = shown[:, :max_in]
        columns = shown.shape[1]
        tiles = [_signed(kernel_slice) for kernel in shown for kernel_slice in kernel]
        title = f"filters {tuple(weight.shape)}\nrow: output channel, column: input channel"
    image = _mosaic(tiles, columns)
    inch_per_pixel = min(0.25, 6.0 / max(image.shape[:2]))  # the longer side at most 6 inches
    legend = 1.3 if in_channels != 3 else 0.0  # room for the colour bar and its label
    width = max(4.0, image.shape[1] * inch_per_pixel) + legend
    figure = _new_figure("filters", width, image.shape[0] * inch_per_pixel + 0.7)
    axes = figure.add_subplot(1, 1, 1)
    _show(axes, image, title)
    if in_channels != 3:  # the sign legend: what black, grey and white mean
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = figure.colorbar(
            ScalarMappable(Normalize(-1, 1), "gray"), ax=axes, fraction=0.04, pad=0.03, ticks=[-1, 0, 1]
        )
        bar.ax.set_yticklabels(["-max", "0", "+max"], fontsize=7)
        bar.set_label("weight / its kernel's\nlargest |weight|", fontsize=7)
    figure.tight_layout()
    _save(figure, path)
    return figure


def _signed(kernel: np.ndarray) -> np.ndarray:
    """A kernel mapped to [0, 1] with 0 at 0.5: divided by its largest absolute weight (all zero: grey)."""
    peak = float(np.abs(kernel).max())
    return 0.5 + 0.5 * kernel.astype(np.float64) / peak if peak > 0 else np.full(kernel.shape, 0.5)


# ---------------------------------------------------------------- activations and feature maps


def activations(model, x, layers=None) -> dict:
    """Run ``model`` on one input and return what chosen layers output, as NumPy arrays.

    Args:
        model: the network (run in eval mode under no_grad; its modes are restored).
        x: one image (C, H, W) or a batch (N, C, H, W) of which the first image is used.
        layers: names (``"layer1.0"``) or modules to record; default every conv and pooling layer.

    Returns:
        A dict from layer name to its output array (1, C, H, W), in the order they ran. A module that
        runs twice appears twice, the second time as ``"name (call 2)"``.
    """
    chosen = _resolve_layers(model, layers, "activations")
    x = _input_batch(model, x, "activations", first_only=True)
    recorded, calls, handles = {}, {}, []

    def record(name):
        def hook(module, args, output):
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name} (call {calls[name]})"
            recorded[key] = _to_numpy(output[0] if isinstance(output, tuple) else output)

        return hook

    try:
        for name, module in chosen:
            handles.append(module.register_forward_hook(record(name)))
        with _frozen(model), no_grad():  # eval mode; each module's mode is put back afterwards
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return recorded


def feature_maps(model, x, path=None, layers=None, max_channels: int = 8):
    """Draw the activations of each conv/pooling layer (or of ``layers``) for one input.

    The first row is the input; then one row per layer call, with up to ``max_channels`` channels side by
    side, each stretched to its own range (light = high). Watch edges appear after the first conv,
    sharpen after ReLU and coarsen after pooling.

    Args:
        model: the network.
        x: one image (C, H, W) or a batch whose first image is used.
        path: save the figure as a PNG here.
        layers: names or modules to draw (default every conv and pooling layer).
        max_channels: channels drawn per layer.

    Returns:
        The matplotlib Figure.
    """
    x = _input_batch(model, x, "feature_maps", first_only=True)
    recorded = activations(model, x, layers)
    if not recorded:
        raise ValueError("feature_maps: the chosen layers never ran (or the model has no conv/pooling layer)")
    image = _to_numpy(x)[0]
    modules = dict(model.named_modules())
    rows = [("input", image)]
    for name, array in recorded.items():
        module = modules[name.split(" (call")[0]]
        rows.append((f"{name} ({type(module).__name__})", array[0]))
    figure = _new_figure("feature_maps", 1.1 * max_channels + 0.5, 1.3 * len(rows))
    for k, (name, maps) in enumerate(rows):
        if maps.ndim != 3:  # e.g. a flattened output: draw it as one row of pixels
            maps = maps.reshape(1, 1, -1)
        tiles = [_normalize(channel) for channel in maps[:max_channels]]
        axes = figure.add_subplot(len(rows), 1, k + 1)
        gap = max(1, maps.shape[-1] // 14)  # a thin separator, in proportion to the map
        _show(axes, _mosaic(tiles, len(tiles), gap), f"{name}  {_shape_text(maps.shape)}")
    figure.tight_layout()
    _save(figure, path)
    return figure


def image_grid(images, path=None, titles=None, columns: int | None = None):
    """Draw images side by side, each stretched to its own range.

    Args:
        images: a list (or array) of images, each (C, H, W) with C = 1 or 3, or (H, W).
        path: save the figure as a PNG here.
        titles: one caption per image.
        columns: images per row (default: all in one row up to 8).

    Returns:
        The matplotlib Figure.
    """
    images = [_to_numpy(image) for image in images]
    if not images:
        raise ValueError("image_grid: no images")
    columns = columns or min(len(images), 8)
    rows = -(-len(images) // columns)
    figure = _new_figure("image_grid", 1.5 * columns, 1.6 * rows)
    for k, image in enumerate(images):
        if image.ndim == 3:
            image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        _show(figure.add_subplot(rows, columns, k + 1), _normalize(image), titles[k] if titles else None)
    figure.tight_layout()
    _save(figure, path)
    return figure
