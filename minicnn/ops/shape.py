"""Shape ops: reshape/view, transpose/permute, expand, getitem, cat, stack, pad, moves between devices.

None of these change values, so each backward just routes the gradient back into the input's shape.
"""

from __future__ import annotations

import math

from .. import backend
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, dim_aliases, normalize_dim, raw_index
from .elementwise import sum_to_shape
from .fast.layout import from_channels_last, is_channels_last


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims=()):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for position, dim in enumerate(ctx.dims):
            inverse[dim] = position
        return grad.transpose(inverse)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.input_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return sum_to_shape(grad, ctx.input_shape)


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return get_array_module(x).ascontiguousarray(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, index=None):
        ctx.input_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        grad_x = xp.zeros(ctx.input_shape, dtype=grad.dtype)
        if _has_integer_array(ctx.index):
            backend.scatter_add(grad_x, ctx.index, grad)  # integer arrays may repeat an element: add them up
        else:
            grad_x[ctx.index] = grad  # slices and masks select each element at most once
        return grad_x


class SetItem(Function):
    """``x[index] = value`` recorded in the graph: the output is x with the slots replaced."""

    @staticmethod
    def forward(ctx, x, value, index=None):
        ctx.index, ctx.value_shape = index, getattr(value, "shape", ())
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[ctx.index] = 0  # those slots were overwritten: x no longer reaches the output there
        grad_value = sum_to_shape(grad[ctx.index], ctx.value_shape) if ctx.needs_input_grad[1] else None
        return grad_x, grad_value


class Gather(Function):
    """``out[..., j, ...] = x[..., index[..., j, ...], ...]`` along ``dim`` (``torch.gather``)."""

    @staticmethod
    def forward(ctx, x, index, dim=0):
        ctx.input_shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(index)
        return get_array_module(x).take_along_axis(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        grad_x = xp.zeros(ctx.input_shape, dtype=grad.dtype)
        # full coordinates of every gathered element: the index along dim, the position along the others
        coordinates = [
            xp.arange(size).reshape([-1 if a == axis else 1 for a in range(index.ndim)])
            for axis, size in enumerate(index.shape)
        ]
        coordinates[ctx.dim] = index
        backend.scatter_add(grad_x, tuple(coordinates), grad)  # an index may repeat: gradients add
        return grad_x, None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        xp = get_array_module(*arrays)
        if dim == 1 and all(is_channels_last(a) for a in arrays):  # e.g. Inception's branches of conv outputs
            # join along the innermost (channel) axis of their memory, so the result stays channels-last
            return from_channels_last(xp.concatenate([a.transpose(0, 2, 3, 1) for a in arrays], axis=3))
        return xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size in ctx.sizes:
            index = [slice(None)] * grad.ndim
            index[ctx.dim] = slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        return get_array_module(*arrays).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad.take(i, axis=ctx.dim) for i in range(grad.shape[ctx.dim]))


class Pad(Function):
    """Constant padding; ``widths`` is NumPy's ((before, after), ...) per dimension."""

    @staticmethod
    def forward(ctx, x, widths=(), value=0.0):
        ctx.widths = widths
        return get_array_module(x).pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        # the gradient of the padding is dropped: crop it off
        return grad[tuple(slice(before, grad.shape[i] - after) for i, (before, after) in enumerate(ctx.widths))]


class ToDevice(Function):
    @staticmethod
    def forward(ctx, x, device=None):
        ctx.source = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, grad):
        return backend.to_device(grad, ctx.source)


# ---------------------------------------------------------------- the functions Tensor and F call


def _has_integer_array(index) -> bool:
    """True when the index holds an integer array (which may pick the same element twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


def _shape_argument(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    return shape


def _infer_shape(shape, numel, input_shape, op):
    if sum(s == -1 for s in shape) > 1:
        raise ValueError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    if any(s < -1 for s in shape):
        raise ValueError(f"{op}: invalid shape dimension in {list(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise ValueError(
                f"{op}: shape {list(shape)} is invalid for input of shape {input_shape} ({numel} elements)"
            )
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise ValueError(f"{op}: shape {list(shape)} is invalid for input of shape {input_shape} ({numel} elements)")
    return shape


def reshape(x, *shape):
    shape = _infer_shape(_shape_argument(shape, "reshape"), x.numel(), x.shape, "view/reshape")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:  # as PyTorch: dims are checked as if the scalar had one dimension
        normalize_dim(start_dim, 1, "flatten")
        normalize_dim(end_dim, 1, "flatten")
        return reshape(x, 1)
    start = normalize_dim(start_dim, x.ndim, "flatten")
    end = normalize_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:start] + (math.prod(x.shape[start : end + 1]),) + x.shape[end + 1 :]
    return reshape(x, shape)


def squeeze(x, dim=None, *, axis=None):
    dim = dim_aliases("squeeze", dim, False, axis)[0]
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = {normalize_dim(d, x.ndim, "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(x, dim=None, *, axis=None):
    dim = dim_aliases("unsqueeze", dim, False, axis)[0]
    if dim is None:
        raise TypeError("unsqueeze(): missing the dim argument")
    dim = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def permute(x, dims):
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dimensions of shape {x.shape}")
    return Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    dims = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


def expand(x, *sizes):
    sizes = _shape_argument(sizes, "expand")
    if len(sizes) < x.ndim:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's dims ({x.ndim})")
    offset = len(sizes) - x.ndim
    if -1 in sizes[:offset]:
        raise ValueError(f"expand: -1 is not allowed in a new leading dimension, got sizes {sizes} for shape {x.shape}")
    shape = tuple(x.shape[i - offset] if s == -1 else s for i, s in enumerate(sizes))
    for i, size in enumerate(x.shape):
        if size != 1 and size != shape[offset + i]:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes}")
    return Expand.apply(x, shape=shape)


def contiguous(x):
    if x.array.flags.c_contiguous:
        return x
    return Contiguous.apply(x)


def _check_integer_indices(index, shape):
    """IndexError for an integer-array index out of range (CuPy would wrap it around silently)."""
    parts = index if isinstance(index, tuple) else (index,)
    consumed = sum(
        p.ndim if hasattr(p, "dtype") and p.dtype.kind == "b" else 1
        for p in parts
        if p is not None and p is not Ellipsis
    )
    dim = 0
    for part in parts:
        if part is None:
            continue
        if part is Ellipsis:
            dim += len(shape) - consumed
            continue
        if hasattr(part, "dtype") and part.dtype.kind in "iu" and part.size and dim < len(shape):
            low, high = int(part.min()), int(part.max())
            if low < -shape[dim] or high >= shape[dim]:
                bad = high if high >= shape[dim] else low
                raise IndexError(
                    f"index {bad} is out of bounds for dimension {dim} with size {shape[dim]} (tensor of shape {shape})"
                )
        dim += part.ndim if hasattr(part, "dtype") and part.dtype.kind == "b" else 1


def getitem(x, index):
    index = raw_index(index)
    xp = get_array_module(x.array)
    # lists index like integer arrays, as in PyTorch, also inside a tuple (x[[0, 0], :] repeats row 0)
    if isinstance(index, list):
        index = xp.asarray(index)
    elif isinstance(index, tuple):
        index = tuple(xp.asarray(i) if isinstance(i, list) else i for i in index)
    _check_integer_indices(index, x.shape)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as error:
        raise IndexError(f"index {index!r} is out of range for a tensor of shape {x.shape}: {error}") from None


def gather(x, dim, index):
    dim = normalize_dim(dim, x.ndim, "gather")
    index = index if isinstance(index, Tensor) else Tensor(index)
    if index.dtype.kind not in "iu" or index.ndim != x.ndim:
        raise ValueError(f"gather: index must be an integer tensor with {x.ndim} dims, got {index.dtype} {index.shape}")
    return Gather.apply(x, index.array, dim=dim)


def setitem(x, index, value):
    """The differentiable ``x[index] = value`` (Tensor.__setitem__ uses it when a gradient must flow)."""
    index = raw_index(index)
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = value.to(x.dtype)
    return SetItem.apply(x, value, index=index)


def _check_tensors(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensors, got {type(t).__name__}")


def cat(tensors, dim=0):
    _check_tensors(tensors, "cat")
    first = tensors[0]
    dim = normalize_dim(dim, first.ndim, "cat")
    for t in tensors:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != dim):
            shapes = [tuple(t.shape) for t in tensors]
            raise ValueError(f"cat: sizes must match except in dimension {dim}, got shapes {shapes}")
    return Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=None, *, axis=None):
    dim = dim_aliases("stack", dim, False, axis)[0] or 0
    _check_tensors(tensors, "stack")
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) != 1:
        raise ValueError(f"stack: expects each tensor to be equal size, got shapes {shapes}")
    dim = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, dim=dim)


def pad(x, pad, mode="constant", value=0.0):
    """``F.pad``: ``pad`` lists (before, after) pairs starting from the last dimension."""
    if not isinstance(x, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(x).__name__}")
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, int) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length {len(pad)} must be even and at most 2 * {x.ndim} for shape {x.shape}")
    if any(int(p) < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad.apply(x, widths=tuple(widths), value=value)


def to_device(x, device):
    if x.device == device and (device.index is None or x.device.index == device.index):
        return x
    return ToDevice.apply(x, device=device)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Cut ``tensor`` along ``dim`` into pieces of ``split_size`` (the last may be smaller), or of the listed sizes.

    Each piece is a slice of the input, so gradients flow back into the right part of it.
    """
    _check_tensors([tensor], "split")
    dim = dim % max(tensor.ndim, 1)
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(size) for size in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} must sum to the size of dim {dim} ({length})")
    else:
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * dim + (slice(start, start + size),)
        pieces.append(tensor[index])
        start += size
    return tuple(pieces)


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of ceil(size / chunks) along ``dim`` (fewer if the size runs out)."""
    if not isinstance(chunks, int) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    _check_tensors([input], "chunk")
    length = input.shape[dim % max(input.ndim, 1)]
    return split(input, max(-(-length // chunks), 1), dim)
