"""Train the seed CNN of the reference notes on MNIST digits.

    conv 1->8 5x5 pad 2 -> BatchNorm -> ReLU -> max-pool 2 -> linear 1568->10, Adam 1e-3, batch 64, 10 epochs

With no dataset on disk it trains on the 5,000 real MNIST digits bundled with minicnn, offline.
    python examples/mnist_cnn.py                   # the bundled sample
    python examples/mnist_cnn.py --data mnist --download
"""

from common import load_data, loaders, parser, seed_everything, train_and_report

import minicnn
from minicnn.models import SeedCNN


def main(argv=None):
    args = parser(__doc__.splitlines()[0], batch_size=64, epochs=10, lr=0.001, name="mnist_cnn").parse_args(argv)
    seed_everything(args.seed)
    train_set, test_set, kind = load_data(args, normalize=((0.1307,), (0.3081,)))
    train_loader, test_loader, _ = loaders(args, train_set, test_set)
    model = SeedCNN()
    print(f"Data: {kind}, {len(train_set)} training and {len(test_set)} test images")
    print(model)
    optimizer = minicnn.optim.Adam(model.parameters(), lr=args.lr)
    train_and_report(model, optimizer, args, train_loader, test_loader)


if __name__ == "__main__":
    main()
