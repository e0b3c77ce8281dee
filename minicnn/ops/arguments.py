"""Argument helpers shared by the ops: PyTorch's int-or-pair arguments and the sliding-window size formula."""

from __future__ import annotations

from numbers import Integral


def pair(value, name: str, op: str) -> tuple:
    """An int, or a sequence of one or two ints, as PyTorch accepts them (``3``, ``(3,)``, ``(3, 2)``), as a pair.

    Raises TypeError (not an int) or ValueError (wrong length), naming ``op`` and the argument ``name``.
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return (int(items[0]), int(items[1]))


def output_length(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, ceil_mode=False) -> int:
    """How many windows fit along one axis: floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1.

    With ``ceil_mode`` (pooling) the division rounds up, and, as in PyTorch, a last window is dropped
    unless it starts inside the input or the left padding.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    length = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (length - 1) * stride >= size + padding:
        length -= 1
    return length
