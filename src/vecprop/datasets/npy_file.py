"""NumPy files: ``.npz`` with named arrays, ``.npy`` with the target as a column, row slices by mmap."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Dataset
from .labels import encode_target

OPTIONAL_KEYS = ("X_test", "y_test", "classes", "feature_names")


def _features(path: Path, key: str, X: np.ndarray) -> np.ndarray:
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} must be a 2-D numeric array (m, n_0); got {X.dtype} {X.shape}")
    return X if X.dtype == np.uint8 else X.astype(np.float64)


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as err:  # object arrays need pickle, which we never load
        raise ValueError(f"{path}: cannot read without pickle ({err}); save plain numeric "
                         f"or string arrays") from err


def load_npz(path: str | Path, *, task: str | None = None) -> Dataset:
    """Load a ``.npz`` archive with arrays ``X`` (m, n_0) and ``y`` (m,) or (m, k).

    Optional arrays: ``X_test`` and ``y_test`` (a predefined test split),
    ``classes`` (strings; then ``y`` holds codes into it) and ``feature_names``.
    Without ``classes`` the task is inferred from ``y`` by
    :func:`~vecprop.datasets.labels.encode_target` unless ``task`` is given.
    Read with ``allow_pickle=False``.
    """
    path = Path(path)
    arrays = _open_npz(path)
    if "X" not in arrays or "y" not in arrays:
        raise ValueError(f"{path}: a .npz data set needs arrays 'X' and 'y' (optional: "
                         f"{', '.join(OPTIONAL_KEYS)}); found keys: {sorted(arrays) or 'none'}")
    X = _features(path, "X", arrays["X"])
    X_test = _features(path, "X_test", arrays["X_test"]) if "X_test" in arrays else None
    y_raw, y_test_raw = arrays["y"], arrays.get("y_test")
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
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:  # object arrays need pickle, which we never load
        raise ValueError(f"{path}: cannot read without pickle ({err})") from err
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: a .npy data set must be a 2-D numeric array; "
                         f"got {array.dtype} {array.shape}")
    return array


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
        arrays = _open_npz(path)
        if "X" not in arrays:
            raise ValueError(f"{path}: no array 'X'; found keys: {sorted(arrays) or 'none'}")
        return _features(path, "X", arrays["X"])
    return _features(path, "array", np.asarray(_open_npy(path)))


def read_npz_names(path: str | Path) -> tuple[str, ...] | None:
    """The ``feature_names`` array of a ``.npz`` of inputs, or None when it has none."""
    names = _open_npz(Path(path)).get("feature_names")
    return None if names is None else tuple(str(n) for n in np.asarray(names).reshape(-1))
