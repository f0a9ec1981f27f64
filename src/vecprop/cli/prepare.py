"""Data for the command line: load, split, scale; the one place where rows become the core's columns."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from .._memory import TooBig
from ..datasets import Dataset, MinMaxScaler, Standardizer
from ..preprocessing import Column, Preprocessor, category_key
from .errors import UserError, user_errors

Scaler = Standardizer | MinMaxScaler


def canonical_data(name: str) -> str:
    """Registry names stay; a file path is made absolute so a saved config works from anywhere."""
    if name in {row[0] for row in datasets.available()}:
        return name
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name



def load_dataset(name: str, *, target: str | None = None, seed: int = 0, n_samples: int | None = None,
                 task: str | None = None, missing: str = "error", weight: str | None = None,
                 header: str = "auto") -> Dataset:
    """``vecprop.datasets.load`` with its errors (unknown name, bad file) turned into UserError."""
    with user_errors("--data"):
        try:
            return datasets.load(name, target=target, seed=seed, n_samples=n_samples, task=task, weight=weight,
                                 missing=missing if missing in ("error", "drop") else "keep",
                                 header=HEADER[header])
        except TooBig as err:
            if n_samples is None or "n_samples" not in str(err):
                raise
            raise UserError(f"--n-samples: {err}") from None


HEADER = {"auto": None, "yes": True, "no": False}
"""--header: detect the CSV's header row, or say whether there is one."""


def make_scaler(kind: str, X_train: np.ndarray) -> Scaler | None:
    """The input scaler of ``kind``, fitted on the TRAINING rows (m, n_0) only; None for "none".

    "minmax" maps uint8 pixels by their fixed range [0, 255], other data by each feature's
    training min and max.
    """
    if kind == "none":
        return None
    if kind == "global":
        low, high = float(X_train.min()), float(X_train.max())
        return MinMaxScaler(low, high if high > low else low + 1.0).fit(X_train)
    if kind == "minmax":
        scaler = MinMaxScaler(0, 255) if X_train.dtype == np.uint8 else MinMaxScaler()
    else:
        scaler = Standardizer()
    return scaler.fit(X_train)


def n_outputs(ds_task: str, n_classes: int | None, loss: str, y: np.ndarray) -> int:
    """n_L: one sigmoid unit for binary (unless the loss is cross-entropy), one per class, one per target."""
    if ds_task == "regression":
        return 1 if y.ndim == 1 else int(y.shape[1])
    if ds_task == "binary" and loss != "cross_entropy":
        return 1
    return int(n_classes)


def fit_preprocessor(X_train: np.ndarray, kinds: tuple[str, ...] | None, missing: str, scale: str,
                     names: tuple[str, ...] | None = None) -> Preprocessor:
    """The input preprocessing fitted on the TRAINING rows (m, n_raw) only.

    Numeric columns get a fill value (the training mean or median) when ``missing`` is "mean" or
    "median", and are scaled by ``scale``; text columns are one-hot over the training rows'
    categories (a missing value, where kept, is a category of its own; a category that only
    appears later gives all-zero inputs and a warning).
    """
    kinds = kinds or ("numeric",) * X_train.shape[1]
    label = (lambda j: repr(names[j])) if names else str  # noqa: E731
    columns: list[Column] = []
    numeric = [j for j, k in enumerate(kinds) if k == "numeric"]
    fills: dict[int, float] = {}
    if missing in ("mean", "median"):
        for j in numeric:
            values = np.asarray(X_train[:, j], dtype=np.float64)
            present = values[~np.isnan(values)]
            if not present.size:
                raise UserError(f"--data: column {label(j)} has no value in the training rows; nothing to fill "
                                f"its missing values with (--missing {missing})")
            fills[j] = float(np.mean(present) if missing == "mean" else np.median(present))
    for j, kind in enumerate(kinds):
        if kind == "numeric":
            columns.append(Column(fill=fills.get(j)))
        else:
            cats = sorted({category_key(v) for v in X_train[:, j]})
            columns.append(Column("categorical", categories=tuple(cats)))
    block = X_train[:, numeric] if len(numeric) < X_train.shape[1] else X_train
    block = np.asarray(block, dtype=np.float64) if block.dtype == object else block
    if fills:
        block = np.where(np.isnan(block), [fills[j] for j in numeric], block)
    scaler = make_scaler(scale, block) if numeric else None
    return Preprocessor(columns, scaler, unknown_category="ignore")


def count_missing(X: np.ndarray, names: tuple[str, ...] | None) -> dict[str, int]:
    """Missing values per column (NaN or None), for the report."""
    if X.dtype.kind == "f":
        counts = np.isnan(X).sum(axis=0)
    elif X.dtype == object:
        counts = np.array([sum(v is None or (isinstance(v, float) and np.isnan(v)) for v in X[:, j])
                           for j in range(X.shape[1])])
    else:
        return {}
    return {(names[j] if names else f"col{j}"): int(c) for j, c in enumerate(counts) if c}


def targets(y: np.ndarray, n_L: int, task: str, target_scaler: Standardizer | None, dtype: str) -> np.ndarray:
    """Y (n_L, m): one-hot columns for classes, 0/1 for one sigmoid unit, scaled values for regression."""
    if task == "regression":
        rows = y.reshape(len(y), -1)
        if target_scaler is not None:
            rows = target_scaler.transform(rows)
        return np.ascontiguousarray(np.asarray(rows, dtype=dtype).T)
    if n_L == 1:
        return y.reshape(1, -1).astype(dtype)
    return datasets.one_hot(y, n_L).astype(dtype)


@dataclass
class Columns:
    """One part of the data, ready for the core: X (n_0, m), Y (n_L, m), the raw rows (for plots and
    the Model's metrics) and the per-example weights (None: each counts once)."""

    X: np.ndarray
    Y: np.ndarray
    X_rows: np.ndarray
    y: np.ndarray
    w: np.ndarray | None = None

    @property
    def m(self) -> int:
        return int(self.X.shape[1])


@dataclass
class Prepared:
    """A split and scaled data set: ``train``, ``val`` (None without validation) and ``test`` parts."""

    ds: Dataset
    train: Columns
    val: Columns | None
    test: Columns | None
    preprocessor: Preprocessor
    target_scaler: Standardizer | None
    n_L: int
    filled: dict[str, int]


def class_weights(ds: Dataset, spec: str | None, y_train: np.ndarray) -> np.ndarray | None:
    """Per-class weights (k,) from --class-weight: "balanced" (m / (k m_c) over the training rows, as
    scikit-learn's) or a JSON object {label: weight} (classes it leaves out weigh 1)."""
    if spec is None:
        return None
    if ds.classes is None:
        raise UserError(f"--class-weight applies to classes; {ds.name} is {ds.task} data")
    k = len(ds.classes)
    if spec == "balanced":
        counts = np.bincount(y_train, minlength=k).astype(np.float64)
        return np.where(counts > 0, len(y_train) / (k * np.maximum(counts, 1)), 1.0)
    import json

    try:
        given = json.loads(spec)
    except json.JSONDecodeError as err:
        raise UserError(f"--class-weight must be 'balanced' or a JSON object such as '{{\"yes\": 5}}'; {err}") from None
    if not isinstance(given, dict):
        raise UserError(f"--class-weight JSON must be an object {{label: weight}}; got {spec!r}")
    weights = np.ones(k)
    for label, value in given.items():
        if label not in ds.classes:
            raise UserError(f"--class-weight names class {label!r}, which {ds.name} does not have; its classes are "
                            f"{', '.join(ds.classes)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 and np.isfinite(value)):
            raise UserError(f"--class-weight: the weight of {label!r} must be a finite number >= 0; got {value!r}")
        weights[ds.classes.index(label)] = float(value)
    if not (weights[np.unique(y_train)] > 0).any():
        raise UserError("--class-weight gives every class of the training rows weight 0: no example would count")
    return weights


def prepare(ds: Dataset, *, loss: str, val_fraction: float, test_fraction: float, seed: int,
            scale: str, target_scale: str, dtype: str, missing: str = "error",
            class_weight: str | None = None) -> Prepared:
    """Split ``ds`` (stratified, seeded), fit the preprocessing on the training rows, make columns.

    Example weights (a CSV's weight column, times ``class_weight``'s per class) go with every part,
    so validation and test metrics weigh examples as training does.
    """
    with user_errors("--data"):
        parts = datasets.split(ds, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    per_class = class_weights(ds, class_weight, parts.train.y)
    if per_class is not None:
        parts = type(parts)(*(datasets.Part(p.X, p.y, per_class[p.y] * (1.0 if p.w is None else p.w))
                              for p in parts))
    if parts.train.X.shape[0] < 2:
        raise UserError(f"--data: only {parts.train.X.shape[0]} training rows after the split; "
                        f"use more data or smaller --val-fraction/--test-fraction")
    for name, part in zip(("training", "validation", "test"), parts):
        if part.w is not None and part.X.shape[0] and not part.w.sum() > 0:
            flags = " and ".join(f for f, on in (("--weight-column", ds.w is not None),
                                                 ("--class-weight", per_class is not None)) if on)
            raise UserError(f"{flags}: every {name} row has weight 0 ({part.X.shape[0]} rows after the seeded split), "
                            "so its cost is 0/0; give more rows weight > 0 (or another --seed)")
    pre = fit_preprocessor(parts.train.X, ds.kinds, missing, scale, ds.feature_names)
    filled = count_missing(ds.X, ds.feature_names) if missing in ("mean", "median") else {}
    target_scaler = None
    if ds.task == "regression" and target_scale == "standardize":
        target_scaler = Standardizer().fit(parts.train.y.reshape(len(parts.train.y), -1))
    n_L = n_outputs(ds.task, ds.n_classes, loss, ds.y)

    def cols(part: datasets.Part) -> Columns | None:
        if part.X.shape[0] == 0:
            return None
        with user_errors("--data"):
            X = np.ascontiguousarray(pre.transform(part.X, ds.feature_names, ds.name).T, dtype=dtype)  # rows -> columns
        return Columns(X, targets(part.y, n_L, ds.task, target_scaler, dtype), part.X, part.y, part.w)

    return Prepared(ds, cols(parts.train), cols(parts.val), cols(parts.test), pre, target_scaler, n_L, filled)


def empty_split(ds: Dataset, y_rows: np.ndarray, fraction: float, flag: str) -> str:
    """Why a split asked for (``flag`` = ``fraction`` > 0) came out empty, and what to change."""
    if ds.classes is None:
        return f"{len(y_rows)} rows x {flag} {fraction:g} rounds to 0 rows: use more data or a larger {flag}"
    counts = np.bincount(y_rows, minlength=len(ds.classes))
    k, biggest = int((counts > 0).sum()), int(counts.max(initial=0))
    why = (f"the split is stratified: each class gives round(n_c x {fraction:g}) of its rows, and the largest of "
           f"the {k} classes has {biggest} row(s), which rounds to 0")
    if k > len(y_rows) / 2:
        return (f"{why}. {k} classes among {len(y_rows)} rows: is the target column right (--target)? A column with "
                "a new value in almost every row is an ID or a measurement (--task regression), not a label")
    return f"{why}: use more data or a larger {flag}"


def data_fingerprint(ds: Dataset, name: str) -> dict[str, Any]:
    """What a model records of its training data: the name, and for a file its size and SHA-256."""
    out: dict[str, Any] = {"name": ds.name, "source": ds.source}
    path = Path(name)
    if name not in {row[0] for row in datasets.available()} and path.is_file():
        out.update({"file": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)})
    return out


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
