"""The Tensor API: creation, dtypes, attributes, conversions, indexing, repr, devices."""

import numpy as np
import pytest

import minicnn
from tests.helpers import require_torch


def test_tensor_default_dtypes_follow_pytorch():
    assert minicnn.tensor([1.0, 2.0]).dtype == minicnn.float32
    assert minicnn.tensor([1, 2]).dtype == minicnn.int64
    assert minicnn.tensor([True]).dtype == minicnn.bool
    assert minicnn.tensor(np.zeros(3)).dtype == minicnn.float64  # arrays keep their dtype
    assert minicnn.tensor(np.zeros(3, dtype=np.float32)).dtype == minicnn.float32
    assert minicnn.tensor([1, 2], dtype=minicnn.float64).dtype == np.float64
    assert minicnn.tensor([1.0], dtype="float64").dtype == np.float64


def test_tensor_copies_but_from_numpy_shares():
    array = np.zeros(3, dtype=np.float32)
    copied, shared = minicnn.tensor(array), minicnn.from_numpy(array)
    array[0] = 5
    assert copied[0].item() == 0 and shared[0].item() == 5
    with pytest.raises(TypeError, match="numpy.ndarray"):
        minicnn.from_numpy([1, 2])


def test_creation_functions():
    assert minicnn.zeros(2, 3).shape == (2, 3) and minicnn.zeros((2, 3)).dtype == minicnn.float32
    assert minicnn.ones([4]).numpy().tolist() == [1, 1, 1, 1]
    assert minicnn.empty(2, 2).shape == (2, 2)
    assert minicnn.full((2,), 7).dtype == minicnn.int64 and minicnn.full((2,), 7.0).dtype == minicnn.float32
    assert minicnn.arange(5).tolist() == [0, 1, 2, 3, 4] and minicnn.arange(5).dtype == minicnn.int64
    assert minicnn.arange(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75]
    x = minicnn.randn(3, 4, dtype=minicnn.float64)
    assert minicnn.zeros_like(x).dtype == np.float64 and minicnn.ones_like(x).shape == (3, 4)
    r = minicnn.randint(0, 10, (100,))
    assert r.dtype == minicnn.int64 and 0 <= r.min().item() and r.max().item() < 10
    assert minicnn.randint(3, (5,)).max().item() < 3
    assert 0 <= minicnn.rand(100).min().item() and minicnn.rand(100).max().item() < 1
    assert minicnn.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        minicnn.zeros(-1, 2)


def test_manual_seed_repeats_random_numbers():
    minicnn.manual_seed(3)
    a = minicnn.randn(5).numpy()
    minicnn.manual_seed(3)
    b = minicnn.randn(5).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):
        minicnn.manual_seed("seed")


def test_attributes():
    x = minicnn.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4 and len(x) == 2
    assert x.device == minicnn.device("cpu") and str(x.device) == "cpu" and x.device == "cpu"
    assert x.T.shape == (4, 3, 2) and x.is_leaf and x.grad is None and x.grad_fn is None
    assert isinstance(x.data, minicnn.Tensor)
    with pytest.raises(IndexError, match="size"):
        x.size(3)


def test_conversions():
    x = minicnn.tensor([[1.5, 2.5]])
    assert x.tolist() == [[1.5, 2.5]] and x[0, 1].item() == 2.5 and isinstance(x.numpy(), np.ndarray)
    assert x.double().dtype == np.float64 and x.long().tolist() == [[1, 2]] and x.int().dtype == np.int32
    assert x.bool().dtype == np.bool_ and x.to(minicnn.float64).dtype == np.float64
    assert x.to("cpu") is x and x.cpu() is x and x.float() is x
    assert float(minicnn.tensor(2.0)) == 2.0 and int(minicnn.tensor(3)) == 3
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    w = minicnn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()


def test_cast_keeps_gradient_flowing():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_cuda_without_gpu_says_so():
    if minicnn.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        minicnn.zeros(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        minicnn.zeros(2).cuda()
    with pytest.raises(ValueError, match="device"):
        minicnn.device("tpu")


def test_device_spellings_match_torch():
    torch = require_torch()
    for spec in ["cpu", "cuda", "cuda:1", 0, 2]:
        assert str(minicnn.device(spec)) == str(torch.device(spec)), spec
    assert minicnn.device(minicnn.device("cuda", 1)) == "cuda:1"
    with pytest.raises(ValueError, match="must not be negative, got -1"):
        minicnn.device(-1)
    with pytest.raises(TypeError, match="got True"):
        minicnn.device(True)
    for spec in [None, 0, "cuda:0", minicnn.device("cuda")]:  # waits for the GPU; nothing to wait for on a CPU
        minicnn.cuda.synchronize(spec)
        minicnn.accelerator.synchronize(spec)


def test_detach_clone_contiguous():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.array, x.array)
    c = x.clone()
    assert c.requires_grad and not np.shares_memory(c.array, x.array)
    (c * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    t = minicnn.zeros(3, 4).t()
    assert not t.array.flags.c_contiguous and t.contiguous().array.flags.c_contiguous


def test_inplace_helpers():
    x = minicnn.ones(3)
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(2.0)
    x.add_(minicnn.ones(3), alpha=3)
    assert x.tolist() == [5, 5, 5]
    x.mul_(2).sub_(1).div_(3)
    assert x.tolist() == [3, 3, 3]
    x[1] = 7.0
    assert x.tolist() == [3, 7, 3]
    x.copy_(np.array([1.0, 2.0, 3.0]))
    assert x.tolist() == [1, 2, 3]
    assert x.requires_grad_().requires_grad


def test_getitem_matches_numpy():
    torch = require_torch()
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    indices = [
        1,
        -1,
        (1, 2),
        slice(None, None, 2),
        (slice(1, 3), None, Ellipsis, 0),
        (Ellipsis, 1),
        np.array([0, 2, 2]),
        (np.array([0, 1]), np.array([3, 1])),
        data[:, 0, 0] > 10,
        [2, 0],
    ]
    for index in indices:
        ours = minicnn.tensor(data)[index]
        torch_index = (
            torch.tensor(index)
            if isinstance(index, np.ndarray)
            else (
                tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in index)
                if isinstance(index, tuple)
                else index
            )
        )
        np.testing.assert_array_equal(ours.numpy(), torch.tensor(data)[torch_index].numpy(), err_msg=str(index))
    with pytest.raises(IndexError, match="shape"):
        minicnn.tensor(data)[5]


def test_getitem_with_tensor_index():
    x = minicnn.arange(10).float()
    assert x[minicnn.tensor([1, 3])].tolist() == [1.0, 3.0]
    assert x[x > 7].tolist() == [8.0, 9.0]


def test_comparisons_give_bool_tensors():
    a, b = minicnn.tensor([1.0, 2.0, 3.0]), minicnn.tensor([3.0, 2.0, 1.0])
    assert (a == b).tolist() == [False, True, False] and (a == b).dtype == minicnn.bool
    assert (a != b).tolist() == [True, False, True]
    assert (a < b).tolist() == [True, False, False] and (a <= 2).tolist() == [True, True, False]
    assert (a > b).tolist() == [False, False, True] and (a >= 2).tolist() == [False, True, True]
    assert ((a == b).float().sum()).item() == 1.0  # the accuracy idiom
    with pytest.raises(ValueError, match="broadcast"):
        _ = a == minicnn.zeros(2)


def test_repr_in_pytorch_style():
    assert repr(minicnn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(minicnn.tensor([1.5, -2.25])) == "tensor([ 1.5000, -2.2500])"
    assert repr(minicnn.tensor(3.0)) == "tensor(3.)"
    assert repr(minicnn.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(minicnn.tensor([True, False])) == "tensor([ True, False])"
    assert repr(minicnn.tensor([1.0], dtype=minicnn.float64)) == "tensor([1.], dtype=minicnn.float64)"
    assert repr(minicnn.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    x = minicnn.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(minicnn.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert "..." in repr(minicnn.zeros(2000))


def test_len_iter_and_bool():
    x = minicnn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert bool(minicnn.tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError):
        len(minicnn.tensor(1.0))


def test_integer_and_float_promotion():
    i = minicnn.tensor([1, 2])
    f = minicnn.tensor([0.5, 0.5])
    assert (i + f).dtype == minicnn.float32
    assert (i * 0.5).dtype == minicnn.float32
    assert (i / 2).dtype == minicnn.float32 and (i / 2).tolist() == [0.5, 1.0]
    assert (i + 1).dtype == minicnn.int64
    assert (f.double() + f).dtype == minicnn.float64
    assert (2 * f).dtype == minicnn.float32 and (np.float32(2) * f).dtype == minicnn.float32


def test_top_level_functions():
    x = minicnn.tensor([[1.0, 5.0], [7.0, 3.0]])
    values, indices = minicnn.max(x, 1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert minicnn.max(x, dim=0).indices.tolist() == [1, 0]
    assert minicnn.min(x).item() == 1.0 and minicnn.argmax(x).item() == 2
    assert minicnn.argmax(x, dim=1).tolist() == [1, 0]
    assert minicnn.sum(x).item() == 16.0 and minicnn.mean(x, 0).tolist() == [4.0, 4.0]
    assert minicnn.cat([x, x], dim=1).shape == (2, 4) and minicnn.stack([x, x]).shape == (2, 2, 2)
    assert minicnn.where(x > 2, x, minicnn.zeros(2, 2)).tolist() == [[0.0, 5.0], [7.0, 3.0]]
    assert minicnn.matmul(x, x).tolist() == (x.numpy() @ x.numpy()).tolist()
    assert minicnn.relu(x - 4).tolist() == [[0.0, 1.0], [3.0, 0.0]]
    np.testing.assert_allclose(minicnn.sigmoid(x).numpy(), 1 / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(minicnn.tanh(x).numpy(), np.tanh(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(minicnn.exp(x).numpy(), np.exp(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(minicnn.log(x).numpy(), np.log(x.numpy()), rtol=1e-6)
    assert minicnn.float32 == np.float32 and minicnn.long == np.int64 and minicnn.bool == np.bool_


def test_tensor_constructor_follows_torch_tensor():
    assert minicnn.Tensor([1, 2]).dtype == minicnn.float32 and minicnn.Tensor(2, 3).shape == (2, 3)
    assert minicnn.Tensor().shape == (0,) and minicnn.Tensor(np.arange(3)).dtype == np.int64

    @minicnn.no_grad
    def doubled(t):
        return t * 2

    assert not doubled(minicnn.ones(2, requires_grad=True)).requires_grad and minicnn.is_grad_enabled()


def test_topk_gather_repeat_masked_fill_match_torch():
    torch = require_torch()
    from tests.helpers import compare_with_torch, gradcheck

    x = np.random.default_rng(0).permutation(24).reshape(4, 6).astype(np.float32)
    compare_with_torch(lambda t: t.topk(3, 1)[0], lambda t: t.topk(3, 1)[0], [x])
    compare_with_torch(lambda t: t.topk(2, 0, largest=False)[0], lambda t: t.topk(2, 0, largest=False)[0], [x])
    assert (minicnn.tensor(x).topk(3, 1)[1].numpy() == torch.tensor(x).topk(3, 1)[1].numpy()).all()
    index = np.array([[0, 0, 5], [1, 2, 3], [4, 4, 4], [5, 0, 1]])
    compare_with_torch(lambda t: t.gather(1, minicnn.tensor(index)), lambda t: t.gather(1, torch.tensor(index)), [x])
    assert gradcheck(lambda t: t.gather(1, minicnn.tensor(index)), [x.astype(np.float64)])
    compare_with_torch(lambda t: t.repeat(2, 3), lambda t: t.repeat(2, 3), [x])
    compare_with_torch(
        lambda t: t.masked_fill(minicnn.tensor(x > 10), -1.0), lambda t: t.masked_fill(torch.tensor(x > 10), -1.0), [x]
    )
    with pytest.raises(ValueError, match="topk: k=7"):
        minicnn.tensor(x).topk(7, 1)
    with pytest.raises(ValueError, match="gather: index"):
        minicnn.tensor(x).gather(1, minicnn.tensor([0, 1]))
