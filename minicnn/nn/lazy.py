"""Lazy modules: layers that take their input size from the first batch they see, as PyTorch's.

``nn.LazyConv2d(6, kernel_size=5)`` is a ``Conv2d`` that does not know ``in_channels`` yet: it holds
``UninitializedParameter`` placeholders (see ``nn/parameter.py``). Its first call (the "dry run", also
under ``no_grad``) reads the size from the input, gives the placeholders their shapes, initialises them
exactly as the eager layer would (the same draws from the same generator, in the same order) and then
turns the module into the plain class: afterwards ``type(m) is nn.Conv2d`` and ``print(m)`` shows
``Conv2d(...)``. So a network written with lazy layers, once run, is indistinguishable from one written
with explicit sizes.

How it works: ``LazyModuleMixin.__init__`` registers a forward pre-hook. Before the first forward the hook
calls ``initialize_parameters(input)``, removes itself and sets ``module.__class__ = cls_to_become``.
"""

from __future__ import annotations

from .. import creation
from ..autograd.function import no_grad
from ..tensor import Tensor
from .layers import BatchNorm1d, BatchNorm2d, Conv2d, Linear, _BatchNorm, _check_input
from .parameter import UninitializedBuffer, UninitializedParameter, is_lazy


def _infer_parameters(module, args):
    """The forward pre-hook of a lazy module: materialise from the input, then become the plain class."""
    if not args or not isinstance(args[0], Tensor):
        raise TypeError(
            f"{module._get_name()}: expected a Tensor input, got {type(args[0]).__name__ if args else None}"
        )
    with no_grad():  # initialising is not part of any graph
        module.initialize_parameters(*args)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """Mixed in before a layer class: placeholders until the first forward, then the layer itself.

    Attributes:
        cls_to_become: the class the module turns into after its first forward (``Conv2d`` ...).
    """

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self) -> bool:
        """True while any parameter or buffer of this module is still a placeholder."""
        return any(is_lazy(value) for value in list(self._parameters.values()) + list(self._buffers.values()))

    def initialize_parameters(self, *args) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")


class LazyConv2d(LazyModuleMixin, Conv2d):
    """A ``Conv2d`` whose ``in_channels`` is read from the first input (``input.shape[1]``, or ``[0]`` unbatched).

    Args:
        out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode: as ``Conv2d``.

    Example:
        >>> conv = nn.LazyConv2d(6, kernel_size=5, padding=2)
        >>> conv(minicnn.randn(1, 1, 28, 28)).shape
        minicnn.Size([1, 6, 28, 28])
        >>> conv
        Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    """

    cls_to_become = Conv2d

    def __init__(
        self,
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
        # build a Conv2d of 0 channels without a bias (nothing is drawn), then put placeholders in
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode)
        if out_channels % groups:
            raise ValueError(f"LazyConv2d: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.out_channels = out_channels
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        _check_input(self, input, (3, 4))
        if self.has_uninitialized_params():
            self.in_channels = input.shape[1] if input.ndim == 4 else input.shape[0]
            if self.in_channels % self.groups:
                raise ValueError(
                    f"LazyConv2d: in_channels ({self.in_channels}, from input of shape {input.shape}) "
                    f"must be divisible by groups ({self.groups})"
                )
            self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()  # Conv2d's own initialisation: the same draws as an eager Conv2d
        elif self.in_channels == 0:  # loaded from a state_dict: the weight has its shape already
            self.in_channels = self.weight.shape[1] * self.groups


class LazyLinear(LazyModuleMixin, Linear):
    """A ``Linear`` whose ``in_features`` is read from the first input (``input.shape[-1]``).

    Args:
        out_features, bias: as ``Linear``.

    Example:
        >>> fc = nn.LazyLinear(10)
        >>> fc(minicnn.randn(2, 400)).shape
        minicnn.Size([2, 10])
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        if input.ndim == 0:
            raise ValueError(f"{self!r}: expected an input with at least 1 dimension, got a 0-d tensor")
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        elif self.in_features == 0:  # loaded from a state_dict
            self.in_features = self.weight.shape[1]


class _LazyBatchNorm(LazyModuleMixin, _BatchNorm):
    """Batch norm whose ``num_features`` is read from the first input (``input.shape[1]``)."""

    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        # build one without weights or statistics (nothing to make yet), then put placeholders in
        super().__init__(1, eps, momentum, False, False, bias=False)
        self.num_features, self.affine, self.track_running_stats = 0, affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = creation.tensor(0, device=device)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        _check_input(self, input, self._ranks)
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            for placeholder in (self.weight, self.bias, self.running_mean, self.running_var):
                if placeholder is not None:
                    placeholder.materialize((self.num_features,))
            self.reset_parameters()  # weight 1, bias 0, running mean 0 and variance 1, as the eager layer
        elif self.num_features == 0:  # loaded from a state_dict
            known = next(t for t in (self.weight, self.running_mean) if t is not None)
            self.num_features = known.shape[0]


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """A ``BatchNorm1d`` whose ``num_features`` is read from the first input (``(N, C)`` or ``(N, C, L)``)."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """A ``BatchNorm2d`` whose ``num_features`` is read from the first input (``(N, C, H, W)``).

    Example:
        >>> bn = nn.LazyBatchNorm2d()
        >>> bn(minicnn.randn(2, 6, 4, 4)).shape
        minicnn.Size([2, 6, 4, 4])
        >>> bn
        BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    cls_to_become = BatchNorm2d


__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyConv2d", "LazyLinear", "LazyModuleMixin"]
