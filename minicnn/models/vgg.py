"""VGG-11/13/16/19 as in the reference notes (Fashion-MNIST, widths divided to fit memory), and
torchvision's ``vgg11_bn``/``vgg16_bn`` with torchvision's state_dict keys."""

from __future__ import annotations

from .. import nn

# numbers are conv output channels, "M" a 2x2 max-pool
CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _config(depth) -> list:
    key = int(str(depth).upper().replace("VGG", ""))
    if key not in CONFIGS:
        raise ValueError(f"VGG: depth must be one of 11, 13, 16, 19 (or 'VGG11' ...), got {depth!r}")
    return CONFIGS[key]


def make_features(
    config, in_channels: int, width_divisor: int = 1, batch_norm: bool = True, conv_bias: bool = False
) -> nn.Sequential:
    """The convolutional part: each number a 3x3 conv (pad 1) [+ BatchNorm] + ReLU, each "M" a 2x2 max-pool."""
    layers, channels = [], in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        width = item // width_divisor
        layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=conv_bias or not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU(inplace=True))
        channels = width
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG of the reference notes.

    Args:
        depth: 11, 13, 16 or 19 (or 'VGG11' ...).
        num_classes: outputs (10 for Fashion-MNIST).
        in_channels: 1 for grey images.
        input_size: side of the square input (224 in the notes; 32 works: five pools leave 1x1).
        width_divisor: divide every width, conv channels and the 4096 hidden units, by this (8 in the notes).
        batch_norm: conv (no bias) + BatchNorm + ReLU when True, conv (with bias) + ReLU when False.

    Shape:
        input (N, in_channels, input_size, input_size); output (N, num_classes).
    """

    def __init__(
        self,
        depth=11,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 224,
        width_divisor: int = 1,
        batch_norm: bool = True,
        dropout: float = 0.5,
    ):
        super().__init__()
        config = _config(depth)
        if input_size % 32:
            raise ValueError(f"VGG: input_size must be a multiple of 32 (five 2x2 pools), got {input_size}")
        self.features = make_features(config, in_channels, width_divisor, batch_norm)
        last_channels = config[-2] // width_divisor
        side = input_size // 32
        hidden = 4096 // width_divisor
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(last_channels * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def vgg11(**kwargs) -> VGG:
    return VGG(11, **kwargs)


def vgg13(**kwargs) -> VGG:
    return VGG(13, **kwargs)


def vgg16(**kwargs) -> VGG:
    return VGG(16, **kwargs)


def vgg19(**kwargs) -> VGG:
    return VGG(19, **kwargs)


class TorchvisionVGG(nn.Module):
    """torchvision's VGG layout (features, avgpool to 7x7, classifier) and initialisation."""

    def __init__(
        self, depth=11, num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = True, dropout: float = 0.5
    ):
        super().__init__()
        self.features = make_features(_config(depth), in_channels, 1, batch_norm, conv_bias=True)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.constant_(module.bias, 0)

    def _get_name(self):
        return "VGG"

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def vgg11_bn(num_classes: int = 1000, **kwargs) -> TorchvisionVGG:
    """Same keys and shapes as ``torchvision.models.vgg11_bn(weights=None)``."""
    return TorchvisionVGG(11, num_classes=num_classes, **kwargs)


def vgg16_bn(num_classes: int = 1000, **kwargs) -> TorchvisionVGG:
    """Same keys and shapes as ``torchvision.models.vgg16_bn(weights=None)``."""
    return TorchvisionVGG(16, num_classes=num_classes, **kwargs)
