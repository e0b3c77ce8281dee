"""``Tensor``: an n-dimensional array that remembers how it was computed, so gradients can flow back.

This file holds what a tensor *is*: its array, its gradient, the node that made it (``grad_fn``), its
shape, dtype and device, and conversions to Python and NumPy. What a tensor *does* is attached from
above by the modules that implement it, as DeZero's ``setup_variable`` does, so this file imports no op:

- ``x.backward()``: ``autograd/function.py`` (the backward walk);
- operators and methods (``x + y``, ``x.sum()``, ``x.view(...)``, ``x.to(...)``): ``ops/methods.py``;
- in-place changes (``x.zero_()``, ``x += y``, ``x[i] = v``): ``ops/inplace.py``;
- how it prints: ``tensor_repr.py``.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import backend
from .dtypes import as_dtype, bool_, default_array, float16, float32, float64, int32, int64, is_array
from .tensor_repr import tensor_repr


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints that prints as ``minicnn.Size([64, 1, 28, 28])``.

    Being a tuple, it unpacks, indexes, hashes and compares equal to the plain tuple of the same sizes, and
    NumPy takes it wherever a shape goes; slicing, ``+`` and ``*`` give a Size again, as in PyTorch.
    One difference: an f-string shows it as the tuple ``(64, 1, 28, 28)`` (PyTorch's shows ``torch.Size``),
    which keeps minicnn's error messages short; ``print``, ``str`` and ``repr`` show ``minicnn.Size([...])``.
    """

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for i, size in enumerate(sizes):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
                raise TypeError(f"Size() takes an iterable of 'int' (item {i} is '{type(size).__name__}')")
        return super().__new__(cls, (int(size) for size in sizes))

    def __repr__(self):
        return f"minicnn.Size({list(self)})"

    __str__ = __repr__  # print(x.shape) shows minicnn.Size([...]), as PyTorch's torch.Size([...])

    def __format__(self, format_spec: str) -> str:
        # inside f-strings (every error message of minicnn) a shape reads as the tuple (64, 1, 28, 28)
        return format(tuple(self), format_spec)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)  # (not super(): x.shape[1] is on every op's path)
        return tuple.__new__(Size, item) if type(index) is slice else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other):  # (1, 1) + x.shape is a Size too
        return Size(tuple(other) + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, times):
        return Size(tuple(self) * times)

    __rmul__ = __mul__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``Size([])``)."""
        count = 1
        for size in self:
            count *= size
        return count


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back.

    Attributes:
        array: the raw NumPy or CuPy array holding the values.
        grad: the accumulated gradient (a Tensor) after ``backward()``; kept on leaves, and on non-leaves
            that called ``retain_grad()``.
        grad_fn: the graph node that produced this tensor (None for leaves).
        requires_grad: whether gradients should be computed for this tensor.
    """

    __array_ufunc__ = None  # make ``numpy_array * tensor`` call our ``__rmul__`` instead of NumPy's

    def __init__(self, *data, dtype=None, requires_grad: bool = False, device=None):
        # PyTorch's constructor: Tensor(2, 3) is a new (2, 3) float32 tensor (zeros here), Tensor([1, 2]) float32
        is_sizes = not data or all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in data)
        if is_sizes:
            data = np.zeros(tuple(int(d) for d in data) or (0,), dtype=as_dtype(dtype) or np.float32)
        elif len(data) > 1:
            raise TypeError(f"Tensor(): expected data or sizes, got {len(data)} arguments")
        else:
            data = data[0]
        if isinstance(data, Tensor):
            data = data.array
        if not is_array(data):
            data = default_array(data, dtype or (np.float32 if not isinstance(data, np.generic) else None))
        elif dtype is not None:
            data = data.astype(as_dtype(dtype), copy=False)
        if device is not None:
            data = backend.to_device(data, backend.device(device))
        self.array = data
        self.grad: Tensor | None = None
        self.grad_fn = None  # the graph node (autograd's Context) that produced this tensor
        self._output_index = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_op(cls, array, grad_fn, output_index):
        """Wrap an op's output array; the fast path Function.apply uses."""
        tensor = cls.__new__(cls)
        tensor.array = array
        tensor.grad = None
        tensor.grad_fn = grad_fn
        tensor._output_index = output_index
        tensor._requires_grad = grad_fn is not None
        return tensor

    # ------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use detach() to cut a non-leaf"
            )
        if flag and self.array.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.dtype}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    _retains_grad = False  # set by retain_grad() on a non-leaf (a class default: _from_op stays lean)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf whose ``.grad`` is kept by backward (after ``retain_grad()``); False on leaves."""
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward()``; a no-op on a leaf.

        Backward passes an intermediate's gradient on and drops it; only leaves keep ``.grad``. Code written
        for PyTorch (Grad-CAM, for one) calls ``activation.retain_grad()`` and then reads ``activation.grad``.
        As on leaves, the gradients of several backward passes add up.
        """
        if not self._requires_grad:
            raise RuntimeError("retain_grad(): can't retain the gradient of a tensor that has requires_grad=False")
        if self.grad_fn is None:
            return  # a leaf keeps its gradient anyway
        self._retains_grad = True
        if self.grad_fn.retained_outputs is None:
            self.grad_fn.retained_outputs = {}
        # a weak reference: the graph must not keep the tensor alive (nor make a cycle through it)
        self.grad_fn.retained_outputs[self._output_index] = weakref.ref(self)

    @property
    def data(self) -> Tensor:
        """The same values as a tensor outside the graph (shares memory), as PyTorch's ``.data``."""
        return Tensor._from_op(self.array, None, 0)

    @data.setter
    def data(self, value):
        value = value.array if isinstance(value, Tensor) else value
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"data: cannot assign values of shape {tuple(value.shape)} to a tensor of shape {self.shape}"
            )
        self.array = value

    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self.array.shape)  # NumPy shapes are ints already: no check needed

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> backend.device:
        return backend.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        if dim is None:
            return tuple.__new__(Size, self.array.shape)  # NumPy shapes are ints already: no check needed
        return self.array.shape[normalize_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (shares memory on the CPU); refuses tensors that need a gradient."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return backend.to_device(self.array, backend.device("cpu"))

    def __array__(self, dtype=None, copy=None):
        array = backend.to_device(self.array, backend.device("cpu"))
        return array if dtype is None else array.astype(dtype)

    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python number, got shape {self.shape}"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        return backend.to_device(self.array, backend.device("cpu")).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __format__(self, format_spec: str) -> str:
        """``f'{loss:.3f}'``: a 0-d tensor formats as its number; others only with an empty spec, as in PyTorch."""
        if self.ndim == 0 and type(self) is Tensor:  # PyTorch formats plain 0-d tensors only (not Parameters)
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; a no-op when nothing changes.

        (Attached by ``ops/methods.py``: moving and casting are ops that gradients flow through.)
        """
        raise NotImplementedError  # replaced when minicnn.ops is imported

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        if isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device or "cuda")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type(self, dtype=None):
        """``t.type()`` names the type (``'minicnn.FloatTensor'``); ``t.type(minicnn.float)`` casts, as in PyTorch."""
        names = {
            "float32": "FloatTensor",
            "float64": "DoubleTensor",
            "float16": "HalfTensor",
            "int64": "LongTensor",
            "int32": "IntTensor",
            "uint8": "ByteTensor",
            "bool": "BoolTensor",
        }
        if dtype is None:
            return f"minicnn.{names.get(str(self.dtype), str(self.dtype))}"
        if isinstance(dtype, str) and dtype.endswith("Tensor"):  # 'torch.FloatTensor'
            dtype = {name: key for key, name in names.items()}[dtype.split(".")[-1]]
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def detach(self) -> Tensor:
        """The same values (shared memory) outside the graph."""
        return Tensor._from_op(self.array, None, 0)

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (attached by ``autograd/function.py``)."""
        raise NotImplementedError  # replaced when minicnn.autograd is imported

    def register_hook(self, hook):
        raise NotImplementedError("tensor hooks are not supported; use Module.register_forward_hook")

    def __repr__(self):
        return tensor_repr(self)

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))


def attach_methods(methods: type) -> None:
    """Copy the methods defined in the class body of ``methods`` onto ``Tensor`` (how ``ops/methods.py`` and
    ``ops/inplace.py`` give a tensor its methods from above, so this file needs no op)."""
    skip = (
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__firstlineno__",
        "__static_attributes__",
    )
    for name, value in vars(methods).items():
        if name not in skip and not (name == "__hash__" and value is None):  # (defining __eq__ unsets __hash__)
            setattr(Tensor, name, value)


def parse_to_arguments(args, kwargs, method: str = "to()"):
    """The arguments of ``Tensor.to`` and ``Module.to``: ``(device)``, ``(dtype)``, ``(device, dtype)``,
    ``(other_tensor)`` or keywords; returns (device or None, NumPy dtype or None)."""
    kwargs = dict(kwargs)
    target_device, target_dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"{method}: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            target_device, target_dtype = arg.device, arg.dtype
        elif isinstance(arg, backend.device) or (isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda")):
            target_device = arg
        else:
            target_dtype = arg
    return (None if target_device is None else backend.device(target_device)), as_dtype(target_dtype)


def normalize_dim(dim, ndim: int, op: str) -> int:
    """A dimension index in [0, ndim), accepting negatives; IndexError naming the op otherwise."""
    if isinstance(dim, Tensor):
        dim = int(dim)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return int(dim) % rank


def dim_aliases(op: str, dim, keepdim: bool, axis=None, keepdims=None):
    """``(dim, keepdim)`` from PyTorch's names or NumPy's (``axis``, ``keepdims``), which PyTorch also accepts.

    Giving a name and its alias together is a TypeError, as in PyTorch.
    """
    if axis is not None:
        if dim is not None and dim != ():
            raise TypeError(f"{op}(): got both dim={dim!r} and its alias axis={axis!r}; give one")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{op}(): got both keepdim and its alias keepdims; give one")
        keepdim = bool(keepdims)
    return dim, keepdim


def raw_index(index):
    """Replace tensors inside an index by their arrays (NumPy and CuPy index with arrays)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index
