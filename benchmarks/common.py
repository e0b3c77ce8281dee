"""Shared pieces of the benchmarks: the reference networks built twice (minicnn and PyTorch, same weights),
one training step for each library, and an interleaved timer.

Timing rules (the machine is shared and noisy): both libraries run in one process, in alternating blocks
(A B A B ...), and each side reports the median of its blocks, so a burst of load hits both sides alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))

import minicnn  # noqa: E402
import minicnn.models as models  # noqa: E402
from minicnn.utils import from_torch  # noqa: E402

TORCH_THREADS = 2


def import_torch():
    import torch

    torch.set_num_threads(TORCH_THREADS)
    return torch


def torch_twins():
    """The reference networks in plain PyTorch: the same twins tests/test_models.py checks minicnn against."""
    from tests import torch_twins as twins

    return twins


# name -> (minicnn factory, torch-twin factory (given the twins module), input shape without the batch)
# VGG's image size is a parameter (a multiple of 32); the other nets are built for 28x28 digits.
NETWORKS = {
    "seed_cnn": (lambda size: models.SeedCNN(), lambda tt, size: tt.SeedCNN(), (1, 28, 28)),
    "lenet": (lambda size: models.LeNet(), lambda tt, size: tt.LeNet(), (1, 28, 28)),
    "inception": (lambda size: models.InceptionNet(), lambda tt, size: tt.InceptionNet(), (1, 28, 28)),
    "residual": (lambda size: models.ResidualNet(), lambda tt, size: tt.ResidualNet(), (1, 28, 28)),
    "keras_style": (lambda size: models.KerasStyleCNN(), lambda tt, size: tt.KerasStyleCNN(), (1, 28, 28)),
    "vgg11_div8": (
        lambda size: models.VGG(11, width_divisor=8, input_size=size),
        lambda tt, size: tt.VGG(11, width_divisor=8, input_size=size),
        (1, 32, 32),
    ),
}


def build_pair(name: str, batch: int = 64, image_size: int | None = None, seed: int = 0):
    """(minicnn model, torch model, x, y): same weights (copied with from_torch), same float32 inputs."""
    torch = import_torch()
    ours_factory, torch_factory, shape = NETWORKS[name]
    if image_size is not None:
        shape = (shape[0], image_size, image_size)
    torch.manual_seed(seed)
    theirs = torch_factory(torch_twins(), shape[-1])
    ours = ours_factory(shape[-1])
    ours.load_state_dict(from_torch(theirs))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return ours, theirs, x, y


def minicnn_step(model, x, y, lr: float = 1e-3, device: str = "cpu", textbook: bool = False, library=minicnn):
    """A closure running one minicnn training step: forward, cross-entropy, backward, Adam (model, inputs
    and optimizer state on ``device``); with ``textbook``, every op through its textbook Function.
    ``library`` may be another version of minicnn (``load_package_copy``)."""
    model.to(device)
    optimizer = library.optim.Adam(model.parameters(), lr=lr)
    criterion = library.nn.CrossEntropyLoss()
    inputs, targets = library.tensor(x, device=device), library.tensor(y, device=device)
    model.train()
    mode = library.textbook(textbook) if hasattr(library, "textbook") else None  # (versions before it had none)

    def step():
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss

    return mode(step) if mode is not None else step


def torch_step(model, x, y, lr: float = 1e-3, device: str = "cpu"):
    """The same step in PyTorch."""
    torch = import_torch()
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = torch.nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(x.copy()).to(device), torch.from_numpy(y.copy()).to(device)
    model.train()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss

    return step


def minicnn_inference(model, x, device: str = "cpu"):
    """A closure running one forward pass in eval mode without a graph."""
    model.to(device)
    inputs = minicnn.tensor(x, device=device)

    def forward():
        model.eval()
        with minicnn.no_grad():
            return model(inputs)

    return forward


def torch_inference(model, x, device: str = "cpu"):
    torch = import_torch()
    model.to(device)
    inputs = torch.from_numpy(x.copy()).to(device)

    def forward():
        model.eval()
        with torch.no_grad():
            return model(inputs)

    return forward


def _machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have run so far (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class Disturbance:
    """Counts the timing blocks during which other programs used more than ``threshold`` of the CPUs."""

    threshold = 0.10

    def __init__(self):
        self.blocks = self.disturbed = 0

    def __str__(self):
        return f"{self.disturbed} of {self.blocks} blocks re-run because other programs were using the CPUs"


DISTURBANCE = Disturbance()


def _settle(function, seconds: float) -> None:
    """Run ``function`` untimed for about ``seconds``.

    After a library's block its idle worker threads keep spinning for a while (OpenBLAS busy-waits about
    2^28 cycles, ~0.1 s, before it sleeps; OpenMP spins too). On 2 cores that halves the speed of the
    next library's first ~0.1 s, so each block first runs untimed until the other library's threads sleep.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        function()


def _timed_block(function, calls: int, retries: int, settle_seconds: float) -> float:
    """Seconds per call over one block of ``calls`` calls; a block during which other processes took more
    than 10% of the machine's CPU time is run again (up to ``retries`` times), as its time says little."""
    _settle(function, settle_seconds)
    for _ in range(retries + 1):
        busy, own = _machine_busy_seconds(), _own_seconds()
        start = time.perf_counter()
        for _ in range(calls):
            function()
        elapsed = time.perf_counter() - start
        DISTURBANCE.blocks += 1
        if busy is None:
            break
        foreign = (_machine_busy_seconds() - busy) - (_own_seconds() - own)
        if foreign <= Disturbance.threshold * elapsed * (os.cpu_count() or 1):
            break
        DISTURBANCE.disturbed += 1
    return elapsed / calls


def interleaved(
    functions: dict,
    repeats: int = 7,
    block_seconds: float = 0.25,
    warmup: int = 2,
    statistic=statistics.median,
    retries: int = 10,
    settle_seconds: float = 0.15,
) -> dict:
    """Median ms per call of each function, timed in alternating blocks (A B C A B C ...).

    Each block runs one function as many times as fit in about ``block_seconds`` (at least once); a
    block's time per call is one sample, and each function reports the median of its ``repeats`` samples
    (or another ``statistic``). Each block starts with ``settle_seconds`` of untimed calls (see
    ``_settle``), and on a shared machine a block disturbed by other programs is re-run (``_timed_block``).
    """
    calls = {}
    for name, function in functions.items():
        for _ in range(warmup):
            function()
        start = time.perf_counter()
        function()
        once = time.perf_counter() - start
        calls[name] = max(1, int(block_seconds / max(once, 1e-6)))
    samples = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            samples[name].append(_timed_block(function, calls[name], retries, settle_seconds) * 1e3)
    return {name: statistic(values) for name, values in samples.items()}


def blas_info() -> str:
    """The BLAS library, version, kernel ("architecture") and threads NumPy uses, as threadpoolctl reports."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    lines = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            lines.append(
                f"{pool.get('internal_api')} {pool.get('version')} kernel={pool.get('architecture')} "
                f"threads={pool.get('num_threads')} ({Path(pool.get('filepath', '')).name})"
            )
    return "; ".join(lines) or "no BLAS found by threadpoolctl"


def environment_header() -> str:
    """What a result depends on: versions, BLAS kernel, the OpenBLAS variables, threads."""
    import platform

    torch = import_torch()
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
    variables = {name: os.environ.get(name, "(unset)") for name in names}
    return "\n".join(
        [
            f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
            f"(threads {torch.get_num_threads()}), cpu count {os.cpu_count()}",
            f"numpy BLAS: {blas_info()}",
            "env: " + ", ".join(f"{k}={v}" for k, v in variables.items()),
        ]
    )


def sgemm_peak(n: int = 1024, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of one n x n x n NumPy matrix product (the machine's GEMM peak for NumPy)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- the matrix products alone


def _random(*shape):
    return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def conv_gemm_candidates(shape, weight_shape, *, stride=(1, 1), padding=(0, 0), groups=1, needs_input_grad=True):
    """The matrix products of one convolution's training step, each in every layout minicnn has for it.

    Returns ({product: {layout: closure}}, GFLOP), the products being "forward", "grad_weight" and (when the
    input needs a gradient) "grad_input", each closure running that product once on random arrays of the
    layout's shapes (minicnn/ops/conv.py, "how the convolution Function computes"):
      - "rows" (1-2 there): columns (P, K) @ weight (K, O), dL/dW = (K, P) @ (P, O); P = N*OH*OW, K = KH*KW*C/G;
      - "image" (3, one group): per image weight (O, K) @ columns (K, OH*OW), dL/dW summed over the images;
      - "kernel_rows" (5, one group, stride 1 down the rows): (N*H*OW, KW*C) @ (KW*C, KH*O) and its dL/dW;
      - dL/dx as "col2im" (4a): KH*KW tap products (P, O) @ (O, C); or, with stride 1 and padding within the
        kernel's reach, as "convolution" (4b): the forward products of dL/dy with the flipped kernel.
    GFLOP counts the multiply-adds a convolution needs (as PyTorch counts them); the kernel-row layout does
    more, the shares no output uses. Dilation is not modelled.
    """
    N, C, H, W = shape
    O, C_per_group, KH, KW = weight_shape
    G, (PH, PW), (SH, SW) = groups, padding, stride
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    P, K = N * OH * OW, C_per_group * KH * KW
    forward, grad_weight, grad_input = {}, {}, {}
    cols, weight, grad = _random(G, P, K), _random(G, K, O // G), _random(G, P, O // G)
    forward["rows"] = lambda: cols @ weight
    grad_weight["rows"] = lambda: cols.swapaxes(1, 2) @ grad
    if G == 1:
        image_cols, image_weight, image_grad = _random(N, K, OH * OW), _random(O, K), _random(N, O, OH * OW)
        forward["image"] = lambda: image_weight @ image_cols
        grad_weight["image"] = lambda: (image_grad @ image_cols.swapaxes(1, 2)).sum(axis=0)
        if SH == 1 and KH > 1:
            row_cols, row_weight = _random(N * H * OW, KW * C), _random(KW * C, KH * O)  # x padded along W only
            shares_grad = _random(N * H * OW, KH * O)
            forward["kernel_rows"] = lambda: row_cols @ row_weight
            grad_weight["kernel_rows"] = lambda: row_cols.T @ shares_grad
    if needs_input_grad:
        taps = _random(KH * KW, G, O // G, C_per_group)
        grad_input["col2im"] = lambda: grad @ taps
        if (SH, SW) == (1, 1) and PH <= KH - 1 and PW <= KW - 1:
            full = (KH - 1 - PH, KW - 1 - PW)  # dL/dy padded by the kernel's reach minus the padding
            flipped, _ = conv_gemm_candidates(
                (N, O, OH, OW), (C, O // G, KH, KW), padding=full, groups=G, needs_input_grad=False
            )
            for layout, product in flipped["forward"].items():
                grad_input[f"convolution, {layout}"] = product
    products = {"forward": forward, "grad_weight": grad_weight}
    if grad_input:
        products["grad_input"] = grad_input
    return products, 2 * P * K * O * len(products) / 1e9


def linear_gemm_candidates(batch, in_features, out_features, *, needs_input_grad=True):
    """A linear layer's products, as ``conv_gemm_candidates`` gives them (one layout each): y = x @ W^T,
    dL/dW = dy^T @ x and (when needed) dL/dx = dy @ W."""
    x, weight, grad = _random(batch, in_features), _random(out_features, in_features), _random(batch, out_features)
    products = {"forward": {"rows": lambda: x @ weight.T}, "grad_weight": {"rows": lambda: grad.T @ x}}
    if needs_input_grad:
        products["grad_input"] = {"rows": lambda: grad @ weight}
    return products, 2 * batch * in_features * out_features * len(products) / 1e9


def network_gemms(name: str, batch: int = 64, image_size: int | None = None):
    """The matrix products of one training step of network ``name``: for every conv and linear call, its
    products in every layout (``conv_gemm_candidates``), as a list, and their GFLOP in all. The calls are
    recorded with forward hooks on the PyTorch twin, so a module called twice counts twice (the reference
    networks call no functional conv or linear, which a hook would not see)."""
    torch = import_torch()
    _, model, images, _ = build_pair(name, batch, image_size)
    calls, gflop = [], 0.0

    def record(module, inputs, output):
        nonlocal gflop
        x = inputs[0]
        needs_input_grad = x.requires_grad  # a network's first layer needs no dL/dx
        if isinstance(module, torch.nn.Conv2d):
            if isinstance(module.padding, str) or module.dilation != (1, 1):
                raise ValueError(f"{name}: padding {module.padding!r} / dilation {module.dilation} not modelled")
            products, new_gflop = conv_gemm_candidates(
                tuple(x.shape),
                tuple(module.weight.shape),
                stride=module.stride,
                padding=module.padding,
                groups=module.groups,
                needs_input_grad=needs_input_grad,
            )
        elif isinstance(module, torch.nn.Linear):
            products, new_gflop = linear_gemm_candidates(
                x.shape[0], module.in_features, module.out_features, needs_input_grad=needs_input_grad
            )
        else:
            return
        calls.append(products)
        gflop += new_gflop

    handles = [m.register_forward_hook(record) for m in model.modules()]
    model(torch.from_numpy(images))
    for handle in handles:
        handle.remove()
    return calls, gflop


def median_ms(function, repeats: int, warmup: int = 1) -> float:
    """Median ms of ``repeats`` timed calls of ``function``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def fastest_products(calls, repeats: int = 5):
    """For every product of every call (``network_gemms``), the layout that runs it fastest on warm operands
    (each product timed right after itself, median of ``repeats``). Returns (closures, the sum of their warm
    ms: a lower bound for the matrix products of a step in the best of minicnn's layouts, {layout: count})."""
    chosen, total, layouts = [], 0.0, {}
    for products in calls:
        for candidates in products.values():
            times = {layout: median_ms(product, repeats) for layout, product in candidates.items()}
            layout = min(times, key=times.get)
            chosen.append(candidates[layout])
            total += times[layout]
            layouts[layout] = layouts.get(layout, 0) + 1
    return chosen, total, layouts


def load_package_copy(source: str, alias: str = "minicnn_before"):
    """Import another version of minicnn (a folder holding a ``minicnn`` package, e.g. from ``git worktree add``
    or ``git archive``) under the name ``alias``, beside the current one, to time both in one process.
    The package imports itself relatively only, so a copy under another name is a separate library."""
    import importlib
    import shutil
    import tempfile

    package = Path(source) / "minicnn" if (Path(source) / "minicnn").is_dir() else Path(source)
    target = Path(tempfile.mkdtemp(prefix="minicnn-copy-"))
    shutil.copytree(package, target / alias, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(target))
    return importlib.import_module(alias)


def library_step(library, name: str, torch_model, x, y, lr: float = 1e-3):
    """One training step (as ``minicnn_step``) of network ``name`` built by ``library`` (minicnn or a copy of
    another version of it) with ``torch_model``'s weights."""
    ours_factory = {
        "seed_cnn": lambda: library.models.SeedCNN(),
        "lenet": lambda: library.models.LeNet(),
        "inception": lambda: library.models.InceptionNet(),
        "residual": lambda: library.models.ResidualNet(),
        "keras_style": lambda: library.models.KerasStyleCNN(),
        "vgg11_div8": lambda: library.models.VGG(11, width_divisor=8, input_size=x.shape[-1]),
    }[name]
    model = ours_factory()
    model.load_state_dict(library.utils.from_torch(torch_model))
    return minicnn_step(model, x, y, lr, library=library)
