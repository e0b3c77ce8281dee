"""``minicnn.vision.datasets``: MNIST and Fashion-MNIST from their IDX files, shaped like ``torchvision.datasets``;
CIFAR-10 from its binary batch files (see :class:`CIFAR10`).

Where the files are looked for, in this order (each gzipped ``*.gz`` or already extracted):

1. ``root/MNIST/raw/`` (``root/FashionMNIST/raw/``): torchvision's layout, so data it downloaded is reused;
2. ``root/`` itself: a folder holding the four files directly, such as Debian's ``dataset-fashion-mnist``
   package (``FashionMNIST('/usr/share/datasets/fashion-mnist')``).

Every file is checked as it is read: the IDX magic number, the counts and sizes in its header against the
bytes that follow, 28x28 images, as many labels as images, labels 0..9. Anything wrong raises
:class:`DatasetError` naming the file, what was expected and what was found.

``download=True`` fetches missing files from the published mirrors into ``root/<Name>/raw/``: each file goes
to a temporary file in that folder, is checked against its published MD5 and only then renamed into place,
so a failed or interrupted download never leaves a partial file. Any failure (HTTP error, timeout, refused
connection, wrong checksum) moves on to the next mirror; if all fail, :class:`DownloadError` lists each
mirror and why it failed.

``MNIST(None, train=True, sample=True)`` needs no files at all: it loads 5,000 real MNIST digits bundled with
minicnn (4,000 train / 1,000 test, 400 / 100 per digit; see ``scripts/build_mnist_sample.py``).

A sample is ``(image, target)``: ``image`` a (28, 28) uint8 NumPy array (torchvision gives a PIL image; both
become a float32 (1, 28, 28) tensor in [0, 1] through ``ToTensor()``), ``target`` an int. For training, the
fast way is :meth:`MNIST.to_tensor_dataset`: all images converted at once into one tensor, so
``DataLoader`` makes each batch with a single fancy-index instead of a Python loop over samples.
"""

from __future__ import annotations

import os
import warnings
from importlib import resources

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset, TensorDataset
from .files import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    DatasetError,
    DownloadError,
    _extract_members,
    _fetch,
    _md5_of_file,
    read_idx,
)
from .transforms import Normalize

__all__ = ["CIFAR10", "DatasetError", "DownloadError", "FashionMNIST", "MNIST", "read_idx"]


def _check_images_and_labels(images, labels, images_source: str, labels_source: str) -> None:
    """Raise DatasetError unless the images are 28x28, the labels 0..9 and there is one label per image."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(f"{images_source}: expected 28x28 images, found images of shape {images.shape[1:]}")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_source}: expected a 1-D array of labels, found shape {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_source} holds {len(images)} images but {labels_source} holds {len(labels)} labels; "
            "expected one label per image"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"{labels_source}: expected labels 0..9, found values {labels.min()}..{labels.max()}")


def _array(data) -> np.ndarray:
    """The array behind ``data`` (a Tensor, as ``.data`` is, or an array a user assigned)."""
    return data.array if isinstance(data, Tensor) else np.asarray(data)


# ---------------------------------------------------------------- the datasets


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grayscale, labels 0..9.

    Args:
        root: the folder holding ``MNIST/raw/`` (torchvision's layout) or the four IDX files directly.
            May be None with ``sample=True``.
        train: the training split (True) or the test split (False).
        transform: applied to each image, e.g. ``transforms.ToTensor()``.
        target_transform: applied to each label.
        download: fetch missing files into ``root/MNIST/raw/`` (checked by MD5; files already there are kept).
        sample: use the 5,000 real digits bundled with minicnn (4,000 train / 1,000 test) instead of files.

    Attributes:
        data: uint8 Tensor (N, 28, 28). targets: int64 Tensor (N,). classes: the class names.

    A sample is ``(image, target)`` with ``image`` a (28, 28) uint8 NumPy array (``ToTensor()`` makes it a
    float32 (1, 28, 28) tensor in [0, 1]) and ``target`` an int, each passed through its transform if given.

    Example::

        train = MNIST("data", train=True, download=True, transform=transforms.ToTensor())
        fast = MNIST("data", train=True).to_tensor_dataset(normalize=((0.1307,), (0.3081,)))
        loader = DataLoader(fast, batch_size=64, shuffle=True)
    """

    # Base URLs tried in order; class attributes so they can be changed (tests point them at a local server).
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/"]
    # (file name, the MD5 its publisher gives for it)
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    training_files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    test_files = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    timeout = 60.0  # seconds a mirror may stay silent before we move on to the next
    sample_file: str | None = "mnist_sample.npz"  # in minicnn/vision/data/
    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
        sample: bool = False,
    ):
        name = type(self).__name__
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.train, self.sample = bool(train), bool(sample)
        self.transform, self.target_transform = transform, target_transform
        if sample:
            if download:
                raise ValueError(f"{name}: sample=True uses the bundled digits; download=True has nothing to fetch")
            images, labels = self._load_sample()
        else:
            if self.root is None:
                raise ValueError(f"{name}: root is required (or pass sample=True for the bundled digits)")
            if download:
                self.download()
            images, labels = self._load_files()
        self.data = Tensor(images)
        self.targets = Tensor(labels.astype(np.int64))

    # ------------------------------------------------------------ where the files are
    @property
    def raw_folder(self) -> str:
        """``root/<ClassName>/raw``: where torchvision keeps the files and where ``download`` puts them."""
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict:
        return {name: index for index, name in enumerate(self.classes)}

    def _find(self, stem: str) -> str | None:
        """The first of raw_folder/stem.gz, raw_folder/stem, root/stem.gz, root/stem that exists."""
        for folder in (self.raw_folder, self.root):
            for path in (os.path.join(folder, stem + ".gz"), os.path.join(folder, stem)):
                if os.path.isfile(path):
                    return path
        return None

    def _load_files(self) -> tuple[np.ndarray, np.ndarray]:
        images_stem, labels_stem = self.training_files if self.train else self.test_files
        paths = [self._find(images_stem), self._find(labels_stem)]
        if None in paths:
            missing = [stem for stem, path in zip((images_stem, labels_stem), paths) if path is None]
            hint = ", or sample=True for the 5,000 MNIST digits bundled with minicnn" if self.sample_file else ""
            raise FileNotFoundError(
                f"{type(self).__name__}: dataset not found: no {' or '.join(s + '[.gz]' for s in missing)} in "
                f"{self.raw_folder} or {self.root}. Use download=True to fetch it{hint}"
            )
        images = read_idx(paths[0], IMAGES_MAGIC)
        labels = read_idx(paths[1], LABELS_MAGIC)
        _check_images_and_labels(images, labels, paths[0], paths[1])
        return images, labels

    def _load_sample(self) -> tuple[np.ndarray, np.ndarray]:
        if self.sample_file is None:
            raise ValueError(f"{type(self).__name__}: no bundled sample; only MNIST has one (MNIST(sample=True))")
        split = "train" if self.train else "test"
        source = resources.files("minicnn.vision").joinpath("data").joinpath(self.sample_file)
        with source.open("rb") as f, np.load(f, allow_pickle=False) as archive:  # no pickle, ever
            images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
        _check_images_and_labels(images, labels, f"{source} [{split}_images]", f"{source} [{split}_labels]")
        return images, labels

    # ------------------------------------------------------------ download
    def download(self) -> None:
        """Fetch each file of ``resources`` that is not already here into ``raw_folder``, checked by MD5.

        A file already present (in any place ``_find`` looks) is kept if it matches its published MD5 or, failing
        that, reads as a valid IDX file (Debian's recompressed copies have other MD5s but the same content).
        """
        for filename, md5 in self.resources:
            stem = filename[: -len(".gz")]
            present = self._find(stem)
            if present is not None and self._is_usable(present, filename, md5):
                continue
            os.makedirs(self.raw_folder, exist_ok=True)  # only when something is fetched: root may be read-only
            self._download_file(filename, md5)

    @staticmethod
    def _is_usable(path: str, filename: str, md5: str) -> bool:
        if os.path.basename(path) == filename and _md5_of_file(path) == md5:
            return True
        try:
            read_idx(path, IMAGES_MAGIC if "idx3" in filename else LABELS_MAGIC)
            return True
        except DatasetError:
            return False

    def _download_file(self, filename: str, md5: str) -> None:
        """Try each mirror in turn until one gives ``filename`` with the right MD5; else raise DownloadError."""
        target = os.path.join(self.raw_folder, filename)
        failures = []
        for mirror in self.mirrors:
            url = mirror.rstrip("/") + "/" + filename
            print(f"Downloading {url} to {target}")
            try:
                _fetch(url, target, md5, self.timeout)
                return
            except Exception as error:  # any failure (HTTP, timeout, refused, checksum): try the next mirror
                failures.append(f"  {url}: {type(error).__name__}: {error}")
        raise DownloadError(
            f"{type(self).__name__}: could not download {filename} from any mirror:\n" + "\n".join(failures)
        )

    # torchvision's old names (2019 and earlier tutorials use them), kept with its deprecation warning
    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data", UserWarning, stacklevel=2)
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data", UserWarning, stacklevel=2)
        return self.data

    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets", UserWarning, stacklevel=2)
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets", UserWarning, stacklevel=2)
        return self.targets

    # ------------------------------------------------------------ the Dataset protocol
    def __len__(self) -> int:
        return len(_array(self.data))

    def __getitem__(self, index: int):
        image = np.array(_array(self.data)[index])  # a copy: a transform may change it without harming .data
        target = int(_array(self.targets)[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def to_tensor_dataset(self, normalize=None, transform=None, device=None) -> TensorDataset:
        """All samples at once as a ``TensorDataset``: images float32 (N, 1, 28, 28) in [0, 1], labels int64.

        The conversion (what ``ToTensor()`` does per sample) runs once over the whole array, and a
        ``DataLoader`` over the result builds each batch with one fancy-index, with no Python loop over samples.

        Args:
            normalize: ``(mean, std)`` or a ``Normalize`` applied to all images, e.g. ``((0.1307,), (0.3081,))``.
            transform: a deterministic transform applied once to the whole (N, 1, 28, 28) batch after scaling and
                normalising, e.g. ``Resize(32)``. Random transforms are refused: drawn once, they would freeze
                one augmentation for every epoch; apply them to each batch in the training loop instead.
            device: where the tensors live, e.g. ``'cuda'``, so batches are cut on the GPU.

        ``self.transform`` and ``self.target_transform`` (per-sample transforms) are not used here.
        """
        if transform is not None and getattr(transform, "is_random", False):
            raise ValueError(
                f"to_tensor_dataset: {transform!r} is random; applied once it would give every epoch the same "
                "augmentation. Apply it to each batch in the training loop instead"
            )
        images = _array(self.data)
        batch = images.reshape(len(images), 1, *images.shape[1:]).astype(np.float32)
        batch /= 255  # in place; the same true division as ToTensor, so the values are identical
        if normalize is not None:
            normalize = normalize if isinstance(normalize, Normalize) else Normalize(*normalize)
            batch = normalize(batch)
        if transform is not None:
            batch = transform(batch)
        labels = _array(self.targets).astype(np.int64)
        return TensorDataset(Tensor(batch, device=device), Tensor(labels, device=device))

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines.append("    Source: bundled sample" if self.sample else f"    Root location: {self.root}")
        lines.append(f"    Split: {'Train' if self.train else 'Test'}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 60,000 + 10,000 grayscale 28x28 images of 10 kinds of clothing, MNIST's format.

    The same arguments and attributes as :class:`MNIST`; the files live in ``root/FashionMNIST/raw/`` or
    directly in ``root`` (Debian: ``FashionMNIST('/usr/share/datasets/fashion-mnist')``). There is no bundled
    sample.
    """

    mirrors = [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    sample_file = None
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class CIFAR10(Dataset):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

    Read from the *binary* version of the dataset, ``root/cifar-10-batches-bin/``: ``data_batch_1.bin`` ..
    ``data_batch_5.bin`` (train) and ``test_batch.bin`` (test). Each file is a run of 3,073-byte records: one
    label byte (0..9), then 1,024 red, 1,024 green and 1,024 blue pixel bytes, each plane row by row.
    torchvision keeps the *Python* version instead (``cifar-10-batches-py/``, pickled batches); minicnn never
    unpickles a file, so ``download=True`` fetches the binary version (162 MB), checked by its published MD5.

    Args:
        root: the folder holding ``cifar-10-batches-bin/`` (torchvision's ``root`` works: both live side by side).
        train: the training split (True) or the test split (False).
        transform: applied to each image, e.g. ``transforms.ToTensor()``.
        target_transform: applied to each label.
        download: fetch and unpack the archive into ``root`` if the batch files are missing.

    Attributes:
        data: uint8 NumPy array (N, 32, 32, 3), channels last, as torchvision's. targets: list of ints.
        classes: the class names.

    A sample is ``(image, target)``: a (32, 32, 3) uint8 array (``ToTensor()`` makes it a float32 (3, 32, 32)
    tensor in [0, 1]) and an int.
    """

    base_folder = "cifar-10-batches-bin"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    archive = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")  # (file name, published MD5)
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    timeout = 60.0
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    _RECORD = 1 + 3 * 32 * 32  # label byte + three 32x32 colour planes

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
    ):
        if root is None:
            raise ValueError(f"{type(self).__name__}: root is required")
        self.root = os.path.expanduser(os.fspath(root))
        self.train, self.transform, self.target_transform = bool(train), transform, target_transform
        if download:
            self.download()
        images, labels = [], []
        for name in self.train_list if self.train else self.test_list:
            batch_images, batch_labels = self._read_batch(self._path(name))
            images.append(batch_images)
            labels.append(batch_labels)
        self.data = np.concatenate(images)
        self.targets = np.concatenate(labels).astype(np.int64).tolist()

    @property
    def class_to_idx(self) -> dict:
        return {name: index for index, name in enumerate(self.classes)}

    def _path(self, name: str) -> str:
        path = os.path.join(self.root, self.base_folder, name)
        if os.path.isfile(path):
            return path
        pickled = os.path.isdir(os.path.join(self.root, self.base_folder.replace("-bin", "-py")))
        why = (
            f" (the folder {self.base_folder.replace('-bin', '-py')} there is torchvision's pickled copy, which "
            "minicnn does not read: unpickling runs code)"
            if pickled
            else ""
        )
        raise FileNotFoundError(
            f"{type(self).__name__}: dataset not found: no {name} in {os.path.dirname(path)}{why}. Use download=True "
            f"to fetch the binary version ({self.mirrors[0]}{self.archive[0]})"
        )

    def _read_batch(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """One batch file as (N, 32, 32, 3) uint8 images and (N,) labels, checked record by record."""
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % self._RECORD:
            raise DatasetError(
                f"{path}: expected whole {self._RECORD}-byte records (1 label + 3x32x32 pixels); the file holds "
                f"{raw.size} bytes"
            )
        records = raw.reshape(-1, self._RECORD)
        labels = records[:, 0]
        if labels.max() >= len(self.classes):
            raise DatasetError(f"{path}: expected labels 0..{len(self.classes) - 1}, found {labels.max()}")
        # planes (N, 3, 32, 32) -> channels last (N, 32, 32, 3), as torchvision's .data
        images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images), labels

    def download(self) -> None:
        """Fetch the archive (MD5-checked, atomically) and unpack the batch files that are missing."""
        needed = self.train_list + self.test_list
        folder = os.path.join(self.root, self.base_folder)
        if all(os.path.isfile(os.path.join(folder, name)) for name in needed):
            return
        os.makedirs(folder, exist_ok=True)
        filename, md5 = self.archive
        target = os.path.join(self.root, filename)
        if not (os.path.isfile(target) and _md5_of_file(target) == md5):
            failures = []
            for mirror in self.mirrors:
                url = mirror.rstrip("/") + "/" + filename
                print(f"Downloading {url} to {target}")
                try:
                    _fetch(url, target, md5, self.timeout)
                    break
                except Exception as error:  # any failure: try the next mirror
                    failures.append(f"  {url}: {type(error).__name__}: {error}")
            else:
                raise DownloadError(
                    f"{type(self).__name__}: could not download {filename} from any mirror:\n" + "\n".join(failures)
                )
        _extract_members(target, self.base_folder, needed + ["batches.meta.txt"], folder)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        image, target = np.array(self.data[index]), int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def to_tensor_dataset(self, normalize=None, device=None) -> TensorDataset:
        """All samples at once: images float32 (N, 3, 32, 32) in [0, 1] (optionally normalised), labels int64."""
        batch = self.data.transpose(0, 3, 1, 2).astype(np.float32)
        batch /= 255  # the same true division as ToTensor
        if normalize is not None:
            batch = (normalize if isinstance(normalize, Normalize) else Normalize(*normalize))(batch)
        labels = np.asarray(self.targets, dtype=np.int64)
        return TensorDataset(Tensor(batch, device=device), Tensor(labels, device=device))

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += [f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None or self.target_transform is not None:
            lines.append("    StandardTransform")  # torchvision's layout, character for character
            for head, transform in (("Transform: ", self.transform), ("Target transform: ", self.target_transform)):
                if transform is not None:
                    first, *rest = repr(transform).splitlines()
                    lines += [head + first] + [" " * len(head) + line for line in rest]
        return "\n".join(lines)
