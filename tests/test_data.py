"""minicnn.utils.data: Dataset, TensorDataset, Subset, random_split, DataLoader and collation."""

import numpy as np
import pytest

import minicnn
from minicnn.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from tests.helpers import require_torch


def make_dataset(n=10):
    return TensorDataset(minicnn.arange(n * 2).float().view(n, 2), minicnn.arange(n))


def test_batches_sizes_and_drop_last():
    loader = DataLoader(make_dataset(10), batch_size=4)
    assert [tuple(x.shape) for x, _ in loader] == [(4, 2), (4, 2), (2, 2)] and len(loader) == 3
    loader = DataLoader(make_dataset(10), batch_size=4, drop_last=True)
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2


def test_shuffle_is_a_permutation_seeded_by_manual_seed():
    def epoch_order():
        return [i for _, y in DataLoader(make_dataset(20), batch_size=6, shuffle=True) for i in y.tolist()]

    minicnn.manual_seed(5)
    first, second = epoch_order(), epoch_order()
    assert sorted(first) == list(range(20)) and first != second  # a new order each epoch
    minicnn.manual_seed(5)
    assert epoch_order() == first  # and the same orders after re-seeding


def test_shuffle_with_a_generator():
    def order(seed):
        generator = minicnn.Generator().manual_seed(seed)
        return [y.tolist() for _, y in DataLoader(make_dataset(12), batch_size=12, shuffle=True, generator=generator)]

    assert order(1) == order(1) and order(1) != order(2)


def test_tensor_dataset_batches_with_one_fancy_index(monkeypatch):
    dataset = make_dataset(8)
    monkeypatch.setattr(TensorDataset, "__getitem__", lambda self, i: pytest.fail("per-sample indexing was used"))
    batches = list(DataLoader(dataset, batch_size=3, shuffle=True))
    assert sum(len(y) for _, y in batches) == 8


def test_default_collate_types():
    images = [np.ones((1, 2, 2), dtype=np.uint8) * i for i in range(3)]
    batch = default_collate([(image, i, 0.5, minicnn.tensor([i, i])) for i, image in enumerate(images)])
    x, labels, floats, pairs = batch
    assert x.shape == (3, 1, 2, 2) and x.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2]
    assert floats.dtype == np.float64 and pairs.shape == (3, 2)
    as_dict = default_collate([{"a": 1, "b": np.zeros(2)}, {"a": 2, "b": np.ones(2)}])
    assert as_dict["a"].tolist() == [1, 2] and as_dict["b"].shape == (2, 2)
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, index):
        return np.array([index, index * index], dtype=np.float32), index % 2


def test_map_style_dataset_collate_fn_and_subset():
    loader = DataLoader(Squares(), batch_size=3)
    x, y = next(iter(loader))
    assert x.tolist() == [[0, 0], [1, 1], [2, 4]] and y.tolist() == [0, 1, 0]
    custom = DataLoader(Squares(), batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(custom) == [2, 2, 2, 1]
    subset = Subset(Squares(), [6, 2])
    assert len(subset) == 2 and subset[0][1] == 0 and subset[0][0].tolist() == [6, 36]


def test_random_split_lengths_and_fractions():
    parts = random_split(make_dataset(10), [7, 3], generator=minicnn.Generator().manual_seed(0))
    indices = sorted(parts[0].indices + parts[1].indices)
    assert [len(p) for p in parts] == [7, 3] and indices == list(range(10))
    assert [len(p) for p in random_split(make_dataset(10), [0.9, 0.1])] == [9, 1]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(make_dataset(10), [5, 4])


def test_torchvision_dataset_is_accepted():
    require_torch()
    import torchvision

    dataset = torchvision.datasets.FakeData(
        size=6, image_size=(1, 8, 8), num_classes=3, transform=torchvision.transforms.ToTensor()
    )
    x, y = next(iter(DataLoader(dataset, batch_size=4)))
    assert isinstance(x, minicnn.Tensor) and x.shape == (4, 1, 8, 8) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.shape == (4,)


def test_dataloader_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(make_dataset(), batch_size=0)
    with pytest.raises(TypeError, match="__getitem__"):
        DataLoader(5)
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(minicnn.zeros(3, 2), minicnn.zeros(4))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(make_dataset(), sampler=[0, 1], shuffle=True)


def test_torch_generator_gives_a_new_order_each_epoch():
    torch = require_torch()
    loader = DataLoader(make_dataset(12), batch_size=12, shuffle=True, generator=torch.Generator().manual_seed(0))
    first, second = (next(iter(loader))[1].tolist() for _ in range(2))
    assert sorted(first) == list(range(12)) and first != second


def test_generator_state_round_trip():
    generator = minicnn.Generator().manual_seed(3)
    state = generator.get_state()
    first = generator.permutation(10).tolist()
    generator.set_state(state)
    assert generator.permutation(10).tolist() == first
