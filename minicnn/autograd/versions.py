"""Version counters: refuse a backward whose saved values were changed in place after forward saved them.

An op saves arrays for its backward: its inputs (Mul keeps both factors, batch norm its input), its output
(exp, sigmoid, tanh and softmax keep their result), or views of either. Changing such an array in place
before backward would silently give wrong gradients, so, as in PyTorch, every in-place change counts a
version of the memory it writes, and backward refuses to run when an array the op saved was changed after
its forward. Views share the count: it is kept per memory owner, the array that every view's ``.base``
leads to.

To cost nothing in the usual case, every change also ticks one clock for the whole process, and each
change of an owner remembers the tick it happened at. ``Function.apply`` notes only the tick of its forward;
backward looks at the saved arrays only if the clock moved since, and then asks whether any of their owners
changed after that tick.
"""

from __future__ import annotations

import weakref

from ..dtypes import is_array

_versions = {}  # id(memory owner) -> [number of in-place changes, clock tick of the last]; gone when freed
_clock = [0]  # in-place changes in this process, all arrays together


def memory_owner(array):
    """The array owning ``array``'s memory (itself, or the ``.base`` its views lead to; NumPy and CuPy)."""
    base = getattr(array, "base", None)
    while base is not None and is_array(base):
        array, base = base, getattr(base, "base", None)
    return array


def version(array) -> int:
    """How many in-place changes ``array``'s memory has seen."""
    entry = _versions.get(id(memory_owner(array)))
    return entry[0] if entry else 0


def bump_version(array) -> None:
    """Count an in-place change of ``array``'s memory (every view of that memory sees it)."""
    owner = memory_owner(array)
    key = id(owner)
    _clock[0] += 1
    entry = _versions.get(key)
    if entry is None:
        try:  # forget the count when the owner is freed (its id may then be reused)
            weakref.finalize(owner, _versions.pop, key, None)
        except TypeError:  # an owner that takes no weak reference: not tracked
            return
        _versions[key] = [1, _clock[0]]
    else:
        entry[0] += 1
        entry[1] = _clock[0]


def arrays_in(values, found=None) -> list:
    """The arrays among ``values`` and inside the tuples and lists among them (what a forward saved)."""
    found = [] if found is None else found
    for value in values:
        if is_array(value):
            found.append(value)
        elif type(value) is tuple or type(value) is list:
            arrays_in(value, found)
    return found


def record_saved_versions(ctx, outputs) -> None:
    """After forward: note the clock (any later change of what ``ctx`` saved is then seen by backward)."""
    ctx.saved_at = _clock[0]
    ctx.output_owners = [id(memory_owner(y)) for y in outputs]  # ids, not arrays: keeps no output alive


def check_saved_unchanged(ctx) -> None:
    """Before backward: raise if an array ``ctx`` saved (``save_for_backward``, also inside tuples and lists, or
    an array attribute) was changed in place after forward saved it."""
    if _clock[0] == ctx.saved_at:  # nothing at all was changed in place since this forward
        return
    saved = arrays_in(ctx.saved)
    saved += [value for name, value in ctx.__dict__.items() if name != "saved" and is_array(value)]
    for array in saved:
        owner = memory_owner(array)
        entry = _versions.get(id(owner))
        if entry is None or entry[1] <= ctx.saved_at:
            continue
        inputs = [i for i, x in enumerate(ctx.inputs) if hasattr(x, "array") and memory_owner(x.array) is owner]
        outputs = [i for i, y in enumerate(ctx.output_owners) if y == id(owner)]
        what = f"input {inputs[0]}" if inputs else f"output {outputs[0]}" if outputs else "a value"
        raise RuntimeError(
            f"{ctx.name()}: {what} of shape {tuple(array.shape)} was changed in place (now at version "
            f"{entry[0]}) after forward saved it for backward, so its gradient would be wrong. "
            "Change a copy instead (`x = x.clone()`), or make the change after backward()."
        )
