"""Training-step time of the reference networks: minicnn against PyTorch CPU (2 threads) and DeZero 0.0.13.

One step = forward + cross-entropy + backward + Adam step, batch 64, float32. Both libraries get the same
weights (copied with ``minicnn.utils.from_torch``) and the same inputs, and run in one process in
alternating blocks (minicnn, torch, dezero, minicnn, torch, ...); each reports the median of its blocks.

Sections (each prints a markdown table):
  1. training step, ms/step and minicnn / PyTorch (and DeZero / minicnn where DeZero can build the net);
  2. inference only (eval mode, no graph);
  3. peak memory of one training step;
  4. time against batch size (16, 64, 256);
  5. time against image size, for the VGG (input sizes must be multiples of 32: 32, 64, 128, 224);
  6. (``--sections allocator``, not in the default set) minicnn alone in a process, without PyTorch,
     as shipped and with glibc's default allocator settings (``MINICNN_KEEP_MEMORY=0``);
  8. (``--sections modes``, not in the default set) the default (fast) mode, the textbook mode
     (``minicnn.textbook()``), PyTorch and, with ``--before DIR``, another version of minicnn (a folder with its
     ``minicnn`` package, e.g. ``git worktree add /tmp/before <commit>``), all interleaved in one run;
  7. (``--sections floor``, not in the default set) every matrix product of a step (each conv's forward,
     dL/dW and dL/dx products and each linear layer's, each in the fastest of minicnn's layouts for it) run
     alone, against PyTorch's whole step: the time left for everything else, if minicnn is to match it.

    .venv/bin/python benchmarks/train_step.py                      # everything (~10 min on 2 cores)
    .venv/bin/python benchmarks/train_step.py --quick              # sections 1-2, short blocks
    .venv/bin/python benchmarks/train_step.py --networks keras_style vgg11_div8 --repeats 9

DeZero is optional: ``.venv/bin/pip install --no-deps --target benchmarks/.dezero dezero==0.0.13``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc

import dezero_nets
import numpy as np
from common import (
    DISTURBANCE,
    NETWORKS,
    build_pair,
    environment_header,
    fastest_products,
    interleaved,
    library_step,
    load_package_copy,
    markdown_table,
    median_ms,
    minicnn_inference,
    minicnn_step,
    network_gemms,
    torch_inference,
    torch_step,
)


def step_functions(name, batch=64, image_size=None, with_dezero=True):
    """{'minicnn': step, 'torch': step[, 'dezero': step]} for one network, all from the same weights."""
    ours, theirs, x, y = build_pair(name, batch, image_size)
    functions = {"minicnn": minicnn_step(ours, x, y), "torch": torch_step(theirs, x, y)}
    if with_dezero:
        dezero_model = dezero_nets.build(name, theirs, x.shape[-1])
        if dezero_model is not None:
            functions["dezero"] = dezero_nets.train_step(dezero_model, x, y)
    return functions


# ---------------------------------------------------------------- memory


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# Run each measurement in a fresh process where glibc returns every block of 64 KiB or more to the system
# as soon as it is freed: resident memory then follows the memory actually in use, for both libraries.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def peak_rss_mib(function) -> float | None:
    """Rise of the process's resident memory during one call, MiB (Linux only; None elsewhere).

    Writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current RSS, so VmHWM after the
    call minus VmRSS before it is the most memory the call held at once. It counts everything the process
    touches (NumPy's and PyTorch's buffers alike), so it compares both libraries the same way, provided
    freed memory goes back to the system (``MEMORY_ENV``) instead of being reused unseen.
    """
    try:
        gc.collect()
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = _status_kib("VmRSS")
        function()
        return (_status_kib("VmHWM") - before) / 1024
    except OSError:
        return None


def memory_probe(name: str, library: str) -> None:
    """(In the fresh process) one training step's peak memory for one library, printed as JSON."""
    step = step_functions(name, with_dezero=library == "dezero")[library]
    step()  # the first steps allocate the optimizer state and warm the BLAS buffers
    step()
    result = {"rss": peak_rss_mib(step), "traced": None if library == "torch" else tracemalloc_peak_mib(step)}
    print(json.dumps(result))


def measure_memory(name: str, library: str) -> dict:
    environment = dict(os.environ, **MEMORY_ENV)
    command = [sys.executable, __file__, "--memory-probe", name, library]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def tracemalloc_peak_mib(function) -> float:
    """Peak of the memory allocated through Python's allocators and NumPy during one call, MiB (NumPy
    reports its array buffers to tracemalloc; PyTorch does not, so this is for minicnn and DeZero only)."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


# ---------------------------------------------------------------- sections


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}"


def section_training(networks, repeats, block, with_dezero):
    rows = []
    for name in networks:
        functions = step_functions(name, with_dezero=with_dezero)
        t = interleaved(functions, repeats=repeats, block_seconds=block)
        dezero_cells = ["–", "–"]
        if "dezero" in t:
            dezero_cells = [f"{t['dezero']:.2f}", ratio(t["dezero"], t["minicnn"])]
        rows.append([name, f"{t['minicnn']:.2f}", f"{t['torch']:.2f}", ratio(t["minicnn"], t["torch"]), *dezero_cells])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn ms", "PyTorch ms", "minicnn / PyTorch", "DeZero ms", "DeZero / minicnn"]
    return "### Training step (batch 64)\n\n" + markdown_table(header, rows)


def section_modes(networks, repeats, block, before_dir):
    """Fast mode, textbook mode, PyTorch and (optionally) an earlier minicnn, interleaved in one run."""
    before = load_package_copy(before_dir) if before_dir else None
    rows = []
    for name in networks:
        ours, theirs, x, y = build_pair(name)
        textbook_model, _, _, _ = build_pair(name)
        functions = {
            "fast": minicnn_step(ours, x, y),
            "textbook": minicnn_step(textbook_model, x, y, textbook=True),
            "torch": torch_step(theirs, x, y),
        }
        if before is not None:
            functions["before"] = library_step(before, name, theirs, x, y)
        t = interleaved(functions, repeats=repeats, block_seconds=block)
        before_cells = [f"{t['before']:.2f}", ratio(t["before"], t["torch"])] if before is not None else ["–", "–"]
        rows.append(
            [name, *before_cells, f"{t['fast']:.2f}", ratio(t["fast"], t["torch"]), f"{t['torch']:.2f}"]
            + [f"{t['textbook']:.2f}", ratio(t["textbook"], t["fast"])]
        )
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "before ms", "before / PyTorch", "fast ms", "fast / PyTorch", "PyTorch ms"]
    header += ["textbook ms", "textbook / fast"]
    return "### Training step (batch 64): before and after, fast and textbook modes\n\n" + markdown_table(header, rows)


def section_floor(networks, repeats, block):
    """The matrix products alone against PyTorch's whole step: what an engine built on im2col + GEMM with
    this machine's OpenBLAS cannot go below, whatever it does with the rest of the step. Every product of a
    step runs in the fastest of minicnn's layouts for it (``common.fastest_products``). Two figures: the sum
    of each product's time on warm operands (a lower bound), and the same products run one after another as
    a step runs them ("in sequence"), timed interleaved with both libraries' steps."""
    rows, layouts = [], {}
    for name in networks:
        calls, gflop = network_gemms(name)
        products, warm, chosen = fastest_products(calls)
        for layout, count in chosen.items():
            layouts[layout] = layouts.get(layout, 0) + count

        def in_sequence(products=products):
            for product in products:
                product()

        functions = step_functions(name, with_dezero=False)
        functions["gemms"] = in_sequence
        t = interleaved(functions, repeats=repeats, block_seconds=block)
        rows.append(
            [
                name,
                f"{t['minicnn']:.2f}",
                f"{t['torch']:.2f}",
                f"{gflop:.2f}",
                f"{warm:.2f}",
                f"{t['gemms']:.2f}",
                f"{gflop / warm * 1e3:.0f}",
                ratio(warm, t["torch"]),
                ratio(t["gemms"], t["torch"]),
                f"{t['torch'] - warm:.2f}",
                f"{t['minicnn'] - warm:.2f}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn ms", "PyTorch ms", "GEMM GFLOP", "GEMMs warm ms", "GEMMs in sequence ms"]
    header += ["warm GFLOP/s", "warm / PyTorch", "in sequence / PyTorch", "PyTorch - warm GEMMs ms"]
    header += ["minicnn - warm GEMMs ms"]
    fastest = ", ".join(f"{layout} {count}" for layout, count in sorted(layouts.items()))
    return (
        "### The matrix products alone (batch 64)\n\n"
        + markdown_table(header, rows)
        + f"\n\nFastest layout per product (products counted over these networks): {fastest}"
    )


def section_inference(networks, repeats, block):
    rows = []
    for name in networks:
        ours, theirs, x, _ = build_pair(name)
        t = interleaved(
            {"minicnn": minicnn_inference(ours, x), "torch": torch_inference(theirs, x)},
            repeats=repeats,
            block_seconds=block,
        )
        rows.append([name, f"{t['minicnn']:.2f}", f"{t['torch']:.2f}", ratio(t["minicnn"], t["torch"])])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn ms", "PyTorch ms", "minicnn / PyTorch"]
    return "### Inference only (eval mode, no graph, batch 64)\n\n" + markdown_table(header, rows)


def section_memory(networks, with_dezero):
    rows = []
    libraries = ("minicnn", "torch", "dezero") if with_dezero else ("minicnn", "torch")
    for name in networks:
        results = {}
        for library in libraries:
            if library == "dezero" and name not in dezero_nets.NETWORKS:
                continue
            results[library] = measure_memory(name, library)

        cells = [(library, "rss") for library in ("minicnn", "torch", "dezero")]
        cells += [("minicnn", "traced"), ("dezero", "traced")]
        values = [results.get(library, {}).get(key) for library, key in cells]
        rows.append([name] + ["–" if value is None else f"{value:.1f}" for value in values])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "minicnn MiB", "PyTorch MiB", "DeZero MiB", "minicnn tracemalloc MiB"]
    header.append("DeZero tracemalloc MiB")
    title = "### Peak memory of one training step (batch 64, after two warm-up steps; rise of resident memory)"
    return title + "\n\n" + markdown_table(header, rows)


def section_batch_sizes(networks, sizes, repeats, block):
    rows = []
    for name in networks:
        cells = [name]
        for batch in sizes:
            functions = step_functions(name, batch, with_dezero=False)
            t = interleaved(functions, repeats=repeats, block_seconds=block)
            cells.append(f"{t['minicnn']:.1f} / {t['torch']:.1f} ({ratio(t['minicnn'], t['torch'])})")
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    header = ["network"] + [f"batch {b}: minicnn / PyTorch ms (ratio)" for b in sizes]
    return "### Training step against batch size\n\n" + markdown_table(header, rows)


def alone_probe(networks, steps: int = 15) -> None:
    """(In a fresh process without PyTorch) median ms per minicnn training step, as a user runs it."""
    times = {}
    for name in networks:
        make, _, shape = NETWORKS[name]
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((64,) + shape).astype(np.float32), rng.integers(0, 10, 64)
        step = minicnn_step(make(shape[-1]), x, y)  # minicnn's own initialisation: no PyTorch imported
        times[name] = median_ms(step, steps, warmup=3)
    print(json.dumps(times))


def section_allocator(networks):
    """minicnn alone (no PyTorch), one network per fresh process as a user runs it: as shipped (glibc keeps
    freed memory, minicnn/backend.py) and with glibc's defaults (``MINICNN_KEEP_MEMORY=0``); two runs each."""
    results = {(name, keep): [] for name in networks for keep in (False, True)}
    for _ in range(2):
        for name in networks:
            for keep in (False, True):
                environment = dict(os.environ, MINICNN_KEEP_MEMORY="1" if keep else "0")
                command = [sys.executable, __file__, "--alone-probe", name]
                done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
                results[name, keep].append(json.loads(done.stdout.strip().splitlines()[-1])[name])
    rows = []
    for name in networks:
        rows.append([name, *(" / ".join(f"{ms:.1f}" for ms in results[name, keep]) for keep in (False, True))])
        print(" | ".join(rows[-1]), flush=True)
    header = ["network", "glibc defaults (MINICNN_KEEP_MEMORY=0), ms (2 runs)", "as shipped, ms (2 runs)"]
    title = "### minicnn alone, one network per process (no PyTorch): training step, median of 15, batch 64"
    return title + "\n\n" + markdown_table(header, rows)


def section_image_sizes(sizes, batch, repeats, block):
    rows = []
    for size in sizes:
        functions = step_functions("vgg11_div8", batch, image_size=size, with_dezero=False)
        t = interleaved(functions, repeats=repeats, block_seconds=block, warmup=1)
        rows.append([f"{size}x{size}", f"{t['minicnn']:.1f}", f"{t['torch']:.1f}", ratio(t["minicnn"], t["torch"])])
        print(" | ".join(rows[-1]), flush=True)
    header = ["VGG-11/8 input", "minicnn ms", "PyTorch ms", "minicnn / PyTorch"]
    title = f"### VGG-11/8 training step against image size (batch {batch})"
    return title + "\n\n" + markdown_table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--repeats", type=int, default=7, help="alternating blocks per library (default 7)")
    parser.add_argument("--quick", action="store_true", help="training and inference only, 5 short blocks")
    parser.add_argument("--no-dezero", action="store_true", help="skip the DeZero column")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["training", "inference", "memory", "batch", "image"],
        choices=["training", "inference", "memory", "batch", "image", "allocator", "floor", "modes"],
    )
    parser.add_argument("--before", metavar="DIR", help="modes section: a folder with an earlier minicnn package")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 64, 256])
    parser.add_argument("--image-sizes", nargs="+", type=int, default=[32, 64, 128, 224])
    parser.add_argument("--image-batch", type=int, default=64, help="batch of the image-size section")
    parser.add_argument("--memory-probe", nargs=2, metavar=("NETWORK", "LIBRARY"), help=argparse.SUPPRESS)
    parser.add_argument("--alone-probe", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(*args.memory_probe)
        return
    if args.alone_probe:
        alone_probe(args.alone_probe)
        return
    repeats, block = args.repeats, 0.3
    sections = args.sections
    if args.quick:
        repeats, block = 5, 0.15
        sections = [s for s in sections if s in ("training", "inference")]
    with_dezero = not args.no_dezero
    if with_dezero and dezero_nets.import_dezero() is None:
        print("DeZero not installed: no DeZero column (see the module docstring)")
        with_dezero = False

    started = time.time()
    print(environment_header())
    print(f"timing: {repeats} alternating blocks of ~{block} s per library, median\n")
    tables = []
    if "training" in sections:
        tables.append(section_training(args.networks, repeats, block, with_dezero))
    if "inference" in sections:
        tables.append(section_inference(args.networks, repeats, block))
    if "memory" in sections:
        tables.append(section_memory(args.networks, with_dezero))
    if "batch" in sections:
        tables.append(section_batch_sizes(args.networks, args.batch_sizes, max(3, repeats // 2), block))
    if "image" in sections:
        tables.append(section_image_sizes(args.image_sizes, args.image_batch, 3, block))
    if "allocator" in sections:
        tables.append(section_allocator(args.networks))
    if "floor" in sections:
        tables.append(section_floor(args.networks, repeats, block))
    if "modes" in sections:
        tables.append(section_modes(args.networks, repeats, block, args.before))
    print()
    print("\n\n".join(tables))
    print(f"\n({time.time() - started:.0f} s; {DISTURBANCE})")


if __name__ == "__main__":
    main()
