# ruff: noqa: UP008, B007  (the chapters' own spelling: super(Class, self), unused loop variables)
"""The networks of Dive into Deep Learning's CNN chapters (PyTorch edition), as the chapters write them.

``chapter_networks(torch, nn, F)`` runs the chapters' model code against a library: PyTorch itself, or minicnn
imported the way docs/d2l.md tells a learner (``import minicnn as torch``). The book's ``d2l.Classifier`` is
reduced to what the models use: a module holding ``self.net`` that it calls in ``forward``. ``width`` divides
the channel counts (1 = the chapter's own); the tests use it to keep the largest networks small.
"""

from __future__ import annotations


def chapter_networks(torch, nn, F, width: int = 1) -> dict:
    """The chapters' networks built on the given library, as ``{name: constructor}``."""

    def w(channels: int) -> int:
        return max(channels // width, 1)

    def init_cnn(module):  # lenet.md: Xavier for conv and linear weights
        if type(module) == nn.Linear or type(module) == nn.Conv2d:  # noqa: E721  (the book's test)
            nn.init.xavier_uniform_(module.weight)

    class Classifier(nn.Module):  # d2l.Classifier, reduced to the network part
        def forward(self, X):
            return self.net(X)

        def layer_summary(self, X_shape_or_X):
            X = X_shape_or_X if not isinstance(X_shape_or_X, tuple) else torch.randn(*X_shape_or_X)
            lines = []
            for layer in self.net:
                X = layer(X)
                lines.append(f"{layer.__class__.__name__} output shape:\t {X.shape!s}")
            return lines

        def apply_init(self, inputs, init=None):
            self.forward(*inputs)
            if init is not None:
                self.net.apply(init)

    # ---------------------------------------------------------------- lenet.md
    class LeNet(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
                nn.AvgPool2d(kernel_size=2, stride=2),
                nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
                nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Flatten(),
                nn.LazyLinear(120), nn.Sigmoid(),
                nn.LazyLinear(84), nn.Sigmoid(),
                nn.LazyLinear(num_classes))  # fmt: skip

    # ---------------------------------------------------------------- alexnet.md
    class AlexNet(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nn.LazyConv2d(w(96), kernel_size=11, stride=4, padding=1),
                nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LazyConv2d(w(256), kernel_size=5, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LazyConv2d(w(384), kernel_size=3, padding=1), nn.ReLU(),
                nn.LazyConv2d(w(384), kernel_size=3, padding=1), nn.ReLU(),
                nn.LazyConv2d(w(256), kernel_size=3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
                nn.LazyLinear(w(4096)), nn.ReLU(), nn.Dropout(p=0.5),
                nn.LazyLinear(w(4096)), nn.ReLU(), nn.Dropout(p=0.5),
                nn.LazyLinear(num_classes))  # fmt: skip
            self.net.apply(init_cnn)

    # ---------------------------------------------------------------- vgg.md
    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
            layers.append(nn.ReLU())
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        return nn.Sequential(*layers)

    class VGG(Classifier):
        def __init__(self, arch, num_classes=10):
            super().__init__()
            conv_blks = []
            for num_convs, out_channels in arch:
                conv_blks.append(vgg_block(num_convs, w(out_channels)))
            self.net = nn.Sequential(
                *conv_blks, nn.Flatten(),
                nn.LazyLinear(w(4096)), nn.ReLU(), nn.Dropout(0.5),
                nn.LazyLinear(w(4096)), nn.ReLU(), nn.Dropout(0.5),
                nn.LazyLinear(num_classes))  # fmt: skip
            self.net.apply(init_cnn)

    # ---------------------------------------------------------------- nin.md
    def nin_block(out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())  # fmt: skip

    class NiN(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nin_block(w(96), kernel_size=11, strides=4, padding=0),
                nn.MaxPool2d(3, stride=2),
                nin_block(w(256), kernel_size=5, strides=1, padding=2),
                nn.MaxPool2d(3, stride=2),
                nin_block(w(384), kernel_size=3, strides=1, padding=1),
                nn.MaxPool2d(3, stride=2),
                nn.Dropout(0.5),
                nin_block(num_classes, kernel_size=3, strides=1, padding=1),
                nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten())  # fmt: skip
            self.net.apply(init_cnn)

    # ---------------------------------------------------------------- googlenet.md
    class Inception(nn.Module):
        # c1--c4 are the number of output channels for each branch
        def __init__(self, c1, c2, c3, c4, **kwargs):
            super(Inception, self).__init__(**kwargs)
            self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
            self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
            self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
            self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
            self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
            self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

        def forward(self, x):
            b1 = F.relu(self.b1_1(x))
            b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
            b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
            b4 = F.relu(self.b4_2(self.b4_1(x)))
            return torch.cat((b1, b2, b3, b4), dim=1)

    class GoogleNet(Classifier):
        def b1(self):
            return nn.Sequential(
                nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3),
                nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def b2(self):
            return nn.Sequential(
                nn.LazyConv2d(64, kernel_size=1), nn.ReLU(),
                nn.LazyConv2d(192, kernel_size=3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def b3(self):
            return nn.Sequential(Inception(64, (96, 128), (16, 32), 32),
                                 Inception(128, (128, 192), (32, 96), 64),
                                 nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def b4(self):
            return nn.Sequential(Inception(192, (96, 208), (16, 48), 64),
                                 Inception(160, (112, 224), (24, 64), 64),
                                 Inception(128, (128, 256), (24, 64), 64),
                                 Inception(112, (144, 288), (32, 64), 64),
                                 Inception(256, (160, 320), (32, 128), 128),
                                 nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def b5(self):
            return nn.Sequential(Inception(256, (160, 320), (32, 128), 128),
                                 Inception(384, (192, 384), (48, 128), 128),
                                 nn.AdaptiveAvgPool2d((1,1)), nn.Flatten())  # fmt: skip

        def __init__(self, num_classes=10):
            super(GoogleNet, self).__init__()
            self.net = nn.Sequential(self.b1(), self.b2(), self.b3(), self.b4(),
                                     self.b5(), nn.LazyLinear(num_classes))  # fmt: skip
            self.net.apply(init_cnn)

    # ---------------------------------------------------------------- batch-norm.md
    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        # Use is_grad_enabled to determine whether we are in training mode
        if not torch.is_grad_enabled():
            X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / torch.sqrt(var + eps)
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var
        Y = gamma * X_hat + beta  # Scale and shift
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            if num_dims == 2:
                shape = (1, num_features)
            else:
                shape = (1, num_features, 1, 1)
            self.gamma = nn.Parameter(torch.ones(shape))
            self.beta = nn.Parameter(torch.zeros(shape))
            self.moving_mean = torch.zeros(shape)
            self.moving_var = torch.ones(shape)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.1
            )
            return Y

    class BNLeNetScratch(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nn.LazyConv2d(6, kernel_size=5), BatchNorm(6, num_dims=4),
                nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.LazyConv2d(16, kernel_size=5), BatchNorm(16, num_dims=4),
                nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Flatten(), nn.LazyLinear(120),
                BatchNorm(120, num_dims=2), nn.Sigmoid(), nn.LazyLinear(84),
                BatchNorm(84, num_dims=2), nn.Sigmoid(),
                nn.LazyLinear(num_classes))  # fmt: skip

    class BNLeNet(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(
                nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(),
                nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(),
                nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(),
                nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(),
                nn.Sigmoid(), nn.LazyLinear(num_classes))  # fmt: skip

    # ---------------------------------------------------------------- resnet.md
    class Residual(nn.Module):
        """The Residual block of ResNet models."""

        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    class ResNet(Classifier):
        def b1(self):
            return nn.Sequential(
                nn.LazyConv2d(w(64), kernel_size=7, stride=2, padding=3),
                nn.LazyBatchNorm2d(), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def block(self, num_residuals, num_channels, first_block=False):
            blk = []
            for i in range(num_residuals):
                if i == 0 and not first_block:
                    blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
                else:
                    blk.append(Residual(num_channels))
            return nn.Sequential(*blk)

        def __init__(self, arch, num_classes=10):
            super(ResNet, self).__init__()
            self.net = nn.Sequential(self.b1())
            for i, b in enumerate(arch):
                self.net.add_module(f"b{i + 2}", self.block(*b, first_block=(i == 0)))
            self.net.add_module(
                "last", nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes))
            )
            self.net.apply(init_cnn)

    class ResNet18(ResNet):
        def __init__(self, num_classes=10):
            super().__init__(((2, w(64)), (2, w(128)), (2, w(256)), (2, w(512))), num_classes)

    class ResNeXtBlock(nn.Module):
        """The ResNeXt block."""

        def __init__(self, num_channels, groups, bot_mul, use_1x1conv=False, strides=1):
            super().__init__()
            bot_channels = int(round(num_channels * bot_mul))
            self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1)
            self.conv2 = nn.LazyConv2d(
                bot_channels, kernel_size=3, stride=strides, padding=1, groups=bot_channels // groups
            )
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1)
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()
            self.bn3 = nn.LazyBatchNorm2d()
            if use_1x1conv:
                self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
                self.bn4 = nn.LazyBatchNorm2d()
            else:
                self.conv4 = None

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            if self.conv4:
                X = self.bn4(self.conv4(X))
            return F.relu(Y + X)

    # ---------------------------------------------------------------- densenet.md
    def conv_block(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, num_channels):
            super(DenseBlock, self).__init__()
            layer = []
            for i in range(num_convs):
                layer.append(conv_block(num_channels))
            self.net = nn.Sequential(*layer)

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                # Concatenate input and output of each block along the channels
                X = torch.cat((X, Y), dim=1)
            return X

    def transition_block(num_channels):
        return nn.Sequential(
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.LazyConv2d(num_channels, kernel_size=1),
            nn.AvgPool2d(kernel_size=2, stride=2))  # fmt: skip

    class DenseNet(Classifier):
        def b1(self):
            return nn.Sequential(
                nn.LazyConv2d(w(64), kernel_size=7, stride=2, padding=3),
                nn.LazyBatchNorm2d(), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip

        def __init__(self, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10):
            super(DenseNet, self).__init__()
            num_channels, growth_rate = w(num_channels), w(growth_rate)
            self.net = nn.Sequential(self.b1())
            for i, num_convs in enumerate(arch):
                self.net.add_module(f"dense_blk{i + 1}", DenseBlock(num_convs, growth_rate))
                # The number of output channels in the previous dense block
                num_channels += num_convs * growth_rate
                # A transition layer that halves the number of channels is added between the dense blocks
                if i != len(arch) - 1:
                    num_channels //= 2
                    self.net.add_module(f"tran_blk{i + 1}", transition_block(num_channels))
            self.net.add_module(
                "last",
                nn.Sequential(
                    nn.LazyBatchNorm2d(),
                    nn.ReLU(),
                    nn.AdaptiveAvgPool2d((1, 1)),
                    nn.Flatten(),
                    nn.LazyLinear(num_classes),
                ),
            )
            self.net.apply(init_cnn)

    # ---------------------------------------------------------------- cnn-design.md
    class AnyNet(Classifier):
        def stem(self, num_channels):
            return nn.Sequential(
                nn.LazyConv2d(num_channels, kernel_size=3, stride=2, padding=1), nn.LazyBatchNorm2d(), nn.ReLU()
            )

        def stage(self, depth, num_channels, groups, bot_mul):
            blk = []
            for i in range(depth):
                if i == 0:
                    blk.append(ResNeXtBlock(num_channels, groups, bot_mul, use_1x1conv=True, strides=2))
                else:
                    blk.append(ResNeXtBlock(num_channels, groups, bot_mul))
            return nn.Sequential(*blk)

        def __init__(self, arch, stem_channels, num_classes=10):
            super(AnyNet, self).__init__()
            self.net = nn.Sequential(self.stem(stem_channels))
            for i, s in enumerate(arch):
                self.net.add_module(f"stage{i + 1}", self.stage(*s))
            self.net.add_module(
                "head", nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes))
            )
            self.net.apply(init_cnn)

    class RegNetX32(AnyNet):
        def __init__(self, num_classes=10):
            stem_channels, groups, bot_mul = 32, 16, 1
            depths, channels = (4, 6), (32, 80)
            super().__init__(
                ((depths[0], channels[0], groups, bot_mul), (depths[1], channels[1], groups, bot_mul)),
                stem_channels,
                num_classes,
            )

    return {
        "init_cnn": init_cnn,
        "LeNet": LeNet,
        "AlexNet": AlexNet,
        "VGG": VGG,
        "NiN": NiN,
        "GoogleNet": GoogleNet,
        "BNLeNetScratch": BNLeNetScratch,
        "BNLeNet": BNLeNet,
        "Residual": Residual,
        "ResNet18": ResNet18,
        "ResNeXtBlock": ResNeXtBlock,
        "DenseBlock": DenseBlock,
        "transition_block": transition_block,
        "DenseNet": DenseNet,
        "RegNetX32": RegNetX32,
    }
