"""Allocator tuning: keep freed memory in the process, so each training step reuses warm pages."""

from __future__ import annotations

import ctypes
import os


def keep_freed_memory_for_reuse() -> None:
    """Ask the C allocator (glibc, on Linux) to keep freed memory for reuse instead of returning it.

    A training step allocates the same large arrays every time: activations, im2col columns, gradients.
    By default glibc serves large blocks with ``mmap`` and gives them back to the system when freed, so
    every step gets fresh pages, which the kernel zeroes on first touch. Serving blocks up to 64 MiB from
    the heap and trimming it only beyond 512 MiB keeps that memory in the process, as PyTorch's caching
    allocator does on the GPU; the price is that the process keeps up to 512 MiB of freed memory (larger
    thresholds fragment the heap). Figures: benchmarks/RESULTS.md, "The allocator".

    Nothing is done where there is no glibc (macOS, Windows, musl), where the user set glibc's own
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables (their choice wins), or
    with ``MINICNN_KEEP_MEMORY=0`` (glibc's defaults, e.g. for a long-lived server process).
    """
    if os.environ.get("MINICNN_KEEP_MEMORY") == "0":
        return
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>
    mallopt(M_MMAP_THRESHOLD, 64 << 20)
    mallopt(M_TRIM_THRESHOLD, 512 << 20)
