"""``graph(tensor)``: the graph of Functions behind a tensor, as Graphviz ``dot`` source (NumPy only;
drawing it to SVG/PNG needs the Graphviz ``dot`` program)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

from ..tensor import Tensor
from ._plot import _shape_text

GRAPHVIZ_INSTALL_HINT = (
    "install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`; or write the dot source with .save('graph.dot') and paste it into any "
    "online Graphviz viewer"
)


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
