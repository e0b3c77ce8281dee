"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``, as in PyTorch.

A subclass writes ``step()``, reading each group's hyper-parameters (``group['lr']``) and keeping what it
remembers between steps in ``self.state[param]`` (momentum buffers, Adam's moving averages).
"""

from __future__ import annotations

import copy
import numbers

from .. import backend
from ..autograd.function import enable_grad
from ..autograd.versions import bump_version
from ..tensor import Tensor


class Optimizer:
    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for param in group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    if set_to_none:
                        param.grad = None
                    else:
                        param.grad.array[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    @staticmethod
    def _gradients(group: dict):
        """(param, gradient array) for each parameter of ``group`` that has a gradient; with
        ``maximize=True`` the gradient is negated, so every update rule can always descend."""
        for param in group["params"]:
            if param.grad is not None:
                bump_version(param.array)  # the update changes param in place (a saved copy is then stale)
                yield param, (-param.grad.array if group.get("maximize") else param.grad.array)

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------ state dict (PyTorch's layout)
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``; arrays are copied."""
        index_of, groups, next_index = {}, [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for param in group["params"]:
                if id(param) not in index_of:
                    index_of[id(param)] = next_index
                    next_index += 1
                packed["params"].append(index_of[id(param)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for param in group["params"]:
                if param in self.state:
                    state[index_of[id(param)]] = {
                        k: (Tensor(v.copy()) if hasattr(v, "shape") else copy.copy(v))
                        for k, v in self.state[param].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(groups)} parameter groups, the optimizer has {len(self.param_groups)}"
            )
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of "
                    f"the optimizer's group ({len(saved['params'])} vs {len(group['params'])})"
                )
        param_of = {}
        for saved, group in zip(groups, self.param_groups):
            param_of.update(zip(saved["params"], group["params"]))
            for key, value in saved.items():
                if key != "params":
                    group[key] = value
        self.state = {}
        for index, values in state_dict["state"].items():
            param = param_of[int(index)]
            restored = {}
            for key, value in values.items():
                if isinstance(value, Tensor) or hasattr(value, "shape"):
                    array = value.array if isinstance(value, Tensor) else value
                    if hasattr(array, "detach"):  # a torch tensor
                        array = array.detach().cpu().numpy()
                    array = backend.to_device(array, param.device)
                    restored[key] = array.astype(param.dtype, copy=True) if array.ndim else array.copy()
                else:
                    restored[key] = value
            self.state[param] = restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _check_non_negative(owner: str, name: str, value) -> None:
    """Refuse a hyperparameter that is not a number >= 0: written ``not 0.0 <= value`` so that NaN is refused too."""
    if isinstance(value, Tensor):
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= value:
        raise ValueError(f"{owner}: Invalid {name}: {value}")
