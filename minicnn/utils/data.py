"""``minicnn.utils.data``: Dataset, TensorDataset, Subset, random_split and DataLoader, as in PyTorch.

A DataLoader turns a dataset into batches. For a ``TensorDataset`` (whole arrays in memory) a batch is
one fancy-index per tensor, ``x[indices]``, instead of a Python loop over samples.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor


class Generator:
    """A seedable source of shuffling order, like ``torch.Generator``: ``Generator().manual_seed(0)``."""

    def __init__(self, device="cpu"):
        self._rng = np.random.default_rng()

    def manual_seed(self, seed: int):
        self._rng = np.random.default_rng(int(seed))
        return self

    @property
    def numpy_generator(self) -> np.random.Generator:
        """The NumPy generator behind it."""
        return self._rng

    def get_state(self) -> dict:
        """The generator's state (a JSON-able dict), to continue the same stream later."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def permutation(self, n: int) -> np.ndarray:
        return self._rng.permutation(n)


def _is_torch_generator(generator) -> bool:
    return hasattr(generator, "initial_seed") and not isinstance(generator, Generator)


def _draw_torch_base_seed(generator) -> None:
    """Consume what PyTorch's DataLoader takes from its generator at the start of each epoch.

    PyTorch draws one int64 "base seed" (for worker processes) from ``generator`` before the shuffled
    order; drawing it too keeps the orders identical when both libraries get equally seeded generators.
    """
    import torch

    torch.empty((), dtype=torch.int64).random_(generator=generator)


def _permutation(n: int, generator) -> np.ndarray:
    """A random order of range(n) from ``generator`` or, without one, from ``minicnn.manual_seed``'s stream."""
    if generator is None:
        return backend.cpu_generator().permutation(n)
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n)
    if isinstance(generator, Generator):
        return generator.permutation(n)
    if _is_torch_generator(generator):  # a torch.Generator (so torch is installed): draw from it
        import torch

        return torch.randperm(n, generator=generator).numpy()
    raise TypeError(f"generator must be a minicnn.Generator or numpy Generator, got {type(generator).__name__}")


class Dataset:
    """A map-style dataset: subclasses give ``__getitem__(index)`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension: ``TensorDataset(images, labels)``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors, first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        part = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][index - start]


def random_split(dataset, lengths, generator=None) -> list:
    """Split into non-overlapping random subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if all(0 <= length <= 1 for length in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):  # hand out the remainder round-robin, as PyTorch
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths {sum(lengths)} does not equal the length of the dataset ({n})"
        )
    order = _permutation(n, generator).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start : start + length]))
        start += length
    return subsets


def _as_array(value):
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor from a torchvision dataset
        return value.detach().cpu().numpy()
    return value


def default_collate(batch):
    """Stack a list of samples into batched tensors: tensors/arrays are stacked, ints become int64,
    floats float64 (as PyTorch), and tuples, lists and dicts are collated field by field."""
    first = batch[0]
    if (
        isinstance(first, Tensor)
        or hasattr(first, "__array_interface__")
        or (hasattr(first, "detach") and hasattr(first, "numpy"))
    ):
        arrays = [_as_array(sample) for sample in batch]
        xp = backend.get_array_module(arrays[0])
        return Tensor(xp.stack([xp.asarray(a) for a in arrays]))
    if isinstance(first, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        f"default_collate: batch must contain tensors, arrays, numbers, dicts or lists; found {type(first).__name__}"
    )


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: any map-style dataset (``__getitem__`` and ``__len__``), torchvision's included.
        batch_size: samples per batch (default 1); None yields single samples without collation.
        shuffle: a new random order each epoch, from ``generator`` or ``minicnn.manual_seed``'s stream.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        collate_fn: turns a list of samples into a batch (default: ``default_collate``).
        num_workers, pin_memory, ...: accepted for PyTorch code; loading happens in this process.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        generator=None,
        **kwargs,
    ):
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0
        ):
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: dataset must have __getitem__ and __len__, got {type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last, self.generator = drop_last, generator
        self.collate_fn = collate_fn
        self.num_workers = num_workers

    def _order(self) -> list:
        if self.sampler is not None:
            return [int(i) for i in self.sampler]
        n = len(self.dataset)
        return _permutation(n, self.generator).tolist() if self.shuffle else list(range(n))

    def _batches_of_indices(self):
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        order = self._order()
        step = self.batch_size
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            if len(batch) < step:
                self._sampler_ran_dry()
                if self.drop_last:
                    return
                yield batch
                return
            yield batch
        self._sampler_ran_dry()

    def _sampler_ran_dry(self) -> None:
        """Mirror PyTorch's RandomSampler, which draws one more (unused) permutation when it runs out.

        Only matters with a ``torch.Generator``: then the next epoch's order matches PyTorch's too.
        """
        if self.shuffle and self.sampler is None and _is_torch_generator(self.generator):
            _permutation(len(self.dataset), self.generator)

    def __iter__(self):
        if _is_torch_generator(self.generator):
            _draw_torch_base_seed(self.generator)
        if self.batch_size is None:
            for index in self._order():
                sample = self.dataset[index]
                yield self.collate_fn(sample) if self.collate_fn else sample
            self._sampler_ran_dry()
            return
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for indices in self._batches_of_indices():
            if fast:  # one fancy-index per tensor instead of a Python loop over samples
                index_array = np.asarray(indices)
                yield tuple(Tensor(t.array[index_array]) for t in self.dataset.tensors)
            else:
                samples = [self.dataset[i] for i in indices]
                yield (self.collate_fn or default_collate)(samples)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Generator",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
]
