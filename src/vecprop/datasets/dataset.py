"""The Dataset record every loader returns: rows are examples, validated on construction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A loaded data set, examples as ROWS.

    The core takes examples as columns (``X`` is ``(n_0, m)``); the transpose
    ``X.T`` happens once, in the caller that feeds the network.

    Parameters
    ----------
    X : np.ndarray, shape (m, n_0)
        Features, one example per row. ``float64``, except image sets
        (IDX files, ``fashion-mnist``) which keep their ``uint8`` pixels.
    y : np.ndarray, shape (m,) or (m, k)
        Classification: ``(m,)`` integer codes in ``[0, len(classes))``.
        Regression: ``(m,)`` or ``(m, k)`` ``float64``.
    task : {"binary", "multiclass", "regression"}
        ``binary`` has exactly two classes, ``multiclass`` two or more.
    classes : tuple of str or None
        Original label names for classification (``y == i`` means
        ``classes[i]``); ``None`` for regression.
    feature_names : tuple of str or None
        One name per column of ``X``, when known.
    name : str
        Short name (``"iris"``, or the file name).
    source : str
        One human sentence saying where the data comes from.
    X_test, y_test : np.ndarray or None
        A predefined test split, for sets that ship one (Fashion-MNIST,
        IDX pairs with a ``t10k`` file); ``None`` otherwise.
    kinds : tuple of str or None
        Per feature column, "numeric" or "categorical" (text, one-hot encoded by a
        Preprocessor); ``None`` when all are numeric. With a categorical column ``X`` is an
        object array (numbers as float, text as str, a missing value as NaN or None).
    w : np.ndarray or None, shape (m,)
        Per-example weights (a CSV's weight column), ``None`` when every example counts once.
    notes : tuple of str
        What loading did that a report should say (rows dropped for missing values...).
    """

    X: np.ndarray
    y: np.ndarray
    task: Task
    classes: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    name: str
    source: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    kinds: tuple[str, ...] | None = None
    w: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}; got {self.task!r}")
        for field in ("classes", "feature_names"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, tuple(str(v) for v in value))
        _check_xy(self, self.X, self.y, "X", "y")
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError(f"{self.name}: X_test and y_test must be given together")
        if self.X_test is not None:
            _check_xy(self, self.X_test, self.y_test, "X_test", "y_test")
            if self.X_test.shape[1] != self.X.shape[1]:
                raise ValueError(
                    f"{self.name}: X_test has {self.X_test.shape[1]} features; "
                    f"X has {self.X.shape[1]}"
                )
        if self.feature_names is not None and len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"{self.name}: {len(self.feature_names)} feature_names for "
                f"{self.X.shape[1]} columns of X"
            )
        if self.kinds is not None:
            if len(self.kinds) != self.X.shape[1] or not set(self.kinds) <= {"numeric", "categorical"}:
                raise ValueError(f"{self.name}: kinds must give 'numeric' or 'categorical' for each of the "
                                 f"{self.X.shape[1]} columns; got {self.kinds}")
        elif self.X.dtype.kind not in "biuf":
            raise ValueError(f"{self.name}: X must be numeric (m, n_0); got dtype {self.X.dtype} (text columns "
                             "need kinds=)")
        if self.w is not None and (self.w.shape != (self.X.shape[0],) or self.w.dtype.kind != "f"
                                   or not np.all(np.isfinite(self.w)) or (self.w < 0).any()):
            raise ValueError(f"{self.name}: w must be {self.X.shape[0]} finite weights >= 0")

    @property
    def m(self) -> int:
        """Number of training examples (rows of ``X``)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features ``n_0`` (columns of ``X``)."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """``len(classes)`` for classification, ``None`` for regression."""
        return None if self.classes is None else len(self.classes)

    @property
    def categorical(self) -> list[int]:
        """Indices of the text (categorical) feature columns."""
        return [j for j, k in enumerate(self.kinds or ()) if k == "categorical"]

    @property
    def has_test(self) -> bool:
        """Whether the set ships a predefined test split."""
        return self.X_test is not None

    def replace(self, **changes: object) -> "Dataset":
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        kind = f"{self.n_classes} classes" if self.classes is not None else f"y={self.y.shape}"
        test = f", test={self.X_test.shape}" if self.X_test is not None else ""
        return (
            f"Dataset({self.name!r}, {self.task}, X={self.X.shape} {self.X.dtype}, "
            f"{kind}{test})"
        )


def _check_xy(ds: Dataset, X: object, y: object, x_name: str, y_name: str) -> None:
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        shape = getattr(X, "shape", type(X).__name__)
        raise ValueError(f"{ds.name}: {x_name} must be a 2-D array (m, n_0); got {shape}")
    if not isinstance(y, np.ndarray) or y.shape[:1] != X.shape[:1]:
        shape = getattr(y, "shape", type(y).__name__)
        raise ValueError(f"{ds.name}: {y_name} must have {X.shape[0]} rows like {x_name}; got {shape}")
    if ds.task == "regression":
        if ds.classes is not None:
            raise ValueError(f"{ds.name}: regression data must have classes=None")
        if y.ndim not in (1, 2) or not np.issubdtype(y.dtype, np.floating):
            raise ValueError(f"{ds.name}: regression {y_name} must be float (m,) or (m, k); "
                             f"got {y.dtype} {y.shape}")
        return
    if ds.classes is None or len(ds.classes) < 2:
        raise ValueError(f"{ds.name}: {ds.task} data needs at least two classes; got {ds.classes}")
    if ds.task == "binary" and len(ds.classes) != 2:
        raise ValueError(f"{ds.name}: binary data needs exactly two classes; got {len(ds.classes)}: "
                         f"{ds.classes}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{ds.name}: class labels {y_name} must be integer (m,); got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= len(ds.classes)):
        raise ValueError(f"{ds.name}: {y_name} codes must lie in [0, {len(ds.classes)}); "
                         f"got [{y.min()}, {y.max()}]")


@dataclass(frozen=True)
class Spec:
    """A named data set as ``available()`` lists it, with the function that loads it.

    ``loader(seed, n_samples)`` returns the :class:`Dataset`; ``shape`` is a
    human description of the default size (``"400 x 2"``).
    """

    task: Task
    shape: str
    source: str
    loader: Callable[[int, "int | None"], Dataset]
