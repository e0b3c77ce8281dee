"""See inside a network: the autograd graph, conv filters, feature maps, what excites a channel, im2col.

===========================  ========================================================================
``graph(tensor)``            the graph of Functions behind a tensor, as Graphviz ``dot`` source
``filters(conv)``            a conv layer's kernels as a grid of small images
``activations(model, x)``    the outputs of chosen layers for one input (NumPy arrays, no plotting)
``feature_maps(model, x)``   those outputs drawn: a row per layer, a tile per channel
``maximize_activation(...)`` gradient ascent on the input: the image one channel responds to most
``im2col_demo()``            a tiny convolution turned into one matrix product, printed and drawn
``image_grid(images)``       several images side by side (e.g. maximised activations of many channels)
===========================  ========================================================================

The drawing functions need matplotlib (``pip install "minicnn[plot]"``); they draw on the Agg backend
(straight to PNG, no window; the global matplotlib backend is left alone), return the
``matplotlib.figure.Figure`` and save it as a PNG when given a ``path``. ``graph`` and ``activations``
need nothing beyond NumPy; rendering a graph to SVG/PNG needs the Graphviz ``dot`` program.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import numpy as np

from . import backend, nn
from .autograd.function import no_grad
from .tensor import Tensor

__all__ = [
    "AutogradGraph",
    "activations",
    "feature_maps",
    "filters",
    "graph",
    "im2col_demo",
    "image_grid",
    "maximize_activation",
]

PLOT_INSTALL_HINT = 'pip install "minicnn[plot]"  (or: pip install matplotlib)'
GRAPHVIZ_INSTALL_HINT = (
    "install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`; or write the dot source with .save('graph.dot') and paste it into any "
    "online Graphviz viewer"
)


# ---------------------------------------------------------------- matplotlib, imported on first use


def _matplotlib(what: str):
    """Import matplotlib for ``what`` or raise an ImportError that says how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"minicnn.viz.{what} draws with matplotlib, which is not installed: {PLOT_INSTALL_HINT}"
        ) from error
    return Figure, FigureCanvasAgg


def _new_figure(what: str, width: float, height: float):
    """A figure drawn by Agg: no window, no pyplot state (so figures are freed when dropped)."""
    Figure, FigureCanvasAgg = _matplotlib(what)
    figure = Figure(figsize=(round(width * 100) / 100, round(height * 100) / 100), dpi=100)  # whole pixels
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    if path is not None:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=figure.dpi)


def _to_numpy(x) -> np.ndarray:
    """A NumPy copy of a tensor or array (from the GPU too)."""
    if isinstance(x, Tensor):
        x = x.array
    return np.asarray(backend.to_device(x, backend.device("cpu")) if not isinstance(x, np.ndarray) else x)


def _normalize(tile: np.ndarray) -> np.ndarray:
    """Stretch values to [0, 1] (a constant tile becomes mid-grey), so each tile uses the full range."""
    tile = tile.astype(np.float64)
    low, high = tile.min(), tile.max()
    if high - low < 1e-12:
        return np.full_like(tile, 0.5)
    return (tile - low) / (high - low)


def _mosaic(tiles: list, columns: int, gap: int = 1) -> np.ndarray:
    """Lay equal-sized tiles (H, W) or (H, W, 3), values in [0, 1], on a grid with ``gap`` pixels between.

    The gaps are NaN (grey tiles) or transparent (colour tiles), so ``_show`` draws them in the axes'
    background colour, never confused with a white or black pixel.
    """
    rows = -(-len(tiles) // columns)  # ceiling division
    h, w = tiles[0].shape[:2]
    colour = tiles[0].ndim == 3
    canvas = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, *((4,) if colour else ())), np.nan)
    if colour:
        canvas[...] = 0.0  # RGBA with alpha 0: transparent
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        if colour:
            tile = np.concatenate([tile, np.ones((h, w, 1))], axis=2)  # opaque
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    return canvas


def _show(axes, image, title=None):
    """imshow without ticks; grey colour map for one channel; gaps (NaN/transparent) in steel blue."""
    axes.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    axes.set_facecolor("steelblue")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=8)


# ---------------------------------------------------------------- graph


class GraphvizNotFoundError(RuntimeError):
    """Raised by ``AutogradGraph.render`` when the Graphviz ``dot`` program is not installed."""


class AutogradGraph:
    """The graph behind a tensor as Graphviz dot text.

    Attributes:
        source: the dot text (``str(graph)`` gives the same).
        ops: the name of every op node (``"Conv2dBackward"``, ...), outputs first.
        leaves: a label for every leaf tensor node (parameters by name, others by shape).
    """

    def __init__(self, source: str, ops: list, leaves: list):
        self.source, self.ops, self.leaves = source, ops, leaves

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<AutogradGraph: {len(self.ops)} ops, {len(self.leaves)} leaf tensors>"

    def render(self, path, format: str | None = None) -> pathlib.Path:
        """Write the graph to ``path``: the dot text for ``.dot``/``.gv``, else an image drawn by ``dot``.

        Args:
            path: the file to write; its suffix picks the format (``.svg``, ``.png``, ``.pdf``, ``.dot``).
            format: override the format the suffix implies.

        Raises:
            GraphvizNotFoundError: for an image format when the ``dot`` program is not installed.
        """
        path = pathlib.Path(path)
        format = (format or path.suffix.lstrip(".") or "png").lower()
        path.parent.mkdir(parents=True, exist_ok=True)
        if format in ("dot", "gv"):
            path.write_text(self.source)
            return path
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFoundError(
                f"graph.render: drawing {path.name} needs the Graphviz 'dot' program, which is not on PATH; "
                + GRAPHVIZ_INSTALL_HINT
            )
        subprocess.run([dot, f"-T{format}", "-o", str(path)], input=self.source.encode(), check=True, timeout=120)
        return path

    save = render

    def _repr_svg_(self):
        """Jupyter shows the graph inline when ``dot`` is installed."""
        dot = shutil.which("dot")
        if dot is None:
            return None
        return subprocess.run(
            [dot, "-Tsvg"], input=self.source.encode(), capture_output=True, timeout=120
        ).stdout.decode()


def _quote(text: str) -> str:
    """A dot string literal ("\\n" in ``text`` stays a line break)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def graph(tensor, params=None) -> AutogradGraph:
    """The autograd graph behind ``tensor``, as Graphviz dot source (op nodes, leaf tensors, edges).

    Each op node is one ``Function.apply`` recorded in the graph (a ``Context``), labelled with its
    backward's name (``Conv2dBackward``, as PyTorch names them) and the shape it produced. Leaf tensors
    (parameters and inputs) are boxes with their shape and dtype, blue when they require grad and grey
    otherwise; parameters are labelled by name when ``params`` is given. Edges follow the data, from
    inputs to the output (green). The walk uses an explicit stack, so deep graphs are fine.

    Build the view **before** ``loss.backward()``: backward frees each node's saved inputs as it goes
    (``Context.release``), after which the graph cannot be walked (unless you passed
    ``retain_graph=True``).

    Args:
        tensor: the output (usually the loss), or a list of outputs.
        params: names for parameters: ``dict(model.named_parameters())`` (or the pairs themselves).

    Returns:
        An ``AutogradGraph``: ``.source`` is the dot text, ``.render("graph.svg")`` draws it (needs the
        Graphviz ``dot`` program), ``.ops`` lists the op nodes.

    Example:
        >>> loss = F.cross_entropy(model(x), y)
        >>> g = viz.graph(loss, params=dict(model.named_parameters()))
        >>> g.render("graph.svg")
        >>> loss.backward()
    """
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError("graph: expected a Tensor or a list of Tensors")
    names = {id(p): name for name, p in dict(params or {}).items()}
    node_ids: dict[int, str] = {}  # id(ctx or tensor) -> dot node id
    lines = ["digraph autograd {", "  graph [rankdir=TB, fontsize=10];", "  node [fontsize=10, height=0.3];"]
    ops, leaves = [], []
    edges = []  # (source, target): source a dot id or a Context (its id is known once visited)

    def leaf_node(t: Tensor) -> str:
        if id(t) not in node_ids:
            node_ids[id(t)] = f"t{len(node_ids)}"
            name = names.get(id(t), "tensor")
            label = f"{name}\n{_shape_text(t.shape)} {t.dtype}"
            color = "lightblue" if t.requires_grad else "lightgrey"
            lines.append(f"  {node_ids[id(t)]} [label={_quote(label)}, shape=box, style=filled, fillcolor={color}];")
            leaves.append(label)
        return node_ids[id(t)]

    stack = []
    for k, root in enumerate(roots):
        out_id = f"out{k}"
        label = f"output\n{_shape_text(root.shape)} {root.dtype}"
        lines.append(f"  {out_id} [label={_quote(label)}, shape=box, style=filled, fillcolor=darkolivegreen1];")
        if root.grad_fn is None:
            if not root.requires_grad:
                raise ValueError(
                    "graph: this tensor has no graph: it was computed under no_grad() or from tensors that do not "
                    "require grad (give the model's parameters requires_grad=True and run it outside no_grad)"
                )
            edges.append((leaf_node(root), out_id))
            continue
        stack.append(root.grad_fn)
        edges.append((root.grad_fn, out_id))
    while stack:  # depth-first over the Contexts, each visited once
        node = stack.pop()  # a Context: one recorded Function.apply
        if id(node) in node_ids:
            continue
        if getattr(node, "released", False):
            raise RuntimeError(
                f"graph: {node.name()} was already freed by backward(); call viz.graph() before loss.backward() "
                "(or run backward(retain_graph=True))"
            )
        node_ids[id(node)] = f"op{len(ops)}"
        ops.append(node.name())
        output_shapes = " ".join(_shape_text(shape) for shape, _ in getattr(node, "output_meta", ()))
        label = f"{node.name()}\n{output_shapes}"
        lines.append(f"  {node_ids[id(node)]} [label={_quote(label)}, shape=ellipse];")
        for x in node.inputs:
            if not isinstance(x, Tensor):
                continue  # None (no bias) and Python numbers are not drawn
            if x.grad_fn is not None:
                edges.append((x.grad_fn, node_ids[id(node)]))
                stack.append(x.grad_fn)
            else:
                edges.append((leaf_node(x), node_ids[id(node)]))
    for source, target in edges:  # a source is a dot id (leaf) or the Context that produced the value
        source_id = source if isinstance(source, str) else node_ids[id(source)]
        lines.append(f"  {source_id} -> {target};")
    lines.append("}")
    return AutogradGraph("\n".join(lines) + "\n", ops, leaves)


# ---------------------------------------------------------------- filters


def filters(conv, path=None, max_out: int = 64, max_in: int = 16, columns: int | None = None):
    """Draw the kernels of a conv layer, one small image per kernel, each stretched to its own range.

    What a tile is depends on the input channels each output channel sees (C_in/groups):

    - 1 (a first layer on grey images): one tile per output channel, on a near-square grid.
    - 3 (a first layer on colour images): one RGB tile per output channel, its three input channels as
      red, green and blue (stretched together, so their balance shows).
    - otherwise: a grid with a row per output channel and a column per input channel, one tile per
      (out, in) kernel slice (at most ``max_out`` rows and ``max_in`` columns).

    Light is positive weight, dark negative; each tile is stretched from its minimum to its maximum.

    Args:
        conv: an ``nn.Conv2d``, or a weight tensor/array of shape (O, C/groups, KH, KW).
        path: save the figure as a PNG here.
        max_out, max_in: how many output / input channels to draw at most.
        columns: tiles per row for the one-tile-per-output layouts (default: two rows up to 8 tiles, else near square).

    Returns:
        The matplotlib Figure.
    """
    weight = conv.weight if isinstance(conv, nn.Module) else conv
    if isinstance(conv, nn.Module) and not hasattr(conv, "weight"):
        raise TypeError(f"filters: expected a Conv2d layer, got {type(conv).__name__}")
    weight = _to_numpy(weight)
    if weight.ndim != 4:
        raise ValueError(f"filters: expected a conv weight of shape (O, C/groups, KH, KW), got {weight.shape}")
    out_channels, in_channels = weight.shape[:2]
    shown = weight[:max_out]
    if in_channels in (1, 3):
        if in_channels == 1:
            tiles = [_normalize(kernel[0]) for kernel in shown]
        else:
            tiles = [_normalize(kernel.transpose(1, 2, 0)) for kernel in shown]  # (KH, KW, 3) as RGB
        columns = columns or (-(-len(tiles) // 2) if len(tiles) <= 8 else int(np.ceil(np.sqrt(len(tiles)))))
        title = f"{out_channels} filters of shape {tuple(weight.shape[1:])}"
    else:
        shown = shown[:, :max_in]
        columns = shown.shape[1]
        tiles = [_normalize(kernel_slice) for kernel in shown for kernel_slice in kernel]
        title = f"filters {tuple(weight.shape)}\nrow: output channel, column: input channel"
    image = _mosaic(tiles, columns)
    inch_per_pixel = min(0.25, 6.0 / max(image.shape[:2]))  # the longer side at most 6 inches
    figure = _new_figure("filters", max(4.0, image.shape[1] * inch_per_pixel), image.shape[0] * inch_per_pixel + 0.7)
    _show(figure.add_subplot(1, 1, 1), image, title)
    _save(figure, path)
    return figure


# ---------------------------------------------------------------- activations and feature maps

_CONV_AND_POOL = (
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)


def _as_batch_of_one(model, x) -> Tensor:
    """(C, H, W) or (N, C, H, W) -> a (1, C, H, W) tensor on the model's device."""
    array = x.array if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"expected one image (C, H, W) or a batch (N, C, H, W), got shape {tuple(array.shape)}")
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else backend.device("cpu")
    return Tensor(backend.to_device(array[:1], device))


def _resolve_layers(model, layers) -> list:
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
                raise ValueError(f"no layer named {layer!r}; names are {[n for n, _ in named if n]}")
            chosen.append((layer, by_name[layer]))
        elif isinstance(layer, nn.Module) and id(layer) in by_id:
            chosen.append((by_id[id(layer)], layer))
        else:
            raise ValueError(f"layer {layer!r} is not a module of this model")
    return chosen


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
    chosen = _resolve_layers(model, layers)
    x = _as_batch_of_one(model, x)
    recorded, calls, handles = {}, {}, []

    def record(name):
        def hook(module, args, output):
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name} (call {calls[name]})"
            recorded[key] = _to_numpy(output[0] if isinstance(output, tuple) else output)

        return hook

    modes = [(m, m.training) for m in model.modules()]
    try:
        for name, module in chosen:
            handles.append(module.register_forward_hook(record(name)))
        model.eval()
        with no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
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
    recorded = activations(model, x, layers)
    if not recorded:
        raise ValueError("feature_maps: the chosen layers never ran (or the model has no conv/pooling layer)")
    image = _to_numpy(_as_batch_of_one(model, x))[0]
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


# ---------------------------------------------------------------- im2col, step by step


class Im2colDemo:
    """What ``im2col_demo`` computed. ``str(demo)`` is the printed walk-through.

    Attributes:
        x: the input (N, C, H, W); weight: (O, C, KH, KW).
        columns: the column matrix (C*KH*KW, OH*OW): column p is the window under output position p.
        weight_rows: the weight as a matrix (O, C*KH*KW): row o is filter o unrolled.
        product: ``weight_rows @ columns`` (O, OH*OW); output: the product as (N, O, OH, OW).
        figure: the matplotlib Figure when one was drawn, else None.
        text: the walk-through.
    """

    def __str__(self):
        return self.text

    __repr__ = __str__


def _matrix_text(array: np.ndarray) -> str:
    """Integers without a decimal point, anything else with two decimals."""
    if np.all(array == np.round(array)):
        return np.array2string(array.astype(np.int64), max_line_width=200)
    return np.array2string(array, precision=2, suppress_small=True, max_line_width=200)


def _draw_matrix(axes, matrix, title, highlight=None):
    """A matrix as coloured cells with the numbers written in; ``highlight`` = (row, col, h, w) outlined."""
    from matplotlib.patches import Rectangle

    axes.imshow(matrix, cmap="coolwarm", interpolation="nearest")
    if matrix.size <= 200:
        for (r, c), value in np.ndenumerate(matrix):
            text = f"{value:.0f}" if value == round(value) else f"{value:.1f}"
            axes.text(c, r, text, ha="center", va="center", fontsize=7)
    if highlight is not None:
        r, c, h, w = highlight
        axes.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="black", linewidth=2))
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=8)


def im2col_demo(
    input_size: int = 4,
    kernel_size: int = 3,
    in_channels: int = 1,
    out_channels: int = 2,
    stride: int = 1,
    padding: int = 0,
    path=None,
    draw: bool | None = None,
) -> Im2colDemo:
    """Show, on a tiny example, how a convolution becomes one matrix product (im2col + GEMM).

    The input holds 1, 2, 3, ... so every number can be traced to its pixel. Filter 0 is a vertical-edge
    detector (-1 left column, +1 right column), filter 1 sums its window; any further filters have random
    weights in {-1, 0, 1}. The steps are those of ``minicnn.ops.conv.Conv2d.forward``:

    1. ``im2col`` copies every KH x KW window into a column: (C*KH*KW, OH*OW).
    2. The weight, reshaped to (O, C*KH*KW), multiplies the columns: one GEMM gives (O, OH*OW).
    3. That is the output (N, O, OH, OW) after a reshape.

    The result is checked against ``F.conv2d`` (a RuntimeError is raised if they ever differed).

    Args:
        input_size: H = W of the input; kernel_size: KH = KW.
        in_channels, out_channels: C and O. stride, padding: as in ``F.conv2d``.
        path: save the drawing (input, columns, weight rows, product) as a PNG here.
        draw: make the figure (needs matplotlib); default True when ``path`` is given.

    Returns:
        An ``Im2colDemo``: ``print(demo)`` prints the walk-through; ``demo.columns``, ``demo.weight_rows``,
        ``demo.product`` and ``demo.output`` hold the matrices.
    """
    from .nn import functional as F
    from .ops.conv import im2col

    for name, value in (("input_size", input_size), ("kernel_size", kernel_size), ("stride", stride)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"im2col_demo: {name} must be a positive int, got {value!r}")
    if input_size + 2 * padding < kernel_size:
        raise ValueError(
            f"im2col_demo: a {kernel_size}x{kernel_size} kernel does not fit a padded {input_size + 2 * padding} input"
        )
    C, O, K, P = in_channels, out_channels, kernel_size, padding
    x = np.arange(1, C * input_size * input_size + 1, dtype=np.float64).reshape(1, C, input_size, input_size)
    weight = np.random.default_rng(0).integers(-1, 2, size=(O, C, K, K)).astype(np.float64)
    weight[0] = 0
    weight[0, :, :, 0], weight[0, :, :, -1] = -1, 1  # vertical edges: right column minus left column
    if O > 1:
        weight[1] = 1  # the sum of the window
    x_padded = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    cols6 = im2col(x_padded, K, K, (stride, stride), (1, 1))  # (N, C, KH, KW, OH, OW)
    OH, OW = cols6.shape[-2:]
    columns = cols6.reshape(C * K * K, OH * OW)
    weight_rows = weight.reshape(O, C * K * K)
    product = weight_rows @ columns
    output = product.reshape(1, O, OH, OW)
    reference = F.conv2d(Tensor(x), Tensor(weight), stride=stride, padding=padding).array
    if reference.shape != output.shape or not np.allclose(reference, output):
        raise RuntimeError("im2col_demo: the matrix product differs from F.conv2d; im2col is broken")

    demo = Im2colDemo()
    demo.x, demo.weight, demo.columns, demo.weight_rows, demo.product, demo.output = (
        x,
        weight,
        columns,
        weight_rows,
        product,
        output,
    )
    pad_note = f", padding {P}" if P else ""
    demo.text = "\n".join(
        [
            f"Convolution as one matrix product: a {K}x{K} convolution with {O} filters, stride {stride}{pad_note}",
            "",
            f"input x, shape (N, C, H, W) = {x.shape}:",
            _matrix_text(x[0] if C > 1 else x[0, 0]),
            "",
            f"1. im2col: every {K}x{K} window becomes a column. im2col gives (N, C, KH, KW, OH, OW) = {cols6.shape};",
            f"   reshaped to (C*KH*KW, OH*OW) = {columns.shape}. Column p is the window under output position p",
            "   (read left to right, top to bottom):",
            _matrix_text(columns),
            "",
            f"2. the weight (O, C, KH, KW) = {weight.shape} unrolled to rows (O, C*KH*KW) = {weight_rows.shape}:",
            _matrix_text(weight_rows),
            "",
            f"3. one matrix product, weight_rows @ columns: {weight_rows.shape} @ {columns.shape} = {product.shape}:",
            _matrix_text(product),
            "",
            f"4. reshaped to (N, O, OH, OW) = {output.shape}; F.conv2d(x, weight) gives the same numbers: "
            f"{np.allclose(reference, output)}",
            "",
            f"Cost: {O * OH * OW} outputs x {C * K * K} multiply-adds each = {O * OH * OW * C * K * K} multiply-adds,",
            "done by one matrix multiplication (BLAS) instead of nested loops over pixels.",
        ]
    )
    demo.figure = None
    if draw or (draw is None and path is not None):
        figure = _new_figure("im2col_demo", 12, 3.6)
        grid = figure.add_gridspec(
            1, 4, width_ratios=[x.shape[-1] + 2 * P, columns.shape[1], weight_rows.shape[1], product.shape[1]]
        )
        _draw_matrix(
            figure.add_subplot(grid[0]),
            x_padded[0, 0],
            f"input (padded) {x_padded.shape[-2]}x{x_padded.shape[-1]}\nfirst window outlined",
            highlight=(0, 0, K, K),
        )
        _draw_matrix(
            figure.add_subplot(grid[1]),
            columns,
            f"columns {columns.shape}\n= im2col(x); column 0 outlined",
            highlight=(0, 0, columns.shape[0], 1),
        )
        _draw_matrix(figure.add_subplot(grid[2]), weight_rows, f"weight rows {weight_rows.shape}\n(one filter per row)")
        _draw_matrix(
            figure.add_subplot(grid[3]), product, f"weight rows @ columns {product.shape}\n= output, one row per filter"
        )
        figure.tight_layout()
        _save(figure, path)
        demo.figure = figure
    return demo
