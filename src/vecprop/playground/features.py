"""The playground's input features, computed from the raw point (x1, x2) by one pure function."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..preprocessing import derive

FEATURES: dict[str, tuple[str, tuple[int, ...]]] = {
    "x1": ("x", (0,)), "x2": ("x", (1,)), "x1_sq": ("square", (0,)), "x2_sq": ("square", (1,)),
    "x1_x2": ("product", (0, 1)), "sin_x1": ("sin", (0,)), "sin_x2": ("sin", (1,)),
}
"""Feature name -> its derived-input term of the raw (x1, x2) (``preprocessing.derive``, the one formula the
model file records too); the order of the page's checkboxes and of X's rows."""


def check_features(names: Sequence[str]) -> tuple[str, ...]:
    """At least one known name, each once, in the order given; an unknown name lists the valid ones."""
    names = tuple(names)
    for n in names:
        if n not in FEATURES:
            raise ValueError(f"unknown feature {n!r}; valid features: {', '.join(FEATURES)}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"features must name at least one of {', '.join(FEATURES)}, each once; got {list(names)}")
    return names


def features(P: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """X = A[0] (n_0, m) from raw points P (2, m): row k is feature ``names[k]`` of every point.

    Examples
    --------
    >>> features(np.array([[1.0, 2.0], [3.0, 4.0]]), ["x1", "x1_x2"])
    array([[1., 2.],
           [3., 8.]])
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != 2:
        raise ValueError(f"raw points must be (2, m): x1 and x2 as rows, one column per point; got {P.shape}")
    return np.ascontiguousarray(derive(P.T, [FEATURES[n] for n in check_features(names)]).T)
