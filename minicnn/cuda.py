"""``minicnn.cuda``: is a GPU usable (CuPy installed and a device visible)? Seeding and waiting for it."""

from . import backend


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy)."""
    if not backend.cuda_is_available():
        return 0
    return backend.cupy.cuda.runtime.getDeviceCount()


def manual_seed(seed: int) -> None:
    """Seed the GPU's random numbers (``minicnn.manual_seed`` seeds both)."""
    if backend.cuda_is_available():
        backend.cupy.random.seed(int(seed))


manual_seed_all = manual_seed


def synchronize(device=None) -> None:
    """Wait for the GPU (``device``: 'cuda:N', an index or a device; default the first) to finish its queued
    work, as ``torch.cuda.synchronize``: time GPU code after this. Does nothing without a GPU."""
    index = backend.device(device).index if device is not None else None
    backend.synchronize(index)
