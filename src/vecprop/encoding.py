"""Targets as the derivation's columns: integer labels -> one-hot Y (n_classes, m)."""
from __future__ import annotations

import numpy as np

from ._checks import check_int
from ._memory import check_fits


def one_hot(y: np.ndarray, n_classes: int | None = None, dtype: str | np.dtype = "float32") -> np.ndarray:
    """Y with Y[y[c], c] = 1: one column per example, as A[L] is laid out.

    >>> one_hot(np.array([0, 2]), 3).shape
    (3, 2)
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D array of integer class labels; got shape {y.shape}, dtype {y.dtype}")
    if n_classes is None and y.size == 0:
        raise ValueError("one_hot of no labels needs n_classes: the classes cannot be read off an empty y")
    k = int(y.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, 1)
    check_fits(k * y.size * np.dtype(dtype).itemsize, f"one_hot of {y.size:,} labels over {k:,} classes")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}; got values from {y.min()} to {y.max()}")
    Y = np.zeros((k, y.size), dtype=dtype)
    Y[y, np.arange(y.size)] = 1
    return Y
