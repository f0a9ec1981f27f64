"""Names and paths become data sets here: ``load``, ``available``, ``load_features``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._registry import Registry
from . import bundled, fashion_mnist, synthetic
from .csv_file import load_csv, read_csv_features
from .dataset import Dataset, Spec
from .idx import is_idx, load_idx
from .npy_file import load_npy, load_npz, read_array_features

SETS: Registry[Spec] = Registry("data set", {**synthetic.SETS, **bundled.SETS, **fashion_mnist.SETS})

_FORMATS = ".csv, .tsv, .npz, .npy, IDX (e.g. train-images-idx3-ubyte[.gz]) or a folder of IDX files"
_FILE_SUFFIXES = (".csv", ".tsv", ".npz", ".npy", ".gz", ".idx", "-ubyte")


def available() -> list[tuple[str, str, str, str]]:
    """The named data sets: ``(name, task, shape, source)`` rows, for ``vecprop datasets``.

    ``shape`` describes the default size, e.g. ``"400 x 2"`` (rows x features).
    """
    return [(name, spec.task, spec.shape, spec.source) for name, spec in SETS.items()]


def _subsample(ds: Dataset, n_samples: int, seed: int) -> Dataset:
    """``n_samples`` training rows drawn without replacement; the test split is kept whole."""
    if not 1 <= n_samples:
        raise ValueError(f"n_samples must be >= 1; got {n_samples}")
    if n_samples >= ds.m:
        return ds
    rows = np.sort(np.random.default_rng(seed).choice(ds.m, size=n_samples, replace=False))
    return ds.replace(X=ds.X[rows], y=ds.y[rows])


def _load_file(path: Path, target: str | int | None, task: str | None) -> Dataset:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return load_csv(path, target=target, task=task)
    if target is not None and suffix != ".npy":
        raise ValueError(f"target= applies to .csv, .tsv and .npy files; {path.name} has its own labels")
    if suffix == ".npz":
        return load_npz(path, task=task)
    if suffix == ".npy":
        return load_npy(path, target=target, task=task)
    if path.is_dir() or is_idx(path) or "idx" in path.name:
        ds = load_idx(path)  # a bad magic number or truncated file raises, naming the file
        if task is not None and task != ds.task:
            raise ValueError(f"{path}: IDX labels are classes; task={task!r} does not apply")
        return ds
    raise ValueError(f"{path}: unsupported file type {suffix or '(no suffix)'!r}; supported: {_FORMATS}")


def load(name_or_path: str, *, target: str | int | None = None, seed: int = 0,
         n_samples: int | None = None, task: str | None = None) -> Dataset:
    """Load a named data set or a data file as a :class:`Dataset` (rows are examples).

    Parameters
    ----------
    name_or_path : str
        A name from :func:`available` (``"moons"``, ``"iris"``, ``"fashion-mnist"``...)
        or a path: ``.csv``/``.tsv``, ``.npz``, ``.npy``, an IDX file or a folder
        of IDX files.
    target : str or int, optional
        CSV: the target column (name or index; default last). ``.npy``: the target
        column index (default last). Not allowed for other sources.
    seed : int
        Seeds synthetic generation, and the row subsample when ``n_samples`` is set.
    n_samples : int, optional
        Synthetic sets: how many points to generate. Other sources: keep a seeded
        random subset of this many training rows (a predefined test split is kept whole).
    task : {"binary", "multiclass", "regression"}, optional
        Override the inferred task of a CSV/npz/npy file.

    Raises
    ------
    ValueError
        An unknown name that is not a file: the message suggests the nearest
        known name and lists them all.
    FileNotFoundError
        A path-like name (with a directory or a data-file suffix) that does not exist.
    """
    spec = SETS.get(name_or_path)
    if spec is not None:
        if target is not None:
            raise ValueError(f"target= applies to files; {name_or_path!r} has its own labels")
        if task is not None and task != spec.task:
            raise ValueError(f"{name_or_path!r} is a {spec.task} data set; task={task!r} does not apply")
        if name_or_path in synthetic.SETS:
            return spec.loader(seed, n_samples)
        ds = spec.loader(seed, None)
    else:
        path = Path(name_or_path).expanduser()
        if path.exists():
            ds = _load_file(path, target, task)
        elif "/" in name_or_path or "\\" in name_or_path or name_or_path.lower().endswith(_FILE_SUFFIXES):
            raise FileNotFoundError(f"no such file or folder: {name_or_path}")
        else:
            raise ValueError(f"{SETS.unknown(name_or_path)}; and no such file: give a path to {_FORMATS}")
    return ds if n_samples is None else _subsample(ds, n_samples, seed)


def load_features(path: str | Path, *, header: bool | None = None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Inputs to predict, every column a feature: ``(X (m, n_0) float64, names or None)``.

    ``.csv``/``.tsv`` (header detected as in :func:`load_csv`), ``.npy`` (the whole
    2-D array) or ``.npz`` (its ``X``). ``uint8`` arrays stay ``uint8``.
    """
    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        return read_csv_features(path, header=header)
    if path.suffix.lower() in (".npz", ".npy"):
        return read_array_features(path), None
    raise ValueError(f"{path}: unsupported file type for predict inputs; supported: .csv, .tsv, .npz, .npy")
