"""See inside a network: the autograd graph, conv filters, feature maps, where it looks, what excites a channel.

===============================  ====================================================================
``graph(tensor)``                the graph of Functions behind a tensor, as Graphviz ``dot`` source
``filters(conv)``                a conv layer's kernels as a grid of small images
``activations(model, x)``        the outputs of chosen layers for one input (NumPy arrays, no plotting)
``feature_maps(model, x)``       those outputs drawn: a row per layer, a tile per channel
``saliency(model, x)``           where the class score is sensitive: |d logit / d pixel|
``grad_cam(model, layer, x)``    where a layer's features speak for the class (Grad-CAM)
``maximize_activation(...)``     gradient ascent on the input: the image a channel or class responds to most
``im2col_demo()``                a tiny convolution turned into one matrix product, printed and drawn
``image_grid(images)``           several images side by side (e.g. maximised activations of many channels)
===============================  ====================================================================

The drawing functions need matplotlib (``pip install ".[plot]"`` in a checkout of minicnn); they draw
on the Agg backend (straight to PNG, no window; the global matplotlib backend is left alone), return
the ``matplotlib.figure.Figure`` and save it as a PNG when given a ``path``. ``graph``, ``activations``,
``saliency`` and ``grad_cam`` (without ``path``) need nothing beyond NumPy; rendering a graph to
SVG/PNG needs the Graphviz ``dot`` program.

One module per kind: ``autograd_graph``, ``pictures`` (filters, feature maps, image grid),
``attribution`` (saliency, Grad-CAM), ``maximize``, ``im2col_lesson``; ``_plot`` holds the shared
matplotlib helpers.
"""

from .attribution import grad_cam, saliency
from .autograd_graph import AutogradGraph, GraphvizNotFoundError, graph
from .im2col_lesson import Im2colDemo, im2col_demo
from .maximize import maximize_activation
from .pictures import activations, feature_maps, filters, image_grid

__all__ = [
    "AutogradGraph",
    "GraphvizNotFoundError",
    "Im2colDemo",
    "activations",
    "feature_maps",
    "filters",
    "grad_cam",
    "graph",
    "im2col_demo",
    "image_grid",
    "maximize_activation",
    "saliency",
]
