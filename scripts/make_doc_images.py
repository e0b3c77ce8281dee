"""Regenerate every picture in ``docs/images``: those of ``docs/walkthrough.md`` and those the README shows.

They are the pictures ``examples/inspect_cnn.py`` draws (the seed CNN trained for three epochs on the
bundled digits, seed 0, on the CPU; Grad-CAM on a Keras-style CNN trained for one epoch), copied here, so
the docs show exactly what a learner gets by running the example. ``tests/test_doc_images.py`` checks
that each picture is a real PNG/SVG, that every picture the docs show is made here, and that what can be
recomputed cheaply still matches (the graph's op names, the im2col drawing, every picture's size).

Usage::

    python scripts/make_doc_images.py              # about 15 s; needs matplotlib and Graphviz's `dot`
    python scripts/make_doc_images.py --out DIR    # somewhere else
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC_IMAGES = ROOT / "docs" / "images"

# every picture in docs/images, and what it shows
IMAGES = {
    "graph.svg": "the autograd graph of one training loss of the seed CNN",
    "im2col.png": "a 3x3 convolution of a 4x4 input as one matrix product",
    "filters.png": "the 8 learned 5x5 kernels, sign kept",
    "feature_maps.png": "one test digit after conv, batch norm, ReLU and max-pool",
    "maximized.png": "for each channel after the ReLU, the input that excites it most",
    "classes.png": "for each digit class, the input the network scores highest for it",
    "saliency.png": "8 test digits and |d score / d pixel|",
    "grad_cam.png": "the same digits with Grad-CAM at the second conv layer of a Keras-style CNN",
    "curves.png": "loss and accuracy per epoch, training and the 1,000 test digits",
}
EPOCHS = 3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DOC_IMAGES), help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if shutil.which("dot") is None:
        raise SystemExit("make_doc_images: graph.svg needs Graphviz's `dot` (apt-get install graphviz)")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit('make_doc_images: the pictures need matplotlib: pip install ".[plot]"') from None
    sys.path[:0] = [str(ROOT), str(ROOT / "examples")]  # this checkout's minicnn and the example
    import inspect_cnn

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        inspect_cnn.main(["--out", scratch, "--epochs", str(EPOCHS), "--no-cuda", "--seed", "0"])
        for name, what in IMAGES.items():
            shutil.copyfile(pathlib.Path(scratch) / name, out / name)
            print(f"wrote {out / name}: {what}")
    stale = sorted(p.name for p in out.iterdir() if p.name not in IMAGES)
    if stale:
        print(f"not made by this script (delete them, or add them to IMAGES): {', '.join(stale)}")


if __name__ == "__main__":
    main()
