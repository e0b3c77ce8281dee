"""Shared helpers of the drawing functions: matplotlib imported on first use, figures on the Agg backend,
tiles stretched to [0, 1] and laid on a grid."""

from __future__ import annotations

import pathlib

import numpy as np

from .. import backend
from ..tensor import Tensor

PLOT_INSTALL_HINT = 'pip install ".[plot]" in a checkout of minicnn (or pip install matplotlib)'


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


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"
