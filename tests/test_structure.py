"""The shape of the code a learner reads: no import cycle, short files, a small autograd core, and the
textbook convolution really built on ``im2col`` and ``col2im``."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F

PACKAGE = pathlib.Path(minicnn.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict:
    """module -> the package modules it imports (at any depth of its code, not only at the top)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name.split(".") if is_package else name.split(".")[:-1]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # `from . import ops` names a module; `from .x import y` a name in x
                    candidate = f"{module}.{alias.name}"
                    imported.add(candidate if candidate in modules else module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None (depth-first search with colours)."""
    colour, parent = {}, {}
    for start in graph:
        if start in colour:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        colour[start] = "grey"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = "black"
                stack.pop()
            elif colour.get(child) == "grey":
                cycle, walk = [child], node
                while walk != child:
                    cycle.append(walk)
                    walk = parent[walk]
                return cycle[::-1]
            elif child not in colour:
                colour[child], parent[child] = "grey", node
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_no_import_cycle_anywhere_in_the_package():
    graph = import_graph()
    assert "minicnn.tensor" in graph and "minicnn.autograd.function" in graph
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_tensor_and_the_autograd_core_import_no_op():
    graph = import_graph()
    for low in ("minicnn.tensor", "minicnn.dtypes", "minicnn.autograd.function", "minicnn.autograd.versions"):
        assert not {m for m in graph[low] if m.startswith(("minicnn.ops", "minicnn.nn"))}, low


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_package_file_is_over_600_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 600, f"{path.relative_to(PACKAGE.parent)} has {lines} lines; split it by concept"


def test_the_autograd_core_reads_in_at_most_400_lines():
    core = PACKAGE / "autograd" / "function.py"  # grad mode, Context, Function, the backward walk
    text = core.read_text()
    assert all(name in text for name in ("class Function", "class Context", "def run_backward", "class no_grad"))
    assert len(text.splitlines()) <= 400


def test_no_second_definition_of_the_shared_argument_helpers():
    """``pair`` (int-or-pair arguments) and the sliding-window size formula are written once, in ops/arguments.py."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if path.name != "arguments.py":
            assert not names & {"_pair", "pair", "output_length", "_output_length"}, path


def test_the_textbook_convolution_calls_im2col_and_col2im(monkeypatch, fast_kernels_on):
    from minicnn.ops import conv

    calls = []

    def spy(function):
        def called(*args, **kwargs):
            calls.append(function.__name__)
            return function(*args, **kwargs)

        return called

    monkeypatch.setattr(conv, "im2col", spy(conv.im2col))
    monkeypatch.setattr(conv, "col2im", spy(conv.col2im))
    x = minicnn.randn(2, 3, 6, 6, requires_grad=True)
    w = minicnn.randn(4, 3, 3, 3, requires_grad=True)
    with minicnn.textbook():
        y = F.conv2d(x, w, padding=1)
        assert y.grad_fn.function is conv.Conv2d
        y.sum().backward()
    assert calls == ["im2col", "col2im"]
    calls.clear()
    y = F.conv2d(x, w, padding=1)  # the default mode runs the fast kernel instead
    assert y.grad_fn.function.__name__ == "FastConv2d" and calls == []


def test_textbook_mode_is_a_context_manager_a_decorator_and_restores_on_errors(fast_kernels_on):
    from minicnn.ops.fast import fast_kernels

    assert fast_kernels()

    @minicnn.textbook()
    def inside():
        return fast_kernels()

    assert inside() is False and fast_kernels()
    with pytest.raises(ZeroDivisionError):
        with minicnn.textbook():
            raise ZeroDivisionError
    assert fast_kernels()
    with minicnn.textbook(), minicnn.textbook(False):
        assert fast_kernels()


def test_textbook_mode_by_environment_variable():
    import os
    import subprocess
    import sys

    code = "import minicnn; from minicnn.ops.fast import fast_kernels; print(fast_kernels())"
    for value, expected in (("1", "False"), ("0", "True")):
        env = dict(os.environ, MINICNN_TEXTBOOK=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_a_tiny_network_gives_the_same_numbers_in_both_modes():
    minicnn.manual_seed(0)
    net = minicnn.nn.Sequential(
        minicnn.nn.Conv2d(1, 4, 3, padding=1),
        minicnn.nn.BatchNorm2d(4),
        minicnn.nn.ReLU(),
        minicnn.nn.MaxPool2d(2),
        minicnn.nn.AvgPool2d(2),
        minicnn.nn.Flatten(),
        minicnn.nn.Linear(16, 3),
    ).double()
    x = minicnn.tensor(np.random.default_rng(0).random((3, 1, 8, 8)))
    results = []
    for textbook in (False, True):
        with minicnn.textbook(textbook):
            net.zero_grad()
            loss = F.cross_entropy(net(x), minicnn.tensor([0, 1, 2]))
            loss.backward()
        results.append([loss.item()] + [p.grad.numpy().copy() for p in net.parameters()])
    for fast, textbook in zip(*results):
        np.testing.assert_allclose(fast, textbook, rtol=1e-10, atol=1e-12)
