"""Reading and fetching the data files behind ``minicnn.vision.datasets``.

- IDX files (MNIST, Fashion-MNIST): :func:`read_idx` checks the magic number and the header's sizes against
  the bytes that follow before it allocates anything, and names the file in every error.
- Downloads: :func:`_fetch` writes to a temporary file in the target folder, checks the published MD5, then
  renames it into place, so a failed or interrupted download never leaves a partial file.
- Archives: :func:`_extract_members` copies only the named regular files out of a .tar.gz.

The public names are re-exported by ``minicnn.vision.datasets``, where users import them.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tempfile
import urllib.request
import zlib

import numpy as np

__all__ = ["DatasetError", "DownloadError", "IMAGES_MAGIC", "LABELS_MAGIC", "read_idx"]


class DatasetError(ValueError):
    """A data file is damaged or not what it should be; the message names the file, the expectation, the finding."""


class DownloadError(RuntimeError):
    """A file could not be downloaded from any mirror; the message lists each mirror and why it failed."""


# ---------------------------------------------------------------- the IDX format

# An IDX file: a big-endian int32 magic number 0x0800 + number of dimensions (0x08 = unsigned bytes), one
# big-endian int32 per dimension, then the values, row-major. Labels are 1-D, images 3-D (count, rows, columns).
LABELS_MAGIC = 0x0801  # 2049
IMAGES_MAGIC = 0x0803  # 2051
_KIND = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}
# Deflate cannot expand data more than ~1032 times: a header promising more than this many bytes per
# compressed byte describes a file that cannot be complete, which we can say before allocating anything.
_MAX_DEFLATE_RATIO = 1100


def read_idx(path: str | os.PathLike, expected_magic: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped if ``path`` ends in ``.gz``) as a uint8 array.

    Args:
        path: the file.
        expected_magic: 2051 for images (3-D), 2049 for labels (1-D).

    Raises:
        DatasetError: a wrong magic number, a header the file is too short (or too long) for, a damaged gzip stream.
    """
    path = os.fspath(path)
    kind, ndim = _KIND.get(expected_magic, "data"), expected_magic - 0x0800
    compressed = path.endswith(".gz")
    size_on_disk = os.path.getsize(path)
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            header = f.read(4 + 4 * ndim)
            if len(header) < 4:
                raise DatasetError(f"{path}: truncated: {len(header)} bytes, too short for an IDX header")
            (magic,) = struct.unpack(">i", header[:4])
            if magic != expected_magic:
                found = f" (IDX {_KIND[magic]})" if magic in _KIND else ""
                raise DatasetError(
                    f"{path}: expected an IDX {kind} file, magic number {expected_magic}; found magic number "
                    f"{magic}{found}"
                )
            if len(header) < 4 + 4 * ndim:
                raise DatasetError(f"{path}: truncated: the header ends after {len(header)} of {4 + 4 * ndim} bytes")
            shape = struct.unpack(f">{ndim}i", header[4:])
            if min(shape) < 0:
                raise DatasetError(f"{path}: the header gives a negative size, shape {shape}")
            count = math.prod(shape)  # a Python int: a product past 2**63 cannot wrap around as int64 would
            # say "truncated" before allocating memory for a count the file cannot hold
            room = size_on_disk * _MAX_DEFLATE_RATIO if compressed else size_on_disk - len(header)
            if count > room:
                raise DatasetError(
                    f"{path}: truncated: the header promises {kind} of shape {shape} ({count} bytes) but the "
                    f"{'compressed ' if compressed else ''}file holds only {size_on_disk} bytes"
                )
            values = np.empty(count, dtype=np.uint8)
            filled = _read_into(f, values)
            if filled < count:
                raise DatasetError(
                    f"{path}: truncated: the header promises {kind} of shape {shape} ({count} bytes), "
                    f"the file holds {filled}"
                )
            if f.read(1):
                raise DatasetError(f"{path}: {kind} of shape {shape} ({count} bytes) are followed by extra bytes")
    except (OSError, EOFError, zlib.error) as error:  # a damaged or cut-off gzip stream, an unreadable file
        raise DatasetError(f"{path}: cannot read the file: {type(error).__name__}: {error}") from error
    return values.reshape(shape)


def _read_into(f, buffer: np.ndarray) -> int:
    """Fill ``buffer`` from file ``f``; return how many bytes arrived (fewer if the file ends first)."""
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        arrived = f.readinto(view[filled:])
        if not arrived:
            break
        filled += arrived
    return filled


# ---------------------------------------------------------------- archives


def _extract_members(archive: str, folder_in_archive: str, names: list, destination: str) -> None:
    """Copy ``folder_in_archive/name`` for each name out of a .tar.gz into ``destination``, each atomically.

    Only the named regular files are read, so a crafted archive cannot write anywhere else.
    """
    import tarfile

    with tarfile.open(archive, "r:gz") as tar:
        for name in names:
            try:
                member = tar.getmember(f"{folder_in_archive}/{name}")
            except KeyError:
                if name.endswith(".bin"):
                    raise DatasetError(f"{archive}: the archive has no {folder_in_archive}/{name}") from None
                continue
            if not member.isfile():
                raise DatasetError(f"{archive}: {member.name} is not a regular file")
            handle, temporary = tempfile.mkstemp(dir=destination, prefix=f".{name}.", suffix=".part")
            with os.fdopen(handle, "wb") as out, tar.extractfile(member) as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    out.write(chunk)
            os.replace(temporary, os.path.join(destination, name))


# ---------------------------------------------------------------- downloading one file


def _md5_of_file(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # a checksum against damage, not a security measure
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, target: str, md5: str, timeout: float) -> None:
    """Download ``url`` to ``target`` atomically: a temporary file in the same folder, MD5 check, rename.

    On any failure the temporary file is removed and ``target`` is left as it was.
    """
    folder, name = os.path.split(target)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        request = urllib.request.Request(url, headers={"User-Agent": "minicnn"})
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
            missing = getattr(response, "length", None)  # bytes the server announced but did not send
            if missing:
                raise OSError(f"the connection closed with {missing} announced bytes still to come")
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the rename makes them visible
        if digest.hexdigest() != md5:
            raise DatasetError(f"checksum mismatch: expected MD5 {md5}, got {digest.hexdigest()}")
        os.replace(temporary, target)  # atomic: target is either the old file or the complete new one
        temporary = None
    finally:
        if temporary is not None:
            try:
                os.remove(temporary)
            except FileNotFoundError:
                pass
