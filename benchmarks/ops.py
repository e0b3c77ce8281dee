"""Per-op speed of minicnn against PyTorch CPU (2 threads) on the layer shapes of the reference networks.

For every distinct conv2d, max_pool2d, avg_pool2d and batch_norm call the reference networks make at batch
64, times the op's forward and its forward + backward in both libraries, interleaved in one process. For
the convolutions it also times the three matrix products of minicnn's rows layout (forward, dL/dW, dL/dcols)
on their own, and prints their GFLOP/s next to the float32 GEMM peak of NumPy measured in the same run.

    .venv/bin/python benchmarks/ops.py                 # every op of every network
    .venv/bin/python benchmarks/ops.py --networks keras_style vgg11_div8 --kinds conv2d
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import (
    DISTURBANCE,
    NETWORKS,
    build_pair,
    conv_gemm_candidates,
    environment_header,
    import_torch,
    interleaved,
    markdown_table,
    sgemm_peak,
)

import minicnn
import minicnn.nn.functional as F
from minicnn.ops.fast.layout import from_channels_last, is_channels_last

KINDS = ("conv2d", "max_pool2d", "avg_pool2d", "batch_norm")


def layer_calls(networks, batch):
    """The distinct (kind, input shape, options, input needs grad) calls of the networks' layers, in order.

    Recorded with forward hooks on the PyTorch twins (plus Inception's functional 3x3 average pool).
    """
    torch = import_torch()
    calls = {}
    for name in networks:
        _, model, x, _ = build_pair(name, batch)

        def record(module, inputs, output, name=name):
            x = inputs[0]
            if isinstance(module, torch.nn.Conv2d):
                options = dict(stride=module.stride, padding=module.padding, groups=module.groups)
                key = ("conv2d", tuple(x.shape), tuple(module.weight.shape), module.bias is not None)
            elif isinstance(module, torch.nn.MaxPool2d):
                options = dict(kernel_size=module.kernel_size, stride=module.stride)
                key = ("max_pool2d", tuple(x.shape), module.kernel_size, module.stride)
            elif isinstance(module, torch.nn.BatchNorm2d):
                options = {}
                key = ("batch_norm", tuple(x.shape))
            else:
                return
            calls.setdefault(key, (key[0], tuple(x.shape), options, x.requires_grad, module, name))

        handles = [m.register_forward_hook(record) for m in model.modules()]
        model(torch.from_numpy(x))
        for handle in handles:
            handle.remove()
        if name == "inception":  # its branch pool is functional, so no hook sees it
            for channels, side in ((10, 12), (20, 4)):
                shape = (batch, channels, side, side)
                options = dict(kernel_size=3, stride=1, padding=1)
                calls[("avg_pool2d", shape)] = ("avg_pool2d", shape, options, True, None, name)
    return list(calls.values())


def channels_last(x):
    """The same (N, C, H, W) values stored (N, H, W, C) in memory."""
    return from_channels_last(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))


def op_pair(kind, shape, options, needs_grad, module):
    """(minicnn forward, torch forward, minicnn fwd+bwd, torch fwd+bwd, multiply-adds of one forward)."""
    torch = import_torch()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    params = {}
    macs = 0
    if kind == "conv2d":
        params = {"weight": module.weight.detach().numpy().copy()}
        if module.bias is not None:
            params["bias"] = module.bias.detach().numpy().copy()
        out_shape = torch.nn.functional.conv2d(torch.from_numpy(x), module.weight, module.bias, **options).shape
        macs = int(np.prod(out_shape)) * int(np.prod(module.weight.shape[1:]))
    elif kind == "batch_norm":
        channels = shape[1]
        params = {"weight": rng.standard_normal(channels).astype(np.float32), "bias": np.zeros(channels, np.float32)}

    ours_params = {k: minicnn.tensor(v, requires_grad=True) for k, v in params.items()}
    torch_params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    # inside the networks every conv output but a first layer's is channels-last (minicnn/ops/layout.py), and
    # so is what follows it: minicnn gets its inputs (and gradients, below) in that memory order here too
    ours_x = minicnn.tensor(channels_last(x) if shape[1] > 1 else x, requires_grad=needs_grad)
    torch_x = torch.tensor(x, requires_grad=needs_grad)
    running = {}
    if kind == "batch_norm":
        c = shape[1]
        running = dict(ours=(minicnn.zeros(c), minicnn.ones(c)), torch=(torch.zeros(c), torch.ones(c)))

    def call(library, x, p):
        functional = F if library == "ours" else torch.nn.functional
        if kind == "conv2d":
            return functional.conv2d(x, p["weight"], p.get("bias"), **options)
        if kind == "batch_norm":
            mean, var = running[library]
            return functional.batch_norm(x, mean, var, p["weight"], p["bias"], training=True)
        return getattr(functional, kind)(x, **options)

    grad_cache = {}

    def forward_backward(library, x, p):
        y = call(library, x, p)
        if library not in grad_cache:
            upstream = rng.standard_normal(tuple(y.shape)).astype(np.float32)
            if library == "ours":  # the memory order minicnn's next op would hand back
                grad_cache[library] = minicnn.tensor(channels_last(upstream) if is_channels_last(y.array) else upstream)
            else:
                grad_cache[library] = torch.tensor(upstream)
        for tensor in [x, *p.values()]:
            tensor.grad = None
        y.backward(grad_cache[library])

    def no_grad_forward(library, x, p):
        with minicnn.no_grad() if library == "ours" else torch.no_grad():
            return call(library, x, p)

    return (
        lambda: no_grad_forward("ours", ours_x, ours_params),
        lambda: no_grad_forward("torch", torch_x, torch_params),
        lambda: forward_backward("ours", ours_x, ours_params),
        lambda: forward_backward("torch", torch_x, torch_params),
        macs,
    )


def conv_gemms(shape, weight_shape, options, needs_grad):
    """Time the conv GEMMs of the channels-last rows layout alone (forward, dL/dW and col2im's dL/dx taps,
    ``common.conv_gemm_candidates``); returns (ms, GFLOP) of all of them together, best of 5."""
    candidates, gflop = conv_gemm_candidates(
        shape,
        weight_shape,
        stride=options["stride"],
        padding=options["padding"],
        groups=options["groups"],
        needs_input_grad=needs_grad,
    )
    products = [candidates[kind]["col2im" if kind == "grad_input" else "rows"] for kind in candidates]
    for product in products:
        product()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for product in products:
            product()
        best = min(best, time.perf_counter() - start)
    return best * 1e3, gflop


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="alternating blocks per op (default 5)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks (3 of 0.1 s)")
    args = parser.parse_args()
    repeats, block = (3, 0.1) if args.quick else (args.repeats, 0.2)

    print(environment_header())
    peak = sgemm_peak()
    print(f"NumPy float32 GEMM peak (1024^3, best of 5): {peak:.0f} GFLOP/s\n")
    rows = []
    for kind, shape, options, needs_grad, module, network in layer_calls(args.networks, args.batch):
        if kind not in args.kinds:
            continue
        ours_fwd, torch_fwd, ours_both, torch_both, macs = op_pair(kind, shape, options, needs_grad, module)
        t = interleaved(
            {"ours_fwd": ours_fwd, "torch_fwd": torch_fwd, "ours_both": ours_both, "torch_both": torch_both},
            repeats=repeats,
            block_seconds=block,
        )
        gemm = ""
        if kind == "conv2d":
            gemm_ms, gemm_gflop = conv_gemms(shape, tuple(module.weight.shape), options, needs_grad)
            useful = 2 * macs * (3 if needs_grad else 2) / 1e9  # forward, dL/dW and (if needed) dL/dx
            gemm = f"{gemm_gflop / gemm_ms * 1e3:.0f} / {useful / t['ours_both'] * 1e3:.0f}"
            description = f"{shape[1]}->{module.weight.shape[0]} {module.weight.shape[2]}x{module.weight.shape[3]}"
            description += f" p{options['padding'][0]}" if options["padding"][0] else ""
        else:
            description = ", ".join(f"{k}={v}" for k, v in options.items()) or "training"
        row = [
            network,
            kind,
            "x".join(map(str, shape)),
            description,
            f"{t['ours_fwd']:.2f}",
            f"{t['torch_fwd']:.2f}",
            f"{t['ours_fwd'] / t['torch_fwd']:.2f}",
            f"{t['ours_both']:.2f}",
            f"{t['torch_both']:.2f}",
            f"{t['ours_both'] / t['torch_both']:.2f}",
            gemm,
        ]
        rows.append(row)
        print(" | ".join(row), flush=True)
    header = ["network", "op", "input", "layer", "fwd ms", "torch fwd", "ratio", "fwd+bwd ms", "torch", "ratio"]
    header.append("GEMM GF/s alone / whole conv GF/s")
    print()
    print(markdown_table(header, rows))
    print(f"\nGEMM peak {peak:.0f} GFLOP/s. 'alone': the rows layout's conv GEMMs (forward, dL/dW, col2im taps) timed")
    print("by themselves (first layers and some others use other layouts: train_step.py --sections floor);")
    print("'whole conv': the useful multiply-adds of forward + backward (x2) over minicnn's fwd+bwd time.")
    print(DISTURBANCE)


if __name__ == "__main__":
    main()
