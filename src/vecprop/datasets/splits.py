"""Seeded train/validation/test splits, stratified by class for classification."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dataset import Dataset


class Part(NamedTuple):
    """One split: ``X`` (m_part, n_0) rows, ``y`` (m_part,) or (m_part, k), weights ``w`` (m_part,) or None."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray | None = None


class Splits(NamedTuple):
    """``train``, ``val`` and ``test`` parts; ``val`` has zero rows when not asked for."""

    train: Part
    val: Part
    test: Part


def _count(n: int, fraction: float) -> int:
    """Round half up, so that per-class counts are within 1/2 of ``n * fraction``."""
    return int(np.floor(n * fraction + 0.5))


def split_indices(y: np.ndarray, *, val_fraction: float, test_fraction: float,
                  rng: np.random.Generator, stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled row indices ``(train, val, test)`` of ``y`` (m,).

    Stratified: each class is permuted and cut on its own, so each part holds
    ``round(n_c * fraction)`` examples of class ``c``. Otherwise one permutation
    of all rows is cut.
    """
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    train, val, test = [], [], []
    for group in groups:
        group = rng.permutation(group)
        n_test, n_val = _count(group.size, test_fraction), _count(group.size, val_fraction)
        test.append(group[:n_test])
        val.append(group[n_test:n_test + n_val])
        train.append(group[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(p)).astype(np.intp) for p in (train, val, test))


def split(data: Dataset | tuple[np.ndarray, np.ndarray], *, val_fraction: float = 0.1,
          test_fraction: float = 0.2, seed: int = 0, stratify: bool = True) -> Splits:
    """Split rows into train, validation and test parts.

    Parameters
    ----------
    data : Dataset or (X, y)
        ``X`` (m, n_0) rows, ``y`` (m,) or (m, k). A :class:`Dataset` with a
        predefined test split keeps it: ``test_fraction`` is then ignored and
        validation is carved from the training rows only.
    val_fraction, test_fraction : float
        Shares of the rows, each in [0, 1), summing to less than 1.
    seed : int
        Seeds ``numpy.random.default_rng``; the same seed gives the same split.
    stratify : bool
        Cut each class separately (classification data sets; for a bare
        ``(X, y)`` tuple, when ``y`` is 1-D integers).

    Returns
    -------
    Splits
        ``(train, val, test)``, each a ``Part(X, y)``, rows shuffled.

    Examples
    --------
    >>> X, y = np.zeros((10, 3)), np.array([0, 1] * 5)
    >>> train, val, test = split((X, y), val_fraction=0.2, test_fraction=0.2)
    >>> train.X.shape, val.X.shape, test.X.shape
    ((6, 3), (2, 3), (2, 3))
    """
    for label, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{label} must be in [0, 1); got {fraction}")
    w = None
    if isinstance(data, Dataset):
        X, y, w, classification = data.X, data.y, data.w, data.task != "regression"
        predefined = Part(data.X_test, data.y_test) if data.has_test else None
    else:
        X, y = data
        classification = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
        predefined = None
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    test_fraction = 0.0 if predefined is not None else test_fraction
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1; got {val_fraction} + {test_fraction}")
    train, val, test = split_indices(y, val_fraction=val_fraction, test_fraction=test_fraction,
                                     rng=np.random.default_rng(seed), stratify=stratify and classification)
    if train.size == 0:
        raise ValueError(f"no training rows left from m={X.shape[0]} with val_fraction={val_fraction}, "
                         f"test_fraction={test_fraction}")
    part = lambda idx: Part(X[idx], y[idx], None if w is None else w[idx])  # noqa: E731
    return Splits(part(train), part(val), predefined if predefined is not None else part(test))
