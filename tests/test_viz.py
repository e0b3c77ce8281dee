"""minicnn.viz: the graph holds every op, every picture is a real PNG of the expected size and not blank,
maximised activations beat a flat input, and the im2col demo equals the convolution."""

import shutil
import struct
import sys

import numpy as np
import pytest

import minicnn
import minicnn.models as models
import minicnn.nn.functional as F
from minicnn import autograd, viz
from minicnn.viz import autograd_graph

pytest.importorskip("matplotlib")  # an optional dependency: pip install "minicnn[plot]"


def assert_real_png(path, figure=None, min_std=0.02):
    """A PNG file (signature), of the figure's size in pixels (IHDR), with visible content (pixel spread)."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    if figure is not None:
        expected = np.round(figure.get_size_inches() * figure.dpi).astype(int)
        assert (width, height) == tuple(expected)
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > min_std, "the image is blank"
    return width, height


# ---------------------------------------------------------------- graph


def count_recorded_applications(monkeypatch):
    """Wrap Function.apply to list every application that recorded a graph node."""
    applied = []
    original = autograd.Function.__dict__["apply"].__func__

    def counting_apply(cls, *inputs, **options):
        out = original(cls, *inputs, **options)
        first = out[0] if isinstance(out, tuple) else out
        if first.grad_fn is not None:
            applied.append(cls.__name__)
        return out

    monkeypatch.setattr(autograd.Function, "apply", classmethod(counting_apply))
    return applied


@pytest.mark.parametrize("net", [models.SeedCNN, models.ResidualNet, models.InceptionNet])
def test_graph_has_a_node_for_every_op(net, monkeypatch):
    minicnn.manual_seed(0)
    model = net()
    x, y = minicnn.randn(2, 1, 28, 28), minicnn.tensor([3, 7])
    applied = count_recorded_applications(monkeypatch)
    loss = F.cross_entropy(model(x), y)
    monkeypatch.undo()
    params = dict(model.named_parameters())
    g = viz.graph(loss, params=params)
    assert len(g.ops) == len(applied)  # each recorded Function application is one node, visited once
    assert sorted(g.ops) == sorted(f"{name}Backward" for name in applied)
    assert g.source.count("shape=ellipse") == len(applied)
    for name, p in params.items():  # every parameter is a labelled leaf
        assert f"{name}\n({', '.join(map(str, p.shape))}) float32" in g.leaves
    assert str(g) == g.source and g.source.startswith("digraph") and g.source.rstrip().endswith("}")
    # edges: one per tensor input of each op, plus one to the output
    edges = g.source.count("->")
    assert edges >= len(applied) + len(params)


def test_graph_walk_is_iterative_and_refuses_a_freed_graph():
    x = minicnn.randn(3, requires_grad=True)
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0001
    g = viz.graph(y.sum())
    assert len(g.ops) == 3001
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="before loss.backward"):
        viz.graph(loss)
    with pytest.raises(ValueError, match="no graph"):
        with minicnn.no_grad():
            viz.graph(x * 2)
    with pytest.raises(TypeError, match="Tensor"):
        viz.graph(np.ones(3))


def test_graph_renders_with_dot_or_says_how_to_install_it(tmp_path, monkeypatch):
    model = models.SeedCNN()
    g = viz.graph(F.cross_entropy(model(minicnn.randn(2, 1, 28, 28)), minicnn.tensor([1, 2])))
    assert g.save(tmp_path / "graph.dot").read_text() == g.source  # no Graphviz needed for the source
    if shutil.which("dot") is not None:
        svg = g.render(tmp_path / "graph.svg").read_text()
        assert "<svg" in svg and "Conv2d" in svg
        assert_real_png(g.render(tmp_path / "graph.png"))
    monkeypatch.setattr(autograd_graph.shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        g.render(tmp_path / "missing.svg")
    assert g._repr_svg_() is None


# ---------------------------------------------------------------- pictures


@pytest.mark.parametrize(
    "conv, columns",
    [
        (minicnn.nn.Conv2d(1, 8, 5), 4),  # one tile per output channel, in two rows up to 8
        (minicnn.nn.Conv2d(1, 16, 3), 4),  # more: a near-square grid
        (minicnn.nn.Conv2d(3, 6, 3), 3),  # one RGB tile per output channel
        (minicnn.nn.Conv2d(4, 5, 3), 4),  # a row per output channel, a column per input channel
    ],
)
def test_filters_png(conv, columns, tmp_path):
    figure = viz.filters(conv, tmp_path / "filters.png")
    assert_real_png(tmp_path / "filters.png", figure)
    image = figure.axes[0].images[0].get_array()
    out_channels, in_channels, kh, kw = conv.weight.shape
    rows = out_channels if in_channels not in (1, 3) else -(-out_channels // columns)
    assert image.shape[:2] == (rows * (kh + 1) - 1, columns * (kw + 1) - 1)
    with pytest.raises(ValueError, match="conv weight"):
        viz.filters(minicnn.randn(3, 3))


def test_feature_maps_and_activations(tmp_path):
    minicnn.manual_seed(0)
    model = models.InceptionNet()
    x = minicnn.rand(1, 28, 28)
    recorded = viz.activations(model, x)
    assert list(recorded)[:3] == ["conv1", "mp", "incep1.branch1x1"]
    assert "mp (call 2)" in recorded and recorded["mp (call 2)"].shape == (1, 20, 4, 4)
    with minicnn.no_grad():
        expected = model.conv1(x.reshape(1, 1, 28, 28))
    np.testing.assert_allclose(recorded["conv1"], expected.numpy(), rtol=1e-6)
    figure = viz.feature_maps(model, x, tmp_path / "maps.png", layers=["conv1", "incep1", model.conv2])
    assert_real_png(tmp_path / "maps.png", figure)
    assert len(figure.axes) == 4  # the input and three layers
    assert "incep1 (InceptionA)  (88, 12, 12)" in [axes.get_title() for axes in figure.axes]
    with pytest.raises(ValueError, match="no layer named"):
        viz.activations(model, x, layers=["nope"])
    with pytest.raises(ValueError, match="shape"):
        viz.activations(model, minicnn.rand(28, 28))


def test_maximize_activation_excites_its_channel(tmp_path):
    minicnn.manual_seed(0)
    model = models.SeedCNN()
    model.train()
    flags_before = [p.requires_grad for p in model.parameters()]

    def channel_mean(image, channel):
        return viz.activations(model, image, ["layer1.2"])["layer1.2"][0, channel].mean()

    # channels whose kernel mixes signs: there the best image is a pattern, better than any flat one
    # (a kernel of one sign is maximised by a flat white image, which then ties with the search)
    kernels = model.layer1[0].weight.detach().numpy().reshape(8, -1)
    mixed = np.minimum(np.clip(kernels, 0, None).sum(1), np.clip(-kernels, 0, None).sum(1)) / np.abs(kernels).sum(1)
    channels = [int(c) for c in np.argsort(-mixed)[:2]]
    assert mixed[channels].min() > 0.2
    for channel in channels:
        # plain ascent (regularisers off): on an untrained network they would smooth its noise kernels away
        image = viz.maximize_activation(
            model, "layer1.2", channel, (1, 28, 28), seed=channel, jitter=0, decay=0, blur_every=0, steps=60, lr=0.1
        )
        assert image.shape == (1, 28, 28) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
        for level in (0.0, 0.5, 1.0):  # beats any flat grey image
            assert channel_mean(image, channel) > channel_mean(np.full((1, 28, 28), level, np.float32), channel)
    assert model.training and [p.requires_grad for p in model.parameters()] == flags_before
    assert all(p.grad is None for p in model.parameters())
    path = tmp_path / "maximised.png"
    viz.maximize_activation(model, model.layer1[0], 2, (1, 1, 28, 28), steps=5, path=path)
    assert_real_png(path)
    with pytest.raises(ValueError, match="out of range"):
        viz.maximize_activation(model, "layer1.0", 8, (1, 28, 28), steps=1)


def roughness(image):
    """Mean difference between neighbouring pixels, relative to the image's spread: ~1.1 for pixel noise."""
    image = image[0]
    steps = np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
    return steps / 2 / (image.std() + 1e-12)


def test_class_images_of_a_trained_cnn_are_its_classes_and_not_noise(tmp_path):
    """The seed CNN after one epoch on the bundled digits (about 2 s): each class image is classified as its
    class, has no pixel at the top of the range, and is smooth; plain ascent on the same model is not."""
    from minicnn.train import fit
    from minicnn.utils.data import DataLoader
    from minicnn.vision.datasets import MNIST

    minicnn.manual_seed(0)
    model = models.SeedCNN()
    loader = DataLoader(MNIST(None, train=True, sample=True).to_tensor_dataset(), batch_size=64, shuffle=True)
    fit(
        model,
        loader,
        optimizer=minicnn.optim.Adam(model.parameters(), lr=1e-3),
        epochs=1,
        progress=False,
        verbose=False,
    )
    regularised = [viz.maximize_activation(model, "fc", c, (1, 28, 28), seed=c) for c in range(10)]
    plain = [
        viz.maximize_activation(model, "fc", c, (1, 28, 28), seed=c, jitter=0, decay=0, blur_every=0) for c in range(10)
    ]
    model.eval()
    with minicnn.no_grad():
        predicted = model(minicnn.tensor(np.stack(regularised))).argmax(1).numpy()
    np.testing.assert_array_equal(predicted, np.arange(10))
    for image, noisy in zip(regularised, plain):
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert (image >= 0.99).mean() < 0.05  # no blown-out pixels (plain ascent: 10-25% at the top)
        assert roughness(image) < 0.3 < 0.5 < roughness(noisy)  # smooth strokes vs pixel noise (measured 0.17-0.23)
        assert (noisy >= 0.99).mean() > 0.05
    # the model itself names the output layer too: the same search, the same image
    np.testing.assert_array_equal(viz.maximize_activation(model, model, 3, (1, 28, 28), seed=3), regularised[3])
    viz.image_grid(regularised, tmp_path / "classes.png", titles=[str(c) for c in range(10)], columns=5)
    assert_real_png(tmp_path / "classes.png")
    with pytest.raises(ValueError, match=r"channel 10 is out of range for 'fc' with output shape \(1, 10\)"):
        viz.maximize_activation(model, "fc", 10, (1, 28, 28), steps=1)
    with pytest.raises(ValueError, match="jitter must be an int >= 0"):
        viz.maximize_activation(model, "fc", 1, (1, 28, 28), jitter=-1)
    with pytest.raises(ValueError, match="decay"):
        viz.maximize_activation(model, "fc", 1, (1, 28, 28), decay=1.5)
    with pytest.raises(ValueError, match="input_size"):
        viz.maximize_activation(model, "fc", 1, (28, 28))


def test_image_grid(tmp_path):
    images = [np.random.default_rng(k).random((1, 8, 8)) for k in range(5)] + [np.random.rand(3, 8, 8)]
    figure = viz.image_grid(images, tmp_path / "grid.png", titles=list("abcdef"), columns=3)
    assert_real_png(tmp_path / "grid.png", figure)
    assert len(figure.axes) == 6


def test_im2col_demo_is_the_convolution(tmp_path):
    demo = viz.im2col_demo(path=tmp_path / "im2col.png")
    assert_real_png(tmp_path / "im2col.png", demo.figure)
    assert demo.columns.shape == (9, 4) and demo.weight_rows.shape == (2, 9) and demo.product.shape == (2, 4)
    np.testing.assert_array_equal(demo.columns[:, 0], [1, 2, 3, 5, 6, 7, 9, 10, 11])  # the first 3x3 window
    expected = F.conv2d(minicnn.tensor(demo.x), minicnn.tensor(demo.weight)).numpy()
    np.testing.assert_allclose(demo.output, expected)
    np.testing.assert_array_equal(demo.product[0], [6, 6, 6, 6])  # right column minus left on 1..16
    text = str(demo)
    assert "(2, 9) @ (9, 4) = (2, 4)" in text and "gives the same numbers: True" in text
    other = viz.im2col_demo(input_size=5, kernel_size=3, in_channels=2, out_channels=3, stride=2, padding=1)
    assert other.columns.shape == (18, 9) and other.figure is None
    with pytest.raises(ValueError, match="does not fit"):
        viz.im2col_demo(input_size=2, kernel_size=3)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import matplotlib...` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "\.\[plot\]"'):
        viz.filters(minicnn.nn.Conv2d(1, 2, 3))
    assert "3x3 convolution" in str(viz.im2col_demo())  # the text needs no matplotlib


def test_viz_inputs_follow_the_model_and_errors_name_the_function():
    model = minicnn.models.SeedCNN().double()
    digit = np.random.default_rng(0).random((1, 28, 28))
    maps = viz.activations(model, digit)  # a float64 model: the input follows its dtype
    assert maps and all(v.dtype == np.float64 for v in maps.values())
    with pytest.raises(ValueError, match=r"^activations: no layer named 'nope'"):
        viz.activations(model, digit, layers="nope")
    with pytest.raises(ValueError, match=r"^activations: expected images"):
        viz.activations(model, np.zeros((28, 28)))
    with pytest.raises(TypeError, match="filters: expected a Conv2d layer, got ReLU"):
        viz.filters(minicnn.nn.ReLU())
    for bad in (dict(out_channels=0), dict(in_channels=0), dict(padding=-1), dict(stride=True)):
        with pytest.raises(ValueError, match="im2col_demo: "):
            viz.im2col_demo(**bad)
