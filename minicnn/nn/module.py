"""``Module`` and the containers (``Sequential``, ``ModuleList``, ``ModuleDict``), as in PyTorch.

A Module keeps three ordered registries, filled by plain attribute assignment: parameters (tensors the
optimizer trains), buffers (state that is saved but not trained, like BatchNorm's running mean) and
submodules. Everything else (state_dict keys, ``parameters()``, ``print(model)``) walks them in order.
``Parameter`` (and the placeholders of lazy modules) live in ``parameter.py``.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..autograd.function import no_grad
from ..autograd.versions import bump_version
from ..tensor import Tensor, parse_to_arguments
from .parameter import Parameter, is_lazy


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (how PyTorch nests child reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _to_numpy_array(value, key):
    """A state_dict value (minicnn tensor, NumPy/CuPy array, CPU torch tensor, list) as an array."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        return value.detach().cpu().numpy()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        return np.asarray(value)
    except Exception as error:
        raise TypeError(f"load_state_dict: value for '{key}' is not array-like ({type(value).__name__})") from error


class Module:
    """Base class of every layer and network. Subclasses set attributes in ``__init__`` and write ``forward``."""

    _version: int = 1  # of the layer's state-dict format; a layer whose format changed raises it

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------ registration by assignment
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__ and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() is called")
        registries = (self.__dict__.get("_parameters"), self.__dict__.get("_buffers"), self.__dict__.get("_modules"))
        if isinstance(value, Parameter):
            if name not in (registries[0] or {}):  # a re-assigned parameter keeps its place in the order
                self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            if name not in (registries[2] or {}):
                self._forget(name)
            self._modules[name] = value
        elif registries[0] is not None and name in registries[0]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' (use nn.Parameter)")
            self._parameters[name] = None
        elif registries[1] is not None and name in registries[1]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' (a Tensor is expected)")
            self._buffers[name] = value
        elif registries[2] is not None and name in registries[2] and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__[registry].pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        if "." in name or not name:
            raise KeyError(f"register_buffer: bad buffer name {name!r}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if "." in name or not name:
            raise KeyError(f"add_module: bad module name {name!r}")
        if name not in self._modules:  # a replaced module keeps its place in the order, as in PyTorch
            self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------ forward and hooks
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            changed = hook(self, args, output)
            if changed is not None:
                output = changed
        return output

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; it may return a replacement output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward; it may return replacement inputs."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (looking for '{target}')")
            module = module._modules[part]
        return module

    # ------------------------------------------------------------ modes and bulk changes
    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode must be a bool, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if param.grad is not None:
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.array[...] = 0

    def _map_arrays(self, convert):
        """Replace every parameter's and buffer's array (and grads) in place: tensors keep their identity."""
        with no_grad():
            for tensor in list(self.parameters()) + list(self.buffers()):
                if is_lazy(tensor):  # no values yet: change the dtype/device they will be made with
                    tensor._convert_template(convert)
                    continue
                tensor.array = convert(tensor.array)
                if tensor.grad is not None:
                    tensor.grad.array = convert(tensor.grad.array)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)`` or both; floating-point parameters and buffers are converted."""
        target_device, target_dtype = parse_to_arguments(args, kwargs, "Module.to()")
        if target_dtype is not None and target_dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, got {target_dtype}")

        def convert(array):
            if target_device is not None:
                array = backend.to_device(array, target_device)
            if target_dtype is not None and array.dtype.kind == "f":
                array = array.astype(target_dtype)
            return array

        return self._map_arrays(convert)

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    # ------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by attribute path (``features.0.weight``), as PyTorch's."""
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # each module's state-dict version, as PyTorch records it
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = {"version": self._version}
        for name, param in self._parameters.items():
            if param is not None:  # a lazy placeholder goes in as itself, as in PyTorch (it has no values)
                destination[prefix + name] = param if keep_vars or is_lazy(param) else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars or is_lazy(buffer) else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into this module's parameters and buffers, checking every key and shape first.

        Values may be minicnn tensors, NumPy arrays, CPU torch tensors or nested lists. Nothing changes
        unless every check passes (with ``strict=False`` missing and unexpected keys are allowed).

        Returns:
            ``(missing_keys, unexpected_keys)``
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        # a lazy placeholder in the checkpoint has no values: it can only meet another placeholder
        for key, value in state_dict.items():
            if is_lazy(value) and key in own and not is_lazy(own[key]):
                raise RuntimeError(
                    f"load_state_dict: can't load '{key}' into {type(self).__name__}: the checkpoint holds an "
                    "uninitialized parameter or buffer (its lazy module never ran forward), which has no shape "
                    "and no values. Call forward on the source model (a dry run) before taking its state_dict."
                )
        arrays = {key: value if is_lazy(value) else _to_numpy_array(value, key) for key, value in state_dict.items()}
        metadata = getattr(state_dict, "_metadata", None)
        for name, module in self.named_modules():  # let layers fill in what older formats lacked
            local_metadata = metadata.get(name, {}) if metadata is not None else {}
            module._upgrade_state_dict(arrays, name + "." if name else "", local_metadata)
        missing = [key for key in own if key not in arrays]
        unexpected = [key for key in arrays if key not in own]
        mismatched = [
            f"size mismatch for {key}: copying a param with shape {tuple(arrays[key].shape)} from checkpoint, "
            f"the shape in current model is {tuple(own[key].shape)}."
            for key in own
            if key in arrays
            and not is_lazy(own[key])
            and not is_lazy(arrays[key])
            and tuple(arrays[key].shape) != tuple(own[key].shape)
        ]
        # a value that cannot become a number (text, objects) is refused here, before anything is copied
        not_numeric = [
            f'While copying the parameter named "{key}", expected a numeric array from checkpoint, '
            f"got dtype {arrays[key].dtype}."
            for key in own
            if key in arrays and getattr(arrays[key].dtype, "kind", "O") not in "biufc"
        ]
        problems = mismatched + not_numeric
        if strict:
            if unexpected:
                problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems))
        with no_grad():
            for key, tensor in own.items():
                if key in arrays and is_lazy(arrays[key]):
                    continue  # placeholder onto placeholder: nothing to copy
                if key in arrays and is_lazy(tensor):
                    tensor.materialize(arrays[key].shape)  # a lazy module takes its shapes from the checkpoint
                if key in arrays:
                    value = arrays[key]
                    xp = backend.get_array_module(tensor.array)
                    value = backend.to_device(
                        np.asarray(value) if not hasattr(value, "__cuda_array_interface__") else value, tensor.device
                    )
                    # copy into the existing array: views of it (``.data``, tied weights) see the new values
                    tensor.array[...] = xp.asarray(value, dtype=tensor.dtype).reshape(tensor.shape)
                    bump_version(tensor.array)
        return IncompatibleKeys(missing, unexpected)

    def _upgrade_state_dict(self, arrays: dict, prefix: str, local_metadata: dict) -> None:
        """Fill in, in place, entries that state dicts saved by an older version of this layer lack.

        ``local_metadata`` is ``{"version": n}`` when the state dict records this module's version
        (``state_dict()._metadata``, as PyTorch's does), else empty. Layers whose format changed override it.
        """

    # ------------------------------------------------------------ repr, as PyTorch prints it
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(module), 2)}" for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


class _NumberedModules(Module):
    """What Sequential and ModuleList share: children named "0", "1", ... that index like a list."""

    def _renumber(self, modules):
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def _index(self, index: int) -> int:
        size = len(self._modules)
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {size}")
        return index % size

    def __getitem__(self, index):
        return list(self._modules.values())[self._index(index)]

    def __setitem__(self, index: int, module: Module):
        self.add_module(list(self._modules)[self._index(index)], module)

    def __delitem__(self, index):
        modules = list(self._modules.values())
        del modules[index if isinstance(index, slice) else self._index(index)]
        self._renumber(modules)  # indices stay 0..n-1, as in PyTorch

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)
        return self


class Sequential(_NumberedModules):
    """Modules applied one after another: ``Sequential(conv, relu, pool)`` or ``Sequential(OrderedDict(...))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            self._renumber(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):  # a slice keeps the children's names, as in PyTorch
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_NumberedModules):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        self._renumber(list(modules or []))

    def __getitem__(self, index):
        if isinstance(index, slice):  # a slice is renumbered from 0, as in PyTorch
            return ModuleList(list(self._modules.values())[index])
        return super().__getitem__(index)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __repr__(self):
        # PyTorch prints runs of identical children once: "(0-2): 3 x Linear(...)"
        child_reprs = [repr(module) for module in self]
        if not child_reprs:
            return "ModuleList()"
        lines, start = [], 0
        while start < len(child_reprs):
            end = start
            while end + 1 < len(child_reprs) and child_reprs[end + 1] == child_reprs[start]:
                end += 1
            text = _addindent(child_reprs[start], 2)
            if end == start:
                lines.append(f"({start}): {text}")
            else:
                lines.append(f"({start}-{end}): {end - start + 1} x {text}")
            start = end + 1
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module):
        self.add_module(key, module)

    def __delitem__(self, key: str):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        for key, module in modules.items() if hasattr(modules, "items") else modules:
            self.add_module(key, module)

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)
