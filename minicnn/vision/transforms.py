"""``minicnn.vision.transforms``: image transforms shaped like ``torchvision.transforms``.

Images here are arrays, not PIL images. ``ToTensor`` turns a ``(H, W)`` or ``(H, W, C)`` array (what the
datasets return) into a float32 ``(C, H, W)`` tensor in [0, 1]; every other transform works on the last two
axes ``(..., H, W)`` of a minicnn ``Tensor`` or a NumPy/CuPy array and returns the same kind it was given.

Batches: every transform also takes a whole batch ``(N, C, H, W)`` and treats it in one vectorised step, so a
training loop can transform each batch at once instead of each sample::

    resize = Resize(224)
    for images, labels in loader:          # images: (64, 1, 28, 28)
        images = resize(images)            # (64, 1, 224, 224), two small matrix products

The random transforms draw one crop / one coin flip per sample of a 4-D batch (torchvision draws once for
the whole batch), from ``minicnn.manual_seed``'s generator, so seeded runs repeat.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from .. import backend
from ..ops.arguments import pair
from ..tensor import Tensor

__all__ = [
    "CenterCrop",
    "Compose",
    "Lambda",
    "Normalize",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Resize",
    "ToTensor",
]


# ---------------------------------------------------------------- helpers


def _unwrap(image, name: str):
    """The raw array inside ``image`` (a Tensor or an array), checked to have the ``(..., H, W)`` axes."""
    array = image.array if isinstance(image, Tensor) else image
    if not isinstance(array, np.ndarray) and backend.get_array_module(array) is np:
        raise TypeError(f"{name}: expected a minicnn Tensor or an array, got {type(image).__name__}")
    if array.ndim < 2:
        raise ValueError(f"{name}: expected an image (..., H, W) with at least 2 dimensions, got shape {array.shape}")
    return array


def _like(result, image):
    """Give ``result`` back as the kind ``image`` was: a Tensor stays a Tensor, an array stays an array."""
    return Tensor(result) if isinstance(image, Tensor) else result


def _size_pair(size, name: str) -> tuple[int, int]:
    """``size`` as (height, width) of positive ints: an int means a square (ops.arguments.pair, then checked)."""
    if isinstance(size, Sequence) and not isinstance(size, (tuple, list)):
        size = tuple(size)
    try:
        height, width = pair(size, "size", name)
    except (TypeError, ValueError) as error:  # torchvision's own wording for a size argument
        raise ValueError(f"{name}: size must be an int or a sequence of 1 or 2 ints, got {size!r}") from error
    if height <= 0 or width <= 0:
        raise ValueError(f"{name}: size must hold positive ints, got {size!r}")
    return height, width


def _padding_ltrb(padding, name: str) -> tuple[int, int, int, int]:
    """torchvision's padding forms as (left, top, right, bottom): int, (all,), (left/right, top/bottom), 4 values."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = [int(padding)]
    if not isinstance(padding, Sequence) or len(padding) not in (1, 2, 4):
        raise ValueError(f"{name}: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0 for p in padding):
        raise ValueError(f"{name}: padding must hold non-negative ints, got {padding!r}")
    if len(padding) == 1:
        return (padding[0],) * 4
    if len(padding) == 2:  # (left and right, top and bottom)
        return padding[0], padding[1], padding[0], padding[1]
    return tuple(padding)


_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _pad(array, left: int, top: int, right: int, bottom: int, fill, padding_mode: str):
    """Pad the last two axes of ``array``; the modes are NumPy's (and torchvision's) names."""
    xp = backend.get_array_module(array)
    widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        return xp.pad(array, widths, mode="constant", constant_values=fill)
    return xp.pad(array, widths, mode=padding_mode)


def _check_padding_mode(padding_mode: str, name: str) -> str:
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
    return padding_mode


class Transform:
    """Base of the transforms: a callable with a readable ``repr``. ``is_random`` marks random ones."""

    is_random = False

    def __call__(self, image):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


# ---------------------------------------------------------------- composition


class Compose(Transform):
    """Apply ``transforms`` one after the other: ``Compose([ToTensor(), Normalize((0.5,), (0.5,))])``."""

    def __init__(self, transforms: Sequence[Callable]):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")
        self.transforms = transforms

    @property
    def is_random(self) -> bool:
        return any(getattr(t, "is_random", False) for t in self.transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self):
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda(Transform):
    """Use a function as a transform: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, lambd: Callable):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, image):
        return self.lambd(image)


# ---------------------------------------------------------------- conversion and normalisation


class ToTensor(Transform):
    """Turn an image array into a ``(C, H, W)`` tensor; uint8 values 0..255 become float32 in [0, 1].

    Accepts what the datasets return: a NumPy array ``(H, W)`` (grayscale) or ``(H, W, C)``, a minicnn Tensor
    of those shapes, or anything NumPy can read as an array (a PIL image, say). A 4-D input is a batch
    ``(N, H, W, C)`` and becomes ``(N, C, H, W)``. As torchvision: uint8 input is divided by 255 in float32;
    input of any other dtype keeps its dtype and values and is only moved to channels-first.

    Shape:
        (H, W) -> (1, H, W); (H, W, C) -> (C, H, W); (N, H, W, C) -> (N, C, H, W).
    """

    def __call__(self, pic):
        array = pic.array if isinstance(pic, Tensor) else pic
        if backend.get_array_module(array) is np and not isinstance(array, np.ndarray):
            if not hasattr(pic, "__array_interface__") and not hasattr(pic, "__array__"):
                raise TypeError(f"ToTensor: pic should be an array or a Tensor, got {type(pic).__name__}")
            array = np.asarray(pic)  # a PIL image or another array-like
        if array.ndim not in (2, 3, 4):
            raise ValueError(
                f"ToTensor: expected an image (H, W) or (H, W, C), or a batch (N, H, W, C); got shape {array.shape}"
            )
        xp = backend.get_array_module(array)
        if array.ndim == 2:
            array = array[:, :, None]  # a grayscale image has one channel
        channels_first = (2, 0, 1) if array.ndim == 3 else (0, 3, 1, 2)
        array = xp.ascontiguousarray(array.transpose(channels_first))
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255  # a true division, as torchvision (bit-identical results)
        return Tensor(array)


class Normalize(Transform):
    """Normalise each channel: ``output[c] = (input[c] - mean[c]) / std[c]``.

    Args:
        mean: one value per channel, or one value for all channels.
        std: one value per channel, or one value for all channels; none may be zero.
        inplace: change the input array instead of making a new one.

    Shape:
        a float image (C, H, W) or batch (N, C, H, W); the output has the input's shape and dtype.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace
        mean_values = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        std_values = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if mean_values.ndim != 1 or std_values.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be numbers or flat sequences, got {mean!r} and {std!r}")
        if np.isnan(mean_values).any() or np.isnan(std_values).any():  # NaN would spread to every pixel, silently
            raise ValueError(f"Normalize: mean and std must not contain NaN, got {mean!r} and {std!r}")
        if np.any(std_values == 0):
            raise ValueError(f"Normalize: std must not contain zeros (division by zero), got {std!r}")
        self._mean, self._std = mean_values, std_values

    def __call__(self, tensor):
        array = _unwrap(tensor, "Normalize")
        if array.ndim not in (3, 4):
            raise ValueError(f"Normalize: expected an image (C, H, W) or a batch (N, C, H, W), got shape {array.shape}")
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: input should be a float tensor (use ToTensor first), got {array.dtype}")
        channels = array.shape[-3]
        for values, label in ((self._mean, "mean"), (self._std, "std")):
            if len(values) not in (1, channels):
                raise ValueError(
                    f"Normalize: mean has {len(self._mean)} value(s) and std has {len(self._std)}, but the input "
                    f"of shape {array.shape} has {channels} channel(s): give one {label} value per channel or one "
                    "for all"
                )
        xp = backend.get_array_module(array)
        # (C, 1, 1) broadcasts over the height and width of one image and over the batch axis of (N, C, H, W)
        mean = xp.asarray(self._mean.astype(array.dtype)).reshape(-1, 1, 1)
        std = xp.asarray(self._std.astype(array.dtype)).reshape(-1, 1, 1)
        if self.inplace:
            array -= mean
            array /= std
            return tensor
        return _like((array - mean) / std, tensor)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


# ---------------------------------------------------------------- resizing


@functools.lru_cache(maxsize=64)
def interpolation_matrix(in_size: int, out_size: int, mode: str = "bilinear", antialias: bool = False) -> np.ndarray:
    """The (out_size, in_size) matrix ``A`` with ``resized = A @ line``: resizing along one axis is linear.

    Resizing a whole image is then ``A_h @ image @ A_w.T``. The weights are PyTorch's
    (``F.interpolate(..., align_corners=False)``), with scale = in_size / out_size:

    - ``bilinear``: output pixel i samples the input at ``src = scale * (i + 0.5) - 0.5`` (clamped at 0) and
      mixes its two neighbours ``floor(src)`` and ``floor(src) + 1`` with weights ``1 - frac`` and ``frac``.
    - ``bilinear`` with ``antialias`` when shrinking (scale > 1): a triangle filter stretched by ``scale``,
      weight ``max(0, 1 - |j + 0.5 - center| / scale)`` for input pixel j around ``center = scale * (i + 0.5)``,
      normalised to sum to 1, so every input pixel counts (torchvision's ``Resize`` default).
    - ``nearest``: input pixel ``floor(i * scale)``, the scale in float32 as PyTorch computes it.
    """
    out_index = np.arange(out_size)
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size))
    if mode == "nearest":
        source = np.floor(out_index.astype(np.float32) * np.float32(scale)).astype(np.int64)
        matrix[out_index, np.minimum(source, in_size - 1)] = 1.0
    elif antialias and scale > 1:
        centers = scale * (out_index[:, None] + 0.5)
        distance = (np.arange(in_size)[None, :] + 0.5 - centers) / scale
        matrix = np.maximum(0.0, 1.0 - np.abs(distance))
        matrix /= matrix.sum(axis=1, keepdims=True)
    else:
        source = np.maximum(scale * (out_index + 0.5) - 0.5, 0.0)
        left = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
        right = np.minimum(left + 1, in_size - 1)
        fraction = source - left
        np.add.at(matrix, (out_index, left), 1.0 - fraction)  # add.at: left and right coincide at the edge
        np.add.at(matrix, (out_index, right), fraction)
    return matrix


def resized_size(height: int, width: int, size, max_size: int | None = None) -> tuple[int, int]:
    """torchvision's output size: an int (or 1-sequence) sets the smaller edge and keeps the aspect ratio
    (the longer edge is ``int(size * long / short)``, capped by ``max_size``); a pair is (height, width)."""
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    requested = int(size) if isinstance(size, numbers.Integral) else int(size[0])
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


class Resize(Transform):
    """Resize the last two axes, as ``torchvision.transforms.Resize`` does on tensors.

    Args:
        size: an int (or a 1-sequence): the smaller edge becomes ``size`` and the other keeps the aspect ratio,
            ``int(size * long / short)``; or ``(h, w)``: the exact output size.
        interpolation: ``'bilinear'`` (default) or ``'nearest'`` (torchvision's ``InterpolationMode`` works too).
        max_size: with an int ``size``, the longer edge is capped at ``max_size``.
        antialias: when shrinking with bilinear, low-pass filter first (default True, as torchvision); False
            gives exactly ``F.interpolate(mode='bilinear', align_corners=False)``. Enlarging is the same either way.

    Shape:
        (..., H, W) -> (..., H_out, W_out); a batch (N, C, H, W) is resized in one go. Integer images (uint8)
        are computed in float32, rounded and clipped back to their dtype; float images keep their dtype.

    The work is two small matrix products, ``A_h @ image @ A_w.T`` (see :func:`interpolation_matrix`).
    """

    def __init__(self, size, interpolation="bilinear", max_size: int | None = None, antialias: bool = True):
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            size_values = [size]
        elif isinstance(size, Sequence) and not isinstance(size, str):
            size_values = list(size)
        else:
            raise TypeError(f"Resize: size should be an int or a sequence of 1 or 2 ints, got {size!r}")
        if len(size_values) not in (1, 2):
            raise ValueError(f"Resize: size should be an int or a sequence of 1 or 2 ints, got {len(size_values)}")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size_values):
            raise ValueError(f"Resize: size must hold positive ints, got {size!r}")
        if max_size is not None:
            if len(size_values) != 1:
                raise ValueError("Resize: max_size can only be given when size sets the smaller edge (an int)")
            if max_size <= size_values[0]:
                raise ValueError(f"Resize: max_size = {max_size} must be larger than the requested size {size}")
        mode = getattr(interpolation, "value", interpolation)  # torchvision's InterpolationMode.BILINEAR.value
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"Resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.size, self.interpolation, self.max_size, self.antialias = size, mode, max_size, bool(antialias)

    def __call__(self, image):
        array = _unwrap(image, "Resize")
        height, width = array.shape[-2:]
        out_height, out_width = resized_size(height, width, self.size, self.max_size)
        if (out_height, out_width) == (height, width):
            return image
        xp = backend.get_array_module(array)
        work = array if array.dtype.kind == "f" else array.astype(np.float32)
        rows = xp.asarray(interpolation_matrix(height, out_height, self.interpolation, self.antialias), work.dtype)
        cols = xp.asarray(interpolation_matrix(width, out_width, self.interpolation, self.antialias), work.dtype)
        # Along the width it is one flat GEMM over every row of every image, (B*H, W) @ (W, W_out); along the
        # height a (H_out, H) @ (..., H, W) product broadcast over the images (many small GEMMs). Let the flat
        # one do the larger part: height first when enlarging, width first when shrinking.
        if out_height * out_width >= height * width:
            resized = rows @ work
            resized = (resized.reshape(-1, width) @ cols.T).reshape(resized.shape[:-1] + (out_width,))
        else:
            resized = (work.reshape(-1, width) @ cols.T).reshape(work.shape[:-1] + (out_width,))
            resized = rows @ resized
        if array.dtype.kind != "f":
            info = np.iinfo(array.dtype) if array.dtype.kind in "iu" else None
            resized = xp.round(resized)
            if info is not None:
                resized = xp.clip(resized, info.min, info.max)
            resized = resized.astype(array.dtype)
        return _like(resized, image)

    def __repr__(self):
        return (
            f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation}, "
            f"max_size={self.max_size}, antialias={self.antialias})"
        )


# ---------------------------------------------------------------- padding and cropping


class Pad(Transform):
    """Pad the last two axes.

    Args:
        padding: an int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``.
        fill: the value for ``padding_mode='constant'``.
        padding_mode: ``'constant'``, ``'edge'`` (repeat the border), ``'reflect'`` (mirror without the
            border) or ``'symmetric'`` (mirror with the border).

    Shape:
        (..., H, W) -> (..., top + H + bottom, left + W + right).
    """

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        if not isinstance(fill, numbers.Number):
            raise TypeError(f"Pad: fill must be a number, got {type(fill).__name__}")
        self.padding, self.fill = padding, fill
        self.padding_mode = _check_padding_mode(padding_mode, "Pad")
        self._ltrb = _padding_ltrb(padding, "Pad")

    def __call__(self, image):
        array = _unwrap(image, "Pad")
        return _like(_pad(array, *self._ltrb, self.fill, self.padding_mode), image)

    def __repr__(self):
        return f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class CenterCrop(Transform):
    """Crop the centre ``size`` (int or (h, w)); an image smaller than ``size`` is zero-padded first.

    The top-left corner is ``round((H - h) / 2), round((W - w) / 2)``, as torchvision.
    """

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, image):
        array = _unwrap(image, "CenterCrop")
        crop_height, crop_width = self.size
        height, width = array.shape[-2:]
        if crop_height > height or crop_width > width:  # torchvision pads the shortfall, the extra pixel right/below
            grow_h, grow_w = max(crop_height - height, 0), max(crop_width - width, 0)
            array = _pad(array, grow_w // 2, grow_h // 2, (grow_w + 1) // 2, (grow_h + 1) // 2, 0, "constant")
            height, width = array.shape[-2:]
        top, left = int(round((height - crop_height) / 2.0)), int(round((width - crop_width) / 2.0))
        return _like(array[..., top : top + crop_height, left : left + crop_width], image)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop(Transform):
    """Crop a random ``size`` window (int or (h, w)), after optional padding: the classic shift augmentation.

    Args:
        size: the crop's (h, w), or an int for a square.
        padding: padding applied first (the forms of :class:`Pad`), e.g. ``RandomCrop(28, padding=4)``.
        pad_if_needed: pad an image smaller than ``size`` up to it instead of raising.
        fill, padding_mode: as in :class:`Pad`.

    Shape:
        (..., H, W) -> (..., h, w). A batch (N, C, H, W) gets an independent window per sample, drawn from
        ``minicnn.manual_seed``'s generator and gathered in one indexing step.
    """

    is_random = True

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _size_pair(size, "RandomCrop")
        self.padding = padding
        self._ltrb = _padding_ltrb(padding, "RandomCrop") if padding is not None else None
        self.pad_if_needed, self.fill = pad_if_needed, fill
        self.padding_mode = _check_padding_mode(padding_mode, "RandomCrop")

    def __call__(self, image):
        array = _unwrap(image, "RandomCrop")
        crop_height, crop_width = self.size
        if self._ltrb is not None:
            array = _pad(array, *self._ltrb, self.fill, self.padding_mode)
        height, width = array.shape[-2:]
        if self.pad_if_needed and (height < crop_height or width < crop_width):
            grow_h, grow_w = max(crop_height - height, 0), max(crop_width - width, 0)
            array = _pad(array, grow_w, grow_h, grow_w, grow_h, self.fill, self.padding_mode)  # as torchvision
            height, width = array.shape[-2:]
        if height < crop_height or width < crop_width:
            raise ValueError(
                f"RandomCrop: required crop size {self.size} is larger than the (padded) input size {(height, width)}"
            )
        generator = backend.cpu_generator()
        if array.ndim != 4:  # one image: one window
            top = int(generator.integers(0, height - crop_height + 1))
            left = int(generator.integers(0, width - crop_width + 1))
            return _like(array[..., top : top + crop_height, left : left + crop_width], image)
        # A batch: view every possible window, (N, C, top, left, h, w), without copying; then pick one per sample.
        xp = backend.get_array_module(array)
        count, channels = array.shape[:2]
        tops = xp.asarray(generator.integers(0, height - crop_height + 1, size=count))
        lefts = xp.asarray(generator.integers(0, width - crop_width + 1, size=count))
        array = xp.ascontiguousarray(array)
        s_n, s_c, s_h, s_w = array.strides
        windows = backend.as_strided(
            array,
            shape=(count, channels, height - crop_height + 1, width - crop_width + 1, crop_height, crop_width),
            strides=(s_n, s_c, s_h, s_w, s_h, s_w),
        )
        # advanced indices on axes 0, 2, 3 (split by the channel slice) give (N, C, h, w)
        return _like(windows[xp.arange(count), :, tops, lefts], image)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirror the image left-right with probability ``p`` (each sample of a batch (N, C, H, W) on its own).

    The coin flips come from ``minicnn.manual_seed``'s generator.
    """

    is_random = True

    def __init__(self, p: float = 0.5):
        if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, image):
        array = _unwrap(image, "RandomHorizontalFlip")
        generator = backend.cpu_generator()
        xp = backend.get_array_module(array)
        if array.ndim != 4:
            return _like(xp.ascontiguousarray(array[..., ::-1]), image) if generator.random() < self.p else image
        flip = xp.asarray(generator.random(array.shape[0]) < self.p).reshape(-1, 1, 1, 1)
        return _like(xp.where(flip, array[..., ::-1], array), image)

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"
