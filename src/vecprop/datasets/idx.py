"""IDX files (the MNIST format), plain or gzipped: one reader, and the rule that pairs images with labels."""
from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import regular_file
from .._memory import check_fits
from .dataset import Dataset
from .labels import LabelEncoder

# IDX type byte -> big-endian numpy dtype (the format's own table).
_DTYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def is_idx(path: str | Path) -> bool:
    """Whether ``path`` starts (after any gzip layer) with a valid IDX magic number."""
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == _GZIP_MAGIC
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            head = fh.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] in _DTYPES and head[3] > 0


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` detected by its magic bytes) into a native-endian array.

    Raises
    ------
    ValueError
        Naming the file: a wrong magic number (and the one found), a truncated
        file or gzip stream, trailing bytes the dimensions do not account for, or
        dimensions whose data would not fit in memory.

    Notes
    -----
    Layout: magic ``0x0000TTDD`` (type byte TT, number of dimensions DD), then DD
    big-endian uint32 sizes, then the data in C order, big-endian. The header is read
    first and the data with that bound: a gzip stream is never inflated past what
    the header says (plus one byte, to notice trailing data).
    """
    path = Path(path)
    regular_file(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        try:
            with (gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw) as fh:
                return _read_idx_stream(path, fh)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise ValueError(f"{path}: truncated or corrupt gzip stream ({err})") from err


def _read_exactly(fh: Any, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream), without reading past them."""
    chunks, left = [], n
    while left > 0:
        block = fh.read(min(left, 1 << 24))
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return b"".join(chunks)


def _read_idx_stream(path: Path, fh: Any) -> np.ndarray:
    head = _read_exactly(fh, 4)
    magic = int.from_bytes(head.ljust(4, b"\0"), "big")
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _DTYPES or head[3] == 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08X} "
            f"(expected 0x0000TTDD, type TT in {{{', '.join(f'{t:02X}' for t in _DTYPES)}}}, "
            f"DD >= 1 dimensions; e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    dtype, ndim = np.dtype(_DTYPES[head[2]]), head[3]
    header = 4 + 4 * ndim
    sizes = _read_exactly(fh, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX file: the header of {ndim} dimensions needs "
                         f"{header} bytes; the file has {4 + len(sizes)}")
    dims = tuple(int.from_bytes(sizes[4 * i: 4 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims) * dtype.itemsize
    check_fits(expected, f"{path}: dimensions {dims} of {dtype.name}", "is the header right?")
    data = _read_exactly(fh, expected + 1)  # one byte more tells a trailing byte from the end
    found = len(data) if len(data) <= expected else f"more than {expected}"
    if len(data) != expected:
        what = "truncated IDX file" if len(data) < expected else "IDX file has trailing bytes"
        raise ValueError(f"{path}: {what}: dimensions {dims} of {dtype.name} need {expected} "
                         f"bytes after the {header}-byte header; found {found}")
    return np.frombuffer(data, dtype, count=math.prod(dims)).reshape(dims).astype(dtype.newbyteorder("="))


def with_or_without_gz(directory: Path, name: str) -> Path | None:
    """``directory/name``, or the same name with ``.gz`` added or removed, if it exists."""
    other = name[:-3] if name.endswith(".gz") else name + ".gz"
    for candidate in (directory / name, directory / other):
        if candidate.is_file():
            return candidate
    return None


def _labels_name(images_name: str) -> str:
    return images_name.replace("images", "labels", 1).replace("idx3", "idx1", 1)


def _images_file(path: Path) -> Path:
    """Resolve a directory or a labels file to the training images file."""
    if path.is_dir():
        found = with_or_without_gz(path, "train-images-idx3-ubyte.gz")
        candidates = [found] if found else sorted(p for p in path.iterdir() if "images" in p.name)
        if len(candidates) != 1:
            raise FileNotFoundError(f"{path}: expected train-images-idx3-ubyte[.gz] or exactly one "
                                    f"'*images*' IDX file; found {[p.name for p in candidates]}")
        return candidates[0]
    if "images" not in path.name and "labels" in path.name:
        name = path.name.replace("labels", "images", 1).replace("idx1", "idx3", 1)
        images = with_or_without_gz(path.parent, name)
        if images is None:
            raise FileNotFoundError(f"{path}: a labels file; no images file beside it")
        return images
    return path


def find_idx_pairs(path: str | Path) -> tuple[tuple[Path, Path], tuple[Path, Path] | None]:
    """Find ``(train_images, train_labels)`` and the optional test pair from one path.

    The rule: ``path`` is an images file, its labels file, or a directory holding
    ``train-images-idx3-ubyte[.gz]``. The labels file is the images file's name
    with ``images`` -> ``labels`` and ``idx3`` -> ``idx1`` (first occurrence each),
    ``.gz`` optional. When the name starts with ``train``, the test images file is
    the same name with ``t10k`` (or ``test``) in its place, labels by the same rule.
    """
    images = _images_file(Path(path))
    if images.is_file() and not is_idx(images):
        read_idx(images)  # raises first, naming the file and the magic number found
    if "images" not in images.name:
        raise FileNotFoundError(f"{images}: cannot find its labels: an IDX images file's name must "
                                f"contain 'images' (its labels file: same name with 'labels')")
    labels = with_or_without_gz(images.parent, _labels_name(images.name))
    if labels is None:
        raise FileNotFoundError(f"{images}: no labels file {_labels_name(images.name)}[.gz] beside it")
    test = None
    if images.name.startswith("train"):
        for prefix in ("t10k", "test"):
            test_images = with_or_without_gz(images.parent, prefix + images.name[len("train"):])
            if test_images is not None:
                test_labels = with_or_without_gz(images.parent, _labels_name(test_images.name))
                if test_labels is None:
                    raise FileNotFoundError(f"{test_images}: no labels file "
                                            f"{_labels_name(test_images.name)}[.gz] beside it")
                test = (test_images, test_labels)
                break
    return (images, labels), test


def _pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if 0 in images.shape:
        raise ValueError(f"{images_path}: holds no data: dimensions {images.shape} (an images file has m >= 1 "
                         "images of at least one pixel)")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{labels_path}: labels must be 1-D integers; got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images "
                         f"in {images_path}")
    X = images.reshape(images.shape[0], -1)  # (m, n_0): each image flattened in C order
    return (X if X.dtype == np.uint8 else X.astype(np.float64)), labels


def load_idx(path: str | Path, *, classes: tuple[str, ...] | None = None, name: str | None = None,
             source: str | None = None) -> Dataset:
    """Load an IDX images/labels pair (and its test pair, if present; see :func:`find_idx_pairs`).

    Parameters
    ----------
    path : str or Path
        Images file, labels file, or directory.
    classes : tuple of str, optional
        Class names indexed by the label values; by default the sorted distinct
        labels of train and test, as strings.

    Returns
    -------
    Dataset
        ``X`` (m, n_0) ``uint8`` for ``uint8`` images (other types become
        ``float64``), ``y`` (m,) codes; ``X_test``/``y_test`` when a test pair exists.
    """
    (images, labels), test = find_idx_pairs(path)
    X, raw = _pair(images, labels)
    X_test, raw_test = _pair(*test) if test else (None, None)
    everything = raw if raw_test is None else np.concatenate([raw, raw_test])
    if classes is None:
        enc = LabelEncoder().fit(everything)
        classes = enc.classes_
        y, y_test = enc.transform(raw), None if raw_test is None else enc.transform(raw_test)
    else:
        if everything.min() < 0 or everything.max() >= len(classes):
            raise ValueError(f"{labels}: labels must lie in [0, {len(classes)}) for classes {classes}")
        y, y_test = raw.astype(np.int64), None if raw_test is None else raw_test.astype(np.int64)
    described = f"IDX files {images.name} + {labels.name}" + (
        f" (test: {test[0].name} + {test[1].name})" if test else "") + f" in {images.parent}"
    return Dataset(X=X, y=y, task="binary" if len(classes) == 2 else "multiclass", classes=classes,
                   feature_names=None, name=name or images.name, source=source or described,
                   X_test=X_test, y_test=y_test)
