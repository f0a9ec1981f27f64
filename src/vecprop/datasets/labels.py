"""Targets: the task-inference rule and a label encoder for named classes."""
from __future__ import annotations

import numpy as np

from .dataset import TASKS

MAX_CLASSES = 20
"""A numeric target is read as class labels when its values are all integers
and it has at most this many distinct values; otherwise it is regression."""


class LabelEncoder:
    """Map label values (strings or numbers) to codes ``0..k-1`` in sorted order.

    Attributes
    ----------
    classes_ : tuple of str
        The label names, ``classes_[code]``; set by :meth:`fit`.

    Examples
    --------
    >>> enc = LabelEncoder().fit(["cat", "dog", "cat"])
    >>> enc.classes_, enc.transform(["dog", "cat"]).tolist()
    (('cat', 'dog'), [1, 0])
    """

    def __init__(self) -> None:
        self.classes_: tuple[str, ...] | None = None
        self._values: np.ndarray | None = None

    def fit(self, labels: np.ndarray | list) -> "LabelEncoder":
        """Learn the sorted distinct labels of ``labels`` (m,)."""
        values = np.unique(np.asarray(labels))
        self._values = values
        self.classes_ = tuple(_label_name(v) for v in values)
        return self

    def transform(self, labels: np.ndarray | list) -> np.ndarray:
        """Codes (m,) ``int64`` of ``labels``; an unseen label raises ValueError naming it."""
        if self._values is None:
            raise RuntimeError("LabelEncoder is not fitted; call fit(labels) first")
        labels = np.asarray(labels)
        codes = np.searchsorted(self._values, labels)
        codes = np.clip(codes, 0, len(self._values) - 1)
        unseen = self._values[codes] != labels
        if np.any(unseen):
            bad = labels[unseen][0].item()
            raise ValueError(f"label {bad!r} was not seen in fit; known: {self.classes_}")
        return codes.astype(np.int64)

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        """Label names (m,) ``str`` of integer ``codes`` (m,)."""
        if self.classes_ is None:
            raise RuntimeError("LabelEncoder is not fitted; call fit(labels) first")
        return np.asarray(self.classes_)[np.asarray(codes)]

    def __repr__(self) -> str:
        return f"LabelEncoder(classes_={self.classes_})"


def _label_name(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_target(values: np.ndarray, task: str | None, where: str
                  ) -> tuple[np.ndarray, str, tuple[str, ...] | None]:
    """Turn raw target values into ``(y, task, classes)`` for a :class:`Dataset`.

    Parameters
    ----------
    values : np.ndarray, shape (m,) or (m, k)
        Raw targets: strings (categorical) or numbers.
    task : {"binary", "multiclass", "regression"} or None
        Forced task; ``None`` infers it: strings are classes; numbers are
        classes when all are integers with at most ``MAX_CLASSES`` distinct
        values, regression otherwise; 2-D numeric targets are regression.
    where : str
        Names the source in error messages (a file and column).

    Returns
    -------
    y : np.ndarray
        ``int64`` codes (m,) for classification; ``float64`` for regression.
    task : str
    classes : tuple of str or None
    """
    if task is not None and task not in (*TASKS, "classification"):
        raise ValueError(f"task must be one of {(*TASKS, 'classification')} or None; got {task!r}")
    values = _checked_values(values, where)
    categorical = values.dtype.kind in "USO"
    if task == "classification":  # classes, two or more: binary or multiclass by their count
        task = "multiclass"
        forced = None
    else:
        forced = task
    if task is None:
        task = "multiclass" if categorical or _looks_like_classes(values) else "regression"
    if task == "regression":
        if categorical:
            raise ValueError(f"{where}: task='regression' needs a numeric target; "
                             f"got text labels such as {str(values.flat[0])!r}")
        return values.astype(np.float64), task, None
    if values.ndim != 1:
        raise ValueError(f"{where}: class labels must be one column (m,); got shape {values.shape}")
    enc = LabelEncoder().fit(values)
    classes = enc.classes_
    if len(classes) < 2:
        raise ValueError(f"{where}: the target has a single value {classes}; nothing to classify")
    if task == "binary" and len(classes) != 2:
        raise ValueError(f"{where}: task='binary' needs exactly 2 classes; got {len(classes)}")
    if forced is None:
        task = "binary" if len(classes) == 2 else "multiclass"
    return enc.transform(values), task, classes


def _checked_values(values: np.ndarray, where: str) -> np.ndarray:
    """Targets that convert without loss: (m,) or (m, k) real numbers or labels, finite; bytes decoded."""
    if values.ndim not in (1, 2):
        raise ValueError(f"{where}: targets must be (m,) or (m, k); got shape {values.shape}")
    if values.dtype.kind == "c":
        raise ValueError(f"{where}: holds complex numbers (e.g. {values.flat[0]!r}); a target is a real number or a "
                         "label (converting would drop the imaginary part)")
    if values.dtype.kind not in "biufUSO":
        raise ValueError(f"{where}: dtype {values.dtype} cannot be a target; use numbers or text labels")
    if values.dtype.kind == "S":
        try:
            values = np.char.decode(values, "utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{where}: byte-string labels that are not UTF-8 ({err.object!r})") from None
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        i = int(np.argwhere(~np.isfinite(values))[0][0])
        raise ValueError(f"{where}: row {i} is {values[i]} (NaN or infinite); targets must be finite numbers (drop "
                         "those rows, or fill them)")
    return values


def _looks_like_classes(values: np.ndarray) -> bool:
    if values.ndim != 1 or values.size == 0:
        return False
    if np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_:
        return np.unique(values).size <= MAX_CLASSES
    integral = np.all(np.isfinite(values)) and np.all(values == np.round(values))
    return bool(integral) and np.unique(values).size <= MAX_CLASSES

