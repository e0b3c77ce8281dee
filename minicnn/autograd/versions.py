"""Version counters: refuse a backward whose saved values were changed in place after forward saved them.

An op saves arrays for its backward: its inputs (Mul keeps both factors, batch norm its input), its output
(exp, sigmoid, tanh and softmax keep their result), or views of either. Changing such an array in place
before backward would silently give wrong gradients, so, as in PyTorch, every in-place change counts a
version of the memory it writes, ``Function.apply`` notes the version of every array the op saved, and
backward refuses to run when one of them changed since. Views share the count: it is kept per memory
owner, the array that every view's ``.base`` leads to.
"""

from __future__ import annotations

import weakref

from ..dtypes import is_array

_versions = {}  # id(memory owner) -> number of in-place changes; the entry goes when the owner is freed


def memory_owner(array):
    """The array owning ``array``'s memory (itself, or the ``.base`` its views lead to; NumPy and CuPy)."""
    base = getattr(array, "base", None)
    while base is not None and is_array(base):
        array, base = base, getattr(base, "base", None)
    return array


def version(array) -> int:
    """How many in-place changes ``array``'s memory has seen."""
    return _versions.get(id(memory_owner(array)), 0)


def bump_version(array) -> None:
    """Count an in-place change of ``array``'s memory (every view of that memory sees it)."""
    owner = memory_owner(array)
    key = id(owner)
    if key not in _versions:
        try:  # forget the count when the owner is freed (its id may then be reused)
            weakref.finalize(owner, _versions.pop, key, None)
        except TypeError:  # an owner that takes no weak reference: not tracked
            return
    _versions[key] = _versions.get(key, 0) + 1


def arrays_in(values):
    """The arrays among ``values`` and inside the tuples and lists among them (what a forward saved)."""
    for value in values:
        if is_array(value):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from arrays_in(value)


def record_saved_versions(ctx, outputs) -> None:
    """After forward: note the version of every array ``ctx`` holds (saved tensors and attributes alike)."""
    ctx.saved_versions = [(array, version(array)) for array in arrays_in(vars(ctx).values())]
    ctx.output_owners = [id(memory_owner(y)) for y in outputs]  # ids, not arrays: keeps no output alive


def check_saved_unchanged(ctx) -> None:
    """Before backward: raise if an array ``ctx`` saved was changed in place after forward saved it."""
    for array, saved_version in ctx.saved_versions:
        now = version(array)
        if now == saved_version:
            continue
        owner = memory_owner(array)
        inputs = [i for i, x in enumerate(ctx.inputs) if hasattr(x, "array") and memory_owner(x.array) is owner]
        outputs = [i for i, y in enumerate(ctx.output_owners) if y == id(owner)]
        what = f"input {inputs[0]}" if inputs else f"output {outputs[0]}" if outputs else "a value"
        raise RuntimeError(
            f"{ctx.name()}: {what} of shape {tuple(array.shape)} was changed in place (version {saved_version} -> "
            f"{now}) after forward saved it for backward, so its gradient would be wrong. "
            "Change a copy instead (`x = x.clone()`), or make the change after backward()."
        )
