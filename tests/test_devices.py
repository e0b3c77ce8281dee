"""One code path for NumPy and CuPy: ops never call NumPy directly, CuPy is imported in one place."""

import ast
import pathlib

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.fast.layout import is_channels_last
from tests.helpers import DEVICES, assert_close

PACKAGE = pathlib.Path(minicnn.__file__).parent
OP_MODULES = sorted((PACKAGE / "ops").glob("*.py"))


def direct_numpy_calls(path):
    """(function, line) for every ``np.`` / ``numpy.`` use inside a forward or backward method."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in ("forward", "backward"):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
                    if inner.value.id in ("np", "numpy"):
                        found.append((node.name, inner.lineno))
    return found


@pytest.mark.parametrize("path", OP_MODULES, ids=[p.name for p in OP_MODULES])
def test_ops_use_xp_not_numpy_inside_forward_and_backward(path):
    assert direct_numpy_calls(path) == [], f"{path.name} calls NumPy directly in forward/backward"


def test_the_scan_catches_a_direct_numpy_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("class F:\n    def forward(ctx, x):\n        return np.exp(x)\n")
    assert direct_numpy_calls(bad) == [("forward", 3)]


def test_cupy_is_imported_only_in_backend():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("cupy", "cupyx") for name in names):
                assert path.name == "backend.py", f"{path} imports CuPy"


@pytest.mark.parametrize("device", DEVICES)
def test_a_small_network_step_runs_on_the_device(device):
    """A conv-pool-linear step: forward and backward on ``device`` equal the CPU result."""
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.standard_normal((4, 1, 8, 8)).astype(np.float32),
        "w": rng.standard_normal((3, 1, 3, 3)).astype(np.float32) * 0.3,
        "fc": rng.standard_normal((5, 27)).astype(np.float32) * 0.3,
    }
    target = minicnn.tensor([0, 1, 2, 3])

    def run(dev):
        x, w, fc = (minicnn.tensor(arrays[k], requires_grad=k != "x", device=dev) for k in ("x", "w", "fc"))
        h = F.max_pool2d(F.relu(F.conv2d(x, w)), 2)
        loss = F.cross_entropy(F.linear(h.flatten(1), fc), target.to(dev))
        loss.backward()
        return loss, w.grad, fc.grad

    for ours, reference in zip(run(device), run("cpu")):
        assert_close(ours.cpu(), reference, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_moving_between_devices_keeps_channels_last_memory(device):
    """As PyTorch's ``.to()`` keeps the memory format: a channels-last tensor stays channels-last both ways."""
    values = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    stored = np.ascontiguousarray(values.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NCHW view of NHWC memory
    there = minicnn.tensor(stored).to(device)
    back = there.cpu()
    assert is_channels_last(there.array) and is_channels_last(back.array)
    assert np.array_equal(back.array, values)
    plain = minicnn.tensor(values).to(device)
    assert plain.array.flags.c_contiguous and plain.cpu().array.flags.c_contiguous
