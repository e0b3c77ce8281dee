"""The reference networks on a GPU: minicnn on CuPy against PyTorch on CUDA, in one process.

The same networks, weights and inputs as ``train_step.py`` (``common.build_pair``), moved to the GPU. GPU
calls return before the GPU has finished, so every timed call ends by waiting for the device
(``minicnn.cuda.synchronize()``, ``torch.cuda.synchronize()``); the libraries run in alternating blocks
and each reports the median of its blocks, as on the CPU.

Both libraries compute in full float32: PyTorch's TF32 shortcuts for convolutions and matrix products
(cuDNN allows them by default) are switched off, as CuPy does not use them. ``--tf32`` leaves PyTorch's
defaults on instead. cuDNN's own algorithm search (``cudnn.benchmark``) is left at its default (off).

Sections (each prints a markdown table):
  1. training step (forward, cross-entropy, backward, Adam) at each batch size (default 64 and 256);
  2. inference only (eval mode, no graph) at the largest batch size;
  3. VGG-11/8 training step against image size (batch 64);
  4. minicnn's GPU step against its own CPU step (batch 64), for what the GPU buys.

    python benchmarks/gpu.py                   # needs CuPy and a GPU (~2.5 min on an H100)
    python benchmarks/gpu.py --networks lenet --batch-sizes 64 --sections training
"""

from __future__ import annotations

import argparse
import os
import time

from common import (  # common puts the repository on sys.path first, so this minicnn is the one here
    NETWORKS,
    build_pair,
    import_torch,
    interleaved,
    markdown_table,
    minicnn,
    minicnn_inference,
    minicnn_step,
    torch_inference,
    torch_step,
)


def synchronized(function, synchronize):
    """``function`` followed by waiting for the GPU, so a timer around it measures the GPU's work."""

    def call():
        function()
        synchronize()

    return call


def gpu_pair(name, batch, image_size=None, inference=False):
    """{'minicnn': timed call on CuPy, 'torch': timed call on CUDA} from the same weights and inputs."""
    torch = import_torch()
    ours, theirs, x, y = build_pair(name, batch, image_size)
    if inference:
        ours_call, theirs_call = minicnn_inference(ours, x, "cuda"), torch_inference(theirs, x, "cuda")
    else:
        ours_call, theirs_call = minicnn_step(ours, x, y, device="cuda"), torch_step(theirs, x, y, device="cuda")
    return {
        "minicnn": synchronized(ours_call, minicnn.cuda.synchronize),
        "torch": synchronized(theirs_call, torch.cuda.synchronize),
    }


def ratio_cells(t):
    return [f"{t['minicnn']:.2f}", f"{t['torch']:.2f}", f"{t['minicnn'] / t['torch']:.2f}"]


def section_training(networks, batch, repeats, block):
    rows = []
    for name in networks:
        t = interleaved(gpu_pair(name, batch), repeats=repeats, block_seconds=block)
        rows.append([name, *ratio_cells(t)])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn GPU ms", "PyTorch GPU ms", "minicnn / PyTorch"]
    return f"### Training step on the GPU (batch {batch})\n\n" + markdown_table(header, rows)


def section_inference(networks, batch, repeats, block):
    rows = []
    for name in networks:
        t = interleaved(gpu_pair(name, batch, inference=True), repeats=repeats, block_seconds=block)
        rows.append([name, *ratio_cells(t)])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn GPU ms", "PyTorch GPU ms", "minicnn / PyTorch"]
    return f"### Inference on the GPU (eval mode, no graph, batch {batch})\n\n" + markdown_table(header, rows)


def section_image_sizes(sizes, repeats, block):
    rows = []
    for size in sizes:
        t = interleaved(gpu_pair("vgg11_div8", 64, image_size=size), repeats=repeats, block_seconds=block)
        rows.append([f"{size}x{size}", *ratio_cells(t)])
        print(" | ".join(rows[-1]), flush=True)
    header = ["VGG-11/8 input", "minicnn GPU ms", "PyTorch GPU ms", "minicnn / PyTorch"]
    return "### VGG-11/8 training step on the GPU against image size (batch 64)\n\n" + markdown_table(header, rows)


def section_cpu_against_gpu(networks, repeats, block):
    """minicnn's own speed-up from the GPU (the CPU step uses every core this machine's BLAS uses)."""
    rows = []
    for name in networks:
        ours_cpu, _, x, y = build_pair(name, 64)
        ours_gpu, _, _, _ = build_pair(name, 64)
        functions = {
            "cpu": minicnn_step(ours_cpu, x, y),
            "gpu": synchronized(minicnn_step(ours_gpu, x, y, device="cuda"), minicnn.cuda.synchronize),
        }
        t = interleaved(functions, repeats=repeats, block_seconds=block)
        rows.append([name, f"{t['cpu']:.2f}", f"{t['gpu']:.2f}", f"{t['cpu'] / t['gpu']:.1f}"])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn CPU ms", "minicnn GPU ms", "GPU speed-up"]
    return "### minicnn on this machine's CPU against its GPU (training step, batch 64)\n\n" + markdown_table(
        header, rows
    )


def environment_header(torch, tf32: bool) -> str:
    import platform

    import numpy as np

    cupy = minicnn.backend.cupy
    properties = cupy.cuda.runtime.getDeviceProperties(0)
    return "\n".join(
        [
            f"GPU: {properties['name'].decode()}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
            f"driver {cupy.cuda.runtime.driverGetVersion()}",
            f"python {platform.python_version()}, numpy {np.__version__}, cupy {cupy.__version__}, "
            f"torch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}), cpu count {os.cpu_count()}",
            f"PyTorch TF32: convolutions {torch.backends.cudnn.allow_tf32}, matmul "
            f"{torch.backends.cuda.matmul.allow_tf32} ({'PyTorch defaults' if tf32 else 'off: full float32'}); "
            f"cudnn.benchmark {torch.backends.cudnn.benchmark}",
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--image-sizes", nargs="+", type=int, default=[32, 64, 128, 224])
    parser.add_argument("--repeats", type=int, default=7, help="alternating blocks per library (default 7)")
    parser.add_argument("--tf32", action="store_true", help="leave PyTorch's TF32 defaults on")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["training", "inference", "image", "cpu"],
        choices=["training", "inference", "image", "cpu"],
    )
    args = parser.parse_args()
    if not minicnn.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs CuPy and a GPU: minicnn.cuda.is_available() is False")
    torch = import_torch()
    if not args.tf32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    repeats, block = args.repeats, 0.3
    started = time.time()
    print(environment_header(torch, args.tf32))
    print(f"timing: {repeats} alternating blocks of ~{block} s per library, median; each call waits for the GPU\n")
    tables = []
    if "training" in args.sections:
        tables += [section_training(args.networks, batch, repeats, block) for batch in args.batch_sizes]
    if "inference" in args.sections:
        tables.append(section_inference(args.networks, max(args.batch_sizes), repeats, block))
    if "image" in args.sections:
        tables.append(section_image_sizes(args.image_sizes, max(3, repeats // 2), block))
    if "cpu" in args.sections:
        tables.append(section_cpu_against_gpu(args.networks, max(3, repeats // 2), block))
    print()
    print("\n\n".join(tables))
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
