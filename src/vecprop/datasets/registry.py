"""Names and paths become data sets here: ``load``, ``available``, ``load_features``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import check_int, make_rng
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
    n_samples = check_int("n_samples", n_samples, 1)
    if n_samples >= ds.m:
        return ds
    rows = np.sort(make_rng(seed).choice(ds.m, size=n_samples, replace=False))
    return ds.replace(X=ds.X[rows], y=ds.y[rows], w=None if ds.w is None else ds.w[rows])


def _load_file(path: Path, target: str | int | None, task: str | None, missing: str,
               weight: str | int | None, header: bool | None) -> Dataset:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return load_csv(path, target=target, task=task, missing=missing, weight=weight, header=header)
    if weight is not None or header is not None:
        raise ValueError(f"a weight column and the header setting apply to .csv and .tsv files; {path.name} is not one")
    if target is not None and suffix != ".npy":
        raise ValueError(f"target= applies to .csv, .tsv and .npy files; {path.name} has its own labels")
    if suffix == ".npz":
        return _missing_numbers(load_npz(path, task=task), missing)
    if suffix == ".npy":
        return _missing_numbers(load_npy(path, target=target, task=task), missing)
    if path.is_dir() or is_idx(path) or "idx" in path.name:
        ds = load_idx(path)  # a bad magic number or truncated file raises, naming the file
        if task not in (None, "classification", ds.task):
            raise ValueError(f"{path}: IDX labels are classes; task={task!r} does not apply")
        return _missing_numbers(ds, missing)
    raise ValueError(f"{path}: unsupported file type {suffix or '(no suffix)'!r}; supported: {_FORMATS}")


def _missing_numbers(ds: Dataset, missing: str) -> Dataset:
    """NaN features of an array file are missing values (handled as ``missing`` says); inf is an error."""
    if ds.X.dtype.kind != "f":
        return ds
    parts = [("X", ds.X)] + ([("X_test", ds.X_test)] if ds.X_test is not None else [])
    for key, X in parts:
        inf = np.argwhere(np.isinf(X))
        if inf.size:
            r, c = inf[0]
            raise ValueError(f"{ds.name}: {key} row {r}, column {c} is infinite ({X[r, c]}); features must be "
                             "finite numbers")
    bad = np.isnan(ds.X).any(axis=1)
    bad_test = None if ds.X_test is None else np.isnan(ds.X_test).any(axis=1)
    n_bad = int(bad.sum()) + (0 if bad_test is None else int(bad_test.sum()))
    if not n_bad or missing == "keep":
        return ds
    rows = np.flatnonzero(bad)[:10].tolist()
    if missing == "error":
        raise ValueError(f"{ds.name}: {n_bad} row(s) have missing (NaN) features, e.g. rows {rows}; use --missing "
                         "drop (or mean, median) to drop or fill them")
    note = f"dropped {n_bad} rows with missing (NaN) features (rows {rows}{'...' if n_bad > 10 else ''})"
    return ds.replace(X=ds.X[~bad], y=ds.y[~bad], w=None if ds.w is None else ds.w[~bad],
                      X_test=None if bad_test is None else ds.X_test[~bad_test],
                      y_test=None if bad_test is None else ds.y_test[~bad_test], notes=(*ds.notes, note))


def load(name_or_path: str, *, target: str | int | list | None = None, seed: int = 0,
         n_samples: int | None = None, task: str | None = None, missing: str = "error",
         weight: str | int | None = None, header: bool | None = None) -> Dataset:
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
    task : {"classification", "binary", "multiclass", "regression"}, optional
        Override the inferred task of a CSV/npz/npy file.
    missing : {"error", "drop", "keep"}
        Missing feature values (empty or NA cells in a CSV, NaN in an array file): an error
        listing the rows, drop those rows, or keep them (NaN / None) for a Preprocessor to fill.
    weight : str or int, optional
        CSV: a column of per-example weights (``Dataset.w``).
    header : bool, optional
        CSV: whether the first row names the columns (default: detected, see :func:`load_csv`).

    Raises
    ------
    ValueError
        An unknown name that is not a file: the message suggests the nearest
        known name and lists them all.
    FileNotFoundError
        A path-like name (with a directory or a data-file suffix) that does not exist.
    """
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path):
        raise TypeError(f"name_or_path must be a data set name (see available()) or a file path; got "
                        f"{name_or_path!r}")
    name_or_path = str(name_or_path)
    spec = SETS.get(name_or_path)
    if spec is not None:
        if target is not None or weight is not None or header is not None:
            raise ValueError(f"target and weight columns and the header setting apply to files; {name_or_path!r} "
                             "has its own labels")
        if task not in (None, spec.task, *(("classification",) if spec.task != "regression" else ())):
            raise ValueError(f"{name_or_path!r} is a {spec.task} data set; task={task!r} does not apply")
        if name_or_path in synthetic.SETS:
            return spec.loader(seed, n_samples)
        ds = spec.loader(seed, None)
    else:
        path = Path(name_or_path).expanduser()
        if path.exists():
            if not (path.is_file() or path.is_dir()):  # a FIFO would block, a device would never end
                raise ValueError(f"{name_or_path} is not a regular file or folder")
            ds = _load_file(path, target, task, missing, weight, header)
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
