"""The fast kernels: the same numbers as the textbook Functions in ``minicnn/ops``, computed faster.

Each kernel here names, in its docstring, the textbook Function it must equal and why it is faster
(figures in ``benchmarks/RESULTS.md``); ``tests/test_fast_kernels.py`` proves it equal, forward and
backward, over a spread of shapes, arguments and both memory layouts. A textbook op dispatches to its fast
kernel in one visible line: ``Conv = FastConv2d if fast_kernels() else Conv2d``.

``with minicnn.textbook():`` (or ``@minicnn.textbook()``, or ``MINICNN_TEXTBOOK=1`` for a whole process)
switches them off, so every op of a model runs through the textbook Function a learner reads.

- ``layout.py``        channels-last memory (N, H, W, C) behind the logical (N, C, H, W), per-channel totals
- ``conv.py``          convolution channels-last, kernel-row columns, dL/dx as a convolution
- ``pooling.py``       the 2x2 max-pool tournament, separable average pooling
- ``normalization.py`` batch norm in the input's memory order, with per-channel totals
- ``allocator.py``     keeps freed memory in the process, so each step reuses warm pages
"""

from __future__ import annotations

import functools
import os

from .allocator import keep_freed_memory_for_reuse

keep_freed_memory_for_reuse()

_use_fast_kernels = os.environ.get("MINICNN_TEXTBOOK", "0") in ("", "0")


def fast_kernels() -> bool:
    """True unless inside ``textbook()`` (or with ``MINICNN_TEXTBOOK=1``): ops then use the kernels here."""
    return _use_fast_kernels


class textbook:
    """Run every op through its textbook Function: ``with minicnn.textbook():`` or ``@minicnn.textbook()``.

    The results are the same (each fast kernel is tested equal to its textbook Function); only the speed
    differs. ``textbook(False)`` switches the fast kernels back on inside a textbook region. The switch is
    process-wide; the mode before is restored on exit, also when the block raises.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)

    def __enter__(self):
        global _use_fast_kernels
        self.previous = _use_fast_kernels
        _use_fast_kernels = not self.enabled
        return self

    def __exit__(self, *exc_info):
        global _use_fast_kernels
        _use_fast_kernels = self.previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def run_in_textbook_mode(*args, **kwargs):
            with textbook(self.enabled):
                return function(*args, **kwargs)

        return run_in_textbook_mode
