"""Automatic differentiation, as ``torch.autograd``: read ``function.py`` first (grad mode, ``Function``,
the backward walk), then ``versions.py`` (in-place checks) and ``gradcheck.py``."""

from .function import (
    Context,
    Function,
    Variable,
    enable_grad,
    is_grad_enabled,
    no_grad,
    run_backward,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck

__all__ = [
    "Function",
    "Context",
    "Variable",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "gradcheck",
    "GradcheckError",
    "run_backward",
]
