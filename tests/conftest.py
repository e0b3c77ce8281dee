"""Shared test setup: markers, hypothesis profile, float64 for gradient checks."""

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


@pytest.fixture
def fast_kernels_on():
    """For tests of what only the fast kernels do (memory layouts, which columns are built): they run with
    ops/fast/ on even when the suite runs under MINICNN_TEXTBOOK=1."""
    import minicnn

    with minicnn.textbook(False):
        yield
