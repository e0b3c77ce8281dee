"""Shape ops: view/reshape, flatten, squeeze/unsqueeze, transpose/permute, expand, getitem, cat, stack, pad."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from tests.helpers import DEVICES, compare_with_torch, gradcheck, require_torch

# name, our function, torch function: each of one tensor of shape (2, 3, 4)
CASES = [
    ("view", lambda x: x.view(6, -1), lambda x: x.view(6, -1)),
    ("reshape", lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    ("flatten", lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("unsqueeze_squeeze", lambda x: x.unsqueeze(1).squeeze(), lambda x: x.unsqueeze(1).squeeze()),
    ("squeeze_dim", lambda x: x.unsqueeze(-1).squeeze(-1), lambda x: x.unsqueeze(-1).squeeze(-1)),
    ("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2)),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("T", lambda x: x.T, lambda x: x.permute(2, 1, 0)),
    ("expand", lambda x: x[:, :1].expand(2, 5, 4), lambda x: x[:, :1].expand(2, 5, 4)),
    ("contiguous", lambda x: x.transpose(0, 1).contiguous(), lambda x: x.transpose(0, 1).contiguous()),
    ("getitem_slices", lambda x: x[1:, ::2, -3:], lambda x: x[1:, ::2, -3:]),
    ("getitem_none_ellipsis", lambda x: x[None, ..., 1], lambda x: x[None, ..., 1]),
    ("getitem_int_array", lambda x: x[[0, 0, 1]], lambda x: x[[0, 0, 1]]),  # a repeated row: gradients add
    ("getitem_two_arrays", lambda x: x[:, [0, 2, 2], [1, 1, 3]], lambda x: x[:, [0, 2, 2], [1, 1, 3]]),
    ("pad", lambda x: F.pad(x, (1, 2, 0, 1)), lambda x: __import__("torch").nn.functional.pad(x, (1, 2, 0, 1))),
    (
        "pad_value",
        lambda x: F.pad(x, (2, 0), value=1.5),
        lambda x: __import__("torch").nn.functional.pad(x, (2, 0), value=1.5),
    ),
]


@pytest.mark.parametrize("name, ours, theirs", CASES, ids=[c[0] for c in CASES])
def test_shape_op_gradcheck(name, ours, theirs):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert gradcheck(ours, [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, ours, theirs", CASES, ids=[c[0] for c in CASES])
def test_shape_op_matches_torch(name, ours, theirs, device):
    require_torch()
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    compare_with_torch(ours, theirs, [x], device=device)


def test_boolean_mask_getitem():
    torch = require_torch()
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    mask = x > 0
    compare_with_torch(lambda t: t[minicnn.tensor(mask)], lambda t: t[torch.tensor(mask)], [x])
    assert gradcheck(lambda t: t[minicnn.tensor(mask)], [x.astype(np.float64)])


@given(
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    dim=st.integers(0, 2),
    stack=st.booleans(),
)
def test_cat_and_stack_match_torch(sizes, dim, stack):
    torch = require_torch()
    rng = np.random.default_rng(3)
    if stack:
        arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in sizes]
        ours, theirs = (lambda *ts: minicnn.stack(list(ts), dim)), (lambda *ts: torch.stack(list(ts), dim))
    else:
        arrays = [rng.standard_normal([size if d == dim else 2 for d in range(3)]).astype(np.float32) for size in sizes]
        ours, theirs = (lambda *ts: minicnn.cat(list(ts), dim)), (lambda *ts: torch.cat(list(ts), dim))
    compare_with_torch(ours, theirs, arrays)
    assert gradcheck(ours, [a.astype(np.float64) for a in arrays])


def test_view_with_minus_one_and_size():
    x = minicnn.zeros(64, 8, 14, 14)
    assert x.view(x.size(0), -1).shape == (64, 1568)
    assert x.reshape((8, -1, 14)).shape == (8, 896, 14)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: x.view(5, -1), ValueError, r"shape \[5, -1\] is invalid for input of shape \(2, 3, 4\)"),
        (lambda x: x.view(-1, -1), ValueError, "only one dimension can be inferred"),
        (lambda x: x.reshape(7), ValueError, "invalid for input"),
        (lambda x: x.permute(0, 1), ValueError, "permute: dims"),
        (lambda x: x.permute(0, 1, 1), ValueError, "not a permutation"),
        (lambda x: x.transpose(0, 3), IndexError, "transpose: dimension out of range"),
        (lambda x: x.unsqueeze(5), IndexError, "unsqueeze"),
        (lambda x: x.expand(5, 3, 4), ValueError, "expand: cannot expand"),
        (lambda x: minicnn.cat([x, minicnn.zeros(2, 2, 2)], 1), ValueError, r"cat: sizes must match"),
        (lambda x: minicnn.cat(x), TypeError, "list or tuple"),
        (lambda x: minicnn.cat([]), ValueError, "non-empty"),
        (lambda x: minicnn.stack([x, minicnn.zeros(2, 3)]), ValueError, "stack: expects each tensor"),
        (lambda x: F.pad(x, (1,)), ValueError, "pad: padding length"),
        (lambda x: F.pad(x, (1, 1), mode="reflect"), ValueError, "constant"),
        (lambda x: F.pad(x, (-1, 1)), ValueError, "negative"),
        (lambda x: x[3], IndexError, r"shape \(2, 3, 4\)"),
        (lambda x: x.flatten(2, 1), ValueError, "flatten"),
    ],
)
def test_shape_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(minicnn.zeros(2, 3, 4))


def test_repeated_indices_in_a_tuple_add_their_gradients():
    torch = require_torch()
    x = np.random.default_rng(4).standard_normal((3, 2)).astype(np.float32)
    compare_with_torch(lambda t: t[[0, 0], :], lambda t: t[[0, 0], :], [x])
    compare_with_torch(lambda t: t[:, [1, 1, 0]], lambda t: t[:, [1, 1, 0]], [x])
    assert torch is not None


def test_index_bounds_and_expand_leading_minus_one_are_errors():
    x = minicnn.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[minicnn.tensor([0, 5])]
    with pytest.raises(IndexError, match="dimension 1 with size 4"):
        x[:, [0, -5]]
    with pytest.raises(IndexError, match="dimension 1"):
        x[..., minicnn.tensor([4])]
    with pytest.raises(ValueError, match="new leading dimension"):
        minicnn.ones(3).expand(-1, 3)
