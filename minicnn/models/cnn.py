"""The seed CNN of the reference notes: one conv block and a linear classifier, for 28x28 digits."""

from __future__ import annotations

from .. import nn


class SeedCNN(nn.Module):
    """Conv2d(1, 8, 5, padding=2) -> BatchNorm2d(8) -> ReLU -> MaxPool2d(2) -> flatten -> Linear(14*14*8, 10).

    Shape:
        input (N, in_channels, 28, 28); output (N, num_classes) logits.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, channels: int = 8, image_size: int = 28):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.fc = nn.Linear((image_size // 2) * (image_size // 2) * channels, num_classes)

    def forward(self, x):
        out = self.layer1(x)
        out = out.reshape(out.size(0), -1)
        return self.fc(out)
