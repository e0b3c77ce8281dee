"""The pictures in docs/images are current: each is a real PNG/SVG made by scripts/make_doc_images.py, every
picture the README and the walkthrough show is one of them, and what can be recomputed without training
still matches: the graph's op and parameter labels are those the engine records now, the im2col drawing
is what im2col_demo draws now, and every picture has the size the current code draws it at.
When this fails after a change to the engine or to minicnn.viz: python scripts/make_doc_images.py"""

import io
import pathlib
import re
import struct
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import models, viz

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
REGENERATE = "stale: run python scripts/make_doc_images.py"


def made_by_the_script() -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_doc_images
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return make_doc_images.IMAGES


def png_size(path) -> tuple:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_every_picture_is_real_and_made_by_the_script():
    images = made_by_the_script()
    on_disk = sorted(p.name for p in IMAGES.iterdir())
    assert on_disk == sorted(images), "docs/images holds pictures the script does not make, or lacks some"
    shown = set()
    for doc in (ROOT / "README.md", ROOT / "docs" / "walkthrough.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", doc.read_text()):
            path = (doc.parent / target).resolve()
            assert path.parent == IMAGES and path.name in images, f"{doc.name} shows {target}, not made by the script"
            shown.add(path.name)
    assert shown == set(images), f"made but shown nowhere: {set(images) - shown}"
    for name in images:
        path = IMAGES / name
        if name.endswith(".png"):
            width, height = png_size(path)
            assert width > 100 and height > 100
            pytest.importorskip("matplotlib")
            from matplotlib.image import imread

            assert imread(path)[..., :3].std() > 0.02, f"{name} is blank"
        else:
            root = ElementTree.parse(path).getroot()  # parses as XML
            assert root.tag == "{http://www.w3.org/2000/svg}svg", f"{name} is not an SVG"


def svg_texts(path) -> list:
    return [el.text for el in ElementTree.parse(path).getroot().iter("{http://www.w3.org/2000/svg}text")]


def test_graph_svg_shows_the_ops_the_engine_records_now(fast_kernels_on):  # drawn in the default mode
    """The seed CNN's loss on a batch of 64, as inspect_cnn draws it: same op nodes, same parameter boxes."""
    minicnn.manual_seed(0)
    model = models.SeedCNN()
    loss = F.cross_entropy(model(minicnn.rand(64, 1, 28, 28)), minicnn.randint(0, 10, (64,)))
    live = viz.graph(loss, params=dict(model.named_parameters()))
    texts = svg_texts(IMAGES / "graph.svg")
    drawn_ops = sorted(t for t in texts if t and t.endswith("Backward"))
    assert drawn_ops == sorted(live.ops), f"graph.svg shows {drawn_ops}, the engine records {sorted(live.ops)}; " + (
        REGENERATE
    )
    for leaf in live.leaves:  # "fc.weight\n(10, 1568) float32": two text lines in the SVG
        name, shape = leaf.split("\n")
        assert name in texts and shape in texts, f"graph.svg lacks the leaf {leaf!r}; " + REGENERATE


def figure_size(figure) -> tuple:
    return tuple(int(v) for v in np.round(figure.get_size_inches() * figure.dpi))


def test_pictures_have_the_size_the_current_code_draws():
    """Drawn live from an untrained model (cheap); a layout change in minicnn.viz changes the size."""
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    minicnn.manual_seed(0)
    seed_cnn = models.SeedCNN()
    digits = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    image = np.zeros((1, 28, 28), np.float32)
    demo = viz.im2col_demo(draw=True)
    expected = {
        "im2col.png": figure_size(demo.figure),
        "filters.png": figure_size(viz.filters(seed_cnn.layer1[0])),
        "feature_maps.png": figure_size(
            viz.feature_maps(seed_cnn, digits[0], layers=["layer1.0", "layer1.1", "layer1.2", "layer1.3"])
        ),
        "maximized.png": figure_size(viz.image_grid([image] * 8, titles=list("abcdefgh"), columns=4)),
        "classes.png": figure_size(viz.image_grid([image] * 10, titles=list("abcdefghij"), columns=5)),
        "curves.png": (1000, 400),  # History.plot's default figsize (10, 4) at 100 dpi
    }
    for name, size in expected.items():
        assert png_size(IMAGES / name) == size, f"{name}: {png_size(IMAGES / name)} != {size}; " + REGENERATE
    # the attribution pictures: drawn through _draw, sized by the number of images (8)
    from minicnn.viz import attribution

    for name, overlay in (("saliency.png", False), ("grad_cam.png", True)):
        maps = np.zeros((8, 11, 11), np.float32)
        figure = attribution._draw(digits, maps, np.zeros(8, int), None, name, overlay=overlay, layer_name="x")
        assert png_size(IMAGES / name) == figure_size(figure), name + ": " + REGENERATE
    # the im2col drawing has nothing learned in it: it must be what im2col_demo draws today, pixel for pixel
    # (a changed title moves a few hundred pixels; anti-aliasing between matplotlib builds far fewer)
    drawn = io.BytesIO()
    demo.figure.savefig(drawn, format="png", dpi=demo.figure.dpi)
    drawn.seek(0)
    live, committed = imread(drawn, format="png"), imread(IMAGES / "im2col.png")
    assert live.shape == committed.shape, "im2col.png: " + REGENERATE
    changed = (np.abs(live - committed).max(axis=-1) > 0.1).mean()
    assert changed < 1e-4, f"im2col.png: {changed:.2%} of its pixels differ from today's drawing; " + REGENERATE
