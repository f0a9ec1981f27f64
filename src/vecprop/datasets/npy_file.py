"""NumPy files: ``.npz`` with named arrays, ``.npy`` with the target as a column, row slices by mmap."""
from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from .._checks import regular_file
from .._memory import check_fits
from .dataset import Dataset
from .labels import encode_target

OPTIONAL_KEYS = ("X_test", "y_test", "classes", "feature_names")


def _features(path: Path, key: str, X: np.ndarray) -> np.ndarray:
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} must be a 2-D numeric array (m, n_0); got {X.dtype} {X.shape}")
    if 0 in X.shape:
        raise ValueError(f"{path}: {key} holds no data: shape {X.shape} (m >= 1 rows of n_0 >= 1 features)")
    return X if X.dtype == np.uint8 else X.astype(np.float64)


def _npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of the .npy stream ``fh``, read without its data."""
    version = np.lib.format.read_magic(fh)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unsupported .npy format version {version}")
    try:
        shape, _, dtype = read(fh)
    except Exception as err:  # numpy's header parser lets SyntaxError and tokenize errors through
        raise ValueError(f"malformed .npy header ({type(err).__name__}: {err})") from None
    return tuple(shape), dtype, fh.tell()


def _check_header(where: str, shape: tuple[int, ...], dtype: np.dtype, stored: int) -> None:
    """Before reading an array: no pickled objects, as many bytes stored as its header says, and memory for it."""
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects (dtype {dtype}): vecprop cannot read without pickle, "
                         "which it never uses; save plain numeric or string arrays")
    need = math.prod(shape) * dtype.itemsize
    if stored < need:
        raise ValueError(f"{where}: its header says shape {shape} of {dtype}, {need:,} bytes, but only {stored:,} "
                         "are stored: the file is truncated or damaged")
    check_fits(math.prod(shape) * max(dtype.itemsize, 8) * 2, f"{where}: shape {shape} (as float64, twice)",
               "use a smaller file")


def _open_npz(path: Path, keys: tuple[str, ...]) -> tuple[dict[str, np.ndarray], list[str]]:
    """(the arrays ``keys`` of a .npz archive, each checked header-first; the names of all its arrays).

    Arrays not asked for are not read."""
    regular_file(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"{path}: not a .npz (zip) archive: it starts with {head!r} (save one with np.savez)")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = {info.filename[: -len(".npy")]: info for info in zf.infolist() if info.filename.endswith(".npy")}
            for key in keys:
                if key not in members:
                    continue
                with zf.open(members[key]) as member:
                    shape, dtype, header = _npy_header(member)
                _check_header(f"{path}: array {key!r}", shape, dtype, members[key].file_size - header)
                with zf.open(members[key]) as member:
                    out[key] = np.lib.format.read_array(member, allow_pickle=False)
    except ValueError as err:
        raise err if str(path) in str(err) else ValueError(f"{path}: {err}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as err:
        # zipfile says "compression method not supported", "encrypted", "zip file version 6.4" this way
        raise ValueError(f"{path}: damaged .npz archive ({type(err).__name__}: {err})") from None
    return out, sorted(members)


def load_npz(path: str | Path, *, task: str | None = None) -> Dataset:
    """Load a ``.npz`` archive with arrays ``X`` (m, n_0) and ``y`` (m,) or (m, k).

    Optional arrays: ``X_test`` and ``y_test`` (a predefined test split),
    ``classes`` (strings; then ``y`` holds codes into it) and ``feature_names``.
    Without ``classes`` the task is inferred from ``y`` by
    :func:`~vecprop.datasets.labels.encode_target` unless ``task`` is given.
    Read with ``allow_pickle=False``.
    """
    path = Path(path)
    arrays, files = _open_npz(path, ("X", "y", *OPTIONAL_KEYS))
    if "X" not in arrays or "y" not in arrays:
        raise ValueError(f"{path}: a .npz data set needs arrays 'X' and 'y' (optional: "
                         f"{', '.join(OPTIONAL_KEYS)}); found keys: {files or 'none'}")
    X = _features(path, "X", arrays["X"])
    X_test = _features(path, "X_test", arrays["X_test"]) if "X_test" in arrays else None
    y_raw, y_test_raw = arrays["y"], arrays.get("y_test")
    for key, y, rows in (("y", y_raw, X), ("y_test", y_test_raw, X_test)):
        if y is not None and (y.ndim not in (1, 2) or rows is None or y.shape[0] != rows.shape[0]):
            want = "" if rows is None else f" with m={rows.shape[0]} rows like {'X' if key == 'y' else 'X_test'}"
            raise ValueError(f"{path}: {key} must be (m,) or (m, k){want}; got shape {y.shape}")
    if y_test_raw is not None and y_raw.shape[1:] != y_test_raw.shape[1:]:
        raise ValueError(f"{path}: y is {y_raw.shape} but y_test is {y_test_raw.shape}; they need the same columns")
    m = y_raw.shape[0]
    both = y_raw if y_test_raw is None else np.concatenate([y_raw, y_test_raw])
    if "classes" in arrays:
        classes = tuple(str(c) for c in arrays["classes"])
        if task is None:
            task = "binary" if len(classes) == 2 else "multiclass"
        if not np.issubdtype(both.dtype, np.integer):
            raise ValueError(f"{path}: with 'classes', y must hold integer codes; got {both.dtype}")
        codes = both.astype(np.int64)
    else:
        codes, task, classes = encode_target(both, task, where=f"{path}: y")
    names = arrays.get("feature_names")
    return Dataset(X=X, y=codes[:m], task=task, classes=classes,
                   feature_names=None if names is None else tuple(str(n) for n in names),
                   name=path.name, source=f"NumPy archive {path}",
                   X_test=X_test, y_test=None if y_test_raw is None else codes[m:])


def _open_npy(path: Path) -> np.ndarray:
    """A 2-D numeric .npy array, memory-mapped, after its header was checked against the file's size."""
    regular_file(path)
    try:
        with open(path, "rb") as fh:
            shape, dtype, header = _npy_header(fh)
    except ValueError as err:
        raise ValueError(f"{path}: not a .npy array file ({err})") from None
    _check_header(str(path), shape, dtype, path.stat().st_size - header)
    if len(shape) != 2 or dtype.kind not in "biuf":
        raise ValueError(f"{path}: a .npy data set must be a 2-D numeric array; got {dtype} {shape}")
    if 0 in shape:
        raise ValueError(f"{path}: holds no data: shape {shape} (m >= 1 rows of at least one column)")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def load_npy(path: str | Path, *, target: str | int | None = None, task: str | None = None) -> Dataset:
    """Load a 2-D ``.npy`` array whose ``target`` column (default: the last) is the target.

    The other columns, in order, are the features ``X`` (m, n_0) float64.
    """
    path = Path(path)
    array = _open_npy(path)
    n = array.shape[1]
    text = "-1" if target is None else str(target)
    if n < 2 or not text.lstrip("-").isdigit() or not -n <= int(text) < n:
        raise ValueError(f"{path}: target must be a column index in [-{n}, {n}) of its {n} "
                         f"columns (at least 2 needed); got {target!r}")
    j = int(text) % n
    X = np.delete(np.asarray(array, dtype=np.float64), j, axis=1)  # (m, n - 1)
    y, task, classes = encode_target(np.asarray(array[:, j]), task, where=f"{path}: column {j}")
    return Dataset(X=X, y=y, task=task, classes=classes, feature_names=None, name=path.name,
                   source=f"NumPy array {path}, target column {j}")


def read_array_features(path: str | Path) -> np.ndarray:
    """Inputs to predict: a whole 2-D ``.npy`` array, or the ``X`` array of a ``.npz``."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        arrays, files = _open_npz(path, ("X",))
        if "X" not in arrays:
            raise ValueError(f"{path}: no array 'X'; found keys: {files or 'none'}")
        return _features(path, "X", arrays["X"])
    return _features(path, "array", np.asarray(_open_npy(path)))


def read_npz_names(path: str | Path) -> tuple[str, ...] | None:
    """The ``feature_names`` array of a ``.npz`` of inputs, or None when it has none."""
    names = _open_npz(Path(path), ("feature_names",))[0].get("feature_names")
    return None if names is None else tuple(str(n) for n in np.asarray(names).reshape(-1))
