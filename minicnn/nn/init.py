"""``minicnn.nn.init``: fill a tensor in place with PyTorch's initialisation schemes.

The fan of a weight decides the scale: ``fan_in = in_channels * kh * kw`` (inputs each output sums),
``fan_out = out_channels * kh * kw``. Kaiming keeps the variance of activations through ReLU layers,
Xavier keeps it for linear/tanh layers.
"""

from __future__ import annotations

import math

from .. import backend
from ..autograd.function import no_grad
from ..autograd.versions import bump_version
from ..tensor import Tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale for a nonlinearity (ReLU: sqrt(2), tanh: 5/3, linear/sigmoid/conv: 1)."""
    linear_like = [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    ]
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor):
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {tensor.shape})"
        )
    receptive_field = 1
    for size in tensor.shape[2:]:
        receptive_field *= size
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values):
    if tensor.numel() == 0:  # nothing to fill (PyTorch warns and does nothing too)
        return tensor
    with no_grad():
        tensor.array[...] = values
    bump_version(tensor.array)
    return tensor


def _fill_random(tensor: Tensor, draw, scale: float, shift: float) -> Tensor:
    """``tensor = shift + scale * draw(...)``, drawn a block of rows at a time.

    A big layer (VGG's 25088 x 4096 weight: 411 MB) then needs no full-size temporary array. The numbers
    are the same as one draw of the whole shape: the generator hands them out in order either way.
    """
    array = tensor.array
    if array.size == 0:  # nothing to fill (PyTorch warns and does nothing too)
        return tensor
    xp = backend.get_array_module(array)
    if array.ndim < 2:
        blocks = [array[...]]
    else:
        rows = max(1, _BLOCK_ELEMENTS // (array.size // array.shape[0]))
        blocks = [array[start : start + rows] for start in range(0, array.shape[0], rows)]
    with no_grad():
        for block in blocks:
            values = draw(xp, block.shape, array.dtype)
            if values.dtype.kind == "f":
                values *= scale  # in place: no second temporary
                values += shift
            else:
                values = shift + scale * values
            block[...] = values
    bump_version(array)
    return tensor


_BLOCK_ELEMENTS = 1 << 22  # numbers drawn at a time (16 MB of float32)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return _fill_random(tensor, backend.random_uniform, b - a, a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _fill_random(tensor, backend.random_normal, std, mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan). PyTorch's Conv2d/Linear default uses a=sqrt(5): b = 1/sqrt(fan_in)."""
    if tensor.numel() == 0:
        return tensor
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_calculate_correct_fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_calculate_correct_fan(tensor, mode)))


# PyTorch's deprecated names without the trailing underscore
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
