"""``minicnn.vision``: MNIST and Fashion-MNIST datasets and image transforms, shaped like ``torchvision``.

``from minicnn.vision import datasets, transforms`` then ``datasets.MNIST(root, train=True,
transform=transforms.ToTensor())``, or ``datasets.MNIST(None, sample=True)`` for the 5,000 real digits
bundled with minicnn (no download needed).
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
