"""The playground's input features, computed from the raw point (x1, x2) by one pure function."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}
"""Feature name -> its formula of the raw coordinates; the order of the page's checkboxes and of X's rows."""


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
    return np.stack([FEATURES[n](P[0], P[1]) for n in check_features(names)])
