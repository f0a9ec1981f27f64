"""A trained model as one artifact: the network plus everything between a user's raw rows and the answers."""
from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import io as _io
from ._archive import TreeWriter
from .datasets.scaling import MinMaxScaler, Standardizer
from .export_onnx import DEFAULT_OPSET
from .metrics import labels as output_labels
from .metrics import r2
from .network import Network
from .preprocessing import Preprocessor, Scaler, category_key, numbers, select_columns

TASKS = ("binary", "multiclass", "multilabel", "regression")


class ModelWarning(UserWarning):
    """A model that cannot say how its inputs were prepared: its answers may be wrong without it."""


def task_of_network(net: Network) -> str:
    """The task a network's output layer and loss imply: softmax + cross-entropy -> multiclass,
    sigmoid + binary cross-entropy -> binary (one output) or multilabel; anything else -> regression."""
    out, loss = net.activations[-1].name, net.loss.name
    if out == "softmax" and loss == "cross_entropy":
        return "multiclass"
    if out == "sigmoid" and loss == "binary_cross_entropy":
        return "binary" if net.sizes[-1] == 1 else "multilabel"
    return "regression"


class Model:
    """The network plus what turns raw rows into answers; saved as one file that every entry point reads.

    Parameters
    ----------
    network : the trained ``Network``.
    task : "binary", "multiclass", "multilabel" or "regression"; default from the output layer
        and loss (see ``task_of_network``), never from the number of outputs.
    classes : the class labels in the user's own values (str or int), in output order; for
        multilabel, one name per output. Default 0..k-1 for classifiers.
    feature_names : the raw input columns' names; inputs with names (a pandas DataFrame, a CSV
        header) are then matched by name.
    scaler : the input scaler fitted on the training rows (``vecprop.datasets.Standardizer`` or
        ``MinMaxScaler``), or "none" to state that inputs were not scaled.
    preprocessing : a full ``vecprop.preprocessing.Preprocessor`` (missing values, one-hot,
        scaling) instead of ``scaler``.
    target_scaler : regression: the ``Standardizer`` the targets were scaled with for training.
    provenance : what produced the model (data, config, metrics...); vecprop version and date
        are added.

    A model given neither ``scaler`` nor ``preprocessing`` does not know how its training inputs
    were prepared: it feeds rows to the network as given, and says so with a ``ModelWarning``
    when loaded.

    Examples
    --------
    >>> net = Network([2, 4, 3], ["tanh", "softmax"], "cross_entropy", seed=0)
    >>> model = Model(net, classes=["cat", "dog", "emu"], feature_names=["height", "weight"], scaler="none")
    >>> model.predict(np.array([[0.5, 1.0]])).tolist(), model.task
    (['emu'], 'multiclass')
    """

    def __init__(self, network: Network, *, task: str | None = None, classes: Sequence[Any] | None = None,
                 feature_names: Sequence[str] | None = None, scaler: Scaler | str | None = None,
                 preprocessing: Preprocessor | None = None, target_scaler: Standardizer | None = None,
                 provenance: dict[str, Any] | None = None) -> None:
        if not isinstance(network, Network):
            raise TypeError(f"network must be a vecprop.Network; got {type(network).__name__}")
        self.network = network
        self.task = task_of_network(network) if task is None else task
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        self.classes = _check_classes(self.task, classes, network)
        self.feature_names = _check_names(feature_names)
        self.preprocessing = _preprocessor(network, scaler, preprocessing)
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature_names for {self.n_features} raw input columns")
        if target_scaler is not None and (self.task != "regression" or not isinstance(target_scaler, Standardizer)
                                          or target_scaler.mean_ is None or target_scaler.mean_.size != self.n_outputs):
            raise ValueError(f"target_scaler must be a fitted Standardizer of the {self.n_outputs} regression outputs")
        self.target_scaler = target_scaler
        self.provenance = dict(provenance or {})
        TreeWriter("provenance", {}, allow_arrays=False).encode(self.provenance, "provenance")  # JSON-able?

    @property
    def n_outputs(self) -> int:
        return self.network.sizes[-1]

    @property
    def n_features(self) -> int:
        """The number of raw input columns a row must have."""
        return self.network.sizes[0] if self.preprocessing is None else self.preprocessing.n_raw

    # ---- rows in, answers out ------------------------------------------------------------------
    def select(self, X: Any, feature_names: Sequence[str] | None = None, source: str = "X") -> np.ndarray:
        """The model's raw columns of rows ``X``, in the model's order.

        ``X`` is rows (m, n): a numpy array or list, or a pandas DataFrame. When the model has
        feature names and the input has names too (the DataFrame's columns, or ``feature_names``),
        columns are matched by name: a missing one is an error naming it, an extra one is ignored
        with a ``FeatureWarning``. Otherwise by position, after checking the count.
        """
        rows, names = _table(X, source)
        if feature_names is not None:
            names = [str(n) for n in feature_names]
        return select_columns(rows, names, self.feature_names, self.n_features, source)

    def inputs(self, X: Any, feature_names: Sequence[str] | None = None, source: str = "X") -> np.ndarray:
        """The network's input X (n_0, m) for raw rows: columns matched, preprocessed, made columns.

        This is the one place a Model turns rows into the derivation's columns.
        """
        return self._inputs(self.select(X, feature_names, source), source)

    def _inputs(self, rows: np.ndarray, source: str, first: int = 0) -> np.ndarray:
        """``inputs`` of selected rows; ``first`` is the index of ``rows[0]`` in the user's rows (for messages)."""
        labels = self.feature_names  # for error messages
        if self.preprocessing is None:
            Xr = numbers(rows, [(repr(labels[j]) if labels else str(j), None) for j in range(rows.shape[1])], source)
        else:
            Xr = self.preprocessing.transform(rows, labels, source)
        top = np.finfo(self.network.dtype).max
        if not (np.abs(Xr) <= top).all():  # NaN fails too; (x - mean) / std overflowed, or float32 cannot hold x
            i, j = (int(k) for k in np.argwhere(~(np.abs(Xr) <= top))[0])
            scaled = "" if self.preprocessing is None or self.preprocessing.scaler is None else " after scaling"
            raise ValueError(f"{source}: row {first + i}, network input {j}: {Xr[i, j]:g}{scaled} is beyond the "
                             f"range of the network's {self.network.dtype.name} (|x| <= {top:.3g}); such inputs are "
                             "far outside anything it was trained on")
        return np.ascontiguousarray(Xr.T, dtype=self.network.dtype)  # rows -> columns, here

    def outputs(self, X: Any, feature_names: Sequence[str] | None = None, source: str = "X",
                chunk: int = 4096) -> np.ndarray:
        """A[L] (n_L, m) for raw rows, in inference mode (no dropout), ``chunk`` rows at a time.

        Outputs that are not finite (inputs so large that Theta A overflows) are an error naming the row.
        """
        rows = self.select(X, feature_names, source)
        m = rows.shape[0]
        out = np.empty((self.n_outputs, m), self.network.dtype)
        for s in range(0, m, chunk):
            out[:, s : s + chunk] = _predict(self.network, self._inputs(rows[s : s + chunk], source, s), source, s)
        return out

    def predict(self, X: Any, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Answers for raw rows (m, n_features): labels in ``classes``' own values (m,), a 0/1
        indicator matrix (m, k) for multilabel, or values (m,) / (m, k) in the target's units."""
        return self.decode(self.outputs(X, feature_names))

    def predict_proba(self, X: Any, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities (m, n_classes) in ``classes`` order; for multilabel, each label's (m, k)."""
        return self.proba(self.outputs(X, feature_names))

    def decode(self, A_L: np.ndarray) -> np.ndarray:
        """What ``predict`` returns, from outputs A[L] (n_L, m)."""
        if self.task == "regression":
            rows = A_L.T.astype(np.float64)
            if self.target_scaler is not None:
                rows = self.target_scaler.inverse_transform(rows)
            return rows[:, 0] if rows.shape[1] == 1 else rows
        idx = output_labels(A_L, self.task)
        return idx if self.task == "multilabel" else np.asarray(self.classes)[idx]

    def proba(self, A_L: np.ndarray) -> np.ndarray:
        """What ``predict_proba`` returns, from outputs A[L] (n_L, m)."""
        if self.task == "regression":
            raise ValueError("predict_proba is for classifiers; this is a regression model")
        out = self.network.activations[-1].name
        if out not in ("softmax", "sigmoid"):
            raise ValueError(f"this classifier's outputs come from a {out} output layer (loss "
                             f"{self.network.loss.name}): they are scores, not probabilities")
        P = A_L.T.astype(np.float64)
        return np.hstack([1 - P, P]) if self.task == "binary" and P.shape[1] == 1 else P

    def targets(self, y: Any, source: str = "y") -> np.ndarray:
        """Y (n_L, m) for the network, from answers in the user's terms (labels, indicators, values)."""
        y = np.asarray(y)
        n_L = self.n_outputs
        if self.task == "regression":
            rows = y.reshape(len(y), -1).astype(np.float64)
            if rows.shape[1] != n_L:
                raise ValueError(f"{source} has {rows.shape[1]} target column(s); the model predicts {n_L}")
            if self.target_scaler is not None:
                rows = self.target_scaler.transform(rows)
            Y = rows.T
        elif self.task == "multilabel":
            if y.ndim != 2 or y.shape[1] != n_L or not np.isin(y, (0, 1)).all():
                raise ValueError(f"{source} must be a 0/1 indicator matrix (m, {n_L}); got {y.dtype} {y.shape}")
            Y = y.T.astype(np.float64)
        else:
            code = self.encode_labels(y, source)
            Y = code.reshape(1, -1).astype(np.float64) if n_L == 1 else np.eye(n_L)[:, code]
        return np.ascontiguousarray(Y, dtype=self.network.dtype)

    def encode_labels(self, y: Any, source: str = "y") -> np.ndarray:
        """Class indices (m,) of labels given in the model's own values; an unknown label is an error."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"{source} must be one label per row (m,); got shape {y.shape}")
        index = {category_key(c): i for i, c in enumerate(self.classes)}  # as text, like categories: "1" is 1
        codes = np.array([index.get(category_key(v), -1) for v in y.tolist()], dtype=np.int64)
        if (codes < 0).any():
            unknown = sorted({str(v) for v, c in zip(y.tolist(), codes) if c < 0})
            raise ValueError(f"{source} has label(s) {unknown[:5]} that the model never saw; its classes are "
                             f"{', '.join(map(str, self.classes))}")
        return codes

    def evaluate(self, X: Any, y: Any, feature_names: Sequence[str] | None = None, source: str = "X"
                 ) -> dict[str, Any]:
        """Cost and metrics on labelled raw rows: accuracy for classifiers; r2 and mse (in the
        target's own units, per output too when there are several) for regression."""
        from .inference import validation_logs

        rows = self.select(X, feature_names, source)
        y = np.asarray(y)
        if len(y) != rows.shape[0]:
            raise ValueError(f"{source} has {rows.shape[0]} rows but y has {len(y)}")
        A_L, total, m = np.empty((self.n_outputs, len(y)), self.network.dtype), 0.0, len(y)
        for s in range(0, m, 4096):
            Xc, Y = self._inputs(rows[s : s + 4096], source, s), self.targets(y[s : s + 4096])
            A_L[:, s : s + 4096] = _predict(self.network, Xc, source, s)  # first: an overflow is named
            total += validation_logs(self.network, Xc, Y, prefix="")["cost"] * Xc.shape[1]
        result: dict[str, Any] = {"m": m, "cost": total / m}
        if self.task == "regression":
            pred = self.decode(A_L).reshape(m, -1)
            truth = y.astype(np.float64).reshape(m, -1)
            result["r2"] = r2(pred.T, truth.T)
            result["mse"] = float(((pred - truth) ** 2).mean())
            if truth.shape[1] > 1:
                result["r2_per_output"] = [r2(pred[:, [k]].T, truth[:, [k]].T) for k in range(truth.shape[1])]
                result["mse_per_output"] = [float(v) for v in ((pred - truth) ** 2).mean(axis=0)]
        else:
            truth = y if self.task == "multilabel" else self.encode_labels(y)
            hit = output_labels(A_L, self.task) == truth
            result["accuracy"] = float((hit.all(axis=1) if hit.ndim == 2 else hit).mean())
        return result

    # ---- files -----------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The ``model`` object of the file's metadata (docs/file-format.md)."""
        return {
            "task": self.task,
            "n_outputs": self.n_outputs,
            "classes": None if self.classes is None else list(self.classes),  # Python scalars (_check_classes)
            "feature_names": None if self.feature_names is None else list(self.feature_names),
            "preprocessing": None if self.preprocessing is None else self.preprocessing.to_dict(),
            "target_scaler": None if self.target_scaler is None else self.target_scaler.to_dict(),
            "provenance": self.provenance,
        }

    def save(self, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> Path:
        """Write the model file (format vecprop-model 2) atomically; ``extra`` is the writer's own metadata."""
        from . import __version__

        self.provenance.setdefault("vecprop_version", __version__)
        self.provenance.setdefault("created", datetime.datetime.now(datetime.timezone.utc)
                                   .replace(microsecond=0).isoformat().replace("+00:00", "Z"))
        return _io.write_model(path, self.network, self.metadata(), extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """``vecprop.load_model``."""
        from .model_files import load_model

        return load_model(path)

    def to_onnx(self, path: str | os.PathLike | None = None, *, opset: int = DEFAULT_OPSET,
                dtype: str = "float32") -> Any:
        """Export to ONNX (needs ``pip install 'vecprop[onnx]'``); see ``vecprop.export_onnx.to_onnx``."""
        from .export_onnx import to_onnx

        return to_onnx(self, path, opset=opset, dtype=dtype)

    def __repr__(self) -> str:
        parts = [f"task={self.task!r}", f"sizes={list(self.network.sizes)}"]
        if self.classes is not None:
            shown = ", ".join(map(repr, self.classes[:5])) + (", ..." if len(self.classes) > 5 else "")
            parts.append(f"classes=[{shown}]")
        if self.feature_names is not None:
            parts.append(f"features={len(self.feature_names)} named")
        parts.append("preprocessing=unknown" if self.preprocessing is None else repr(self.preprocessing))
        return f"Model({', '.join(parts)})"


def _preprocessor(net: Network, scaler: Any, preprocessing: Preprocessor | None) -> Preprocessor | None:
    if preprocessing is not None:
        if scaler is not None:
            raise ValueError("give scaler or preprocessing, not both (a Preprocessor holds its scaler)")
        if not isinstance(preprocessing, Preprocessor):
            raise TypeError(f"preprocessing must be a vecprop.preprocessing.Preprocessor; got "
                            f"{type(preprocessing).__name__}")
        pre = preprocessing
    elif scaler is None:
        return None
    elif isinstance(scaler, str):
        if scaler != "none":
            raise ValueError(f"scaler must be a fitted Standardizer/MinMaxScaler, 'none' or None; got {scaler!r}")
        pre = Preprocessor.numeric(net.sizes[0])
    elif isinstance(scaler, (Standardizer, MinMaxScaler)):
        pre = Preprocessor.numeric(net.sizes[0], scaler)
    else:
        raise TypeError(f"scaler must be a vecprop.datasets.Standardizer or MinMaxScaler; got {type(scaler).__name__}")
    if pre.n_0 != net.sizes[0]:
        raise ValueError(f"the preprocessing makes {pre.n_0} inputs but the network takes n_0 = {net.sizes[0]}")
    return pre


def _check_classes(task: str, classes: Sequence[Any] | None, net: Network) -> tuple[Any, ...] | None:
    n_L = net.sizes[-1]
    if task == "regression":
        if classes is not None:
            raise ValueError("a regression model has no classes")
        return None
    k = {"multiclass": n_L, "multilabel": n_L, "binary": 2}[task]
    if task == "binary" and n_L not in (1, 2):
        raise ValueError(f"a binary classifier has 1 output (sigmoid) or 2 (softmax); this network has {n_L}")
    if task == "multiclass" and n_L < 2:
        raise ValueError("a multiclass classifier needs one output per class (n_L >= 2); this network has 1")
    if classes is None:
        return tuple(range(k))
    values = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(values) != k:
        raise ValueError(f"a {task} model with {n_L} output(s) has {k} classes; got {len(values)}: {values[:6]}")
    kinds = {type(v) for v in values}
    if len(kinds) != 1 or kinds.pop() not in (str, int, float, bool):
        raise ValueError(f"classes must all be str, all int, all float or all bool; got {values[:6]}")
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ValueError(f"classes must be finite; got {values[:6]}")
    if any(type(v) is int and not -2**63 <= v < 2**63 for v in values):  # numpy, the file and ONNX hold int64
        raise ValueError(f"integer classes must fit in 64 bits (-2**63 .. 2**63 - 1); got {values[:6]}")
    if len({category_key(v) for v in values}) != len(values):
        raise ValueError(f"classes must be distinct; got {values[:6]}")
    return tuple(values)


def _check_names(names: Sequence[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    names = tuple(str(n) if isinstance(n, np.str_) else n for n in names)
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"feature_names must be non-empty strings; got {list(names)[:6]}")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"feature name {dup!r} appears twice; names must be unique")
    return names


def _table(X: Any, source: str) -> tuple[np.ndarray, list[str] | None]:
    """(rows as a 2-D array, column names or None) from a numpy array, a list or a pandas DataFrame."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame, without importing pandas
        return X.to_numpy(), [str(c) for c in X.columns]
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{source} is a sparse matrix; a Model takes dense rows (use X.toarray())")
    rows = np.asarray(X)
    if np.iscomplexobj(rows):
        raise TypeError(f"{source} holds complex numbers; a model takes real numbers (converting would drop the "
                        "imaginary part)")
    if rows.ndim == 1:
        raise ValueError(f"{source} must be 2-D rows (m, n_features); got shape {rows.shape}. For one example use "
                         f"{source}.reshape(1, -1)")
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"{source} must be 2-D rows (m, n_features) with m >= 1; got shape {rows.shape}")
    return rows, None


def _predict(net: Network, Xc: np.ndarray, source: str = "X", first: int = 0) -> np.ndarray:
    """A[L] of inputs that fit the dtype; an output that overflowed is an error, not a silent NaN label."""
    from .inference import predict

    with np.errstate(over="ignore", invalid="ignore"):
        A_L = predict(net, Xc)
    if not np.isfinite(A_L).all():
        c = int(np.argwhere(~np.isfinite(A_L))[0][1])
        raise ValueError(f"{source}: row {first + c}: the network's output overflowed to {A_L[:, c].tolist()} (its inputs "
                         f"reach {np.abs(Xc[:, c]).max():.3g} after preprocessing): such inputs are far outside what "
                         "it was trained on")
    return A_L


