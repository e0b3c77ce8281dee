"""The model-equality tests of test_models.py again, with every op through its textbook Function.

``minicnn.textbook()`` switches the fast kernels (ops/fast/) off; the reference networks must then give
PyTorch's numbers exactly as in the default mode: logits, loss, every gradient, three optimizer steps,
BatchNorm running statistics and eval logits, with the same tolerances.
"""

import pytest

import minicnn
from tests.test_models import (  # noqa: F401  (collected again here, under the fixture below)
    test_network_equals_pytorch_twin,
    test_three_optimizer_steps_equal_pytorch,
    test_three_sgd_steps_equal_pytorch_in_float32,
)


@pytest.fixture(autouse=True)
def textbook_mode():
    with minicnn.textbook():
        yield


def test_the_textbook_mode_is_on_here():
    x = minicnn.randn(1, 1, 6, 6, requires_grad=True)
    conv = minicnn.nn.Conv2d(1, 2, 3)
    pooled = minicnn.nn.functional.max_pool2d(conv(x), 2)
    assert pooled.grad_fn.function.__name__ == "MaxPool2d"
    assert pooled.grad_fn.next_functions[0].function.__name__ == "Conv2d"
