"""Feature scalers fitted on training rows only, saved as plain lists (no pickle)."""
from __future__ import annotations

import numpy as np

from .._checks import all_finite


def _rows(X: np.ndarray, n_features: int | None, who: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 2 and n_features is None and X.dtype.kind == "f" and not all_finite(X):  # fit
        r, c = (int(k) for k in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(f"{who}: X row {r}, column {c} is {X[r, c]}; fit a scaler on finite numbers (fill or drop "
                         "missing values first)")
    if X.ndim != 2:
        raise ValueError(f"{who}: X must be 2-D rows (m, n_0); got shape {X.shape} "
                         f"(for one feature, use X.reshape(-1, 1))")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{who}: X has {X.shape[1]} features; the scaler was fitted on {n_features}")
    return X


class Standardizer:
    """Per-feature ``(X - mean_) / std_``; a constant feature gets ``std_ = 1``.

    Attributes
    ----------
    mean_, std_ : np.ndarray, shape (n_0,)
        Set by :meth:`fit` from the training rows.

    Examples
    --------
    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 5.0]]))
    array([[0., 0.]])
    """

    kind = "standardize"

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> "Standardizer":
        """Learn mean and standard deviation per column of the TRAINING rows ``X`` (m, n_0)."""
        D = _rows(X, None, "Standardizer.fit").astype(np.float64)  # a copy, centred in place
        with np.errstate(over="ignore", invalid="ignore"):
            self.mean_ = D.mean(axis=0)
            D -= self.mean_
            D *= D
            std = np.sqrt(D.mean(axis=0))  # = X.std(axis=0); in place is ~10x faster on (60000, 784)
        huge = ~(np.isfinite(self.mean_) & np.isfinite(std))
        if huge.any():  # sums of numbers near 1e308 overflow: compute those columns in units of their largest |x|
            self.mean_[huge], std[huge] = _scaled_moments(np.asarray(X, dtype=np.float64)[:, huge])
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Scaled copy (m, n_0) of ``X`` in ``dtype``."""
        if self.mean_ is None:
            raise RuntimeError("Standardizer is not fitted; call fit(X_train) first")
        Z = _rows(X, self.mean_.size, "Standardizer.transform").astype(np.float64)  # a copy
        with np.errstate(over="ignore", invalid="ignore"):
            Z -= self.mean_  # in place: mixed-dtype (uint8 - float64) expressions are ~10x slower
            Z /= self.std_
        return _finish(Z, X, self.mean_, self.std_, dtype)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` (e.g. for standardized regression targets)."""
        X = _rows(X, self.mean_.size, "Standardizer.inverse_transform")
        return X * self.std_ + self.mean_

    def to_dict(self) -> dict:
        """``{"kind", "mean", "std"}`` as plain float lists, safe for JSON."""
        return {"kind": self.kind, "mean": self.mean_.tolist(), "std": self.std_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        scaler = cls()
        scaler.mean_, scaler.std_ = _pair(d, "mean", "std")
        return scaler

    def __repr__(self) -> str:
        n = "unfitted" if self.mean_ is None else f"n_0={self.mean_.size}"
        return f"Standardizer({n})"


class MinMaxScaler:
    """Map ``[low, high]`` to ``[0, 1]``: fixed bounds (``MinMaxScaler(0, 255)`` for
    pixels) or, when none are given, each feature's min and max over the training rows."""

    kind = "minmax"

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        if (low is None) != (high is None) or (low is not None and not high > low):
            raise ValueError(f"give both low < high, or neither; got low={low}, high={high}")
        self.low, self.high = low, high
        self.min_: np.ndarray | None = None
        self.range_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> "MinMaxScaler":
        """Learn per-feature bounds from the TRAINING rows ``X`` (m, n_0) (or broadcast the fixed ones)."""
        X = _rows(X, None, "MinMaxScaler.fit")
        n = X.shape[1]
        with np.errstate(over="ignore"):  # a spread beyond float64 (-1e308 .. 1e308) is capped at its largest
            if self.low is not None:
                self.min_ = np.full(n, float(self.low))
                spread = np.full(n, float(self.high) - float(self.low))
            else:
                self.min_ = X.min(axis=0).astype(np.float64)
                spread = X.max(axis=0).astype(np.float64) - self.min_
        self.range_ = np.where(spread > 0, np.minimum(spread, np.finfo(np.float64).max), 1.0)
        return self

    def transform(self, X: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Scaled copy (m, n_0) of ``X`` in ``dtype``."""
        if self.min_ is None:
            raise RuntimeError("MinMaxScaler is not fitted; call fit(X_train) first")
        Z = _rows(X, self.min_.size, "MinMaxScaler.transform").astype(np.float64)  # a copy
        with np.errstate(over="ignore", invalid="ignore"):
            Z -= self.min_  # in place: mixed-dtype (uint8 - float64) expressions are ~10x slower
            Z /= self.range_
        return _finish(Z, X, self.min_, self.range_, dtype)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict:
        """``{"kind", "min", "range"}`` as plain float lists, safe for JSON."""
        return {"kind": self.kind, "min": self.min_.tolist(), "range": self.range_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "MinMaxScaler":
        scaler = cls()
        scaler.min_, scaler.range_ = _pair(d, "min", "range")
        return scaler

    def __repr__(self) -> str:
        bounds = "" if self.low is None else f"{self.low}, {self.high}, "
        n = "unfitted" if self.min_ is None else f"n_0={self.min_.size}"
        return f"MinMaxScaler({bounds}{n})"


def _pair(d: dict, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """A stored scaler's two vectors: 1-D, one entry per feature each (a mismatch is a damaged file)."""
    u, v = np.asarray(d[a], dtype=np.float64), np.asarray(d[b], dtype=np.float64)
    if u.ndim != 1 or u.shape != v.shape or not u.size:
        raise ValueError(f"a scaler's {a} and {b} must be lists of one number per feature; got {u.shape} and {v.shape}")
    return u, v


def _scaled_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of columns whose sums overflow, computed on X / max|X| and scaled back:
    both stay finite (the deviation is at most max|X|, by Popoviciu's inequality)."""
    s = np.abs(X).max(axis=0)
    s = np.where((s > 0) & np.isfinite(s), s, 1.0)
    D = X / s
    mean = D.mean(axis=0)
    return mean * s, np.sqrt(((D - mean) ** 2).mean(axis=0)) * s


def _finish(Z: np.ndarray, X: np.ndarray, shift: np.ndarray, scale: np.ndarray, dtype: type) -> np.ndarray:
    """(X - shift) / scale in ``dtype``; entries where X - shift overflowed (|x| near 1e308) are computed
    as X / scale - shift / scale instead."""
    if not all_finite(Z):  # one pass; the boolean mask only when some entry overflowed
        bad = ~np.isfinite(Z)
        rows, cols = np.nonzero(bad)
        x = np.asarray(X[rows, cols], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            Z[rows, cols] = x / scale[cols] - shift[cols] / scale[cols]
    return Z.astype(dtype, copy=False)


SCALERS = {cls.kind: cls for cls in (Standardizer, MinMaxScaler)}


def scaler_from_dict(d: dict) -> Standardizer | MinMaxScaler:
    """Rebuild a scaler from its ``to_dict()``; an unknown ``kind`` lists the valid ones."""
    kind = d.get("kind")
    if kind not in SCALERS:
        raise ValueError(f"unknown scaler kind {kind!r}; valid: {sorted(SCALERS)}")
    return SCALERS[kind].from_dict(d)
