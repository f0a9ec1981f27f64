"""Data for the command line: load, split, scale; the one place where rows become the core's columns."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..datasets import Dataset, MinMaxScaler, Standardizer, scaler_from_dict
from ..metrics import labels
from .errors import UserError, user_errors

Scaler = Standardizer | MinMaxScaler


def canonical_data(name: str) -> str:
    """Registry names stay; a file path is made absolute so a saved config works from anywhere."""
    if name in {row[0] for row in datasets.available()}:
        return name
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def load_dataset(name: str, *, target: str | None = None, seed: int = 0,
                 n_samples: int | None = None) -> Dataset:
    """``vecprop.datasets.load`` with its errors (unknown name, bad file) turned into UserError."""
    with user_errors("--data"):
        return datasets.load(name, target=target, seed=seed, n_samples=n_samples)


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


def inputs(X_rows: np.ndarray, scaler: Scaler | None, dtype: str) -> np.ndarray:
    """X (n_0, m): the scaled rows (m, n_0), transposed into the derivation's columns."""
    X = X_rows if scaler is None else scaler.transform(X_rows)
    return np.ascontiguousarray(np.asarray(X, dtype=dtype).T)  # rows -> columns, here only


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
    """One part of the data, ready for the core: X (n_0, m), Y (n_L, m), and the raw rows for plots."""

    X: np.ndarray
    Y: np.ndarray
    X_rows: np.ndarray
    y: np.ndarray

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
    scaler: Scaler | None
    target_scaler: Standardizer | None
    n_L: int


def prepare(ds: Dataset, *, loss: str, val_fraction: float, test_fraction: float, seed: int,
            scale: str, target_scale: str, dtype: str) -> Prepared:
    """Split ``ds`` (stratified, seeded), fit the scalers on the training rows, make columns."""
    with user_errors("--data"):
        parts = datasets.split(ds, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    if parts.train.X.shape[0] < 2:
        raise UserError(f"--data: only {parts.train.X.shape[0]} training rows after the split; "
                        f"use more data or smaller --val-fraction/--test-fraction")
    scaler = make_scaler(scale, parts.train.X)
    target_scaler = None
    if ds.task == "regression" and target_scale == "standardize":
        target_scaler = Standardizer().fit(parts.train.y.reshape(len(parts.train.y), -1))
    n_L = n_outputs(ds.task, ds.n_classes, loss, ds.y)

    def cols(part: datasets.Part) -> Columns | None:
        if part.X.shape[0] == 0:
            return None
        return Columns(inputs(part.X, scaler, dtype), targets(part.y, n_L, ds.task, target_scaler, dtype),
                       part.X, part.y)

    return Prepared(ds, cols(parts.train), cols(parts.val), cols(parts.test), scaler, target_scaler, n_L)


def model_extra(ds: Dataset, prepared: Prepared, cfg_toml: dict[str, Any], split: dict[str, Any]) -> dict[str, Any]:
    """What a model file keeps beside the weights so that ``predict`` on raw inputs just works."""
    from .. import __version__

    return {
        "task": ds.task,
        "classes": None if ds.classes is None else list(ds.classes),
        "feature_names": None if ds.feature_names is None else list(ds.feature_names),
        "data": ds.name,
        "scaler": None if prepared.scaler is None else prepared.scaler.to_dict(),
        "target_scaler": None if prepared.target_scaler is None else prepared.target_scaler.to_dict(),
        "split": split,
        "config": cfg_toml,
        "vecprop_version": __version__,
    }


@dataclass
class ModelInfo:
    """A trained model file's extras, decoded: how to turn raw rows into X and A[L] back into answers."""

    task: str
    classes: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    data: str | None
    scaler: Scaler | None
    target_scaler: Standardizer | None
    split: dict[str, Any]

    @classmethod
    def from_extra(cls, extra: dict[str, Any], n_L: int) -> ModelInfo:
        task = extra.get("task") or ("multiclass" if n_L > 1 else "regression")
        sc, tsc = extra.get("scaler"), extra.get("target_scaler")
        classes = extra.get("classes")
        names = extra.get("feature_names")
        return cls(task=task, classes=None if classes is None else tuple(classes),
                   feature_names=None if names is None else tuple(names), data=extra.get("data"),
                   scaler=None if sc is None else scaler_from_dict(sc),
                   target_scaler=None if tsc is None else scaler_from_dict(tsc),
                   split=dict(extra.get("split") or {}))

    def decode(self, A_L: np.ndarray) -> dict[str, np.ndarray]:
        """A[L] (n_L, m) -> per-example answers: ``label`` (m,) and ``proba`` (m, k) for classes,
        ``value`` (m, n_L) in the target's original units for regression."""
        if self.task == "regression":
            rows = A_L.T.astype(np.float64)
            if self.target_scaler is not None:
                rows = self.target_scaler.inverse_transform(rows)
            return {"value": rows}
        if A_L.shape[0] == 1:
            p = A_L[0]
            return {"label": labels(A_L, "binary").astype(np.int64), "proba": np.column_stack([1 - p, p])}
        return {"label": labels(A_L, "multiclass"), "proba": A_L.T}


def forward_rows(net: Any, X_rows: np.ndarray, scaler: Scaler | None) -> np.ndarray:
    """A[L] (n_L, m) for raw input rows (m, n_0): scale, make columns, run inference."""
    from ..training import predict

    return predict(net, inputs(X_rows, scaler, net.dtype.name))


def load_model(path: str) -> tuple[Any, ModelInfo, dict[str, Any]]:
    """(network, decoded extras, raw extras) of a model file; a missing or bad file is a UserError."""
    from ..io import load_with_extras

    if not Path(path).exists():
        raise UserError(f"MODEL: no such file: {path} (a run folder holds model.npz)")
    if Path(path).is_dir():
        hint = " (did you mean its model.npz?)" if (Path(path) / "model.npz").exists() else ""
        raise UserError(f"MODEL: {path} is a folder{hint}")
    with user_errors("MODEL"):
        net, extra, _ = load_with_extras(path)
    return net, ModelInfo.from_extra(extra, net.sizes[-1]), extra


def check_features(model_path: str, net: Any, info: ModelInfo, n_features: int, source: str) -> None:
    """The data must have the n_0 features the model was trained on."""
    if n_features != net.sizes[0]:
        trained = f" (trained on {info.data})" if info.data else ""
        raise UserError(f"{model_path} expects n_0 = {net.sizes[0]} input features{trained}; {source} has "
                        f"{n_features}. Give data with the same columns as the training data")


def remap_labels(ds: Dataset, info: ModelInfo, model_path: str) -> Dataset:
    """``ds`` with labels recoded as the model's classes, matched by name (a file may hold fewer)."""
    if info.classes is None or ds.classes is None:
        return ds
    index = {name: i for i, name in enumerate(info.classes)}
    unknown = [c for c in ds.classes if c not in index]
    if unknown:
        raise UserError(f"{ds.name} has labels {unknown[:5]} that {model_path} never saw; its classes are "
                        f"{', '.join(info.classes)}")
    codes = np.array([index[c] for c in ds.classes], dtype=np.int64)
    task = "binary" if len(info.classes) == 2 else "multiclass"
    return ds.replace(y=codes[ds.y], y_test=None if ds.y_test is None else codes[ds.y_test],
                      classes=info.classes, task=task)
