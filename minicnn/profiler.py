"""``with profile() as prof:``: where the time and memory of a training step go, op by op.

Every differentiable operation in minicnn is one ``Function`` (``Conv2d``, ``ReLU``, ``MatMul``, ...):
its forward runs inside ``Function.apply`` and its backward inside the backward pass. While the
``with`` block runs, ``profile`` swaps in timing wrappers around both (and puts the originals back when
the block ends, even on an exception), then reports per op: calls, forward and backward time, and the
bytes of the arrays each op returned, plus the largest single allocations.

Example:
    >>> with minicnn.profile() as prof:
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    >>> print(prof)                       # the table, most expensive op first
    >>> prof.table(sort_by="forward", row_limit=5)

What is *not* inside the op times (so they add up to a little less than ``prof.wall_time``): the
Python between ops (``Module.__call__`` and hooks, argument checks in the public functions before
``apply``, the backward engine's bookkeeping, optimizer updates done on raw arrays, data loading).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

from . import autograd, backend
from .tensor import Tensor

__all__ = ["profile", "OpStats", "Allocation"]

_active = None  # the profile currently recording (they do not nest)


@dataclass
class OpStats:
    """Totals for one op (one Function class)."""

    name: str
    forward_calls: int = 0
    forward_time: float = 0.0  # seconds, the op's own time (nested ops, if any, excluded)
    backward_calls: int = 0
    backward_time: float = 0.0
    forward_bytes: int = 0  # bytes of the arrays the forward returned, all calls together
    backward_bytes: int = 0  # bytes of the gradient arrays the backward returned

    @property
    def total_time(self) -> float:
        return self.forward_time + self.backward_time


@dataclass
class Allocation:
    """One array an op returned (the largest ones are kept)."""

    bytes: int
    op: str
    phase: str  # "forward" or "backward"
    shape: tuple
    dtype: str


def _arrays_in(result):
    """The arrays in what a backward returned (one array, or a tuple with None for no gradient)."""
    items = result if isinstance(result, tuple) else (result,)
    return [a for a in items if hasattr(a, "nbytes") and hasattr(a, "shape")]


def _function_classes():
    """Function and every subclass, recursively (the ops modules define them at import)."""
    found, stack = [], [autograd.Function]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


class profile:
    """Record the time and memory of every op run inside a ``with`` block.

    Args:
        top_allocations: how many of the largest op outputs to keep.
        sync_cuda: on the GPU, wait for each op to finish before stopping its clock (CuPy launches work
            asynchronously; without waiting, an op's time is only its launch). Slower, but honest.

    Attributes (after the block):
        wall_time: seconds from entering to leaving the block.
        stats: a dict from op name to ``OpStats``.
        op_time: the sum of every op's forward and backward time.
        allocations: the largest op outputs, ``Allocation`` objects, largest first.
    """

    def __init__(self, top_allocations: int = 10, sync_cuda: bool = True):
        self.top_allocations = top_allocations
        self.sync_cuda = sync_cuda
        self.stats: dict[str, OpStats] = {}
        self.wall_time = 0.0
        self._largest: list = []  # a min-heap of the largest allocations
        self._saved: list = []  # (class, attribute name, original descriptor) to put back
        self._child_time = [0.0]  # time of ops nested inside the running op (subtracted from it)
        self._count = 0
        self._start = None

    # ------------------------------------------------------------ recording
    def _op(self, name: str) -> OpStats:
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = OpStats(name)
        return stats

    def _sync(self, arrays):
        if self.sync_cuda and backend.cupy is not None and any(isinstance(a, backend.cupy.ndarray) for a in arrays):
            backend.cupy.cuda.get_current_stream().synchronize()

    def _timed(self, name: str, phase: str, run):
        """Run ``run()``, charge its own time and output bytes to op ``name``."""
        self._child_time.append(0.0)
        start = time.perf_counter()
        try:
            result = run()
            if phase == "forward":  # Function.apply returns a tensor or a tuple of tensors
                outputs = result if isinstance(result, tuple) else (result,)
                arrays = [t.array for t in outputs if isinstance(t, Tensor)]
            else:  # backward returns an array or a tuple of arrays and None
                arrays = _arrays_in(result)
            self._sync(arrays)
        finally:
            elapsed = time.perf_counter() - start
            nested = self._child_time.pop()
            self._child_time[-1] += elapsed  # the enclosing op (if any) subtracts this from its own time
        stats = self._op(name)
        own = elapsed - nested
        size = sum(int(a.nbytes) for a in arrays)
        if phase == "forward":
            stats.forward_calls += 1
            stats.forward_time += own
            stats.forward_bytes += size
        else:
            stats.backward_calls += 1
            stats.backward_time += own
            stats.backward_bytes += size
        for a in arrays:
            self._count += 1  # a tie-breaker, so the heap never compares two records
            item = (int(a.nbytes), self._count, Allocation(int(a.nbytes), name, phase, tuple(a.shape), str(a.dtype)))
            if len(self._largest) < self.top_allocations:
                heapq.heappush(self._largest, item)
            elif self.top_allocations and item[0] > self._largest[0][0]:
                heapq.heapreplace(self._largest, item)
        return result

    # ------------------------------------------------------------ patching in and out
    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("profile: already profiling (profiles do not nest)")
        _active = self
        profiler = self
        original_apply = autograd.Function.__dict__["apply"]  # the classmethod object
        if not isinstance(original_apply, classmethod):
            _active = None
            raise RuntimeError("profile: Function.apply is no longer a classmethod; the profiler needs updating")
        apply_function = original_apply.__func__

        def timed_apply(cls, *inputs, **options):
            return profiler._timed(cls.__name__, "forward", lambda: apply_function(cls, *inputs, **options))

        self._saved.append((autograd.Function, "apply", original_apply))
        autograd.Function.apply = classmethod(timed_apply)
        for cls in _function_classes():
            if "backward" not in cls.__dict__ or cls is autograd.Function:
                continue
            original = cls.__dict__["backward"]  # a staticmethod (a plain function also works on the class)
            function = original.__func__ if isinstance(original, staticmethod) else original
            self._saved.append((cls, "backward", original))
            cls.backward = staticmethod(self._timed_backward(cls, function))
        self._start = time.perf_counter()
        return self

    def _timed_backward(self, cls, backward):
        def timed_backward(ctx, *grads):
            function = getattr(ctx, "function", cls)  # a subclass that inherits this backward: its own name
            return self._timed(function.__name__, "backward", lambda: backward(ctx, *grads))

        return timed_backward

    def __exit__(self, *exc_info):
        global _active
        self.wall_time = time.perf_counter() - self._start
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()
        _active = None
        return False

    # ------------------------------------------------------------ results
    @property
    def op_time(self) -> float:
        return sum(s.total_time for s in self.stats.values())

    @property
    def allocations(self) -> list:
        return [record for _, _, record in sorted(self._largest, key=lambda item: -item[0])]

    def key_averages(self):
        """PyTorch's spelling: ``prof.key_averages().table(sort_by=...)`` works on this object too."""
        return self

    _SORT_KEYS = {
        "total": lambda s: -s.total_time,
        "forward": lambda s: -s.forward_time,
        "backward": lambda s: -s.backward_time,
        "calls": lambda s: -(s.forward_calls + s.backward_calls),
        "bytes": lambda s: -(s.forward_bytes + s.backward_bytes),
        "name": lambda s: s.name,
    }
    _TORCH_SORT_KEYS = {"cpu_time_total": "total", "self_cpu_time_total": "total", "cuda_time_total": "total"}

    def table(self, sort_by: str = "total", row_limit: int | None = None) -> str:
        """The per-op table, then the largest allocations.

        Args:
            sort_by: ``"total"`` (forward + backward time), ``"forward"``, ``"backward"``, ``"calls"``,
                ``"bytes"`` or ``"name"`` (PyTorch's ``"cpu_time_total"`` means ``"total"``).
            row_limit: show at most this many ops.
        """
        sort_by = self._TORCH_SORT_KEYS.get(sort_by, sort_by)
        if sort_by not in self._SORT_KEYS:
            raise ValueError(f"profile.table: sort_by must be one of {sorted(self._SORT_KEYS)}, got {sort_by!r}")
        rows = sorted(self.stats.values(), key=self._SORT_KEYS[sort_by])[:row_limit]
        wall = self.wall_time or 1e-12
        header = ("Op", "Fwd calls", "Fwd ms", "Bwd calls", "Bwd ms", "Total ms", "% wall", "Fwd out", "Bwd out")
        body = [
            (
                s.name,
                f"{s.forward_calls:,}",
                f"{s.forward_time * 1e3:,.3f}",
                f"{s.backward_calls:,}",
                f"{s.backward_time * 1e3:,.3f}",
                f"{s.total_time * 1e3:,.3f}",
                f"{100 * s.total_time / wall:.1f}",
                _format_bytes(s.forward_bytes),
                _format_bytes(s.backward_bytes),
            )
            for s in rows
        ]
        lines = _format_table(header, body)
        lines += [
            f"Wall time {self.wall_time * 1e3:,.3f} ms; inside ops {self.op_time * 1e3:,.3f} ms "
            f"({100 * self.op_time / wall:.1f}%). The rest is Python between ops: module calls and hooks, "
            "argument checks, the backward engine's bookkeeping, optimizer updates, data loading.",
        ]
        if self.allocations:
            lines += ["", f"Largest arrays returned by ops (top {len(self.allocations)}):"]
            lines += _format_table(
                ("Op", "Phase", "Shape", "Dtype", "Bytes"),
                [(a.op, a.phase, str(a.shape), a.dtype, _format_bytes(a.bytes)) for a in self.allocations],
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<profile: {len(self.stats)} ops, wall {self.wall_time * 1e3:.3f} ms, ops {self.op_time * 1e3:.3f} ms>"


def _format_table(header, body) -> list:
    widths = [
        max(len(header[k]), *(len(row[k]) for row in body)) if body else len(header[k]) for k in range(len(header))
    ]

    def line(cells):
        return "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(header))
    return [line(header), rule, *(line(row) for row in body), rule]


def _format_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count:,} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{count} B"
