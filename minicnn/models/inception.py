"""The Inception-A net of the reference notes: two Inception-A blocks between plain conv layers (MNIST)."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat


class InceptionA(nn.Module):
    """Four parallel branches concatenated on channels: 16 + 24 + 24 + 24 = 88 output channels.

    [1x1 -> 16], [1x1 -> 16, 5x5 pad 2 -> 24], [1x1 -> 16, 3x3 pad 1 -> 24, 3x3 pad 1 -> 24],
    [avg_pool 3x3 stride 1 pad 1, 1x1 -> 24]. Every branch keeps H and W, so they can be concatenated.
    """

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)
        self.branch3x3_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3 = self.branch3x3_3(self.branch3x3_2(self.branch3x3_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return cat([branch1x1, branch5x5, branch3x3, branch_pool], dim=1)


class InceptionNet(nn.Module):
    """Conv2d(1, 10, 5) -> MaxPool -> ReLU -> InceptionA(10) -> Conv2d(88, 20, 5) -> MaxPool -> ReLU
    -> InceptionA(20) -> Linear(1408, 10).

    Shape:
        input (N, 1, 28, 28): 28 -> 24 -> 12 -> 8 -> 4, so 88 * 4 * 4 = 1408 features; output (N, 10).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(88, 20, kernel_size=5)
        self.incep1 = InceptionA(in_channels=10)
        self.incep2 = InceptionA(in_channels=20)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(1408, num_classes)

    def forward(self, x):
        in_size = x.size(0)
        x = F.relu(self.mp(self.conv1(x)))
        x = self.incep1(x)
        x = F.relu(self.mp(self.conv2(x)))
        x = self.incep2(x)
        x = x.view(in_size, -1)
        return self.fc(x)
