"""Shared test setup: markers, hypothesis profile, float64 for gradient checks."""

import ctypes
import gc
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# Keep the whole suite well under 20 minutes on 2 cores; set HYPOTHESIS_PROFILE=thorough for more.
settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# tests import their shared helpers as ``tests.helpers``; also allow the short ``helpers``
sys.path.insert(0, os.path.dirname(__file__))


def _malloc_trim():
    """glibc's malloc_trim, or None: returns to the OS the heap memory that freed arrays leave behind."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # another C library (musl)
        return None


_TRIM = _malloc_trim()


def pytest_runtest_teardown(item, nextitem):
    """After each test module and each slow test, hand freed memory back to the OS.

    glibc keeps memory freed by NumPy and PyTorch in its heap for reuse; after the model tests that is
    hundreds of MB the process no longer uses but still holds (measured: 1.06 -> 0.71 GB after the
    FLOP-counting tests), which would add to the peak of every later test.
    """
    if _TRIM is not None and (
        nextitem is None or nextitem.module is not item.module or item.get_closest_marker("slow")
    ):
        gc.collect()
        _TRIM(0)


@pytest.fixture
def fast_kernels_on():
    """For tests of what only the fast kernels do (memory layouts, which columns are built): they run with
    ops/fast/ on even when the suite runs under MINICNN_TEXTBOOK=1."""
    import minicnn

    with minicnn.textbook(False):
        yield


@pytest.fixture
def one_torch_thread(monkeypatch):
    """PyTorch on one thread: on the 2 shared cores its 2-thread CPU kernels wait ~100x longer than these
    tiny ops take (measured: a 2x4x7x9 float64 conv2d forward + backward, 135 ms with 2 threads, 0.6 ms with 1)."""
    from tests import helpers

    def require_torch_one_thread():
        torch = require_torch_original()
        torch.set_num_threads(1)
        return torch

    require_torch_original = helpers.require_torch
    monkeypatch.setattr(helpers, "require_torch", require_torch_one_thread)
    yield
    require_torch_original()  # back to the thread count every other test uses


@pytest.fixture(params=["fast", "textbook"])
def tier(request):
    """Run the test with the fast kernels, then again under ``minicnn.textbook()``."""
    import minicnn

    with minicnn.textbook(request.param == "textbook"):
        yield request.param
