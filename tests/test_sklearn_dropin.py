"""vecprop.sklearn as a drop-in: scikit-learn's numbers from the same random_state, its learning-rate rules,
L-BFGS settings, errors and warnings, sparse X; and what scikit-learn's users asked for and it declined."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from scipy import sparse  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import get_scorer  # noqa: E402
from sklearn.preprocessing import LabelBinarizer  # noqa: E402

import vecprop  # noqa: E402
from vecprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.usefixtures("one_blas_thread")]


def _pair(kind: str, **kw):
    """(ours, scikit-learn's) with the same parameters."""
    ours, theirs = (MLPRegressor, sk_nn.MLPRegressor) if kind == "regression" else (MLPClassifier, sk_nn.MLPClassifier)
    return ours(**kw), theirs(**kw)


def _assert_same_weights(ours, theirs, rtol=1e-9):
    for W, W_sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(W, W_sk, rtol=rtol, atol=rtol * 1e-3)


# ---- scikit-learn's numbers from the same random_state ---------------------------------------------
@pytest.mark.parametrize("kind, kw", [
    ("multiclass", dict(activation="logistic", hidden_layer_sizes=(5, 4))),  # the factor-2 initialisation
    ("multiclass", dict(activation="logistic", hidden_layer_sizes=())),  # factor 2 with no hidden layer too
    ("binary", dict(momentum=1.0)),  # scikit-learn's interval for momentum is [0, 1]
    ("binary", dict(learning_rate="invscaling", power_t=0.3, momentum=0.5)),
    ("multiclass", dict(learning_rate="adaptive", tol=0.5, n_iter_no_change=1)),  # the lr divided by 5
    ("regression", dict(loss="poisson", activation="tanh")),
    ("regression", dict(nesterovs_momentum=False, alpha=0.3)),
])
def test_same_random_state_same_weights_as_sklearn(kind, kw, iris):
    """Full-batch SGD (the batch order cannot matter): scikit-learn's initial weights, learning-rate rules and
    steps, so the same weights after 12 epochs, to rounding."""
    X, y = iris
    if kind == "binary":
        y = (y == 2).astype(int)
    elif kind == "regression":
        y = np.exp(0.5 * X[:, 0]) if kw.get("loss") == "poisson" else X[:, 0] - X[:, 1]
    params = {"hidden_layer_sizes": (6,), "solver": "sgd", "learning_rate_init": 0.1, "batch_size": 150,
              "max_iter": 12, "random_state": 7, **kw}
    ours, theirs = _pair(kind, **params)
    ours.fit(X, y)
    theirs.fit(X, y)
    _assert_same_weights(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_ and ours._optimizer.learning_rate == pytest.approx(
        theirs._optimizer.learning_rate, rel=1e-12)
    assert ours.out_activation_ == theirs.out_activation_


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_same_early_stopping_split_and_scores_as_sklearn(kind, iris):
    """scikit-learn's split (stratified for one encoded column only): the same validation scores per epoch."""
    X, y = iris
    y = (y == 2).astype(int) if kind == "binary" else y
    ours, theirs = _pair(kind, hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=0.2, momentum=0.0,
                         early_stopping=True, validation_fraction=0.2, max_iter=15, random_state=3)
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    _assert_same_weights(ours, theirs)


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_lbfgs_takes_sklearns_settings(kind, iris):
    """max_iter, max_fun and tol reach scipy as scikit-learn passes them: the same iterations, the same weights."""
    X, y = iris
    if kind == "regression":
        y = X[:, 0] * X[:, 1]
    for settings in (dict(max_iter=25, tol=1e-4), dict(max_iter=200, max_fun=15, tol=1e-4), dict(tol=1e-1)):
        ours, theirs = _pair(kind, hidden_layer_sizes=(4,), solver="lbfgs", random_state=0, **settings)
        with warnings.catch_warnings(record=True) as ours_warned:
            warnings.simplefilter("always")
            ours.fit(X, y)
        with warnings.catch_warnings(record=True) as theirs_warned:
            warnings.simplefilter("always")
            theirs.fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_, settings
        assert ([str(w.message) for w in ours_warned if w.category is ConvergenceWarning]
                == [str(w.message) for w in theirs_warned if w.category is ConvergenceWarning])
        _assert_same_weights(ours, theirs, rtol=1e-6)


def test_hand_worked_sgd_step():
    """scikit-learn's test_fit example through the public API: weights written through the views, one step.

    h = sigmoid(X W1 + b1) = (0.679179, 0.574443); o = sigmoid(h W2 + b2) = 0.765433; the deltas
    d2 = o - y = 0.765, d1 = h (1 - h) W2 d2 = (0.01667, 0.0374); a step of lr 0.1 on
    (X^T d + alpha W) gives the numbers below.
    """
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    clf = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", random_state=1,
                        max_iter=1, hidden_layer_sizes=2, momentum=0)
    clf.partial_fit(X, y, classes=[0, 1])  # builds the network
    start = ([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]], [[0.1], [0.2]]), ([0.1, 0.1], [1.0])
    for W, c, W0, c0 in zip(clf.coefs_, clf.intercepts_, *start):
        W[...], c[...] = W0, c0
    clf.partial_fit(X, y)
    np.testing.assert_allclose(clf.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]],
                               atol=1e-3)
    np.testing.assert_allclose(clf.coefs_[1], [[0.04706], [0.154089]], atol=1e-3)
    np.testing.assert_allclose(clf.intercepts_[0], [0.098333, 0.09626], atol=1e-3)
    np.testing.assert_allclose(clf.intercepts_[1], [0.9235], atol=1e-3)
    assert clf.predict_proba(X)[0, 1] == pytest.approx(0.739, abs=1e-3)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("n_labels", [2, 3])
def test_estimator_gradients_match_differences(activation, n_labels):
    """scikit-learn's test_gradient, through vecprop.gradcheck on the fitted network (float64, with alpha)."""
    rng = np.random.RandomState(42)
    X = rng.rand(5, 10)
    y = 1 + np.mod(np.arange(5) + 1, n_labels)
    clf = MLPClassifier(activation=activation, hidden_layer_sizes=10, solver="lbfgs", alpha=1e-5, max_iter=1,
                        random_state=1).fit(X, y)
    Y = LabelBinarizer().fit_transform(y).astype(float)
    report = vecprop.gradcheck(clf.net_, X.T, Y.T, l2=1e-5)
    assert report.ok, str(report)


# ---- errors and warnings ------------------------------------------------------------------------
def test_non_finite_weights_raise_sklearns_value_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights") as info:
        MLPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=5, random_state=0).fit(X * 1e3, y)
    assert isinstance(info.value.__cause__, FloatingPointError)  # vecprop's TrainingDiverged says where


def test_divergence_with_early_stopping_keeps_the_best_weights(iris):
    X, y = iris
    reg = MLPRegressor(hidden_layer_sizes=20, activation="identity", solver="sgd", learning_rate_init=1,
                       max_iter=20, early_stopping=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1]) and np.isnan(reg.loss_curve_[-1])
    assert np.isfinite(reg.net_.flat).all() and np.isfinite(reg.predict(X)).all()


def test_learning_rate_and_lr_schedule_are_one_or_the_other(iris):
    X, y = iris
    with pytest.raises(ValueError, match="both set the learning rate"):
        MLPClassifier(solver="sgd", learning_rate="adaptive", lr_schedule="cosine", max_iter=2).fit(X, y)


def test_partial_fit_after_pickling_with_one_class_per_batch(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    twin = pickle.loads(pickle.dumps(clf))
    before = twin.predict_proba(X[y == 2]).copy()
    for _ in range(20):
        twin.partial_fit(X[y == 2], y[y == 2])  # one class only: the classes are known already
    assert twin.predict_proba(X[y == 2])[:, 2].mean() > before[:, 2].mean()
    np.testing.assert_array_equal(clf.predict_proba(X[y == 2]), before)  # the original is untouched


# ---- sparse X -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [sparse.csr_matrix, sparse.csc_array])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sparse_x_trains_like_dense_x(cls, fmt, iris):
    """Mini-batches, early stopping, float32: a CSR or CSC X gives the dense X's network, to rounding."""
    X, y = iris
    X = np.where(np.abs(X) > 0.8, X, 0.0).astype(np.float32)  # mostly zeros
    y = y if cls is MLPClassifier else X[:, 0] - X[:, 1]
    est = cls(hidden_layer_sizes=(8,), batch_size=32, max_iter=20, early_stopping=True, random_state=0)
    dense, sparse_fit = clone(est).fit(X, y), clone(est).fit(fmt(X), y)
    assert sparse_fit.net_.dtype == np.float32
    np.testing.assert_allclose(sparse_fit.net_.flat, dense.net_.flat, rtol=0, atol=1e-5)
    np.testing.assert_allclose(sparse_fit.predict(fmt(X)), dense.predict(X), rtol=0, atol=1e-5)
    assert sparse_fit.validation_scores_ == pytest.approx(dense.validation_scores_, rel=1e-5, abs=1e-6)


def test_sparse_x_gives_sklearns_weights(iris):
    X, y = iris
    X = sparse.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    ours, theirs = _pair("multiclass", hidden_layer_sizes=(6,), solver="sgd", batch_size=150, max_iter=10,
                         random_state=2)
    _assert_same_weights(ours.fit(X, y), theirs.fit(X, y))


# ---- beyond scikit-learn ------------------------------------------------------------------------
def test_early_stopping_on_the_validation_loss(iris):
    """scoring="loss" (scikit-learn #18507): the score is minus the validation loss; the best weights come back."""
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, scoring="loss", n_iter_no_change=3,
                        learning_rate_init=0.05, max_iter=300, random_state=0).fit(X, y)
    assert clf.validation_scores_ == [-v for v in clf.validation_loss_curve_]
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.n_iter_ < 300


def test_early_stopping_on_any_scorer_restores_its_best_weights(iris):
    X, y = iris
    seen = {}

    def scorer(est, X_val, y_val, sample_weight=None):
        seen["X"], seen["y"], seen["w"] = X_val, y_val, sample_weight
        return get_scorer("neg_log_loss")(est, X_val, y_val, sample_weight=sample_weight)

    w = np.where(y == 1, 2.0, 1.0)
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, scoring=scorer, n_iter_no_change=2,
                        learning_rate_init=0.1, max_iter=200, random_state=0).fit(X, y, sample_weight=w)
    assert set(seen["y"]) <= {0, 1, 2} and len(seen["y"]) == len(seen["w"]) == 15  # labels, not encodings
    assert scorer(clf, seen["X"], seen["y"], seen["w"]) == pytest.approx(clf.best_validation_score_, rel=1e-12)
    named = MLPClassifier(early_stopping=True, scoring="balanced_accuracy", max_iter=3, random_state=0).fit(X, y)
    assert len(named.validation_scores_) == 3 and 0 <= named.best_validation_score_ <= 1


def test_keep_optimizer_makes_warm_starts_one_run(iris):
    """scikit-learn #6091: n warm fits of one epoch equal one fit of n epochs when the optimizer state survives."""
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), batch_size=40, learning_rate_init=0.01, random_state=0)
    whole = MLPClassifier(max_iter=6, **params).fit(X, y)
    for keep in (True, False):
        parts = MLPClassifier(max_iter=1, warm_start=True, keep_optimizer=keep, **params)
        for _ in range(6):
            parts.fit(X, y)
        same = np.allclose(parts.net_.flat, whole.net_.flat, rtol=0, atol=1e-12)
        assert same == keep and (parts._optimizer.optimizer.t == whole._optimizer.optimizer.t) == keep


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, bool])
def test_save_and_load_keep_the_dtype_of_classes(tmp_path, dtype, iris):
    """pickle keeps classes_' dtype, and so predict's; the estimator's own file does too."""
    X, y = iris
    y = (y == 2) if dtype is bool else y.astype(dtype)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.save(tmp_path / "c.npz")
    back = MLPClassifier.load(tmp_path / "c.npz")
    assert back.classes_.dtype == clf.classes_.dtype == np.dtype(dtype)
    assert back.predict(X).dtype == np.dtype(dtype) and (back.predict(X) == clf.predict(X)).all()
