"""Where does the network look? Two answers, both one backward pass to a chosen place:

- ``saliency``: the gradient of the class score with respect to the input pixels (Simonyan, Vedaldi &
  Zisserman 2014). A bright pixel is one whose small change would move the score most.
- ``grad_cam``: a layer's feature maps, each weighted by how much the class score gains from it on
  average (the spatial mean of its gradient), summed, and ReLU'd (Selvaraju et al. 2017). It shows which
  regions, at that layer's resolution, carry evidence *for* the class.

Both run the model in eval mode with its weights frozen (their ``requires_grad`` flags, ``.grad`` and the
modules' train/eval modes are as before afterwards), and return NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from .. import backend, nn
from ..autograd.function import enable_grad
from ..tensor import Tensor
from ._layers import _frozen, _input_batch, _resolve_layers
from ._plot import _new_figure, _normalize, _save, _shape_text, _show, _to_numpy


def _class_scores(model, x: Tensor, caller: str) -> Tensor:
    """The model's output, checked to be one row of class scores (logits) per image."""
    logits = model(x)
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != x.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(
            f"{caller}: the model must return class scores (N, classes) for N = {x.shape[0]} images, got {shape}"
        )
    return logits


def _targets(target, logits: Tensor, caller: str) -> np.ndarray:
    """One class index per image: the predicted class (``target=None``), one class for all, or one each."""
    n, classes = logits.shape
    if target is None:
        return _to_numpy(logits.array).argmax(axis=1)
    t = _to_numpy(target) if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{caller}: target must be integer class indices, got dtype {t.dtype} ({target!r})")
    if t.ndim != 0 and t.shape != (n,):
        raise ValueError(
            f"{caller}: target must be one class index or one per image, shape ({n},); got shape {t.shape}"
        )
    bad = np.unique(t[(t < 0) | (t >= classes)])
    if bad.size:
        raise ValueError(f"{caller}: target {bad.tolist()} out of range for a model with {classes} classes")
    return np.broadcast_to(t, (n,)).astype(np.int64)


def _backward_from_scores(logits: Tensor, targets: np.ndarray) -> None:
    """Backward from the sum of each image's target logit (images do not mix in eval mode)."""
    one_hot = np.zeros(logits.shape, dtype=logits.dtype)
    one_hot[np.arange(len(targets)), targets] = 1
    (logits * Tensor(backend.to_device(one_hot, logits.device))).sum().backward()


def saliency(model: nn.Module, x, target=None, path=None) -> np.ndarray:
    """The saliency map of each image: ``|d logit[target] / d pixel|``, the maximum over channels.

    One backward pass from each image's target-class logit (the score before softmax) to the input
    pixels. A large value says "changing this pixel a little would change the score a lot"; it shows
    which pixels the decision is sensitive to, not whether they count for or against the class.

    Args:
        model: a network returning class scores (N, classes).
        x: images (N, C, H, W) or one image (C, H, W) (a Tensor or an array; it is not modified).
        target: the class per image: None (each image's predicted class), one int for all images, or
            one int per image.
        path: also draw each image above its map and save the figure as a PNG here (needs matplotlib).

    Returns:
        A float32 NumPy array (N, H, W).

    Example:
        >>> maps = viz.saliency(model, images[:4], path="saliency.png")
    """
    x = _input_batch(model, x, "saliency", requires_grad=True)
    with _frozen(model), enable_grad():
        logits = _class_scores(model, x, "saliency")
        targets = _targets(target, logits, "saliency")
        _backward_from_scores(logits, targets)
    maps = np.abs(_to_numpy(x.grad.array)).max(axis=1).astype(np.float32)
    if path is not None:
        _draw(_to_numpy(x.array), maps, targets, path, "saliency", overlay=False)
    return maps


def grad_cam(model: nn.Module, layer, x, target=None, path=None) -> np.ndarray:
    """Grad-CAM: where the feature maps of ``layer`` carry evidence for the target class.

    With ``A_k`` the k-th feature map of ``layer``'s output (h, w) and ``y`` the target logit::

        alpha_k = mean over (i, j) of  d y / d A_k[i, j]      (how much the class gains from map k)
        cam     = relu( sum_k alpha_k * A_k )                 (h, w), at the layer's own resolution

    The layer's output is caught by a forward hook, which calls ``retain_grad()`` on it so that
    backward keeps its gradient (as PyTorch code does). The maps are not normalised: values are in
    the units of ``alpha * A``, comparable between images of one model and layer. A late conv layer
    gives coarse but class-specific maps; an early one gives sharp maps of edges.

    One difference from PyTorch to know: there, a layer followed by ``ReLU(inplace=True)`` (as in VGG)
    has its output overwritten by the ReLU, so a hook on it sees the ReLU's output and its gradient.
    minicnn's ReLU never writes in place, so ``grad_cam`` explains the layer's own output; to get what
    PyTorch code gets there, name the ReLU as ``layer``.

    Args:
        model: a network returning class scores (N, classes).
        layer: the layer to explain: its name (``"layer1.3"``, ``"conv2"``) or the module itself. Its
            output must be (N, K, h, w) and it must run once per forward pass.
        x: images (N, C, H, W) or one image (C, H, W).
        target: the class per image: None (the predicted class), one int, or one int per image.
        path: also draw each image with its map upsampled over it, and save the figure as a PNG here.

    Returns:
        A float32 NumPy array (N, h, w).

    Example:
        >>> cams = viz.grad_cam(model, "layer1.2", images[:4], path="grad_cam.png")
    """
    [(layer_name, module)] = _resolve_layers(model, [layer], "grad_cam")
    if module is model:
        raise ValueError("grad_cam: layer must be a layer inside the model, not the model itself")
    x = _input_batch(model, x, "grad_cam", requires_grad=True)
    captured = []

    def keep_output(mod, args, output):
        output = output[0] if isinstance(output, tuple) else output
        if isinstance(output, Tensor) and output.requires_grad:
            output.retain_grad()  # backward keeps d(score)/d(output) in output.grad
        captured.append(output)

    handle = module.register_forward_hook(keep_output)
    try:
        with _frozen(model), enable_grad():
            logits = _class_scores(model, x, "grad_cam")
            if len(captured) != 1:
                raise ValueError(
                    f"grad_cam: layer {layer_name!r} ran {len(captured)} times in one forward pass; "
                    "Grad-CAM needs a layer that runs exactly once"
                )
            [features] = captured
            if not isinstance(features, Tensor) or features.ndim != 4:
                shape = _shape_text(features.shape) if isinstance(features, Tensor) else type(features).__name__
                raise ValueError(
                    f"grad_cam: layer {layer_name!r} outputs {shape}; Grad-CAM needs feature maps (N, K, h, w), "
                    "so pick a conv, normalisation, activation or pooling layer"
                )
            targets = _targets(target, logits, "grad_cam")
            _backward_from_scores(logits, targets)
    finally:
        handle.remove()
    if features.grad is None:
        raise RuntimeError(f"grad_cam: the class scores do not depend on layer {layer_name!r}'s output")
    A = _to_numpy(features.array).astype(np.float64)
    alpha = _to_numpy(features.grad.array).astype(np.float64).mean(axis=(2, 3))  # (N, K)
    cams = np.maximum((alpha[:, :, None, None] * A).sum(axis=1), 0).astype(np.float32)
    if path is not None:
        _draw(_to_numpy(x.array), cams, targets, path, "grad_cam", overlay=True, layer_name=layer_name)
    return cams


def _draw(images, maps, targets, path, caller: str, overlay: bool, layer_name: str = "", columns: int = 8):
    """Images on top, maps below: saliency in 'hot', Grad-CAM in 'jet' stretched over its image.

    Each map is divided by its own maximum, so 0 keeps its colour (black for saliency, dark blue for
    Grad-CAM: no evidence) and the brightest pixel of each map is 1.
    """
    n = min(len(images), columns)
    figure = _new_figure(caller, 1.4 * n + 0.2, 3.3)
    for k in range(n):
        image = images[k]
        image = _normalize(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
        _show(figure.add_subplot(2, n, k + 1), image, f"for class {targets[k]}")
        peak = float(maps[k].max())
        scaled = maps[k] / peak if peak > 0 else np.zeros_like(maps[k])
        axes = figure.add_subplot(2, n, n + k + 1)
        if overlay:  # the (h, w) map stretched over the (H, W) image, bilinear
            height, width = image.shape[:2]
            _show(axes, image)
            axes.imshow(
                scaled,
                cmap="jet",
                alpha=0.5,
                vmin=0,
                vmax=1,
                interpolation="bilinear",
                extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            )
        else:
            axes.imshow(scaled, cmap="hot", vmin=0, vmax=1, interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
        axes.set_xlabel(f"max {peak:.2g}", fontsize=7)
        if k == 0:
            axes.set_ylabel(f"Grad-CAM {layer_name}" if overlay else "saliency", fontsize=8)
    figure.suptitle(
        f"Grad-CAM at {layer_name} {_shape_text(maps.shape[1:])}: red = evidence for the class, blue = none"
        if overlay
        else "saliency |d score / d pixel|: bright = the score is sensitive to that pixel",
        fontsize=8,
    )
    figure.tight_layout()
    _save(figure, path)
    return figure
