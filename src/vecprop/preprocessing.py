"""Raw rows -> the network's input rows: columns matched by name, missing values, one-hot, scaling."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .datasets.scaling import MinMaxScaler, Standardizer, scaler_from_dict

Scaler = Standardizer | MinMaxScaler
KINDS = ("numeric", "categorical")
UNKNOWN_CATEGORY = ("error", "ignore")
TERMS = {"x": 1, "square": 1, "sin": 1, "product": 2}
"""Derived inputs and how many raw columns each reads: x_j, x_j^2, sin x_j, x_j x_k."""


class FeatureWarning(UserWarning):
    """Input columns the model does not use, or a category it never saw (``unknown_category="ignore"``)."""


@dataclass(frozen=True)
class Column:
    """One raw input column: a number (``fill`` replaces a missing value) or a category (one-hot)."""

    kind: str = "numeric"
    fill: float | None = None
    categories: tuple[Any, ...] | None = None

    @property
    def width(self) -> int:
        """How many network inputs this column becomes: 1, or one per category."""
        return 1 if self.kind == "numeric" else len(self.categories or ())

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "numeric":
            return {"kind": self.kind, "fill": self.fill}
        return {"kind": self.kind, "categories": list(self.categories or ())}


class Preprocessor:
    """What turns raw rows (m, n_raw), columns in the model's order, into network rows (m, n_0).

    Fitted on training rows and stored with the model. In order: a missing numeric value (NaN)
    becomes its column's ``fill`` (no fill: an error); categorical columns are one-hot encoded
    in the stored category order; the numeric columns are scaled by ``scaler`` (one-hot columns
    stay 0/1). The network's inputs are the columns in order: a numeric column is one input, a
    categorical column one input per category.

    ``features`` (numeric columns only) derives the inputs instead: each is a term
    ``(op, (j,))`` or ``("product", (j, k))`` of the raw columns, with op "x" (the column
    itself), "square", "sin" or "product"; the scaler then applies to those derived inputs.
    The playground's x1^2, x1 x2, sin x1 are such terms.
    """

    def __init__(self, columns: Sequence[Column], scaler: Scaler | None = None,
                 unknown_category: str = "error",
                 features: Sequence[tuple[str, Sequence[int]]] | None = None) -> None:
        self.columns = tuple(columns)
        if not self.columns:
            raise ValueError("a Preprocessor needs at least one input column")
        for j, c in enumerate(self.columns):
            _check_column(j, c)
        if unknown_category not in UNKNOWN_CATEGORY:
            raise ValueError(f"unknown_category must be one of {UNKNOWN_CATEGORY}; got {unknown_category!r}")
        self.features = None if features is None else tuple((op, tuple(of)) for op, of in features)
        if self.features is not None:
            _check_terms(self.features, self.columns)
        n_scaled = len(self.features) if self.features else sum(c.kind == "numeric" for c in self.columns)
        if scaler is not None and _scaler_width(scaler) != n_scaled:
            raise ValueError(f"the scaler was fitted on {_scaler_width(scaler)} features, but there are "
                             f"{n_scaled} numeric inputs to scale")
        self.scaler, self.unknown_category = scaler, unknown_category

    @classmethod
    def numeric(cls, n: int, scaler: Scaler | None = None) -> Preprocessor:
        """n numeric columns, optionally scaled: the common case."""
        return cls([Column()] * n, scaler)

    @property
    def n_raw(self) -> int:
        return len(self.columns)

    @property
    def n_0(self) -> int:
        """The network's input size n_0."""
        return len(self.features) if self.features else sum(c.width for c in self.columns)

    @property
    def numeric_only(self) -> bool:
        return all(c.kind == "numeric" for c in self.columns)

    def transform(self, rows: np.ndarray, names: Sequence[str] | None = None, source: str = "X") -> np.ndarray:
        """Network rows (m, n_0) float64 from raw rows (m, n_raw); ``names`` only label errors."""
        numeric = [j for j, c in enumerate(self.columns) if c.kind == "numeric"]
        label = (lambda j: repr(names[j])) if names else (lambda j: str(j))  # noqa: E731
        num = numbers(rows[:, numeric] if not self.numeric_only else rows,
                      [(label(j), self.columns[j].fill) for j in numeric], source)
        if self.features:
            num = derive(num, self.features)
        if self.scaler is not None and num.shape[1]:
            num = self.scaler.transform(num)
        if self.numeric_only:
            return num
        out, k, at = np.zeros((rows.shape[0], self.n_0)), 0, 0
        for j, c in enumerate(self.columns):
            if c.kind == "numeric":
                out[:, at] = num[:, k]
                k += 1
            else:
                out[:, at : at + c.width] = self._one_hot(rows[:, j], c, label(j), source)
            at += c.width
        return out

    def _one_hot(self, values: np.ndarray, c: Column, label: str, source: str) -> np.ndarray:
        index = {category_key(v): i for i, v in enumerate(c.categories or ())}
        codes = np.array([index.get(category_key(v), -1) for v in values], dtype=np.int64)
        if (codes < 0).any():
            i = int(np.flatnonzero(codes < 0)[0])
            msg = (f"{source}: column {label}, row {i}: category {values[i]!r} was never seen in training "
                   f"(known: {listing(list(c.categories or ()))})")
            if self.unknown_category == "error":
                raise ValueError(msg)
            warnings.warn(msg + "; its one-hot inputs are all 0", FeatureWarning, stacklevel=4)
        H = np.zeros((len(values), c.width))
        ok = np.flatnonzero(codes >= 0)
        H[ok, codes[ok]] = 1.0
        return H

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns],
                "features": None if self.features is None else [{"op": op, "of": list(of)} for op, of in self.features],
                "scaler": None if self.scaler is None else self.scaler.to_dict(),
                "unknown_category": self.unknown_category}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        """Rebuild from ``to_dict()`` (already schema-checked); a bad value raises ValueError."""
        cols = [Column(c["kind"], c.get("fill"), None if c.get("categories") is None else tuple(c["categories"]))
                for c in d["columns"]]
        scaler = None if d["scaler"] is None else scaler_from_dict(d["scaler"])
        if scaler is not None:
            for key, values in scaler.to_dict().items():
                if key != "kind" and not all(math.isfinite(v) for v in values):
                    raise ValueError(f"the input scaler's {key} holds a non-finite value")
            if (scaler.std_ if isinstance(scaler, Standardizer) else scaler.range_).min(initial=1.0) <= 0:
                raise ValueError("the input scaler divides by a value <= 0")
        terms = None if d["features"] is None else [(t["op"], t["of"]) for t in d["features"]]
        return cls(cols, scaler, d["unknown_category"], terms)

    def __repr__(self) -> str:
        scaler = "none" if self.scaler is None else self.scaler.kind
        return f"Preprocessor(n_raw={self.n_raw}, n_0={self.n_0}, scaler={scaler})"


def select_columns(rows: np.ndarray, names: Sequence[str] | None, wanted: Sequence[str] | None,
                   n_raw: int, source: str = "X") -> np.ndarray:
    """The model's raw columns of ``rows`` (m, n), in the model's order.

    By name when the model (``wanted``) and the input (``names``) both have names: missing
    columns are an error listing them, extra ones are ignored with a FeatureWarning. Otherwise
    by position, after checking the count.
    """
    if rows.ndim != 2:
        raise ValueError(f"{source} must be 2-D rows (m, n_features); got shape {rows.shape}")
    if wanted is not None and names is not None:
        names = [str(n) for n in names]
        if len(names) != rows.shape[1]:
            raise ValueError(f"{source} has {rows.shape[1]} columns but {len(names)} column names")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"{source} has two columns named {dup!r}; column names must be unique")
        missing = [n for n in wanted if n not in names]
        if missing:
            raise ValueError(f"{source} lacks the model's feature column(s) {listing(missing)}; "
                             f"it has {listing(names)}")
        extra = [n for n in names if n not in wanted]
        if extra:
            warnings.warn(f"{source}: ignoring column(s) {listing(extra)}, which the model does not use",
                          FeatureWarning, stacklevel=3)
        if names == list(wanted):
            return rows
        index = {n: j for j, n in enumerate(names)}
        return rows[:, [index[n] for n in wanted]]
    if rows.shape[1] != n_raw:
        named = f" ({listing(list(wanted))})" if wanted else ""
        raise ValueError(f"{source} has {rows.shape[1]} feature columns; the model takes {n_raw}{named}")
    return rows


def numbers(rows: np.ndarray, cols: Sequence[tuple[str, float | None]], source: str) -> np.ndarray:
    """Raw numeric columns as a float64 copy; NaN becomes the column's fill, or an error.

    ``cols`` gives each column's label (for messages) and fill value (None: none).
    """
    try:
        X = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        X = np.empty(rows.shape)
        for (i, j), v in np.ndenumerate(rows):
            try:
                X[i, j] = np.nan if v is None or v == "" else float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{source}: column {cols[j][0]}, row {i}: {v!r} is not a number") from None
    bad = ~np.isfinite(X)
    for j in np.flatnonzero(bad.any(axis=0)):
        label, fill = cols[j]
        rows_bad = np.flatnonzero(bad[:, j])
        inf = rows_bad[np.isinf(X[rows_bad, j])]
        if fill is not None and not inf.size:
            X[rows_bad, j] = fill
            continue
        i = int(inf[0]) if inf.size else int(rows_bad[0])
        what = f"infinite ({X[i, j]})" if inf.size else "missing (NaN)"
        fix = "" if inf.size or fill is not None else "; the model has no fill value for this column"
        raise ValueError(f"{source}: column {label}, row {i}: the value is {what}{fix}")
    return X


def derive(X: np.ndarray, terms: Sequence[tuple[str, Sequence[int]]]) -> np.ndarray:
    """The derived inputs (m, len(terms)) of numeric raw rows X (m, n_raw)."""
    out = np.empty((X.shape[0], len(terms)))
    for k, (op, of) in enumerate(terms):
        x = X[:, of[0]]
        out[:, k] = x if op == "x" else x * x if op == "square" else np.sin(x) if op == "sin" else x * X[:, of[1]]
    return out


def _check_terms(terms: tuple[tuple[str, tuple[int, ...]], ...], columns: tuple[Column, ...]) -> None:
    if not terms:
        raise ValueError("features must list at least one derived input (or be None)")
    if any(c.kind != "numeric" for c in columns):
        raise ValueError("derived features read numeric columns only")
    for op, of in terms:
        if op not in TERMS or len(of) != TERMS[op] or not all(
                isinstance(j, int) and not isinstance(j, bool) and 0 <= j < len(columns) for j in of):
            raise ValueError(f"feature term {(op, list(of))} must be one of {sorted(TERMS)} over "
                             f"{'one column' if TERMS.get(op, 1) == 1 else 'two columns'} in 0..{len(columns) - 1}")


def _check_column(j: int, c: Column) -> None:
    if c.kind not in KINDS:
        raise ValueError(f"input column {j}: kind must be one of {KINDS}; got {c.kind!r}")
    if c.kind == "numeric":
        if c.categories is not None:
            raise ValueError(f"input column {j} is numeric and cannot have categories")
        ok = c.fill is None or (isinstance(c.fill, (int, float)) and not isinstance(c.fill, bool)
                                and math.isfinite(c.fill))
        if not ok:
            raise ValueError(f"input column {j}: fill must be a finite number or None; got {c.fill!r}")
    else:
        keys = [category_key(v) for v in c.categories or ()]
        if not keys or len(set(keys)) != len(keys) or c.fill is not None:
            raise ValueError(f"categorical input column {j} needs one or more distinct categories and no fill; "
                             f"got categories {c.categories!r}")


def _scaler_width(scaler: Scaler) -> int:
    fitted = scaler.mean_ if isinstance(scaler, Standardizer) else scaler.min_
    if fitted is None:
        raise ValueError(f"{scaler!r} is not fitted; fit it on the training rows first")
    return int(fitted.size)


def category_key(v: Any) -> str:
    """Categories compare as text: 1, 1.0 and "1" (as read from a CSV) are one category; a missing
    value (None, NaN) is the category ""."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def listing(names: Sequence[Any], limit: int = 8) -> str:
    """``'a', 'b', 'c' and 5 more``: a list short enough for one error line."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
