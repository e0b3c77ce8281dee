"""The reference networks (see DESIGN.md), plus torchvision-compatible VGG-BN and ResNet-18."""

from .cnn import SeedCNN
from .inception import InceptionA, InceptionNet
from .keras_style import KerasStyleCNN
from .lenet import LeNet
from .resnet import BasicBlock, ResidualBlock, ResidualNet, ResNet, resnet18
from .vgg import VGG, TorchvisionVGG, vgg11, vgg11_bn, vgg13, vgg16, vgg16_bn, vgg19

__all__ = [
    "BasicBlock",
    "InceptionA",
    "InceptionNet",
    "KerasStyleCNN",
    "LeNet",
    "ResNet",
    "ResidualBlock",
    "ResidualNet",
    "SeedCNN",
    "TorchvisionVGG",
    "VGG",
    "resnet18",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg16",
    "vgg16_bn",
    "vgg19",
]
