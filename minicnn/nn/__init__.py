"""``minicnn.nn``: layers and the functional interface, as ``torch.nn``."""

from . import functional

__all__ = ["functional"]
