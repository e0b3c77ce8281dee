"""The layers: each holds its parameters and settings; the math lives in ``nn.functional``.

Constructor signatures, defaults, default initialisation and ``repr`` follow PyTorch's, so
``print(model)`` reads the same and ported code runs unchanged. Each layer checks its input where it
arrives and names itself in the error (``Conv2d(3, 8): expected input with 3 channels, got ...``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, creation
from ..ops.arguments import pair
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


def _check_count(owner: str, name: str, value, minimum: int) -> None:
    """Refuse a size that is not an int (2.5, "2", None, True) or is below ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be {'positive' if minimum == 1 else 'non-negative'}, got {value}")


def _place(layer: Module, device) -> None:
    """Move a new layer to ``device``, naming the layer if the device is unknown or unavailable."""
    try:
        layer.to(device)
    except (RuntimeError, ValueError, TypeError) as error:
        raise type(error)(f"{type(layer).__name__}: cannot create it on device {device!r}: {error}") from error


def _check_input(layer: Module, x, ranks: tuple, channels: int | None = None):
    """The door check every layer runs: a Tensor of an accepted rank with the expected channel count."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer!r}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in ranks:
        expected = " or ".join(f"{r}D" for r in ranks)
        raise ValueError(f"{layer!r}: expected {expected} input, got {x.ndim}D input of shape {x.shape}")
    if channels is not None:
        channel_axis = 1 if x.ndim == max(ranks) else 0  # unbatched input has channels first
        if x.shape[channel_axis] != channels:
            raise ValueError(f"{layer!r}: expected input with {channels} channels, got input of shape {x.shape}")


# ---------------------------------------------------------------- convolution and linear


class Conv2d(Module):
    """2-D convolution over a batch of images.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, padding, dilation: ints or pairs; padding may also be 'valid' or 'same'.
        groups: split the channels into this many independent groups (both counts must divide).
        bias: add a learned bias per output channel (default True).
        padding_mode: only 'zeros'.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W); output (N, C_out, H_out, W_out) with
        H_out = floor((H + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1.

    Attributes:
        weight: (C_out, C_in / groups, kh, kw), uniform in ±1/sqrt(fan_in) like PyTorch.
        bias: (C_out,), same bound.

    Example:
        >>> conv = nn.Conv2d(1, 8, 5, padding=2)
        >>> conv(minicnn.randn(64, 1, 28, 28)).shape
        (64, 8, 28, 28)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_count("Conv2d", "in_channels", in_channels, 0)  # 0: as PyTorch (LazyConv2d starts so)
        _check_count("Conv2d", "out_channels", out_channels, 0)
        _check_count("Conv2d", "groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be 'valid', 'same', an int or a pair, got {padding!r}")
            if padding == "same" and pair(stride, "stride", "Conv2d") != (1, 1):
                raise ValueError("Conv2d: padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = pair(stride, "stride", "Conv2d")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        self.groups = groups
        self.padding_mode = padding_mode
        self.output_padding = (0, 0)
        if min(self.kernel_size) <= 0 or min(self.stride) <= 0 or min(self.dilation) <= 0:
            raise ValueError(
                f"Conv2d: kernel_size, stride and dilation must be positive, got {self.kernel_size}, "
                f"{self.stride}, {self.dilation}"
            )
        if not isinstance(self.padding, str) and min(self.padding) < 0:
            raise ValueError(f"Conv2d: padding must be non-negative, got {self.padding}")
        dtype = dtype or np.float32
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype))
        self.register_parameter("bias", Parameter(creation.empty(out_channels, dtype=dtype)) if bias else None)
        self.reset_parameters()
        if device is not None:
            _place(self, device)

    def reset_parameters(self):
        # PyTorch's default: kaiming_uniform with a=sqrt(5), i.e. U(±1/sqrt(fan_in)), for weight and bias
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        _check_input(self, x, (3, 4), self.in_channels)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Linear(Module):
    """y = x W^T + b.

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias: learn an additive bias (default True).

    Shape:
        input (*, in_features); output (*, out_features).

    Attributes:
        weight: (out_features, in_features), U(±1/sqrt(in_features)); bias: (out_features,), same bound.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        _check_count("Linear", "in_features", in_features, 0)
        _check_count("Linear", "out_features", out_features, 0)
        self.in_features, self.out_features = in_features, out_features
        dtype = dtype or np.float32
        self.weight = Parameter(creation.empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            _place(self, device)

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input with last dimension {self.in_features}, got input of shape {x.shape}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input (a placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (default keeps the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# ---------------------------------------------------------------- normalization


class _BatchNorm(Module):
    _version = 2  # version 2 added the num_batches_tracked buffer, as in PyTorch
    _ranks: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        _check_count(type(self).__name__, "num_features", num_features, 0)  # 0: as PyTorch (lazy)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = dtype or np.float32
        self.register_parameter("weight", Parameter(creation.ones(num_features, dtype=dtype)) if affine else None)
        has_bias = affine and bias  # PyTorch 2.14 can learn a scale without a shift (bias=False)
        self.register_parameter("bias", Parameter(creation.zeros(num_features, dtype=dtype)) if has_bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            _place(self, device)

    def _upgrade_state_dict(self, arrays: dict, prefix: str, local_metadata: dict) -> None:
        """PyTorch's rule: a state dict from before version 2 (or one that records no version, like a plain
        dict or a safetensors file) may lack ``num_batches_tracked``; the layer then keeps its own count."""
        key = prefix + "num_batches_tracked"
        version = local_metadata.get("version")
        if (version is None or version < 2) and self.track_running_stats and key not in arrays:
            arrays[key] = backend.to_device(self.num_batches_tracked.array, backend.device("cpu"))

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        _check_input(self, x, self._ranks)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input with {self.num_features} channels, got input of shape {x.shape}"
            )
        use_batch_stats = self.training or self.running_mean is None  # else the running statistics
        tracking = self.training and self.track_running_stats  # update the running statistics and the count
        keep_stats = not self.training or self.track_running_stats
        try:  # F.batch_norm checks eps and momentum, counts num_batches_tracked and applies momentum=None
            return F.batch_norm(
                x,
                self.running_mean if keep_stats else None,
                self.running_var if keep_stats else None,
                self.weight,
                self.bias,
                use_batch_stats,
                self.momentum,
                self.eps,
                num_batches_tracked=self.num_batches_tracked if tracking else None,
            )
        except (TypeError, ValueError) as error:  # name the layer (eps or momentum set to a bad value)
            raise type(error)(f"{type(self).__name__}: {error}") from None

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L): y = (x - mean) / sqrt(var + eps) * weight + bias."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W), per channel.

    In training it normalises with the batch mean and biased variance and updates
    ``running_mean``/``running_var`` (the latter with the unbiased variance) by ``momentum``; in eval it
    uses the running statistics.
    """

    _ranks = (4,)


# ---------------------------------------------------------------- activations


class ReLU(Module):
    """max(x, 0). ``inplace`` is accepted for PyTorch code (minicnn always returns a new tensor)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        if isinstance(negative_slope, float) and math.isnan(negative_slope):
            raise ValueError("LeakyReLU: negative_slope must not be NaN")
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)


# ---------------------------------------------------------------- pooling


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size; padding counts as -inf)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        _check_input(self, x, (3, 4))
        return F.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over kernel_size windows; zero padding counts in the mean unless count_include_pad=False."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        _check_input(self, x, (3, 4))
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size; ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_input(self, x, (3, 4))
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size; ``AdaptiveMaxPool2d(1)`` is global max pooling."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        _check_input(self, x, (3, 4))
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


# ---------------------------------------------------------------- dropout


class Dropout(Module):
    """Zero each element with probability p in training and scale the rest by 1/(1-p); identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool):
            raise TypeError(f"{type(self).__name__}: p must be a float, got {p!r}")
        if not 0 <= p <= 1:  # written so that NaN is refused too
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability p in training, scaling the kept ones by 1/(1-p).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels barely
    regularises a conv layer; dropping the whole map does. Identity in eval mode.
    """

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)
