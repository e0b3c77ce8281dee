"""Losses: nll_loss, cross_entropy, mse_loss, l1_loss, binary_cross_entropy(_with_logits).

The classification losses work on *rows*: a (M, C) matrix of log-probabilities, one row per prediction.
Batched inputs (N, C) are already rows; images (N, C, H, W) become rows by moving the class axis last
and flattening, so M = N * H * W. ``cross_entropy`` is ``nll_loss`` of ``log_softmax``: the stable
log-softmax (shift by the max) means a logit of 1e4 gives a finite loss.

Every loss takes ``reduction``: ``'none'`` (one loss per element), ``'sum'`` or ``'mean'``. For
``nll_loss``/``cross_entropy`` with class weights, ``'mean'`` is a *weighted* mean: the sum divided by
the total weight of the targets that count, as in PyTorch.
"""

from __future__ import annotations

import math
import warnings

from ..autograd.function import Function, is_grad_enabled
from ..backend import get_array_module
from ..tensor import Tensor
from .activation import log_softmax, sigmoid_of
from .elementwise import _check_broadcast, _promote, sum_to_shape, where

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- the Functions


class NLLLoss(Function):
    """Negative log-likelihood on rows: log_probs (M, C), target (M,) class indices -> loss.

    loss_i = -weight[t_i] * log_probs[i, t_i], and 0 for rows whose target is ``ignore_index``.
    ``'mean'`` divides the sum by sum_i weight[t_i] over the rows that count (not by M).
    """

    @staticmethod
    def forward(ctx, log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
        xp = get_array_module(log_probs)
        counted = target != ignore_index  # the rows that take part
        safe_target = xp.where(counted, target, 0)  # ignored rows read column 0, then count as 0
        picked = xp.where(counted, log_probs[xp.arange(len(target)), safe_target], 0)
        row_weight = counted.astype(log_probs.dtype) if weight is None else weight[safe_target] * counted
        losses = -(row_weight * picked)
        # backward needs where each row's gradient goes and how much it weighs
        ctx.save_for_backward(safe_target, row_weight, counted)
        ctx.input_shape, ctx.reduction = log_probs.shape, reduction
        if reduction == "none":
            return losses
        if reduction == "sum":
            return xp.asarray(losses.sum())
        ctx.total_weight = row_weight.sum()  # 0 when every target is ignored: the mean is then nan
        return xp.asarray(losses.sum() / ctx.total_weight)

    @staticmethod
    def backward(ctx, grad):
        safe_target, row_weight, counted = ctx.saved_tensors
        xp = get_array_module(grad)
        if ctx.reduction == "mean":
            grad = grad / ctx.total_weight
        grad_rows = -row_weight * grad  # d loss / d log_probs[i, t_i]; grad is (M,) or a scalar
        grad_log_probs = xp.zeros(ctx.input_shape, dtype=grad_rows.dtype)
        # one entry per row, at its target column; ignored rows keep exactly 0
        grad_log_probs[xp.arange(len(safe_target)), safe_target] = xp.where(counted, grad_rows, 0)
        return grad_log_probs, None, None


class MSELoss(Function):
    """Squared error per element, (x - y)^2, with broadcasting between x and y."""

    @staticmethod
    def forward(ctx, x, y):
        difference = x - y
        ctx.save_for_backward(difference)  # the derivative 2 (x - y) needs only the difference
        ctx.shapes = (x.shape, y.shape)
        return difference * difference

    @staticmethod
    def backward(ctx, grad):
        (difference,) = ctx.saved_tensors
        grad_difference = 2 * difference * grad
        shape_x, shape_y = ctx.shapes
        grad_x = sum_to_shape(grad_difference, shape_x) if ctx.needs_input_grad[0] else None
        grad_y = -sum_to_shape(grad_difference, shape_y) if ctx.needs_input_grad[1] else None
        return grad_x, grad_y


class BinaryCrossEntropy(Function):
    """-(t log p + (1 - t) log(1 - p)) per element, each log clamped at -100 as PyTorch does."""

    @staticmethod
    def forward(ctx, p, t):
        xp = get_array_module(p)
        # the clamp turns p = 0 or 1 into a loss of 100 instead of inf
        log_p = xp.maximum(xp.log(p), -100)
        log_one_minus_p = xp.maximum(xp.log1p(-p), -100)
        ctx.save_for_backward(p, t)
        return -(t * log_p + (1 - t) * log_one_minus_p)

    @staticmethod
    def backward(ctx, grad):
        p, t = ctx.saved_tensors
        xp = get_array_module(grad)
        grad_p = grad_t = None
        if ctx.needs_input_grad[0]:
            # d/dp = (p - t) / (p (1 - p)); PyTorch keeps the denominator >= 1e-12
            grad_p = grad * (p - t) / xp.maximum(p * (1 - p), 1e-12)
        if ctx.needs_input_grad[1]:
            grad_t = grad * (xp.log1p(-p) - xp.log(p))  # d/dt = -logit(p)
        return grad_p, grad_t


class BinaryCrossEntropyWithLogits(Function):
    """(1 - t) x + c softplus(-x) per element, c = 1 + (pos_weight - 1) t: BCE of sigmoid(x), stably.

    softplus(-x) = log(1 + e^-x) is computed as log1p(e^-|x|) + max(-x, 0), which never overflows.
    """

    @staticmethod
    def forward(ctx, x, t, pos_weight=None):
        xp = get_array_module(x)
        softplus_of_minus_x = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        positive_scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        # backward needs x (for sigmoid), t and pos_weight; softplus is cheap to redo
        ctx.save_for_backward(x, t, pos_weight)
        return (1 - t) * x + positive_scale * softplus_of_minus_x

    @staticmethod
    def backward(ctx, grad):
        x, t, pos_weight = ctx.saved_tensors
        xp = get_array_module(grad)
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            sigmoid_of_minus_x = sigmoid_of(-x)  # 1 / (1 + e^x), without overflow
            positive_scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
            grad_x = grad * ((1 - t) - positive_scale * sigmoid_of_minus_x)  # = sigmoid(x) - t when pw = 1
        if ctx.needs_input_grad[1]:
            grad_t = -x
            if pos_weight is not None:
                softplus_of_minus_x = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
                grad_t = grad_t + (pos_weight - 1) * softplus_of_minus_x
            grad_t = grad * grad_t
        return grad_x, grad_t, None


# ---------------------------------------------------------------- argument checks shared by the losses


def _reduction_mode(op, size_average, reduce, reduction):
    """PyTorch's legacy ``size_average``/``reduce`` flags (with its warning) turned into ``reduction``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
            stacklevel=3,
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _check_tensor(op, name, value, floating=False):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if floating and value.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating point tensor, got {value.dtype}")


def _check_same_device(op, name, value, input):
    if value.device != input.device:
        raise ValueError(f"{op}: {name} is on {value.device} but input is on {input.device}")


def _check_constant(op, name, value):
    """Class weights are constants: PyTorch refuses them when they require grad, and so do we."""
    if value is not None and value.requires_grad and is_grad_enabled():
        raise ValueError(f"{op}: {name} cannot require grad (the loss is not differentiable in it); pass .detach()")


def _check_class_weight(op, weight, input, num_classes):
    if weight is None:
        return
    _check_tensor(op, "weight", weight, floating=True)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"{op}: weight must have shape ({num_classes},), one per class of input {input.shape}, "
            f"got {tuple(weight.shape)}"
        )
    if weight.dtype != input.dtype:
        raise TypeError(f"{op}: weight dtype {weight.dtype} does not match input dtype {input.dtype}")
    _check_same_device(op, "weight", weight, input)


def _check_class_targets(op, input, target, ignore_index):
    """Class-index targets: integer, of the input's shape without the class axis, each in [0, C) or ignored."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: expected integer class indices as target, got {target.dtype} target of shape "
            f"{tuple(target.shape)} for input of shape {tuple(input.shape)} with dtype {input.dtype}"
        )
    expected_shape = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if tuple(target.shape) != expected_shape:
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} needs a target of shape {expected_shape} (one class index "
            f"per prediction: the input's shape without the class axis), got target of shape {tuple(target.shape)}"
        )
    _check_same_device(op, "target", target, input)
    num_classes = input.shape[0 if input.ndim == 1 else 1]
    values = target.array.astype("int64", copy=False)  # uint8 compares safely with a negative ignore_index
    out_of_range = ((values < 0) | (values >= num_classes)) & (values != ignore_index)
    if out_of_range.any():  # one small reduction (a sync on the GPU) buys a clear message
        first_bad = int(values[out_of_range].reshape(-1)[0])
        raise IndexError(f"{op}: target {first_bad} is out of bounds for {num_classes} classes")


def _check_class_input(op, input, ignore_index):
    _check_tensor(op, "input", input, floating=True)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")


def _as_rows(x: Tensor) -> Tensor:
    """(C,) -> (1, C); (N, C) unchanged; (N, C, d1, ...) -> (N * d1 * ..., C) with the class axis moved last."""
    if x.ndim == 1:
        return x.reshape(1, x.shape[0])
    if x.ndim > 2:
        rows = x.shape[0] * math.prod(x.shape[2:])  # not -1: ambiguous when there are no classes
        x = x.permute(0, *range(2, x.ndim), 1).reshape(rows, x.shape[1])
    return x


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _nll_on_rows(log_probs, target, weight, ignore_index, reduction, label_smoothing=0.0):
    """nll_loss (plus PyTorch's label-smoothing term) on checked inputs; returns the loss tensor."""
    log_prob_rows = _as_rows(log_probs)
    target_rows = target.array.reshape(-1).astype("int64", copy=False)  # uint8 indices too, compared safely
    weight_array = None if weight is None else weight.array
    loss = NLLLoss.apply(log_prob_rows, target_rows, weight_array, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing > 0:
        # PyTorch: (1 - eps) * nll + eps / C * smooth, where smooth is the (weighted) sum of -log p
        # over all classes, 0 on ignored rows, reduced with the same denominator as nll's mean.
        xp = get_array_module(target_rows)
        counted = target_rows != ignore_index
        weighted = log_prob_rows if weight is None else log_prob_rows * weight.detach()
        # where, not a multiplication by the mask: ignored rows must get a gradient of exactly 0, even
        # when the mean's denominator is 0 (every target ignored) and 0 * inf would give nan
        zero = Tensor(xp.zeros((), dtype=log_probs.dtype))  # a typed zero: no dtype promotion on any backend
        smooth = where(Tensor(counted), -weighted.sum(dim=1), zero)
        if reduction == "mean":
            if weight is None:
                denominator = counted.sum()
            else:
                denominator = (weight_array[xp.where(counted, target_rows, 0)] * counted).sum()
            smooth = smooth.sum() / Tensor(xp.asarray(denominator, dtype=log_probs.dtype))
        elif reduction == "sum":
            smooth = smooth.sum()
        num_classes = log_prob_rows.shape[1]
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / num_classes)
    if reduction == "none":
        loss = loss.reshape(tuple(target.shape))  # one loss per target element
    return loss


# ---------------------------------------------------------------- the public functions


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood loss: ``-weight[t] * input[t]`` for the target class ``t`` of each element.

    Use it on log-probabilities (the output of ``log_softmax``); ``cross_entropy`` does both steps.

    Args:
        input: log-probabilities, (N, C), (N, C, d1, d2, ...) or unbatched (C,).
        target: class indices in [0, C) (integer dtype), (N,), (N, d1, d2, ...) or a scalar for (C,) input.
        weight: optional (C,) weight per class (a constant: no gradient flows into it).
        size_average, reduce: deprecated, as in PyTorch; use ``reduction``.
        ignore_index: targets equal to it contribute 0 and do not count in the mean. Default -100.
        reduction: ``'none'`` | ``'mean'`` (sum / total weight of the counted targets) | ``'sum'``.

    Shape:
        output: a scalar, or the target's shape for ``reduction='none'``.
    """
    reduction = _reduction_mode("nll_loss", size_average, reduce, reduction)
    _check_class_input("nll_loss", input, ignore_index)
    _check_tensor("nll_loss", "target", target)
    num_classes = input.shape[0 if input.ndim == 1 else 1]
    _check_class_weight("nll_loss", weight, input, num_classes)
    _check_constant("nll_loss", "weight", weight)
    _check_class_targets("nll_loss", input, target, ignore_index)
    return _nll_on_rows(input, target, weight, ignore_index, reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and targets: ``nll_loss(log_softmax(input, dim=1), target)``.

    Two kinds of target, as in PyTorch:
      * class indices (integer, no class axis): loss = -weight[t] * log_softmax(x)[t], with
        ``label_smoothing`` eps mixing in the uniform distribution:
        (1 - eps) * nll + eps / C * sum_c -weight[c] * log_softmax(x)[c].
      * class probabilities (floating point, the input's shape): loss = -sum_c weight[c] * q[c] * log_softmax(x)[c]
        with q = (1 - eps) * target + eps / C; ``'mean'`` divides by the number of elements N * d1 * ...

    Args:
        input: logits (unnormalised scores), (N, C), (N, C, d1, d2, ...) or unbatched (C,).
        target: class indices (N,) / (N, d1, ...) / scalar, or probabilities of the input's shape.
        weight: optional (C,) weight per class; a constant for class-index targets (as in PyTorch, it gets
            a gradient only with probability targets).
        size_average, reduce: deprecated, as in PyTorch; use ``reduction``.
        ignore_index: class-index targets equal to it contribute 0 and do not count in the mean.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: eps in [0, 1]; 0 gives plain cross-entropy.

    Shape:
        output: a scalar, or (N,) / (N, d1, ...) / () for ``reduction='none'``.
    """
    op = "cross_entropy"
    reduction = _reduction_mode(op, size_average, reduce, reduction)
    _check_class_input(op, input, ignore_index)
    _check_tensor(op, "target", target)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"{op}: label_smoothing must be a float, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    num_classes = input.shape[class_dim]
    _check_class_weight(op, weight, input, num_classes)
    if tuple(target.shape) != tuple(input.shape):  # class indices: the usual case
        _check_constant(op, "weight", weight)
        _check_class_targets(op, input, target, ignore_index)
        log_probs = log_softmax(input, class_dim)
        return _nll_on_rows(log_probs, target, weight, ignore_index, reduction, label_smoothing)
    # a target of the input's shape holds class probabilities
    if target.dtype.kind != "f":
        raise TypeError(
            f"{op}: a target of the input's shape {tuple(input.shape)} holds class probabilities and must be "
            f"floating point, got {target.dtype} (class indices have no class axis)"
        )
    if ignore_index >= 0:
        raise ValueError(f"{op}: ignore_index ({ignore_index}) is not supported for class-probability targets")
    _check_same_device(op, "target", target, input)
    probabilities = target
    if label_smoothing > 0:
        probabilities = target * (1 - label_smoothing) + label_smoothing / max(num_classes, 1)  # C = 0: empty
    terms = log_softmax(input, class_dim) * probabilities
    if weight is not None:  # (C,) broadcast along the class axis: (C, 1, 1, ...)
        terms = terms * weight.reshape((num_classes,) + (1,) * (input.ndim - class_dim - 1))
    loss = _reduce(-terms.sum(dim=class_dim), reduction)  # 'mean' divides by N * d1 * ..., not by weights
    if reduction == "mean" and num_classes == 0:  # PyTorch divides by input.numel() / C, here 0 / 0
        loss = loss * float("nan")
    return loss


def _check_pointwise(op, input, target, warn_broadcast=True):
    """Losses compared element by element: PyTorch warns on (but allows) broadcastable unequal shapes."""
    _check_tensor(op, "input", input, floating=True)
    _check_tensor(op, "target", target)
    _check_same_device(op, "target", target, input)
    if tuple(target.shape) != tuple(input.shape):
        _check_broadcast(op, input, target)
        if warn_broadcast:
            warnings.warn(
                f"{op}: using a target size {tuple(target.shape)} that is different to the input size "
                f"{tuple(input.shape)}. This will likely lead to incorrect results due to broadcasting. "
                "Please ensure they have the same size.",
                stacklevel=3,
            )


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error: the reduction of (input - target)^2.

    Args:
        input: any shape (floating point).
        target: the same shape (a broadcastable shape works, with PyTorch's warning).
        size_average, reduce: deprecated, as in PyTorch; use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        output: a scalar, or the broadcast shape of input and target for ``reduction='none'``.
    """
    reduction = _reduction_mode("mse_loss", size_average, reduce, reduction)
    _check_pointwise("mse_loss", input, target)
    input, target = _promote(input, target)  # float32 vs float64 -> float64, integer target -> float
    return _reduce(MSELoss.apply(input, target), reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error: the reduction of |input - target| (gradient sign(input - target), 0 at 0).

    Args and Shape as ``mse_loss``.
    """
    reduction = _reduction_mode("l1_loss", size_average, reduce, reduction)
    _check_pointwise("l1_loss", input, target)
    if target.dtype == bool:  # as PyTorch: |input - target| has no meaning for a bool target
        raise TypeError("l1_loss: target must be a number tensor, got a bool tensor")
    return _reduce((input - target).abs(), reduction)  # built from existing ops: no new backward to write


def _check_elementwise_weight(op, name, weight, input):
    if weight is None:
        return
    _check_tensor(op, name, weight, floating=True)
    _check_same_device(op, name, weight, input)
    # it must stretch to the input's shape without making the result any bigger
    fits = weight.ndim <= input.ndim and all(
        size in (1, input_size) for size, input_size in zip(reversed(weight.shape), reversed(input.shape))
    )
    if not fits:
        raise ValueError(f"{op}: {name} of shape {tuple(weight.shape)} cannot broadcast to input shape {input.shape}")
    _check_constant(op, name, weight)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy between probabilities and targets in [0, 1]: -w (t log p + (1 - t) log(1 - p)).

    Each log is clamped at -100 (as in PyTorch), so p = 0 or 1 gives a large finite loss. Prefer
    ``binary_cross_entropy_with_logits``, which takes logits and is stable for any value.

    Args:
        input: probabilities p in [0, 1], any shape.
        target: the same shape and dtype, values in [0, 1].
        weight: optional constant, broadcast to the input's shape.
        size_average, reduce: deprecated, as in PyTorch; use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        output: a scalar, or the input's shape for ``reduction='none'``.
    """
    op = "binary_cross_entropy"
    reduction = _reduction_mode(op, size_average, reduce, reduction)
    _check_pointwise(op, input, target, warn_broadcast=False)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target of shape {tuple(target.shape)} must have the input's shape {input.shape}")
    if target.dtype != input.dtype:
        raise TypeError(f"{op}: target dtype {target.dtype} does not match input dtype {input.dtype}")
    _check_elementwise_weight(op, "weight", weight, input)
    for name, value in (("input", input), ("target", target)):
        if ((value.array < 0) | (value.array > 1)).any():  # NaN passes: the training loop deals with it
            raise ValueError(f"{op}: all elements of {name} should be between 0 and 1")
    losses = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, computed stably from the logits.

    loss = w * ((1 - t) x + (1 + (pos_weight - 1) t) log(1 + e^-x)); finite for any logit x.

    Args:
        input: logits x, any shape.
        target: the input's shape, values usually in [0, 1].
        weight: optional constant, broadcast to the input's shape.
        size_average, reduce: deprecated, as in PyTorch; use ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: optional constant weight of the positive term, broadcast along the last axis (e.g. (C,)).

    Shape:
        output: a scalar, or the input's shape for ``reduction='none'``.
    """
    op = "binary_cross_entropy_with_logits"
    if isinstance(target, Tensor) and target.dtype.kind != "f":  # as PyTorch: targets are probabilities
        raise TypeError(f"{op}: target must be a floating point tensor, got {target.dtype}")
    reduction = _reduction_mode(op, size_average, reduce, reduction)
    _check_pointwise(op, input, target, warn_broadcast=False)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as input size {input.shape}")
    _check_elementwise_weight(op, "weight", weight, input)
    _check_elementwise_weight(op, "pos_weight", pos_weight, input)
    input, target = _promote(input, target)
    if pos_weight is not None:
        pos_weight = pos_weight.to(input.dtype)
    losses = BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


__all__ = [
    "nll_loss",
    "cross_entropy",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]
