"""``minicnn.utils``: data loading (``minicnn.utils.data``) and PyTorch interop."""

from . import data
from .interop import from_torch, to_torch_state_dict

__all__ = ["data", "from_torch", "to_torch_state_dict"]
