"""The primitive operations, one module per kind; each op is a Function with forward and backward side by side."""

from . import activation, conv, dropout, elementwise, loss, matmul, normalization, pooling, reduction, shape

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
