"""One helper for every op test: compare minicnn with PyTorch forward and backward, and run gradcheck.

``require_torch()`` skips a test when PyTorch is missing, unless ``MINICNN_REQUIRE_TORCH=1`` is set
(as ``.ci/run`` does): then a missing PyTorch fails the test, so CI can never pass by skipping.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import minicnn

GPU_AVAILABLE = minicnn.cuda.is_available()

# Parametrise a test with ``@pytest.mark.parametrize("device", DEVICES)``: the GPU case is the CuPy check.
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not GPU_AVAILABLE, reason="no GPU visible to CuPy")]
    ),
]


def require_torch():
    """Import PyTorch, or skip (fail under MINICNN_REQUIRE_TORCH=1) when it is not installed."""
    try:
        import torch
    except ImportError:
        if os.environ.get("MINICNN_REQUIRE_TORCH") == "1":
            pytest.fail("PyTorch is required (MINICNN_REQUIRE_TORCH=1) but is not installed")
        pytest.skip("PyTorch is not installed")
    torch.set_num_threads(2)
    return torch


def to_numpy(tensor_like) -> np.ndarray:
    """A NumPy copy of a minicnn or PyTorch tensor (or array)."""
    if isinstance(tensor_like, minicnn.Tensor):
        return np.asarray(tensor_like.detach())
    if hasattr(tensor_like, "detach"):
        return tensor_like.detach().cpu().numpy()
    if hasattr(tensor_like, "shape"):  # a NumPy or CuPy array
        return np.asarray(minicnn.backend.to_device(tensor_like, minicnn.device("cpu")))
    return np.asarray(tensor_like)


def assert_close(actual, expected, atol=1e-5, rtol=1e-4, name="value"):
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=name)


def compare_with_torch(
    our_fn,
    torch_fn,
    arrays,
    grad_inputs=None,
    atol=1e-5,
    rtol=1e-4,
    device="cpu",
    seed=0,
    upstream=None,
    return_inputs=False,
):
    """Run ``our_fn`` and ``torch_fn`` on the same inputs; compare outputs and input gradients.

    Args:
        our_fn, torch_fn: functions of tensors returning a tensor (or a tuple whose first item is used).
        arrays: NumPy arrays (or non-array values passed through unchanged) for both functions.
        grad_inputs: indices of the arrays that get a gradient (default: every float array).
        atol, rtol: tolerances for outputs and gradients.
        device: where minicnn's tensors live (PyTorch's stay on the CPU).
        upstream: the gradient fed to backward (an array, in any memory layout); default random normal.
        return_inputs: also return minicnn's input tensors (to inspect their gradients).
    Returns:
        (our_output, torch_output), plus our inputs with ``return_inputs``
    """
    torch = require_torch()
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(arrays) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    ours, theirs = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            ours.append(minicnn.tensor(a, requires_grad=i in grad_inputs, device=device))  # keeps a's layout
            theirs.append(torch.tensor(np.array(a, order="C"), requires_grad=i in grad_inputs))
        else:
            ours.append(a)
            theirs.append(a)
    our_out, torch_out = our_fn(*ours), torch_fn(*theirs)
    if isinstance(our_out, tuple):
        our_out, torch_out = our_out[0], torch_out[0]
    assert_close(our_out, torch_out, atol, rtol, name="forward")
    assert our_out.dtype == np.dtype(str(torch_out.dtype).replace("torch.", "")), "output dtype differs"
    if grad_inputs and torch_out.requires_grad:
        if upstream is None:
            upstream = np.random.default_rng(seed).standard_normal(torch_out.shape).astype(to_numpy(torch_out).dtype)
        our_out.backward(minicnn.tensor(upstream, device=device))
        torch_out.backward(torch.tensor(np.array(upstream, order="C")))  # (ascontiguousarray makes 0-d 1-d)
        for i in grad_inputs:
            assert ours[i].grad is not None, f"input {i} got no gradient"
            assert_close(ours[i].grad, theirs[i].grad, atol, rtol, name=f"gradient of input {i}")
    return (our_out, torch_out, ours) if return_inputs else (our_out, torch_out)


def gradcheck(fn, arrays, grad_inputs=None, device=None, **kwargs):
    """float64 gradcheck of ``fn`` at the given arrays (those in ``grad_inputs`` are checked), on ``device``."""
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(arrays) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    inputs = [
        minicnn.tensor(np.asarray(a, dtype=np.float64), requires_grad=i in grad_inputs, device=device)
        if i in grad_inputs
        else (minicnn.tensor(a, device=device) if isinstance(a, np.ndarray) else a)
        for i, a in enumerate(arrays)
    ]
    return minicnn.autograd.gradcheck(fn, tuple(inputs), **kwargs)


def away_from_zero(rng, shape, margin=0.1, dtype=np.float32):
    """Random normal values with |x| >= margin: no test input sits on ReLU's kink."""
    values = rng.standard_normal(shape)
    values = np.where(np.abs(values) < margin, np.sign(values + 1e-12) * margin, values)
    return values.astype(dtype)


def distinct_values(rng, shape, dtype=np.float32):
    """A random permutation of well-separated values: no ties for max-pool or max."""
    count = int(np.prod(shape))
    return (rng.permutation(count).reshape(shape) * (4.0 / max(count, 1)) - 2.0).astype(dtype)
