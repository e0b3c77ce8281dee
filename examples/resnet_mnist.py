"""Train the residual net of the reference notes on MNIST (SGD with momentum, as the notes do)."""

from common import load_data, loaders, parser, seed_everything, train_and_report

import minicnn
from minicnn.models import ResidualNet


def main(argv=None):
    args = parser(__doc__, batch_size=64, epochs=10, lr=0.01, name="resnet_mnist").parse_args(argv)
    seed_everything(args.seed)
    train_set, test_set, kind = load_data(args, normalize=((0.1307,), (0.3081,)))
    train_loader, test_loader, _ = loaders(args, train_set, test_set)
    model = ResidualNet()
    print(f"Data: {kind}")
    print(model)
    optimizer = minicnn.optim.SGD(model.parameters(), lr=args.lr, momentum=0.5)
    train_and_report(model, optimizer, args, train_loader, test_loader)


if __name__ == "__main__":
    main()
