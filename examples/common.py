"""What the examples share: their command-line flags, the data (full datasets when present, otherwise the
real MNIST digits bundled with minicnn), and train-evaluate-save."""

from __future__ import annotations

import argparse
import contextlib
import os

import minicnn
from minicnn.utils.data import DataLoader, random_split
from minicnn.vision import datasets

FASHION_MNIST_DEBIAN = "/usr/share/datasets/fashion-mnist"  # `apt-get install dataset-fashion-mnist`
PLOT_HINT = 'pip install ".[plot]" in the minicnn checkout (or pip install matplotlib)'


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (so `--epochs 0` is a usage error, not a traceback later)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser(
    description: str, *, batch_size: int, epochs: int, lr: float, default_data: str = "auto", name: str = "model"
) -> argparse.ArgumentParser:
    """The flags of the PyTorch MNIST example, plus data selection, outputs and smoke-run limits."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--batch-size", type=positive_int, default=batch_size, help=f"training batch size (default {batch_size})"
    )
    p.add_argument("--test-batch-size", type=positive_int, default=1000, help="evaluation batch size (default 1000)")
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"number of epochs (default {epochs})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--no-cuda", action="store_true", help="train on the CPU even if a GPU is available")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--log-interval", type=positive_int, default=50, help="batches between log lines (default 50)")
    p.add_argument(
        "--data",
        choices=["auto", "sample", "mnist", "fashion-mnist"],
        default=default_data,
        help="'sample': the 5,000 real MNIST digits bundled with minicnn; 'mnist'/'fashion-mnist': "
        "the full datasets from --data-dir; 'auto': the full dataset if present, else the sample",
    )
    p.add_argument("--data-dir", default="data", help="folder with MNIST/raw or FashionMNIST/raw (default ./data)")
    p.add_argument("--download", action="store_true", help="download the full dataset into --data-dir if missing")
    p.add_argument(
        "--save-model",
        nargs="?",
        const=f"{name}.safetensors",
        default=f"{name}.safetensors",
        metavar="PATH",
        help=f"where to save the trained weights (default {name}.safetensors; '' = don't)",
    )
    p.add_argument(
        "--plot",
        nargs="?",
        const=f"{name}_curves.png",
        default=None,
        metavar="PATH",
        help=f"where to save the loss and accuracy curves, training and test (default {name}_curves.png "
        "when matplotlib is installed; '' = don't)",
    )
    p.add_argument(
        "--max-steps", type=positive_int, default=None, help="stop after this many training steps (smoke runs)"
    )
    p.add_argument("--dry-run", action="store_true", help="one training step and one evaluation, then stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_textbook_flag(p)
    p.set_defaults(default_plot=f"{name}_curves.png")  # where curves go when --plot is not given
    return p


def device_of(args) -> str:
    return "cuda" if minicnn.cuda.is_available() and not args.no_cuda else "cpu"


def _full_dataset(args, kind: str, train: bool):
    """The full dataset from --data-dir (torchvision's layout) or Debian's folder, or None if absent."""
    dataset_class = datasets.FashionMNIST if kind == "fashion-mnist" else datasets.MNIST
    roots = [args.data_dir] + ([FASHION_MNIST_DEBIAN] if kind == "fashion-mnist" else [])
    for root in roots:
        try:
            return dataset_class(root, train=train, download=args.download and root == args.data_dir)
        except (FileNotFoundError, datasets.DatasetError, datasets.DownloadError):
            continue
    return None


def load_data(args, *, normalize, transform=None, fallback_kind: str = "mnist"):
    """(train TensorDataset, test TensorDataset, description) with the whole dataset converted once."""
    kind = fallback_kind if args.data == "auto" else args.data
    train = test = None
    if args.data != "sample":
        train, test = _full_dataset(args, kind, True), _full_dataset(args, kind, False)
        if (train is None or test is None) and args.data != "auto":
            raise SystemExit(f"{kind}: no dataset in {args.data_dir!r} (pass --download, or --data sample)")
    if train is None or test is None:
        train, test = datasets.MNIST(None, train=True, sample=True), datasets.MNIST(None, train=False, sample=True)
        print(
            f"No {kind} dataset found in {args.data_dir!r}: training on the 5,000 real MNIST digits bundled "
            "with minicnn (4,000 train / 1,000 test). Use --data-dir/--download for the full dataset."
        )
        kind = "MNIST sample"
    device = device_of(args)
    as_tensors = dict(normalize=normalize, transform=transform, device=device)
    return train.to_tensor_dataset(**as_tensors), test.to_tensor_dataset(**as_tensors), kind


def loaders(args, train_set, test_set, validation_fraction: float = 0.0):
    """Shuffled training batches, test batches, and optional validation batches split off the training set."""
    val_loader = None
    if validation_fraction:
        generator = minicnn.Generator().manual_seed(args.seed)
        train_set, val_set = random_split(train_set, [1 - validation_fraction, validation_fraction], generator)
        val_loader = DataLoader(val_set, batch_size=args.test_batch_size)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)
    return train_loader, test_loader, val_loader


def eval_every(train_loader, epochs: int, max_steps: int | None) -> int | None:
    """Below two epochs the curves are drawn per step: evaluate about 10 times along the run."""
    steps = epochs * len(train_loader) if max_steps is None else min(max_steps, epochs * len(train_loader))
    return max(1, steps // 10) if epochs < 2 else None


def add_textbook_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--textbook",
        action="store_true",
        help="run every op through its textbook Function (minicnn/ops/) instead of the fast kernels "
        "(minicnn/ops/fast/): the same numbers, slower, and the code you step through is the code you read",
    )


def engine_mode(args):
    """``--textbook``: ``minicnn.textbook()``; otherwise the process's default (MINICNN_TEXTBOOK, else fast)."""
    return minicnn.textbook() if args.textbook else contextlib.nullcontext()


def train_and_report(model, optimizer, args, train_loader, test_loader, val_loader=None, scheduler=None):
    with engine_mode(args):
        return _train_and_report(model, optimizer, args, train_loader, test_loader, val_loader, scheduler)


def _train_and_report(model, optimizer, args, train_loader, test_loader, val_loader, scheduler):
    """fit, then print the test loss and accuracy and save the weights and curves; returns the History.

    The curves show training next to held-out data on the same axes: the validation split when the example
    makes one, else the test set (evaluated after every epoch, as the reference notes plot it).
    """
    max_steps = 1 if args.dry_run else args.max_steps
    epochs = 1 if args.dry_run else args.epochs
    held_out, held_out_name = (val_loader, "validation") if val_loader is not None else (test_loader, "test")
    history = minicnn.fit(
        model,
        train_loader,
        optimizer=optimizer,
        epochs=epochs,
        val_loader=held_out,
        scheduler=scheduler,
        device=device_of(args),
        progress=not args.no_progress,
        max_steps=max_steps,
        log_interval=args.log_interval,
        eval_every=eval_every(train_loader, epochs, max_steps),
    )
    test_loss, test_accuracy = minicnn.evaluate(model, test_loader)
    print(f"Test set: average loss {test_loss:.4f}, accuracy {100 * test_accuracy:.2f}%")
    if args.save_model:
        minicnn.save(model.state_dict(), args.save_model)
        print(f"Saved the weights to {args.save_model}")
    plot_curves(history, args, held_out_name)
    return history


def plot_curves(history, args, held_out_name: str) -> None:
    """Save the curves to --plot; without --plot, to the default path if matplotlib is there (else silently)."""
    asked = args.plot is not None
    path = args.plot if asked else args.default_plot
    if not path:
        return
    try:
        history.plot(path, val_label=held_out_name)
    except ImportError:
        if asked:
            print(f"Curves not saved to {path}: matplotlib is not installed; {PLOT_HINT}")
        return
    print(f"Saved the loss and accuracy curves (training and {held_out_name}) to {path}")


def seed_everything(seed: int) -> None:
    minicnn.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
