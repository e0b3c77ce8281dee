"""In-place changes of a tensor: ``zero_``, ``fill_``, ``copy_``, ``add_`` ..., ``x += y`` and ``x[i] = v``.

They happen outside the graph (optimizer steps, initialisation, buffers), so each one is refused where a
gradient would be lost and counted as a new version of the memory it writes (``autograd/versions.py``):
a backward that needs the old values then refuses to run. Attached to ``Tensor`` at the bottom.
"""

from __future__ import annotations

from ..autograd.function import is_grad_enabled
from ..autograd.versions import bump_version
from ..backend import get_array_module, random_normal, random_uniform, to_device
from ..dtypes import is_array
from ..tensor import Tensor, attach_methods, raw_index
from .elementwise import add, div, mul, sub
from .shape import setitem


class InPlaceMethods:
    """The in-place methods, written as methods of ``Tensor`` (they are copied onto it below)."""

    def _check_inplace(self, name, other=None):
        """In-place changes happen outside the graph: refuse them where a gradient would be lost; else count
        the change (backward then refuses a saved copy of this memory: autograd/versions.py)."""
        if is_grad_enabled():
            self._refuse_lost_gradient(name, other)
        bump_version(self.array)

    def _refuse_lost_gradient(self, name, other):
        if self.requires_grad:
            raise RuntimeError(
                f"{name}: a tensor that requires grad cannot be changed in place while the graph is recorded; "
                "wrap the update in `with minicnn.no_grad():`"
            )
        if isinstance(other, Tensor) and other.requires_grad:
            raise RuntimeError(
                f"{name}: the other operand requires grad, and an in-place change records no graph; "
                "write `x = x + y` (or the matching out-of-place op) instead"
            )

    def zero_(self) -> Tensor:
        self._check_inplace("zero_()")
        self.array[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_()")
        self.array[...] = value.item() if isinstance(value, Tensor) else value
        return self

    def copy_(self, source) -> Tensor:
        self._check_inplace("copy_()", source)
        source = source.array if isinstance(source, Tensor) else source
        self.array[...] = to_device(
            get_array_module(self.array).asarray(source) if not is_array(source) else source, self.device
        )
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        self._check_inplace("uniform_()")
        xp = get_array_module(self.array)
        self.array[...] = a + (b - a) * random_uniform(xp, self.shape, self.dtype)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        self._check_inplace("normal_()")
        xp = get_array_module(self.array)
        self.array[...] = mean + std * random_normal(xp, self.shape, self.dtype)
        return self

    def _inplace_arith(self, name, other, update):
        self._check_inplace(name, other)
        other = other.array if isinstance(other, Tensor) else other
        update(self.array, other)
        return self

    def add_(self, other, alpha=1):
        return self._inplace_arith("add_()", other, lambda a, b: a.__iadd__(b * alpha if alpha != 1 else b))

    def sub_(self, other, alpha=1):
        return self._inplace_arith("sub_()", other, lambda a, b: a.__isub__(b * alpha if alpha != 1 else b))

    def mul_(self, other):
        return self._inplace_arith("mul_()", other, lambda a, b: a.__imul__(b))

    def div_(self, other):
        return self._inplace_arith("div_()", other, lambda a, b: a.__itruediv__(b))

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_()")
        get_array_module(self.array).clip(self.array, min, max, out=self.array)
        return self

    def _augmented(self, name, other, out_of_place):
        """``x += y``: in place outside the graph; when a gradient must flow, a new node (``x = x + y``)."""
        other_requires_grad = isinstance(other, Tensor) and other.requires_grad
        if is_grad_enabled() and (self.requires_grad or other_requires_grad):
            if self.is_leaf and self.requires_grad:
                self._check_inplace(f"'{name}'")
            return out_of_place(self, other)
        other = other.array if isinstance(other, Tensor) else other
        getattr(self.array, name)(other)
        bump_version(self.array)
        return self

    def __iadd__(self, other):
        return self._augmented("__iadd__", other, add)

    def __isub__(self, other):
        return self._augmented("__isub__", other, sub)

    def __imul__(self, other):
        return self._augmented("__imul__", other, mul)

    def __itruediv__(self, other):
        return self._augmented("__itruediv__", other, div)

    def __setitem__(self, index, value):
        value_requires_grad = isinstance(value, Tensor) and value.requires_grad
        if is_grad_enabled() and (self.requires_grad or value_requires_grad):
            if self.is_leaf and self.requires_grad:
                self._check_inplace("item assignment")
            # record the assignment as a node and make this tensor its output, as PyTorch does
            before = Tensor._from_op(self.array, self.grad_fn, self._output_index)
            before._requires_grad = self._requires_grad
            after = setitem(before, index, value)
            self.array, self.grad_fn, self._output_index = after.array, after.grad_fn, after._output_index
            self._requires_grad = True
            if self._retains_grad:  # keep the gradient of the value after the assignment, as PyTorch does
                del before.grad_fn.retained_outputs[before._output_index]
                self.retain_grad()
            return
        value = value.array if isinstance(value, Tensor) else value
        self.array[raw_index(index)] = value
        bump_version(self.array)


attach_methods(InPlaceMethods)
