"""``Parameter`` and the placeholders lazy modules hold until their first forward, as ``torch.nn.parameter``.

A ``Parameter`` is a tensor a module trains. A lazy module (``nn.LazyConv2d`` ...) does not know its input
size when it is built, so it holds an ``UninitializedParameter``: a tensor with a dtype and a device but no
shape and no values yet. The module's first forward calls ``materialize(shape)``, which gives the *same
object* its array and turns it into a plain ``Parameter``; so an optimizer built before that moment holds
the right tensors afterwards. Until then any use of the values raises ValueError and ``.shape`` raises
RuntimeError, as in PyTorch.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import backend
from ..dtypes import as_dtype
from ..tensor import Size, Tensor


class Parameter(Tensor):
    """A tensor that is a module's trainable weight: registered on assignment, ``requires_grad`` by default."""

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _uninitialized_error(tensor, where: str) -> ValueError:
    kind = "parameter" if isinstance(tensor, Parameter) else "buffer"
    return ValueError(
        f"Attempted to use an uninitialized {kind} in {where}. This happens with a lazy module (nn.LazyConv2d, "
        "nn.LazyLinear, nn.LazyBatchNorm2d ...) before its first forward: call the network once on a batch of "
        "the right shape (a dry run) before using its parameters."
    )


class UninitializedTensorMixin:
    """What ``UninitializedParameter`` and ``UninitializedBuffer`` share: a dtype and a device, no shape yet.

    ``array`` is a property that raises, so every op, conversion or in-place change of the values fails
    with ValueError instead of computing on an empty array; ``materialize`` stores the real array in the
    instance and switches the class to ``cls_to_become``, after which the property is gone.
    """

    cls_to_become: type = Tensor

    def _setup_uninitialized(self, requires_grad: bool, device, dtype) -> None:
        template = np.empty(0, dtype=as_dtype(dtype) or np.float32)  # holds the dtype and device, no values
        if device is not None:
            template = backend.to_device(template, backend.device(device))
        self.__dict__["_template"] = template
        self.grad, self.grad_fn, self._output_index = None, None, 0
        self._requires_grad = bool(requires_grad)

    @property
    def array(self):
        raise _uninitialized_error(self, sys._getframe(1).f_code.co_name + "()")  # name the function that tried

    @array.setter
    def array(self, value):
        raise _uninitialized_error(self, sys._getframe(1).f_code.co_name + "()")

    @property
    def shape(self):
        caller = sys._getframe(1)
        if caller.f_globals.get("__name__", "").startswith("minicnn."):
            # an op of minicnn read the shape at its door: the values are being used (PyTorch: ValueError)
            raise _uninitialized_error(self, caller.f_code.co_name + "()")
        raise RuntimeError(  # the user asked for the shape itself (PyTorch: RuntimeError)
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. "
            "Call `forward` to initialize the parameters before accessing their attributes."
        )

    def size(self, dim: int | None = None):
        # PyTorch answers with the placeholder's own size, a 1-d tensor of 0 elements
        if dim is not None:
            raise _uninitialized_error(self, "size()")
        return Size((0,))

    @property
    def dtype(self):
        return self._template.dtype

    @property
    def device(self):
        return backend.device_of(self._template)

    @property
    def ndim(self) -> int:
        return 1  # as PyTorch's placeholder: an empty 1-d tensor

    @property
    def data(self) -> Tensor:
        return Tensor(self._template)  # PyTorch's .data of a placeholder is an empty tensor

    def requires_grad_(self, requires_grad: bool = True):
        raise _uninitialized_error(self, "requires_grad_()")  # as PyTorch (a method call on the values)

    def _convert_template(self, convert) -> None:
        """``Module.to(...)`` before the dry run: change the dtype/device the values will have."""
        self.__dict__["_template"] = convert(self._template)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor an (uninitialised) array of ``shape`` and make it a ``cls_to_become`` in place."""
        template = self._template
        if dtype is not None:
            template = template.astype(as_dtype(dtype))
        if device is not None:
            template = backend.to_device(template, backend.device(device))
        xp = backend.get_array_module(template)
        self.__dict__["array"] = xp.empty(tuple(int(s) for s in shape), dtype=template.dtype)
        del self.__dict__["_template"]
        self.__class__ = self.cls_to_become  # the same object, now a plain Parameter (or Tensor)

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (held by lazy modules until their first forward).

    Args:
        requires_grad: as ``Parameter`` (default True).
        device, dtype: where and in which dtype the values will be made (default CPU, float32).
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        self._setup_uninitialized(requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (lazy batch norm's running statistics until the first forward)."""

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        self._setup_uninitialized(requires_grad, device, dtype)


def is_lazy(value) -> bool:
    """True for a placeholder that a lazy module has not materialised yet."""
    return isinstance(value, UninitializedTensorMixin)


__all__ = ["Parameter", "UninitializedBuffer", "UninitializedParameter", "is_lazy"]
