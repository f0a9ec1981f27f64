"""Boundary checks: bad input fails here, with the offending shape or value and the fix."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ._sparse import is_sparse, sparse_columns


def as_columns(X: object, n_0: int, dtype: np.dtype, name: str = "X") -> np.ndarray:
    """X as a finite (n_0, m) array of the network's dtype; examples are columns.

    A scipy sparse X stays sparse (CSC, see ``_sparse``): only layer 1 multiplies it.
    """
    if is_sparse(X):
        return sparse_columns(X, n_0, dtype, name)
    if not hasattr(X, "shape") and not isinstance(X, (list, tuple)):
        raise TypeError(f"{name} must be a 2-D array of shape (n_0={n_0}, m); got {type(X).__name__}")
    _not_complex(X, name)
    given = X
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf here, and is named below
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
    if not all_finite(X):
        r, c = np.argwhere(~np.isfinite(X))[0]
        _beyond_dtype(given, (r, c), dtype, name, f"row {r}, column (example) {c}")
        raise ValueError(f"{name} contains a non-finite value ({X[r, c]}) at row {r}, column (example) {c}")
    return X


def _beyond_dtype(given: object, at: tuple[int, ...], dtype: np.dtype, name: str, where: str) -> None:
    """A finite value that became inf on the way to ``dtype`` (1e39 in float32): said as such."""
    try:
        value = float(np.asarray(given, dtype=np.float64)[at])
    except (TypeError, ValueError, OverflowError, IndexError):
        return
    if np.isfinite(value):
        raise ValueError(f"{name} holds {value:g} at {where}, beyond the range of {np.dtype(dtype).name} "
                         f"(|x| <= {np.finfo(dtype).max:.3g}): scale it, or use a float64 network")


def as_targets(Y: object, n_L: int, m: int, dtype: np.dtype) -> np.ndarray:
    """Y as a finite (n_L, m) array matching A[L]."""
    _not_complex(Y, "Y")
    given = Y
    try:
        with np.errstate(over="ignore"):
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
    if not all_finite(Y):
        r, c = np.argwhere(~np.isfinite(Y))[0]
        _beyond_dtype(given, (r, c), dtype, "Y", f"row {r}, column (example) {c}")
        raise ValueError(f"Y contains NaN or inf: {Y[r, c]} at row {r}, column (example) {c}")
    return Y


def regular_file(path: Any) -> None:
    """Refuse a path that exists but is no regular file: a folder, or a FIFO or device, whose read would
    block or never end. (A missing file is left to ``open``'s own error.)"""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "not a regular file"
        raise ValueError(f"{path} is {kind}; give a file (a pipe or device would block the read or never end)")


def _not_complex(a: object, name: str) -> None:
    """Complex numbers would lose their imaginary part, silently, on the way to float."""
    if np.iscomplexobj(a):
        raise TypeError(f"{name} holds complex numbers; the network computes with real numbers (take .real or "
                        "abs() yourself if that is what you mean)")


def all_finite(X: np.ndarray) -> bool:
    """No NaN or inf in the float array X: its sum is finite (one pass, no copy), else entry by entry.

    A NaN or inf makes the sum NaN or inf; a finite sum proves every entry finite. Only when the
    sum is not finite (a bad entry, or finite entries whose sum overflows) is each entry tested,
    with a boolean array as large as X. scikit-learn checks its input the same way.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, or an overflowing sum, is a "maybe"
        total = np.add.reduce(X, axis=None)
    return bool(math.isfinite(total)) or bool(np.isfinite(X).all())


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


# ---- scalar settings: one message style for every hyperparameter ---------------------------------
def check_real(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf, *,
               lo_open: bool = False, hi_open: bool = False) -> float:
    """``float(value)`` for a finite real number within the bounds, else ValueError naming ``name``."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    v = float(value) if ok else math.nan
    if not (math.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)):
        raise ValueError(f"{name} must be {_bounds(lo, hi, lo_open, hi_open)}; got {value!r}")
    return v


def _bounds(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    if math.isinf(lo) and math.isinf(hi):
        return "a finite number"
    if math.isinf(hi):
        return f"a finite number {'>' if lo_open else '>='} {lo:g}"
    if math.isinf(lo):
        return f"a finite number {'<' if hi_open else '<='} {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_int(name: str, value: Any, lo: int | None = None, *, hint: str = "") -> int:
    """``int(value)`` for an integer (not a bool) >= ``lo``, else ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or (
            lo is not None and value < lo):
        want = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(lo, f"an integer >= {lo}")
        raise ValueError(f"{name} must be {want}{hint}; got {value!r}")
    return int(value)


def make_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``seed`` itself when it is a numpy Generator, else ``default_rng(seed)`` for an integer >= 0."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int(name, seed, 0, hint=" or a numpy Generator"))


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (a registry's names, a tuple), else ValueError listing them."""
    if not isinstance(value, (str, int, float, type(None))) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_sample_weight(w: object, m: int, dtype: np.dtype, name: str = "sample_weight", *,
                        some_positive: bool = True) -> np.ndarray:
    """Per-example weights (m,) in the network's dtype: finite, >= 0 and (by default) not all zero.

    J becomes sum_c w_c err_c / sum_c w_c (eq. 2 with weights), so weight k counts an example k
    times and weight 0 drops it.
    """
    _not_complex(w, name)
    try:
        w64 = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numeric: {e}") from None
    if w64.shape != (m,):
        raise ValueError(f"{name} must be (m={m},), one weight per example (column of X); got {w64.shape}")
    out = w64.astype(dtype)
    if not np.isfinite(out).all():
        c = int(np.argmin(np.isfinite(out)))
        raise ValueError(f"{name} must be finite in {np.dtype(dtype).name}; example {c} has weight {w64[c]!r}")
    if (w64 < 0).any():
        raise ValueError(f"{name} must be >= 0; example {int(np.argmin(w64))} has weight {w64.min():g}")
    if some_positive and not out.sum(dtype=np.float64) > 0:
        raise ValueError(f"{name} sums to 0: no example would count")
    return out
