"""minicnn: a small convolutional-network engine on NumPy (CPU) and CuPy (GPU), shaped like PyTorch.

``import minicnn as torch`` ports PyTorch code by changing imports.
"""

from . import backend, dtypes
from .tensor import Tensor  # (the module minicnn.tensor; the name minicnn.tensor is the creation function)
from . import autograd, cuda, ops
from .ops.fast import textbook  # with minicnn.textbook(): every op runs its textbook Function
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .dtypes import bool_ as bool  # noqa: A001  (PyTorch's name for the dtype)
from .dtypes import float16, float32, float64, int32, int64, uint8
from .backend import device, manual_seed
from .utils.data import Generator
from .creation import (
    arange,
    empty,
    empty_like,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.elementwise import abs, clamp, exp, log, sqrt, where  # noqa: A004
from .ops.matmul import matmul
from .ops.reduction import amax, amin, argmax, argmin, max, mean, min, sum, var  # noqa: A004
from .ops.shape import cat, flatten, permute, reshape, squeeze, stack, transpose, unsqueeze
from . import models, nn, optim, utils, vision, viz  # noqa: E402  (these build on everything above)
from .profiler import profile  # noqa: E402
from .serialization import load, save  # noqa: E402
from .summary import summary  # noqa: E402
from .train import History, evaluate, fit  # noqa: E402
from .utils.compat import (  # noqa: E402  (PyTorch's other spellings; see minicnn/utils/compat.py)
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    Size,
    accelerator,
    add,
    allclose,
    backends,
    bmm,
    ceil,
    chunk,
    div,
    eq,
    equal,
    floor,
    ge,
    get_default_dtype,
    gt,
    inference_mode,
    is_floating_point,
    isfinite,
    isinf,
    isnan,
    le,
    lt,
    maximum,
    minimum,
    mm,
    mul,
    ne,
    norm,
    normal,
    pow,  # noqa: A004
    round,  # noqa: A004
    sign,
    split,
    std,
    sub,
)

__version__ = "0.1.0"

# PyTorch's other names for the dtypes
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
clip = clamp
concat = cat


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()
