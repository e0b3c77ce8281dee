"""The Keras-style CNN of the reference notes: Adam, batch 128, 15 epochs, 10% of the training set held out
for validation, accuracy and loss curves per epoch.

    Conv(32, 3x3, relu) -> MaxPool(2) -> Conv(64, 3x3, relu) -> MaxPool(2) -> Flatten -> Dense(10, softmax)
"""

from common import load_data, loaders, parser, seed_everything, train_and_report

import minicnn
from minicnn.models import KerasStyleCNN


def main(argv=None):
    args = parser(__doc__.splitlines()[0], batch_size=128, epochs=15, lr=0.001, name="keras_style_cnn").parse_args(argv)
    seed_everything(args.seed)
    # Keras' example scales pixels to [0, 1] and nothing more
    train_set, test_set, kind = load_data(args, normalize=None)
    train_loader, test_loader, val_loader = loaders(args, train_set, test_set, validation_fraction=0.1)
    model = KerasStyleCNN()
    print(f"Data: {kind}")
    print(minicnn.summary(model, (1, 28, 28)))
    optimizer = minicnn.optim.Adam(model.parameters(), lr=args.lr)
    history = train_and_report(model, optimizer, args, train_loader, test_loader, val_loader)
    print("History keys:", list(history.history))


if __name__ == "__main__":
    main()
