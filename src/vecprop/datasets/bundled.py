"""The small data sets that scikit-learn ships inside its package (no download)."""
from __future__ import annotations

import importlib
from functools import partial

import numpy as np

from .dataset import Dataset, Spec

_INSTALL_HINT = ("scikit-learn is needed for the bundled data sets; install it with "
                 "`pip install vecprop[sklearn]` (or `pip install vecprop[cli]`)")

# name -> (sklearn loader, task, default shape, what it is)
_TABLE: dict[str, tuple[str, str, str, str]] = {
    "digits": ("load_digits", "multiclass", "1797 x 64", "8x8 hand-written digits (UCI)"),
    "iris": ("load_iris", "multiclass", "150 x 4", "Fisher's iris flowers (UCI)"),
    "wine": ("load_wine", "multiclass", "178 x 13", "wine cultivars by chemical analysis (UCI)"),
    "breast-cancer": ("load_breast_cancer", "binary", "569 x 30",
                      "Wisconsin diagnostic breast cancer (UCI)"),
    "diabetes": ("load_diabetes", "regression", "442 x 10",
                 "diabetes progression after one year (Efron et al. 2004)"),
}


def _sklearn_datasets():
    try:
        return importlib.import_module("sklearn.datasets")
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err


def _source(name: str) -> str:
    loader, _, _, what = _TABLE[name]
    return f"{what}: scikit-learn's bundled copy, sklearn.datasets.{loader}()"


def load_bundled(name: str, seed: int = 0, n_samples: int | None = None) -> Dataset:
    """Load one of scikit-learn's bundled sets as a :class:`Dataset` (rows are examples).

    ``seed`` and ``n_samples`` are accepted for a uniform loader signature; the
    registry does any subsampling.
    """
    loader, task, _, _ = _TABLE[name]
    bunch = getattr(_sklearn_datasets(), loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    names = getattr(bunch, "feature_names", None)
    if task == "regression":
        y, classes = np.asarray(bunch.target, dtype=np.float64), None
    else:
        y = np.asarray(bunch.target, dtype=np.int64)
        classes = tuple(str(c) for c in bunch.target_names)
    return Dataset(X=X, y=y, task=task, classes=classes,
                   feature_names=None if names is None else tuple(names),
                   name=name, source=_source(name))


SETS: dict[str, Spec] = {
    name: Spec(task=task, shape=shape, source=_source(name), loader=partial(load_bundled, name))
    for name, (_, task, shape, _) in _TABLE.items()
}
