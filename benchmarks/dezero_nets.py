"""The reference networks written in DeZero 0.0.13 (the NumPy engine of "Deep Learning from Scratch 3"),
for the DeZero column of benchmarks/train_step.py.

DeZero is not a dependency of minicnn. Install it next to the benchmarks (git-ignored):

    .venv/bin/pip install --no-deps --target benchmarks/.dezero dezero==0.0.13

DeZero has Conv2d, Linear, BatchNorm, max pooling, ReLU, dropout and softmax cross-entropy, so the seed
CNN, LeNet, the residual net, the Keras-style CNN and VGG can be written in it; the Inception net needs a
channel concatenation, which DeZero lacks. Weights are copied from the PyTorch twin, so the first loss
matches (a check that the nets are the same, not only the same size).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DEZERO_DIR = Path(__file__).resolve().parent / ".dezero"
NETWORKS = ("seed_cnn", "lenet", "residual", "keras_style", "vgg11_div8")  # those DeZero can express


def import_dezero():
    """DeZero, or None when it is not installed. It needs ``np.int``, which NumPy 1.24 removed."""
    if DEZERO_DIR.is_dir() and str(DEZERO_DIR) not in sys.path:
        sys.path.insert(0, str(DEZERO_DIR))
    if not hasattr(np, "int"):
        np.int = int  # DeZero 0.0.13 evaluates np.int at import time (a default argument)
    try:
        import dezero
        import dezero.functions  # noqa: F401
        import dezero.layers  # noqa: F401
        import dezero.optimizers  # noqa: F401
    except ImportError:
        return None
    return dezero


def build(name: str, torch_model, image_size: int = 32):
    """The DeZero twin of reference network ``name`` with the PyTorch model's weights, or None if DeZero
    cannot express it (or is not installed)."""
    dezero = import_dezero()
    if dezero is None or name not in NETWORKS:
        return None
    F, L = dezero.functions, dezero.layers

    def conv(torch_conv):
        layer = L.Conv2d(
            torch_conv.out_channels,
            torch_conv.kernel_size,
            stride=torch_conv.stride,
            pad=torch_conv.padding,
            nobias=torch_conv.bias is None,
            in_channels=torch_conv.in_channels,
        )
        layer.W.data = torch_conv.weight.detach().numpy().copy()
        if torch_conv.bias is not None:
            layer.b.data = torch_conv.bias.detach().numpy().copy()
        return layer

    def linear(torch_linear):
        layer = L.Linear(torch_linear.out_features, in_size=torch_linear.in_features)
        layer.W.data = torch_linear.weight.detach().numpy().T.copy()  # DeZero's W is (in, out)
        layer.b.data = torch_linear.bias.detach().numpy().copy()
        return layer

    def batch_norm(torch_bn):
        layer = L.BatchNorm()
        layer.gamma.data = torch_bn.weight.detach().numpy().copy()
        layer.beta.data = torch_bn.bias.detach().numpy().copy()
        layer.avg_mean.data = torch_bn.running_mean.numpy().copy()
        layer.avg_var.data = torch_bn.running_var.numpy().copy()
        return layer

    def pool(x):
        return F.pooling(x, 2, 2)

    def flatten(x):
        return F.reshape(x, (x.shape[0], -1))

    class Net(dezero.Model):
        def __init__(self):
            super().__init__()
            t = torch_model
            if name == "seed_cnn":
                self.conv, self.bn, self.fc = conv(t.layer1[0]), batch_norm(t.layer1[1]), linear(t.fc)
            elif name == "lenet":
                self.conv1, self.conv2 = conv(t.conv1), conv(t.conv2)
                self.fc1, self.fc2 = linear(t.fc1), linear(t.fc2)
            elif name == "residual":
                self.conv1, self.conv2, self.fc = conv(t.conv1), conv(t.conv2), linear(t.fc)
                self.b1c1, self.b1c2 = conv(t.rblock1.conv1), conv(t.rblock1.conv2)
                self.b2c1, self.b2c2 = conv(t.rblock2.conv1), conv(t.rblock2.conv2)
            elif name == "keras_style":
                self.conv1, self.conv2, self.dense = conv(t.conv2d), conv(t.conv2d_1), linear(t.dense)
            else:  # vgg11_div8: conv + BN + ReLU blocks and pools, then the classifier
                self.feature_layers = []
                for i, module in enumerate(t.features):
                    kind = type(module).__name__
                    if kind in ("Conv2d", "BatchNorm2d"):
                        layer = conv(module) if kind == "Conv2d" else batch_norm(module)
                        setattr(self, f"f{i}", layer)  # DeZero registers layers by attribute
                        self.feature_layers.append(layer)
                    else:
                        self.feature_layers.append(kind)  # "ReLU" or "MaxPool2d"
                self.fc1, self.fc2, self.fc3 = (linear(t.classifier[i]) for i in (1, 4, 7))

        def forward(self, x):
            if name == "seed_cnn":
                return self.fc(flatten(pool(F.relu(self.bn(self.conv(x))))))
            if name == "lenet":
                x = pool(F.relu(self.conv1(x)))
                x = pool(F.relu(self.conv2(x)))
                return self.fc2(F.relu(self.fc1(flatten(x))))
            if name == "residual":
                x = pool(F.relu(self.conv1(x)))
                x = F.relu(x + self.b1c2(F.relu(self.b1c1(x))))
                x = pool(F.relu(self.conv2(x)))
                x = F.relu(x + self.b2c2(F.relu(self.b2c1(x))))
                return self.fc(flatten(x))
            if name == "keras_style":
                x = pool(F.relu(self.conv1(x)))
                x = pool(F.relu(self.conv2(x)))
                return self.dense(flatten(x))
            for layer in self.feature_layers:
                x = F.relu(x) if layer == "ReLU" else pool(x) if layer == "MaxPool2d" else layer(x)
            x = F.dropout(F.relu(self.fc1(flatten(x))))
            x = F.dropout(F.relu(self.fc2(x)))
            return self.fc3(x)

    return Net()


def train_step(model, x, y, lr: float = 1e-3):
    """A closure running one DeZero training step: forward, softmax cross-entropy, backward, Adam."""
    dezero = import_dezero()
    optimizer = dezero.optimizers.Adam(alpha=lr).setup(model)

    def step():
        with dezero.using_config("train", True):
            loss = dezero.functions.softmax_cross_entropy(model(x), y)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        return loss

    return step
