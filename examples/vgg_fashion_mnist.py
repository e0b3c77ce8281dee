"""Train a VGG of the reference notes on Fashion-MNIST (falls back to the bundled MNIST sample).

The notes resize the 28x28 images to 224 and divide every width by 8 to fit in memory; on a CPU the
default here is 32x32 (five 2x2 pools leave 1x1). `--resize 224` reproduces the notes.
"""

from common import load_data, loaders, parser, seed_everything, train_and_report

import minicnn
from minicnn.models import VGG
from minicnn.vision.transforms import Resize


def main(argv=None):
    p = parser(
        __doc__.splitlines()[0], batch_size=64, epochs=10, lr=0.001, default_data="auto", name="vgg_fashion_mnist"
    )
    p.add_argument("--config", type=int, choices=[11, 13, 16, 19], default=11, help="VGG depth (default 11)")
    p.add_argument("--width-divisor", type=int, default=8, help="divide every width by this (default 8)")
    p.add_argument("--resize", type=int, default=32, help="input side, a multiple of 32 (default 32; notes: 224)")
    args = p.parse_args(argv)
    seed_everything(args.seed)
    train_set, test_set, kind = load_data(
        args, normalize=((0.2860,), (0.3530,)), transform=Resize(args.resize), fallback_kind="fashion-mnist"
    )
    train_loader, test_loader, _ = loaders(args, train_set, test_set)
    model = VGG(args.config, num_classes=10, in_channels=1, input_size=args.resize, width_divisor=args.width_divisor)
    print(f"Data: {kind}, resized to {args.resize}x{args.resize}")
    print(model)
    optimizer = minicnn.optim.Adam(model.parameters(), lr=args.lr)
    train_and_report(model, optimizer, args, train_loader, test_loader)


if __name__ == "__main__":
    main()
