"""Train the LeNet-style net of the reference notes on MNIST: SGD with momentum 0.9, inputs in [-1, 1].

conv 1->16 3x3 -> ReLU -> pool -> conv 16->32 3x3 -> ReLU -> pool -> fc 800->120 -> ReLU -> fc 120->10
"""

from common import load_data, loaders, parser, seed_everything, train_and_report

import minicnn
from minicnn.models import LeNet


def main(argv=None):
    args = parser(__doc__.splitlines()[0], batch_size=64, epochs=10, lr=0.001, name="lenet_mnist").parse_args(argv)
    seed_everything(args.seed)
    # Normalize((0.5,), (0.5,)) maps [0, 1] to [-1, 1], as the notes do
    train_set, test_set, kind = load_data(args, normalize=((0.5,), (0.5,)))
    train_loader, test_loader, _ = loaders(args, train_set, test_set)
    model = LeNet()
    print(f"Data: {kind}")
    print(model)
    optimizer = minicnn.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_and_report(model, optimizer, args, train_loader, test_loader)


if __name__ == "__main__":
    main()
