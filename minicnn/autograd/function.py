"""The autograd core: grad mode, ``Function`` (forward and backward side by side), and the backward walk.

Every differentiable operation is a ``Function`` whose ``forward`` and ``backward`` work on raw arrays
(NumPy or CuPy). Calling ``SomeFunction.apply(*tensors)`` runs ``forward`` and, when a gradient will be
needed, records a node in the graph: the ``ctx`` object (a ``Context``), which remembers the inputs and what
``forward`` saved. ``loss.backward()`` walks those nodes in topological order (an explicit loop, no
recursion) and hands each node the gradient of its outputs; gradients of a tensor used twice add up.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..backend import get_array_module
from ..dtypes import is_array
from ..tensor import Tensor
from .versions import check_saved_unchanged, record_saved_versions

# ---------------------------------------------------------------- grad mode (one per thread, as in PyTorch)


class _GradMode(threading.local):
    enabled = True  # every thread starts with gradients on, whatever the thread that started it does


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (in this thread)."""
    return _mode.enabled


class _GradModeSwitch:
    """Sets grad mode while active: ``with no_grad():`` or ``@no_grad()`` (the mode before is restored)."""

    mode = True

    def __enter__(self):
        self.previous = _mode.enabled  # read on entry, so a context made earlier still restores correctly
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        _mode.enabled = self.previous  # also when the block raised
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with enable_grad() if mode else no_grad():
                return function(*args, **kwargs)

        return run_in_mode


class no_grad(_GradModeSwitch):
    """Context manager and decorator that records no graph (evaluation, optimizer steps).

    ``@no_grad()`` and bare ``@no_grad`` both work.
    """

    mode = False

    def __new__(cls, function=None):
        instance = super().__new__(cls)
        return instance(function) if callable(function) else instance  # bare decorator: wrap at once

    def __init__(self, function=None):
        pass


class enable_grad(no_grad):
    """Context manager and decorator that records the graph even inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradModeSwitch):
    """``set_grad_enabled(False)`` switches recording off at once; as a context manager or decorator it
    switches it only inside, as in PyTorch."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.previous = self.before_call = _mode.enabled
        _mode.enabled = self.mode  # the plain call takes effect immediately

    def __enter__(self):
        super().__enter__()
        # the mode before set_grad_enabled(...) switched it is the one to restore, not the switched one
        self.previous = getattr(self, "before_call", self.previous)
        return self

    def __call__(self, function):
        _mode.enabled = self.previous  # used as a decorator: undo the immediate switch
        return super().__call__(function)


# ---------------------------------------------------------------- Context and Function


class Context:
    """A node of the graph: what one call of a Function saved for its backward.

    ``ctx.save_for_backward(*arrays)`` keeps arrays; ``ctx.saved_tensors`` returns them; anything else a
    forward needs later it sets as an attribute (``ctx.stride = 2``). ``ctx.needs_input_grad[i]`` tells
    whether input ``i`` needs a gradient, so backward can skip work.
    """

    released = False
    retained_outputs = None  # {output index: weakref to the Tensor} for outputs that called retain_grad()

    def __init__(self, function):
        self.function = function
        self.inputs = ()
        self.needs_input_grad = ()
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @property
    def saved_tensors(self):
        if self.released:
            raise RuntimeError(_SECOND_BACKWARD_MESSAGE.format(name=self.name()))
        return self.saved

    def name(self) -> str:
        return f"{self.function.__name__}Backward"

    def release(self):
        """Free what forward saved (after backward, unless retain_graph)."""
        function, output_meta = self.function, self.output_meta
        self.__dict__.clear()
        self.function, self.output_meta = function, output_meta
        self.inputs = ()
        self.released = True

    @property
    def next_functions(self):
        """The nodes that produced this node's inputs (None for leaves and constants)."""
        return tuple((x.grad_fn if isinstance(x, Tensor) else None) for x in self.inputs)

    def __repr__(self):
        return f"<{self.name()}>"


_SECOND_BACKWARD_MESSAGE = (
    "{name}: trying to backward through the graph a second time, but its saved values were already freed. "
    "Pass retain_graph=True to the first backward() if you need to run backward twice."
)


class Function:
    """An operation with a forward and a backward on raw arrays.

    Subclasses write two static methods::

        class Mul(Function):
            @staticmethod
            def forward(ctx, a, b):          # raw arrays in, raw array(s) out
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, grad_out):     # one gradient per input (None where there is none)
                a, b = ctx.saved_tensors
                return grad_out * b, grad_out * a

    and call ``Mul.apply(x, y)`` with tensors (or Python scalars). Keyword arguments to ``apply`` are
    options passed to ``forward`` only (strides, dims); they get no gradient. A backward must not change
    the gradient arrays it is given: they may be shared with other nodes.
    """

    @staticmethod
    def forward(ctx, *arrays, **options):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        arrays = [x.array if isinstance(x, Tensor) else x for x in inputs]
        needs_input_grad = tuple(isinstance(x, Tensor) and x._requires_grad for x in inputs)
        record = _mode.enabled and any(needs_input_grad)
        ctx = Context(cls)
        ctx.needs_input_grad = needs_input_grad
        outputs = cls.forward(ctx, *arrays, **options)
        if isinstance(outputs, tuple):
            outputs = tuple(_as_output_array(out) for out in outputs)
        else:
            outputs = _as_output_array(outputs)
        if not record:
            if isinstance(outputs, tuple):
                return tuple(Tensor._from_op(out, None, 0) for out in outputs)
            return Tensor._from_op(outputs, None, 0)
        record_saved_versions(ctx, outputs if isinstance(outputs, tuple) else (outputs,))
        ctx.inputs = inputs
        if isinstance(outputs, tuple):
            ctx.output_meta = [(out.shape, out.dtype) for out in outputs]
            # integer outputs (indices) are not differentiable, so they get no grad_fn
            return tuple(
                Tensor._from_op(out, ctx if out.dtype.kind == "f" else None, i) for i, out in enumerate(outputs)
            )
        ctx.output_meta = [(outputs.shape, outputs.dtype)]
        return Tensor._from_op(outputs, ctx, 0)


def _as_output_array(value):
    """NumPy turns 0-d results into scalars (np.float32); make them 0-d arrays again."""
    return value if isinstance(value, np.ndarray) or is_array(value) else np.asarray(value)


# ---------------------------------------------------------------- the backward walk


def _topological_order(root: Context) -> list:
    """Nodes reachable from ``root``, each before the nodes that produced its inputs (explicit stack)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for x in node.inputs:
            if isinstance(x, Tensor) and x.grad_fn is not None and x.grad_fn not in visited:
                stack.append((x.grad_fn, False))
    order.reverse()  # post-order reversed: consumers before producers
    return order


def run_backward(root: Tensor, root_grad, retain_graph: bool = False) -> None:
    """The backward pass: propagate ``root_grad`` to every leaf that requires grad."""

    def accumulate_into_leaf(leaf: Tensor, grad):
        if leaf.grad is None:
            # a copy: the array may still be on its way to other nodes, or be the caller's ``gradient``,
            # and ``.grad`` is changed in place later (accumulation, zero_grad)
            leaf.grad = Tensor._from_op(grad.copy(), None, 0)
        else:
            leaf.grad.array += grad

    if root.grad_fn is None:
        accumulate_into_leaf(root, root_grad)
        return
    # gradients waiting for each node, one slot per output of that node
    pending = {root.grad_fn: [None] * len(root.grad_fn.output_meta)}
    pending[root.grad_fn][root._output_index] = root_grad
    for node in _topological_order(root.grad_fn):
        if node.released:
            raise RuntimeError(_SECOND_BACKWARD_MESSAGE.format(name=node.name()))
        output_grads = pending.pop(node, None)
        if output_grads is None:
            continue
        if node.retained_outputs:  # non-leaf outputs that asked to keep their gradient (Tensor.retain_grad)
            for i, tensor_ref in node.retained_outputs.items():
                tensor = tensor_ref()
                if tensor is not None and output_grads[i] is not None:
                    accumulate_into_leaf(tensor, output_grads[i])
        for i, (shape, dtype) in enumerate(node.output_meta):
            if output_grads[i] is None:  # an output nobody used: its gradient is zero
                xp = get_array_module(*[g for g in output_grads if g is not None])
                output_grads[i] = xp.zeros(shape, dtype=dtype if dtype.kind == "f" else np.float32)
        check_saved_unchanged(node)
        input_grads = node.function.backward(node, *output_grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(
                f"{node.name()}: backward returned {len(input_grads)} gradients for {len(node.inputs)} inputs"
            )
        for x, grad in zip(node.inputs, input_grads):
            if grad is None or not isinstance(x, Tensor) or not x._requires_grad:
                continue
            grad = _as_output_array(grad)
            if grad.shape != x.array.shape:
                raise RuntimeError(
                    f"{node.name()}: backward returned a gradient of shape {grad.shape} for an input of shape {x.shape}"
                )
            if grad.dtype != x.array.dtype:
                grad = grad.astype(x.array.dtype)
            if x.grad_fn is None:
                accumulate_into_leaf(x, grad)
            else:
                slots = pending.setdefault(x.grad_fn, [None] * len(x.grad_fn.output_meta))
                previous = slots[x._output_index]
                slots[x._output_index] = grad if previous is None else previous + grad
        if not retain_graph:
            node.release()


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """``tensor.backward()``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``.

    Args:
        gradient: d(loss)/d(tensor); may be omitted for a single-element tensor (it is 1).
        retain_graph: keep the graph so ``backward`` can run through it again.
    """
    if not tensor.requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
    xp = get_array_module(tensor.array)
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for single-element outputs, got shape {tensor.shape}"
            )
        gradient = xp.ones(tensor.shape, dtype=tensor.dtype)
    else:
        gradient = gradient.array if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=tensor.dtype)
        if gradient.shape != tensor.shape:
            raise ValueError(f"backward(): gradient has shape {gradient.shape}, the tensor has {tensor.shape}")
    run_backward(tensor, gradient, retain_graph)


def Variable(tensor, requires_grad=None):
    """Old PyTorch's Variable wrapper: returns its argument (made a tensor), so ported code runs."""
    if not isinstance(tensor, Tensor):
        tensor = Tensor(tensor)
    if requires_grad is not None:
        tensor.requires_grad = requires_grad
    return tensor


Tensor.backward = backward  # attached from here: the tensor module knows nothing of the graph walk
