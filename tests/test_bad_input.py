"""No bare library error reaches a user: every public layer of ``minicnn.nn`` and every ``F.*`` function, fed
wrong shapes, dtypes, devices (as strings) and argument values, gives PyTorch's result or raises a ValueError,
TypeError or RuntimeError whose message names the layer or function; never a NumPy AxisError, a broadcasting
error or an IndexError from inside an op.

Each example draws one call (the input's shape and dtype, the arguments) and makes it in both libraries.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from tests.helpers import require_torch

DTYPES = ["float32", "float64", "int64", "bool"]
DEVICES = [None, "cpu", "cuda", "cuda:7", "gpu", "bogus"]
DEVICE = st.sampled_from(DEVICES)
INTS = st.sampled_from([1, 2, 3, 0, -1, 2.5, "2", None, (1, 2), (2, 2, 2), (0, 1)])
SMALL = st.sampled_from([1, 2, 3])
FLOATS = st.sampled_from([0.0, 0.1, 0.5, 1.0, 1.5, -0.5, math.nan, math.inf, "x", None])
DIMS = st.sampled_from([0, 1, -1, 2, 3, -4, 5, None, 1.5, "x"])


@st.composite
def array_specs(draw, max_rank=5):
    """(shape, dtype) of an input: any rank up to ``max_rank``, sizes 0-4, floating or not."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=max_rank)))
    return shape, draw(st.sampled_from(DTYPES))


def make_array(spec, seed):
    shape, dtype = spec
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype == "int64":
        return np.asarray(rng.integers(0, 3, shape))
    return np.asarray(rng.standard_normal(shape) + 0.1, dtype=dtype)  # + 0.1: away from ReLU's kink at 0


def to_library(value, library):
    """Arrays become tensors of ``library``; everything else passes through."""
    if isinstance(value, np.ndarray):
        return library.tensor(value)
    if isinstance(value, tuple) and value and value[0] == "tensor-list":  # a plain list where a tensor belongs
        return value[1].tolist()
    return value


# Each case: (names the error may use, strategy of a call description, call(library, description) -> output).
# A description is a dict of plain values and NumPy arrays, built once and handed to both libraries.


def f_case(name, **arguments):
    """F.<name>(input, **arguments); arguments are strategies."""

    @st.composite
    def describe(draw):
        return {"input": draw(array_specs()), **{k: draw(v) for k, v in arguments.items()}}

    def call(library, d, seed):
        inputs = to_library(make_array(d["input"], seed), library)
        rest = {k: to_library(make_array(v, seed + 1), library) if _is_spec(v) else v for k, v in d.items()}
        rest.pop("input")
        return getattr(library.nn.functional, name)(inputs, **rest)

    return name, [name], describe(), call


def _is_spec(value):
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) and value[1] in DTYPES


def layer_case(name, *arguments, functional=None, **keywords):
    """nn.<name>(*arguments, **keywords)(input); the parameters copied from PyTorch's layer."""

    @st.composite
    def describe(draw):
        return {
            "input": draw(array_specs()),
            "args": [draw(a) for a in arguments],
            "kwargs": {k: draw(v) for k, v in keywords.items()},
            "target": draw(array_specs(max_rank=3)),
        }

    def call(library, d, seed):
        layer = getattr(library.nn, name)(*d["args"], **d["kwargs"])
        if library is minicnn and TWINS.get("layer") is not None:
            layer.load_state_dict({k: v.detach().numpy() for k, v in TWINS["layer"].state_dict().items()})
        TWINS["layer"] = layer if library is not minicnn else None
        inputs = to_library(make_array(d["input"], seed), library)
        if name.endswith("Loss"):
            return layer(inputs, to_library(make_array(d["target"], seed + 1), library))
        return layer(inputs)

    return name, [name, functional or name.lower()], describe(), call


TWINS = {}  # the PyTorch layer just built, whose parameters the minicnn layer copies

POOL = dict(kernel_size=INTS, stride=st.sampled_from([None, 1, 2, 0, -1, (1, 2)]), padding=INTS)
CASES = [
    f_case("relu"),
    f_case("sigmoid"),
    f_case("tanh"),
    f_case("leaky_relu", negative_slope=FLOATS),
    f_case("softmax", dim=DIMS),
    f_case("log_softmax", dim=DIMS),
    f_case("linear", weight=array_specs(3), bias=st.none() | array_specs(2)),
    f_case(
        "conv2d",
        weight=array_specs(5),
        bias=st.none() | array_specs(2),
        stride=INTS,
        padding=st.sampled_from([0, 1, -1, "same", "valid", "bogus", (1, 1), (1,)]),
        dilation=INTS,
        groups=INTS,
    ),
    f_case("max_pool2d", **POOL, ceil_mode=st.booleans()),
    f_case("avg_pool2d", **POOL, ceil_mode=st.booleans(), divisor_override=st.sampled_from([None, 1, 0, -2])),
    f_case("adaptive_avg_pool2d", output_size=INTS),
    f_case("adaptive_max_pool2d", output_size=INTS),
    f_case(
        "batch_norm",
        running_mean=array_specs(2),
        running_var=st.just(((2,), "float32")) | array_specs(2),
        weight=st.none() | array_specs(2),
        training=st.booleans(),
        momentum=FLOATS,
        eps=FLOATS,
    ),
    f_case("cross_entropy", target=array_specs(3), reduction=st.sampled_from(["mean", "sum", "none", "bogus"])),
    f_case("nll_loss", target=array_specs(3), ignore_index=st.sampled_from([-100, 0, 1])),
    f_case("mse_loss", target=array_specs(4)),
    f_case("l1_loss", target=array_specs(4)),
    f_case("binary_cross_entropy_with_logits", target=array_specs(4)),
    f_case("pad", pad=st.sampled_from([(1,), (1, 1), (0, 1, 2, 0), (-1, 1), (1, 1, 1, 1, 1, 1, 1, 1), 1, "x"])),
    layer_case("Conv2d", SMALL, SMALL, INTS, stride=INTS, padding=INTS, groups=INTS, device=DEVICE),
    layer_case("Linear", SMALL | INTS, SMALL, device=DEVICE),
    layer_case("BatchNorm1d", SMALL | INTS, eps=FLOATS, momentum=FLOATS, functional="batch_norm"),
    layer_case("BatchNorm2d", SMALL | INTS, affine=st.booleans(), device=DEVICE, functional="batch_norm"),
    layer_case("MaxPool2d", INTS, stride=st.sampled_from([None, 1, 2, 0]), functional="max_pool2d"),
    layer_case("AvgPool2d", INTS, padding=INTS, functional="avg_pool2d"),
    layer_case("AdaptiveAvgPool2d", INTS, functional="adaptive_avg_pool2d"),
    layer_case("AdaptiveMaxPool2d", INTS, functional="adaptive_max_pool2d"),
    layer_case("Flatten", DIMS, DIMS),
    layer_case("Softmax", DIMS),
    layer_case("LogSoftmax", DIMS, functional="log_softmax"),
    layer_case("LeakyReLU", FLOATS, functional="leaky_relu"),
    layer_case("ReLU"),
    layer_case("Sigmoid"),
    layer_case("Tanh"),
    layer_case("Identity"),
    layer_case("Dropout", FLOATS),
    layer_case("Dropout2d", FLOATS),
    layer_case("CrossEntropyLoss", functional="cross_entropy"),
    layer_case("NLLLoss", functional="nll_loss"),
    layer_case("MSELoss", functional="mse_loss"),
    layer_case("L1Loss", functional="l1_loss"),
    layer_case("BCEWithLogitsLoss", functional="binary_cross_entropy_with_logits"),
]  # fmt: skip
RANDOM = {"Dropout", "Dropout2d"}  # outputs compared by shape and dtype only


def outcome(call, library, description, seed):
    try:
        return call(library, description, seed), None
    except Exception as error:  # noqa: BLE001 - the kind of error is the point
        return None, error


def bare_library_error(error) -> bool:
    """An error raised from deep inside NumPy rather than by a check at the door."""
    text = str(error)
    return (
        isinstance(error, (np.exceptions.AxisError, IndexError, KeyError, AttributeError, ZeroDivisionError))
        or "could not be broadcast" in text
        or "zero-size array" in text
        or "object has no attribute" in text
    )


@pytest.mark.filterwarnings("ignore")  # PyTorch's warnings about odd arguments are not what is tested here
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_gives_pytorchs_result_or_a_clear_error(case):
    torch = require_torch()
    name, names, describe, call = case

    @settings(
        deadline=None
    )  # examples per case: the profile's (25, derandomized; 300 with HYPOTHESIS_PROFILE=thorough)
    @given(description=describe, seed=st.integers(0, 2**16))
    def check(description, seed):
        TWINS.clear()
        theirs, their_error = outcome(call, torch, description, seed)
        ours, our_error = outcome(call, minicnn, description, seed)
        where = f"{name} with {description}"
        if our_error is not None:
            if isinstance(our_error, IndexError) and (
                "out of range" in str(our_error) or "out of bounds" in str(our_error)
            ):
                pass  # a dim or class index out of range: the door check raises PyTorch's own exception type
            else:
                assert isinstance(our_error, (ValueError, TypeError, RuntimeError)), f"{where}: {our_error!r}"
                assert not bare_library_error(our_error), f"{where}: a bare library error {our_error!r}"
            assert any(n in str(our_error) for n in names), f"{where}: {our_error!r} names none of {names}"
            return
        assert their_error is None, f"{where}: PyTorch raised {their_error!r}, minicnn returned {ours!r}"
        assert tuple(ours.shape) == tuple(theirs.shape), f"{where}: shape {ours.shape} vs {tuple(theirs.shape)}"
        their_array = theirs.detach().numpy()
        float_dtypes = {v[1] for v in description.values() if _is_spec(v) and v[1].startswith("float")}
        if len(float_dtypes) == 1:  # mixed float32/float64 inputs: PyTorch's losses disagree among themselves
            assert ours.dtype == their_array.dtype, f"{where}: dtype {ours.dtype} vs {their_array.dtype}"
        if name not in RANDOM:
            np.testing.assert_allclose(ours.detach().numpy(), their_array, rtol=1e-4, atol=1e-5, err_msg=where)

    check()
