"""The primitive operations, one module per kind; each op is a Function with forward and backward side by side.

``inplace`` and ``methods`` come last: they attach Tensor's in-place changes and its methods (operators,
reductions, views), each a line onto the op that does the work.
"""

from . import (  # noqa: I001, F401  (imported for what they attach to Tensor)
    activation,
    conv,
    dropout,
    elementwise,
    inplace,
    loss,
    matmul,
    methods,
    normalization,
    pooling,
    reduction,
    shape,
)

__all__ = [
    "activation",
    "conv",
    "dropout",
    "elementwise",
    "loss",
    "matmul",
    "normalization",
    "pooling",
    "reduction",
    "shape",
]
