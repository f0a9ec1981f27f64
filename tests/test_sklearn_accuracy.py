"""vecprop.sklearn against sklearn.neural_network on real data: same settings, 5 seeds, test score."""
from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import datasets  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from vecprop import sklearn as vp_sk  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.usefixtures("one_blas_thread")]

SEEDS = range(5)
# name: (loader, regression?, max_iter). Everything else is scikit-learn's default for both:
# hidden_layer_sizes=(100,), relu, adam, lr 1e-3, alpha 1e-4, batch min(200, m), tol 1e-4.
CASES = {
    "digits": (datasets.load_digits, False, 200),
    "breast_cancer": (datasets.load_breast_cancer, False, 200),
    "iris": (datasets.load_iris, False, 1000),  # 112 examples, one Adam step an epoch: slow to fit
    "diabetes": (datasets.load_diabetes, True, 100),  # both overfit beyond ~100 epochs
}


def _score(module, name: str, seed: int) -> float:
    """Test accuracy / R^2 of one library on one seeded 75/25 split (X and, for regression, y standardised)."""
    loader, regression, max_iter = CASES[name]
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed, stratify=None if regression else y)
    cls = module.MLPRegressor if regression else module.MLPClassifier
    model = make_pipeline(StandardScaler(), cls(hidden_layer_sizes=(100,), max_iter=max_iter, random_state=seed))
    if regression:  # raw diabetes targets (25..346) leave both at R^2 < 0 after 100 epochs
        model = TransformedTargetRegressor(model, transformer=StandardScaler())
    return float(model.fit(X_tr, y_tr).score(X_te, y_te))


@pytest.mark.parametrize("name", list(CASES))
def test_at_least_as_good_as_sklearn(name: str) -> None:
    """Mean test score over 5 seeds >= scikit-learn's, up to one test example (or 0.01 R^2) of seed noise.

    Both estimators run the same algorithm (same initial-weight distribution, Adam, L2, batching,
    stopping rule) from different random streams, so their means differ by seed noise only.
    """
    ours = np.mean([_score(vp_sk, name, s) for s in SEEDS])
    theirs = np.mean([_score(sk_nn, name, s) for s in SEEDS])
    loader, regression, _ = CASES[name]
    n_test = int(np.ceil(0.25 * len(loader(return_X_y=True)[1])))  # train_test_split's default
    margin = 0.01 if regression else 1.0 / n_test
    assert ours >= theirs - margin, f"{name}: vecprop {ours:.4f} < scikit-learn {theirs:.4f} - {margin:.4f}"
