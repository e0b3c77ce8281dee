"""Move weights between PyTorch and minicnn as plain NumPy arrays (no pickle, no torch import needed here)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


def from_torch(module_or_state_dict) -> OrderedDict[str, np.ndarray]:
    """A PyTorch module or state_dict as ``{key: numpy array}``, ready for ``model.load_state_dict``."""
    state = module_or_state_dict.state_dict() if hasattr(module_or_state_dict, "state_dict") else module_or_state_dict
    if not hasattr(state, "items"):
        raise TypeError(f"from_torch: expected a torch module or state_dict, got {type(state).__name__}")
    arrays = OrderedDict()
    for key, value in state.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arrays[key] = np.array(value, copy=True)
    return arrays


def to_torch_state_dict(model) -> OrderedDict:
    """A minicnn model's state_dict as CPU torch tensors, for ``torch_model.load_state_dict``."""
    import torch  # only this function needs PyTorch

    state = model.state_dict() if hasattr(model, "state_dict") else model
    return OrderedDict((key, torch.from_numpy(np.array(np.asarray(value), copy=True))) for key, value in state.items())
