"""Boundary checks: bad input fails here, with the offending shape or value and the fix."""
from __future__ import annotations

import numpy as np


def as_columns(X: object, n_0: int, dtype: np.dtype, name: str = "X") -> np.ndarray:
    """X as a finite (n_0, m) array of the network's dtype; examples are columns."""
    if not hasattr(X, "shape") and not isinstance(X, (list, tuple)):
        raise TypeError(f"{name} must be a 2-D array of shape (n_0={n_0}, m); got {type(X).__name__}")
    try:
        X = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numeric; could not convert it to {np.dtype(dtype).name}: {e}") from None
    if X.ndim != 2 or X.shape[0] != n_0 or X.shape[1] < 1:
        hint = ""
        if X.ndim == 2 and X.shape[1] == n_0:
            hint = f" Examples are columns: did you mean {name}.T?"
        elif X.ndim == 1 and X.shape[0] == n_0:
            hint = f" For one example use {name}.reshape(-1, 1)."
        raise ValueError(f"{name} must be (n_0={n_0}, m) with m >= 1; got {X.shape}.{hint}")
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains a non-finite value ({X[r, c]}) at row {r}, column (example) {c}")
    return X


def as_targets(Y: object, n_L: int, m: int, dtype: np.dtype) -> np.ndarray:
    """Y as a finite (n_L, m) array matching A[L]."""
    try:
        Y = np.asarray(Y, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Y must be numeric: {e}") from None
    if Y.shape != (n_L, m):
        hint = ""
        if Y.shape == (m, n_L):
            hint = " Targets are columns like A[L]: did you mean Y.T?"
        elif Y.ndim == 1 and Y.shape[0] == m:
            hint = (" For class labels use vecprop.one_hot(y, n_classes);"
                    " for one output use Y.reshape(1, -1).")
        raise ValueError(f"Y must be (n_L={n_L}, m={m}) to match A[L]; got {Y.shape}.{hint}")
    if not np.isfinite(Y).all():
        raise ValueError("Y contains NaN or inf")
    return Y


def check_sizes(sizes: object) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer sizes [n_0, ..., n_L]; got {sizes!r}")
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least [n_0, n_1] (L >= 1); got {list(sizes)}")
    for l, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"layer sizes must be positive integers; sizes[{l}] = {n!r} in {list(sizes)}")
    return tuple(int(n) for n in sizes)


def check_dtype(dtype: object) -> np.dtype:
    """float32 or float64, named explicitly (np.dtype(None) would quietly mean float64)."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.dtype("float32"), np.dtype("float64")):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return dt
