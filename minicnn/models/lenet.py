"""The LeNet-style net of the reference notes (MNIST, SGD with momentum, inputs normalised to [-1, 1])."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class LeNet(nn.Module):
    """Conv2d(1, 16, 3) -> ReLU -> MaxPool(2) -> Conv2d(16, 32, 3) -> ReLU -> MaxPool(2)
    -> Linear(800, 120) -> ReLU -> Linear(120, 10).

    Shape:
        input (N, 1, 28, 28): 28 -> 26 -> 13 -> 11 -> 5, so 32 * 5 * 5 = 800 features; output (N, 10).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.fc1 = nn.Linear(32 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)
