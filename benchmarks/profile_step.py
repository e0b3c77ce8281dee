"""Where a minicnn training step spends its time, op by op.

Wraps ``forward`` and ``backward`` of every ``Function`` subclass with a timer, runs training steps of one
reference network, and prints the time per step of each op's forward and backward, the optimizer step,
and the rest (autograd bookkeeping, module calls, Python glue) as the difference to the whole step.

    .venv/bin/python benchmarks/profile_step.py keras_style
    .venv/bin/python benchmarks/profile_step.py inception --steps 10
    .venv/bin/python benchmarks/profile_step.py vgg11_div8 --cprofile      # cProfile's top functions instead
    python benchmarks/profile_step.py vgg11_div8 --device cuda              # on the GPU (each op waits for it)
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import defaultdict

from common import NETWORKS, build_pair, minicnn, minicnn_step

from minicnn.autograd import Function


def all_functions(cls=Function):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from all_functions(subclass)


def instrument(totals, synchronize=lambda: None):
    """Wrap every Function's forward/backward (and Adam.step) to add their time into ``totals``; on a GPU
    ``synchronize`` waits for the device before and after each, so each op is charged its own GPU work."""
    originals = []

    def timed(name, method):
        def wrapper(*args, **kwargs):
            synchronize()
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                synchronize()
                totals[name] += time.perf_counter() - start

        return staticmethod(wrapper)

    for function in set(all_functions()):
        for method in ("forward", "backward"):
            if method in function.__dict__:
                original = function.__dict__[method]
                originals.append((function, method, original))
                setattr(function, method, timed(f"{function.__name__}.{method}", original.__func__))
    return originals


def restore(originals):
    for function, method, original in originals:
        setattr(function, method, original)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", choices=list(NETWORKS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top 25 by own time")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()

    synchronize = minicnn.cuda.synchronize if args.device == "cuda" else lambda: None
    ours, _, x, y = build_pair(args.network, args.batch)
    step = minicnn_step(ours, x, y, device=args.device)
    for _ in range(3):
        step()
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.steps):
            step()
        synchronize()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    totals = defaultdict(float)
    optimizer_step = step.__closure__  # the closure holds the optimizer; time its step() too
    optimizer = next(cell.cell_contents for cell in optimizer_step if hasattr(cell.cell_contents, "param_groups"))
    original_step = optimizer.step

    def timed_step(*a, **k):
        synchronize()
        start = time.perf_counter()
        try:
            return original_step(*a, **k)
        finally:
            synchronize()
            totals["optimizer.step"] += time.perf_counter() - start

    optimizer.step = timed_step
    originals = instrument(totals, synchronize)
    try:
        synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        synchronize()
        whole = (time.perf_counter() - start) / args.steps * 1e3
    finally:
        restore(originals)
    per_step = {name: seconds / args.steps * 1e3 for name, seconds in totals.items()}
    per_step["rest (autograd, modules, glue)"] = whole - sum(per_step.values())
    print(f"{args.network}, batch {args.batch}, {args.device}: {whole:.2f} ms per step ({args.steps} steps)\n")
    print(f"{'part':40s} {'ms/step':>8s} {'share':>6s}")
    for name, ms in sorted(per_step.items(), key=lambda item: -item[1]):
        print(f"{name:40s} {ms:8.2f} {ms / whole:6.1%}")


if __name__ == "__main__":
    main()
