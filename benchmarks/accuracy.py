"""Accuracy on the full Fashion-MNIST: minicnn and PyTorch train the same network with the same recipe,
from the same initial weights, on the same batches, in the same run; test accuracy and seconds per epoch.

    python benchmarks/accuracy.py                       # seed CNN (10 epochs) and Keras-style CNN (15 epochs)
    python benchmarks/accuracy.py --networks seed_cnn --epochs 2 --limit 10000   # a quick look

Needs PyTorch (`pip install ".[test]"`) and Fashion-MNIST (`apt-get install dataset-fashion-mnist`, or
`--data-dir` with torchvision's FashionMNIST/raw layout).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import minicnn
from minicnn.utils import from_torch
from minicnn.vision import datasets

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from tests import torch_twins  # noqa: E402  (the same networks written in plain PyTorch)

RECIPES = {
    # name: (minicnn model, PyTorch twin, batch size, epochs) -- Adam 1e-3, no augmentation, as REFERENCE.md §2
    "seed_cnn": (minicnn.models.SeedCNN, torch_twins.SeedCNN, 64, 10),
    "keras_style": (minicnn.models.KerasStyleCNN, torch_twins.KerasStyleCNN, 128, 15),
}
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's pixel statistics


def load(data_dir: str, train: bool, limit: int | None):
    dataset = datasets.FashionMNIST(data_dir, train=train).to_tensor_dataset(normalize=((MEAN,), (STD,)))
    images, labels = (t.numpy() for t in dataset.tensors)
    return (images[:limit], labels[:limit]) if limit else (images, labels)


def accuracy_of(predict, images, labels, batch=1000) -> float:
    correct = 0
    for start in range(0, len(images), batch):
        correct += int((predict(images[start : start + batch]).argmax(1) == labels[start : start + batch]).sum())
    return correct / len(images)


def run(name: str, epochs: int, train_data, test_data, seed: int) -> dict:
    ours_class, twin_class, batch_size, default_epochs = RECIPES[name]
    epochs = epochs or default_epochs
    torch.manual_seed(seed)
    twin = twin_class()
    ours = ours_class()
    ours.load_state_dict(from_torch(twin))  # the same starting point
    our_optimizer = minicnn.optim.Adam(ours.parameters(), lr=1e-3)
    their_optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
    images, labels = train_data
    rng = np.random.default_rng(seed)
    results = {"minicnn": {"acc": [], "time": []}, "pytorch": {"acc": [], "time": []}}

    def predict_ours(x):
        with minicnn.no_grad():
            return ours(minicnn.tensor(x)).numpy()

    def predict_theirs(x):
        with torch.no_grad():
            return twin(torch.from_numpy(x)).numpy()

    for epoch in range(epochs):
        order = rng.permutation(len(images))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for library in ("pytorch", "minicnn"):  # the same batches for both, one library after the other
            start = time.perf_counter()
            if library == "minicnn":
                ours.train()
                for index in batches:
                    loss = minicnn.nn.functional.cross_entropy(
                        ours(minicnn.tensor(images[index])), minicnn.tensor(labels[index])
                    )
                    our_optimizer.zero_grad()
                    loss.backward()
                    our_optimizer.step()
                ours.eval()
                accuracy = accuracy_of(predict_ours, *test_data)
            else:
                twin.train()
                for index in batches:
                    loss = torch.nn.functional.cross_entropy(
                        twin(torch.from_numpy(images[index])), torch.from_numpy(labels[index])
                    )
                    their_optimizer.zero_grad()
                    loss.backward()
                    their_optimizer.step()
                twin.eval()
                accuracy = accuracy_of(predict_theirs, *test_data)
            results[library]["time"].append(time.perf_counter() - start)
            results[library]["acc"].append(accuracy)
        print(
            f"{name} epoch {epoch + 1}/{epochs}: test accuracy minicnn {results['minicnn']['acc'][-1]:.4f} "
            f"({results['minicnn']['time'][-1]:.1f} s), PyTorch {results['pytorch']['acc'][-1]:.4f} "
            f"({results['pytorch']['time'][-1]:.1f} s)",
            flush=True,
        )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", choices=sorted(RECIPES), default=["seed_cnn", "keras_style"])
    parser.add_argument("--epochs", type=int, default=0, help="override the recipe's epochs")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_data, test_data = load(args.data_dir, True, args.limit), load(args.data_dir, False, None)
    print(
        f"Fashion-MNIST: {len(train_data[0])} training, {len(test_data[0])} test images; "
        f"torch {torch.__version__} with {args.threads} threads, minicnn {minicnn.__version__}"
    )
    rows = []
    for name in args.networks:
        results = run(name, args.epochs, train_data, test_data, args.seed)
        for library in ("minicnn", "pytorch"):
            r = results[library]
            rows.append((name, library, r["acc"][-1], max(r["acc"]), float(np.median(r["time"]))))
    print("\n| network | library | test accuracy (last epoch) | best epoch | s/epoch (median) |")
    print("|---|---|---|---|---|")
    for name, library, last, best, seconds in rows:
        print(f"| {name} | {library} | {last:.4f} | {best:.4f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
