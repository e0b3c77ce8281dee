"""The Keras-style CNN of the reference notes, with Keras' layer names as attribute names."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class KerasStyleCNN(nn.Module):
    """Conv(32, 3x3, relu) -> MaxPool(2) -> Conv(64, 3x3, relu) -> MaxPool(2) -> Flatten -> Dense(10).

    Keras puts the softmax in the last Dense layer; here the model returns logits and the softmax lives
    in ``CrossEntropyLoss`` (the stable way to combine them). ``predict_proba`` gives the probabilities.

    Shape:
        input (N, 1, 28, 28): 28 -> 26 -> 13 -> 11 -> 5, so 64 * 5 * 5 = 1600 features; output (N, 10).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, 32, kernel_size=3)
        self.max_pooling2d = nn.MaxPool2d(2)
        self.conv2d_1 = nn.Conv2d(32, 64, kernel_size=3)
        self.max_pooling2d_1 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.dense = nn.Linear(64 * 5 * 5, num_classes)

    def forward(self, x):
        x = self.max_pooling2d(F.relu(self.conv2d(x)))
        x = self.max_pooling2d_1(F.relu(self.conv2d_1(x)))
        return self.dense(self.flatten(x))

    def predict_proba(self, x):
        return F.softmax(self.forward(x), dim=1)
