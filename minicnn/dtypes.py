"""The dtypes minicnn uses (NumPy's own dtype objects) and PyTorch's rules for turning data into arrays."""

from __future__ import annotations

import numpy as np

from . import backend

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")


def as_dtype(dtype):
    """Turn ``minicnn.float32``, ``'float32'``, ``np.float32`` or ``torch.float32`` into a NumPy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    text = str(dtype)
    if text.startswith("torch."):  # ported code may pass PyTorch's dtype objects
        text = {"torch.long": "int64", "torch.float": "float32", "torch.double": "float64"}.get(text, text[6:])
    try:
        return np.dtype(dtype if not text.startswith(("int", "float", "uint", "bool")) else text)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def default_array(data, dtype=None):
    """Convert Python data or an array-like to a NumPy array with PyTorch's default dtypes."""
    array = np.asarray(data)
    if dtype is not None:
        return array.astype(as_dtype(dtype), copy=False)
    is_numpy_input = isinstance(data, (np.ndarray, np.generic))
    if array.dtype == np.float64 and not is_numpy_input:
        array = array.astype(np.float32)  # Python floats default to float32, as in PyTorch
    elif array.dtype.kind in "iu" and not is_numpy_input:
        array = array.astype(np.int64)
    elif array.dtype.kind not in "fiub":
        raise TypeError(f"tensor: cannot make a tensor from data of type {array.dtype} ({type(data).__name__})")
    return array


def is_array(data) -> bool:
    """True for a NumPy or a CuPy array."""
    return isinstance(data, np.ndarray) or (backend.cupy is not None and isinstance(data, backend.cupy.ndarray))
