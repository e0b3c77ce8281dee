"""``summary(model, input_size)``: a layer-by-layer table of a network, like Keras' ``model.summary()``
and torchinfo's ``summary``.

It runs one forward pass on a made-up input, with a hook on every module, and writes down for each
module *call*: its name and type, the shape of what it returned, its parameters, the multiply-accumulate
operations it did and the memory its output takes. Nested modules (a ``Sequential`` inside the net, the
branches of an Inception block, the convs of a residual block) appear as an indented tree under the module
that called them; a module called twice (one ``MaxPool2d`` used after two convs) appears once per call.

Example:
    >>> from minicnn.summary import summary
    >>> print(summary(minicnn.models.SeedCNN(), (1, 28, 28)))  # (C, H, W): a batch of one is added
    >>> stats = summary(model, (64, 1, 28, 28))                 # (N, C, H, W): taken as is
    >>> stats.total_params, stats.total_mult_adds
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import backend, nn
from .autograd.function import no_grad
from .dtypes import as_dtype
from .tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerInfo"]


@dataclass
class LayerInfo:
    """One row of the table: one call of one module.

    Attributes:
        name: the module's dotted path in the model (``"layer1.0"``; ``""`` for the model itself).
        type_name: the module's class name (``"Conv2d"``).
        depth: how many module calls enclose this one (0 for the model itself).
        parent: index of the enclosing row in ``ModelSummary.rows`` (None for the model itself).
        output_shapes: the shape of every tensor the call returned (usually one).
        num_params: parameters the module owns directly (not those of its children); 0 on a repeated call.
        trainable_params: the part of ``num_params`` that requires grad.
        mult_adds: multiply-accumulate operations of this call (conv and linear only, see ``summary``).
        output_bytes: bytes of the tensors the call returned.
        is_leaf: True when no other module was called inside this one.
        repeated: True when the same module was already listed by an earlier call.
    """

    name: str
    type_name: str
    depth: int
    parent: int | None
    module: nn.Module = field(repr=False)
    output_shapes: list = field(default_factory=list)
    num_params: int = 0
    trainable_params: int = 0
    mult_adds: int = 0
    output_bytes: int = 0
    is_leaf: bool = True
    repeated: bool = False

    @property
    def output_shape(self) -> tuple | None:
        """The shape of the first output (most modules return one tensor)."""
        return self.output_shapes[0] if self.output_shapes else None


class ModelSummary:
    """What ``summary`` found. ``str(stats)`` is the table; the attributes hold the numbers.

    Attributes:
        rows: a ``LayerInfo`` per module call, in the order the calls started (parents before children).
        input_shapes: the shapes fed to the model.
        total_params: every parameter of the model, shared ones counted once (= sum of ``p.numel()``).
        trainable_params / non_trainable_params: those with ``requires_grad`` True / False.
        total_mult_adds: multiply-accumulates of one forward pass (conv and linear layers, every call).
        input_bytes: bytes of the input tensors.
        activation_bytes: bytes of the outputs of the leaf modules (what one forward pass creates).
        param_bytes: bytes of the parameters (shared ones once).
        total_bytes: input + activations + parameters.
    """

    def __init__(self, model, rows, input_shapes, input_bytes):
        self.model_name = type(model).__name__
        self.rows = rows
        self.input_shapes = input_shapes
        unique = {id(p): p for p in model.parameters()}.values()  # a shared parameter counts once
        self.total_params = sum(p.numel() for p in unique)
        self.trainable_params = sum(p.numel() for p in unique if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.param_bytes = sum(p.array.nbytes for p in unique)
        self.total_mult_adds = sum(row.mult_adds for row in rows)
        self.input_bytes = input_bytes
        self.activation_bytes = sum(row.output_bytes for row in rows if row.is_leaf)
        self.total_bytes = self.input_bytes + self.activation_bytes + self.param_bytes

    def __getitem__(self, name: str) -> LayerInfo:
        """The first row of the module with this dotted name (``stats["layer1.0"]``)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"summary: no layer named {name!r}; names are {[r.name for r in self.rows]}")

    def _layer_labels(self) -> list[str]:
        """'├─name (Type)' with tree lines: one prefix piece per enclosing level."""
        last_child = {}  # row index -> whether it is the last child of its parent
        for i, row in enumerate(self.rows):
            if row.parent is not None:
                last_child[row.parent] = i  # overwritten until the last child is seen
        is_last = {i: last_child.get(row.parent) == i for i, row in enumerate(self.rows)}
        labels = []
        for i, row in enumerate(self.rows):
            if row.parent is None:
                labels.append(f"{row.type_name}")
                continue
            pieces, ancestor = [], row.parent
            while self.rows[ancestor].parent is not None:  # a bar for every ancestor that has siblings to come
                pieces.append("  " if is_last[ancestor] else "│ ")
                ancestor = self.rows[ancestor].parent
            branch = "└─" if is_last[i] else "├─"
            labels.append("".join(reversed(pieces)) + f"{branch}{row.name.rsplit('.', 1)[-1]} ({row.type_name})")
        return labels

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #", "Mult-adds", "Output memory")
        lines = []
        for row, label in zip(self.rows, self._layer_labels()):
            if row.repeated:
                params = "(shared)" if row.num_params == 0 and _own_param_count(row.module) else "--"
            else:
                params = f"{row.num_params:,}" if row.num_params or row.is_leaf else "--"
            shapes = ", ".join(_format_shape(s) for s in row.output_shapes) or "--"
            mult_adds = f"{row.mult_adds:,}" if row.is_leaf else "--"
            lines.append((label, shapes, params, mult_adds, _format_bytes(row.output_bytes)))
        widths = [max(len(header[k]), *(len(line[k]) for line in lines)) for k in range(len(header))]

        def format_line(cells):
            return "  ".join(
                cell.ljust(width) if k < 2 else cell.rjust(width) for k, (cell, width) in enumerate(zip(cells, widths))
            )

        rule = "=" * len(format_line(header))
        table = [rule, format_line(header), rule, *(format_line(line) for line in lines), rule]
        input_text = ", ".join(_format_shape(s) for s in self.input_shapes)
        table += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Total mult-adds: {self.total_mult_adds:,} ({_format_count(self.total_mult_adds)})",
            rule,
            f"Input size: {_format_bytes(self.input_bytes)} for {input_text}",
            f"Forward activations: {_format_bytes(self.activation_bytes)}",
            f"Params size: {_format_bytes(self.param_bytes)}",
            f"Estimated total size: {_format_bytes(self.total_bytes)}",
            rule,
        ]
        return "\n".join(table)

    __repr__ = __str__  # so a notebook cell ending in ``summary(...)`` shows the table


def summary(
    model: nn.Module,
    input_size=None,
    *,
    input_data=None,
    batch_size: int | None = None,
    dtypes=None,
    device=None,
    depth: int | None = None,
) -> ModelSummary:
    """Run one forward pass through ``model`` and tabulate every module call.

    What each column holds:

    - **Output shape**: the shape of the tensor(s) the call returned.
    - **Param #**: parameters the module owns itself (a container shows ``--``: its children list theirs, so
      the column adds up to the total). A module called again shows ``(shared)``: its parameters are counted
      once.
    - **Mult-adds**: multiply-accumulate operations. ``Conv2d``: output elements x C_in/groups x kH x kW (each
      output value is a dot product of that length). ``Linear``: output elements x in_features. Every other
      layer (batch norm, pooling, activations, dropout, flatten) counts 0, as torchinfo and fvcore do: they
      do a few operations per element, negligible beside the products, and they are limited by memory, not
      arithmetic. Bias additions are not counted either. Containers show ``--``; their children add up.
    - **Output memory**: bytes of the returned tensor(s). The "Forward activations" total adds the leaf
      modules' outputs: what one forward pass allocates for layer outputs (training keeps most of them for
      the backward pass, and the gradients need about as much again).

    The model runs in eval mode (dropout off, batch norm with running statistics) under ``no_grad``; the
    train/eval mode of every module is restored afterwards. The input is random normal numbers from a
    fixed seed (the global random state is not touched).

    Args:
        model: the network.
        input_size: the input shape. With ``batch_size`` None: a 4-d shape ``(N, C, H, W)`` is taken as is,
            a 3-d shape ``(C, H, W)`` gets a batch of 1 in front (Keras-style), any other rank is taken as is
            (``(N, features)`` for a multilayer perceptron). With ``batch_size`` given, ``input_size`` never
            includes the batch and ``batch_size`` is put in front. A list of shapes feeds several inputs.
        input_data: tensors (or one tensor) to feed instead of making random ones from ``input_size``.
        batch_size: see ``input_size``.
        dtypes: one dtype per input (default float32).
        device: where to make the input (default: the device of the model's first parameter, else CPU).
        depth: show rows down to this depth only (the totals still count everything); None shows all.

    Returns:
        A ``ModelSummary``: ``print(stats)`` shows the table; ``stats.total_params``, ``stats.trainable_params``,
        ``stats.non_trainable_params``, ``stats.total_mult_adds``, ``stats.input_bytes``,
        ``stats.activation_bytes``, ``stats.param_bytes``, ``stats.total_bytes`` and ``stats.rows`` hold the
        numbers.

    Example:
        >>> stats = summary(minicnn.models.SeedCNN(), (1, 28, 28))
        >>> stats.total_params  # 8*1*5*5 + 8 (conv) + 2*8 (batch norm) + 1568*10 + 10 (linear)
        15914
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    inputs = _make_inputs(model, input_size, input_data, batch_size, dtypes, device)
    names = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name)  # a module registered twice keeps its first name
    rows, open_calls, seen = [], [], set()

    def before(module, args):
        parent = open_calls[-1] if open_calls else None
        if parent is not None:
            rows[parent].is_leaf = False
        repeated = id(module) in seen
        seen.add(id(module))
        own = list(module._parameters.values())
        own = [p for p in own if p is not None] if not repeated else []
        rows.append(
            LayerInfo(
                name=names.get(id(module), type(module).__name__),
                type_name=type(module).__name__,
                depth=len(open_calls),
                parent=parent,
                module=module,
                num_params=sum(p.numel() for p in own),
                trainable_params=sum(p.numel() for p in own if p.requires_grad),
                repeated=repeated,
            )
        )
        open_calls.append(len(rows) - 1)

    def after(module, args, output):
        row = rows[open_calls.pop()]
        outputs = _tensors_in(output)
        row.output_shapes = [tuple(t.shape) for t in outputs]
        row.output_bytes = sum(t.array.nbytes for t in outputs)
        row.mult_adds = _mult_adds(module, outputs)

    handles = []
    modes = {id(m): (m, m.training) for m in model.modules()}
    try:
        for module in {id(m): m for m in model.modules()}.values():
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
        model.eval()
        with no_grad():
            try:
                model(*inputs)
            except Exception as error:
                where = rows[open_calls[-1]] if open_calls else None
                place = f" inside {where.name or 'the model'} ({where.type_name})" if where else ""
                shapes = ", ".join(_format_shape(tuple(x.shape)) for x in inputs)
                raise RuntimeError(f"summary: the forward pass failed{place} for input {shapes}: {error}") from error
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.values():
            module.training = training
    stats = ModelSummary(model, rows, [tuple(x.shape) for x in inputs], sum(x.array.nbytes for x in inputs))
    if depth is not None:
        stats.rows = _cut_at_depth(rows, depth)
    return stats


def _cut_at_depth(rows: list, depth: int) -> list:
    """The rows down to ``depth``; a row at the cut shows its hidden descendants' params and mult-adds."""
    shown, new_index = [], {}
    for k, row in enumerate(rows):
        if row.depth > depth:
            ancestor = row.parent
            while rows[ancestor].depth > depth:  # climb to the shown row that encloses this one
                ancestor = rows[ancestor].parent
            summed = shown[new_index[ancestor]]
            summed.num_params += row.num_params
            summed.trainable_params += row.trainable_params
            summed.mult_adds += row.mult_adds
            continue
        copy = replace(row, parent=None if row.parent is None else new_index[row.parent])
        copy.is_leaf = row.is_leaf or row.depth == depth
        new_index[k] = len(shown)
        shown.append(copy)
    return shown


# ---------------------------------------------------------------- helpers


def _make_inputs(model, input_size, input_data, batch_size, dtypes, device) -> list:
    """The input tensors: ``input_data`` as given, or random normal ones of ``input_size``."""
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
        if not all(isinstance(x, Tensor) for x in inputs):
            raise TypeError("summary: input_data must be a Tensor or a list of Tensors")
        return inputs
    if input_size is None:
        raise ValueError("summary: give input_size (e.g. (1, 28, 28)) or input_data")
    sizes = list(input_size) if isinstance(input_size[0], (list, tuple)) else [input_size]
    for size in sizes:
        if not all(isinstance(d, (int, np.integer)) and d > 0 for d in size):
            raise ValueError(f"summary: input_size must hold positive ints, got {tuple(size)}")
    if batch_size is not None:
        shapes = [(int(batch_size), *size) for size in sizes]
    else:
        shapes = [(1, *size) if len(size) == 3 else tuple(size) for size in sizes]
    if dtypes is None:
        dtypes = [np.float32] * len(shapes)
    if len(dtypes) != len(shapes):
        raise ValueError(f"summary: got {len(dtypes)} dtypes for {len(shapes)} inputs")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else "cpu"
    rng = np.random.default_rng(0)  # a private generator: the user's random state is left alone
    inputs = []
    for shape, dtype in zip(shapes, dtypes):
        dtype = as_dtype(dtype)
        values = rng.standard_normal(shape) if dtype.kind == "f" else np.zeros(shape)
        inputs.append(Tensor(backend.to_device(values.astype(dtype), backend.device(device))))
    return inputs


def _tensors_in(output) -> list:
    """Every tensor in a module's output (a tensor, or tuples/lists/dicts of them)."""
    found, stack = [], [output]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return found


def _mult_adds(module, outputs) -> int:
    """Multiply-accumulates of one call: conv and linear layers only (see ``summary``)."""
    if not outputs:
        return 0
    out_elements = outputs[0].numel()
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out_elements * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return out_elements * module.in_features
    return 0


def _own_param_count(module) -> int:
    return sum(p.numel() for p in module._parameters.values() if p is not None)


def _format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _format_bytes(count: int) -> str:
    """1536 -> '1.50 KiB'."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count:,} B" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1024
    return f"{count} B"  # not reached


def _format_count(count: int) -> str:
    """1_234_567 -> '1.23 M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return str(count)
