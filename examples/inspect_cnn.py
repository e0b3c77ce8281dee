"""Train the seed CNN briefly on the bundled MNIST digits, then look inside it.

Writes into ``--out``:

    summary.txt          the layer table (shapes, parameters, multiply-adds, memory)
    graph.dot/.svg       the autograd graph of one training loss (the .svg needs Graphviz's ``dot``)
    im2col.png           how the convolution becomes one matrix product, on a 4x4 toy input
    filters.png          the 8 learned 5x5 kernels of the first conv layer
    feature_maps.png     one digit after conv, batch norm, ReLU and max-pool
    saliency.png         8 test digits and |d score / d pixel|: the pixels the decision is sensitive to
    grad_cam.png         the same digits with Grad-CAM over them, from a Keras-style CNN trained for one
                         epoch: its second conv layer's maps, where the evidence for the class lies
    maximized.png        for each channel, the input that excites it most (gradient ascent on the input)
    classes.png          for each digit class, the input the trained network scores highest for it
    curves.png           loss and accuracy, training and the 1,000 test digits on the same axes
                         (per epoch; per optimizer step for a run shorter than two epochs)
    profile.txt          where one training step spends its time, op by op

Run:
    python examples/inspect_cnn.py --out inspect_out
    python examples/inspect_cnn.py --out /tmp/smoke --max-steps 5     # a smoke run, a few seconds

Needs matplotlib for the pictures: pip install ".[plot]" in the checkout.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil

from common import add_textbook_flag, engine_mode, eval_every, positive_int

import minicnn
import minicnn.nn.functional as F
from minicnn import models, optim, viz
from minicnn.profiler import profile
from minicnn.summary import summary
from minicnn.train import fit
from minicnn.utils.data import DataLoader
from minicnn.vision.datasets import MNIST


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the seed CNN on the bundled MNIST sample and draw its insides.")
    parser.add_argument(
        "--out", default="inspect_out", help="folder for the pictures and tables (default: %(default)s)"
    )
    parser.add_argument("--epochs", type=positive_int, default=3, help="training epochs (default: %(default)s)")
    parser.add_argument(
        "--max-steps", type=positive_int, default=None, help="stop training after this many steps (smoke runs)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=64, help="(default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--no-cuda", action="store_true", help="train on the CPU even when a GPU is visible")
    add_textbook_flag(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with engine_mode(args):
        inspect(args)


def inspect(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    minicnn.manual_seed(args.seed)
    device = "cuda" if minicnn.cuda.is_available() and not args.no_cuda else "cpu"

    # the 5,000 bundled digits: images scaled to [0, 1] (what ToTensor does), no download needed
    train_set = MNIST(None, train=True, sample=True).to_tensor_dataset(device=device)
    test_set = MNIST(None, train=False, sample=True).to_tensor_dataset(device=device)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=500)
    model = models.SeedCNN().to(device)

    # 1. the table: every layer's output shape, parameters, multiply-adds, memory
    table = summary(model, (1, 28, 28))
    print(table)
    (out / "summary.txt").write_text(str(table) + "\n")

    # 2. the graph of one loss, drawn before backward() frees it
    images, labels = next(iter(train_loader))
    loss = F.cross_entropy(model(images), labels)
    graph = viz.graph(loss, params=dict(model.named_parameters()))
    graph.save(out / "graph.dot")
    if shutil.which("dot"):
        graph.render(out / "graph.svg")
    else:
        print("graph: Graphviz's `dot` is not installed, so only graph.dot was written (apt-get install graphviz)")

    # 3. the convolution as one matrix product, on a toy input
    print(viz.im2col_demo(path=out / "im2col.png"))

    # 4. train briefly
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    history = fit(
        model,
        train_loader,
        optimizer=optimizer,
        epochs=args.epochs,
        val_loader=test_loader,
        max_steps=args.max_steps,
        progress=False,
        eval_every=eval_every(train_loader, args.epochs, args.max_steps),  # per-step curves below two epochs
    )
    history.plot(out / "curves.png", val_label="test")

    # 5. what it learned: kernels, one digit's feature maps, what excites each channel
    viz.filters(model.layer1[0], out / "filters.png")
    digit = test_set[0][0]
    viz.feature_maps(model, digit, out / "feature_maps.png", layers=["layer1.0", "layer1.1", "layer1.2", "layer1.3"])
    maximized = [viz.maximize_activation(model, "layer1.2", channel, (1, 28, 28)) for channel in range(8)]
    viz.image_grid(maximized, out / "maximized.png", titles=[f"channel {c}" for c in range(8)], columns=4)
    classes = [viz.maximize_activation(model, "fc", digit_class, (1, 28, 28)) for digit_class in range(10)]
    viz.image_grid(classes, out / "classes.png", titles=[f"class {c}" for c in range(10)], columns=5)

    # 6. where it looks, for 8 test digits and the class it predicts for each. Saliency: bright pixels are
    # those whose change would move the score most (for or against the class).
    digits = minicnn.stack([test_set[k][0] for k in range(8)])
    viz.saliency(model, digits, path=out / "saliency.png")
    # Grad-CAM explains a late conv layer by the average gradient of each of its channels. The seed CNN has
    # one conv layer feeding a linear layer that weighs every position differently, so those averages are
    # mostly negative and its maps mostly empty: Grad-CAM is shown on a Keras-style CNN (two conv layers,
    # one epoch), at its second conv layer (11x11 maps); red regions carry evidence *for* the class.
    deeper = models.KerasStyleCNN().to(device)
    fit(
        deeper,
        train_loader,
        optimizer=optim.Adam(deeper.parameters(), lr=args.lr),
        epochs=1,
        max_steps=args.max_steps,
        progress=False,
        verbose=False,
    )
    viz.grad_cam(deeper, "conv2d_1", digits, path=out / "grad_cam.png")

    # 7. where the time of one training step goes
    model.train()
    with profile() as prof:
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    print(prof)
    (out / "profile.txt").write_text(str(prof) + "\n")

    accuracy = history.history["val_accuracy"][-1]
    print(f"test accuracy after {len(history)} epoch(s): {accuracy:.2%}; pictures in {out}/")
    written = sorted(p.name for p in out.iterdir())
    print("wrote:", ", ".join(written))
    return history


if __name__ == "__main__":
    main()
