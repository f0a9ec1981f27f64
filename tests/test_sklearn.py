"""vecprop.sklearn: scikit-learn's estimator checks, meta-estimators, targets, weights, dtypes, files, parity."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import vecprop._sklearn_stochastic as stochastic  # noqa: E402
from vecprop.optimizers import AdamW  # noqa: E402
from vecprop.schedules import CosineLR  # noqa: E402
from vecprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# Short fits on purpose: "not converged" is expected; the tests that check the warning catch it.
pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.usefixtures("one_blas_thread")]


def small(cls, **kw):
    return cls(**{"hidden_layer_sizes": (8,), "max_iter": 100, "learning_rate_init": 0.01, **kw})


# ---- scikit-learn's own test suite ------------------------------------------------------------
@parametrize_with_checks([small(MLPClassifier), small(MLPRegressor)])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


# ---- meta-estimators -----------------------------------------------------------------------
def test_pipeline_gridsearch_cross_val_clone(iris) -> None:
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), small(MLPClassifier, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1], "mlpclassifier__dropout": [0.0, 0.2]}, cv=3)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"mlpclassifier__alpha", "mlpclassifier__dropout"}
    assert grid.score(X, y) > 0.85
    twin = clone(grid.best_estimator_[-1])
    assert twin.get_params() == grid.best_estimator_[-1].get_params() and not hasattr(twin, "net_")


# ---- targets ---------------------------------------------------------------------------------
def test_binary_uses_one_sigmoid_output(iris) -> None:
    X, y = iris
    labels = np.where(y == 0, "setosa", "other")
    clf = small(MLPClassifier, random_state=0).fit(X, labels)
    assert clf.net_.sizes[-1] == 1 and clf.out_activation_ == "logistic"
    assert list(clf.classes_) == ["other", "setosa"]
    P = clf.predict_proba(X)
    assert P.shape == (150, 2) and np.allclose(P.sum(axis=1), 1)
    assert np.array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])
    assert clf.score(X, labels) == 1.0


def test_multiclass_uses_softmax(iris) -> None:
    X, y = iris
    clf = small(MLPClassifier, random_state=0).fit(X, y)
    assert clf.net_.activations[-1].name == "softmax" and clf.out_activation_ == "softmax"
    assert np.allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X))
    assert clf.score(X, y) > 0.9


def test_multilabel_sigmoid_outputs() -> None:
    X, Y = make_multilabel_classification(n_samples=200, n_features=8, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert clf.net_.activations[-1].name == "sigmoid" and list(clf.classes_) == [0, 1, 2, 3]
    P, pred = clf.predict_proba(X), clf.predict(X)
    assert P.shape == pred.shape == (200, 4) and ((P >= 0) & (P <= 1)).all()
    assert np.array_equal(pred, (P > 0.5).astype(int))
    assert (pred == Y).mean() > 0.9  # per-label accuracy on the training set


def test_multioutput_regression() -> None:
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=0.1, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0)
    reg.fit(X, Y / Y.std(axis=0))
    assert reg.predict(X).shape == (200, 3) and reg.n_outputs_ == 3
    assert reg.score(X, Y / Y.std(axis=0)) > 0.95


@pytest.mark.parametrize("loss", ["absolute_error", {"name": "huber", "delta": 0.5}])
def test_regressor_losses(loss) -> None:
    X, y = make_regression(n_samples=200, n_features=4, noise=0.1, random_state=1)
    reg = MLPRegressor(hidden_layer_sizes=(16,), loss=loss, max_iter=200, learning_rate_init=0.01, random_state=0)
    assert reg.fit(X, y / y.std()).score(X, y / y.std()) > 0.9
    assert reg.net_.loss.name == (loss if isinstance(loss, str) else loss["name"])


# ---- partial_fit ---------------------------------------------------------------------------------
def test_partial_fit_needs_classes_then_continues(iris) -> None:
    X, y = iris
    clf = small(MLPClassifier, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # the first batch need not hold every class
    assert list(clf.classes_) == [0, 1, 2] and clf.predict_proba(X).shape == (150, 3)
    optimizer = clf._optimizer.optimizer
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf._optimizer.optimizer is optimizer and optimizer.t == 31  # one step per call: full batch of 150
    assert len(clf.loss_curve_) == 31 and clf.loss_curve_[-1] < clf.loss_curve_[1]
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:3], [0, 1, 7])


def test_partial_fit_multilabel() -> None:
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=3, random_state=2)
    clf = small(MLPClassifier, random_state=0).partial_fit(X[:60], Y[:60], classes=[0, 1, 2])
    clf.partial_fit(X[60:], Y[60:])
    assert clf.predict(X).shape == (120, 3) and len(clf.loss_curve_) == 2


def test_partial_fit_refusals(iris) -> None:
    X, y = iris
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


# ---- sample_weight and class_weight ---------------------------------------------------------------
def _weighted_problem(kind: str):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 5))
    y = {"binary": (X[:, 0] > 0).astype(int), "multiclass": np.digitize(X[:, 0], [-0.5, 0.5]),
         "regression": X[:, 0] - 2 * X[:, 1]}[kind]
    w = rng.integers(0, 4, size=40)
    w[:3] = 0  # at least three dropped examples
    return X, y, w


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_integer_weights_equal_dropping_and_repeating(kind, solver) -> None:
    """Full batch: weight 0 == the example dropped, weight k == k copies (float64, to rounding)."""
    X, y, w = _weighted_problem(kind)
    cls = MLPRegressor if kind == "regression" else MLPClassifier
    est = cls(hidden_layer_sizes=(6,), solver=solver, max_iter=40, batch_size="auto", alpha=0.01, random_state=0)
    weighted = clone(est).fit(X, y, sample_weight=w)  # batch_size "auto": min(200, m), here m
    repeated = clone(est).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    method = "predict" if kind == "regression" else "predict_proba"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


def test_unit_weights_change_nothing_and_heavy_weights_pull(iris) -> None:
    X, y = iris
    plain = small(MLPClassifier, random_state=0, max_iter=20).fit(X, y)
    ones = small(MLPClassifier, random_state=0, max_iter=20).fit(X, y, sample_weight=np.ones(150))
    np.testing.assert_allclose(ones.loss_curve_, plain.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(ones.predict_proba(X), plain.predict_proba(X), rtol=1e-10)
    heavy = small(MLPClassifier, random_state=0, max_iter=20).fit(X, y, sample_weight=np.where(y == 2, 50.0, 1.0))
    assert (heavy.predict(X) == 2).sum() > (plain.predict(X) == 2).sum()


def test_class_weight_is_a_per_class_sample_weight(iris) -> None:
    X, y = iris
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = small(MLPClassifier, random_state=0, max_iter=10, class_weight=cw).fit(X, y)
    b = small(MLPClassifier, random_state=0, max_iter=10).fit(X, y, sample_weight=np.array([1.0, 3.0, 0.5])[y])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)
    balanced = small(MLPClassifier, random_state=0, max_iter=10, class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(balanced.predict_proba(X), small(MLPClassifier, random_state=0, max_iter=10)
                               .fit(X, y).predict_proba(X), rtol=1e-10)  # iris is balanced: weights all 1


def test_weights_leaving_one_class_are_refused(iris) -> None:
    X, y = iris
    with pytest.raises(ValueError, match="one class"):
        small(MLPClassifier).fit(X, y, sample_weight=(y == 1).astype(float))


# ---- dtypes, layout and the weights' two orientations -------------------------------------------
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_float32_stays_float32(cls, iris) -> None:
    X, y = iris
    est = small(cls, random_state=0, max_iter=5).fit(X.astype(np.float32), y)
    out = est.predict_proba(X) if cls is MLPClassifier else est.predict(X)
    assert est.net_.dtype == np.float32 and out.dtype == np.float32
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    weighted = small(cls, random_state=0, max_iter=5).fit(X.astype(np.float32), y, sample_weight=np.arange(150) % 3)
    assert weighted.net_.dtype == np.float32 and weighted.net_.flat.dtype == np.float32
    assert small(cls, random_state=0, max_iter=5).fit(X, y).net_.dtype == np.float64  # "auto": as X
    assert small(cls, random_state=0, max_iter=5, dtype="float32").fit(X, y).net_.dtype == np.float32


def test_rows_become_columns_without_a_copy(monkeypatch, iris) -> None:
    X, y = iris
    X = np.ascontiguousarray(X)
    seen = []

    def spy(net, X_cols, Y_cols, **kw):
        seen.append(X_cols)
        return fit(net, X_cols, Y_cols, **kw)

    fit = stochastic.fit
    monkeypatch.setattr(stochastic, "fit", spy)
    small(MLPClassifier, random_state=0, max_iter=2).fit(X, y)
    assert seen[0].shape == (4, 150) and np.shares_memory(seen[0], X)  # X.T: a view, not a copy


def test_coefs_are_theta_transposed_views(iris) -> None:
    X, y = iris
    clf = small(MLPClassifier, random_state=0, max_iter=5).fit(X, y)
    for W, c, Theta, b in zip(clf.coefs_, clf.intercepts_, clf.Theta_, clf.b_):
        assert W.shape == Theta.T.shape and np.array_equal(W, Theta.T) and np.shares_memory(W, clf.net_.flat)
        assert b.shape == (Theta.shape[0], 1) and np.array_equal(c, b[:, 0]) and np.shares_memory(c, clf.net_.flat)
    # scikit-learn's forward pass, written with its own orientation, gives the same probabilities
    H = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    Z = H @ clf.coefs_[1] + clf.intercepts_[1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(P / P.sum(axis=1, keepdims=True), clf.predict_proba(X), rtol=1e-12)


# ---- parity with scikit-learn from the same starting weights --------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multioutput"])
def test_same_start_same_steps_as_sklearn(kind, weighted, iris) -> None:
    """Plain full-batch gradient descent from the same weights: scikit-learn's numbers, step for step.

    With sample_weight this is scikit-learn's weighted objective: (sum_c w_c err_c + alpha/2 ||W||^2)
    / sum_c w_c, the weights entering the output deltas.
    """
    X, y = iris
    if kind == "binary":
        y = (y == 2).astype(int)
    elif kind == "multioutput":
        y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5])
    w = np.random.default_rng(5).integers(0, 4, size=150).astype(float) if weighted else None
    sw_sum = 150.0 if w is None else w.sum()
    ours_cls, theirs_cls = (MLPRegressor, sk_nn.MLPRegressor) if kind == "multioutput" else (
        MLPClassifier, sk_nn.MLPClassifier)
    kw = dict(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0, learning_rate_init=0.1, alpha=0.3,
              batch_size=150, shuffle=False, tol=0.0, n_iter_no_change=1000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = theirs_cls(max_iter=1, **kw).fit(X, y, sample_weight=w)
        ours = ours_cls(max_iter=1, **kw).fit(X, y, sample_weight=w)
        for W, c, W_sk, c_sk in zip(ours.coefs_, ours.intercepts_, theirs.coefs_, theirs.intercepts_):
            W[...], c[...] = W_sk, c_sk  # the same start, written through the views
        l2 = 0.3 / (2 * sw_sum) * sum(float((W_sk ** 2).sum()) for W_sk in theirs.coefs_)  # at the start
        theirs.set_params(warm_start=True, max_iter=25).fit(X, y, sample_weight=w)
        ours.set_params(warm_start=True, max_iter=25).fit(X, y, sample_weight=w)
    for W, W_sk in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(W, W_sk, rtol=1e-9, atol=1e-12)
    n_out = 2 if kind == "multioutput" else 1
    # the first warm epoch's loss is at the shared start; scikit-learn reports the squared error
    # averaged over outputs, vecprop sums them (eq. 2); the L2 term is the same
    np.testing.assert_allclose(ours.loss_curve_[1] - l2, n_out * (theirs.loss_curve_[1] - l2), rtol=1e-9)


# ---- convergence, early stopping, schedules, verbose ------------------------------------------------
def test_convergence_rule_and_warning(iris) -> None:
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        small(MLPClassifier, random_state=0, max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        done = small(MLPClassifier, random_state=0, tol=10.0, n_iter_no_change=4).fit(X, y)
    # epoch 1 sets best_loss_; epochs 2..6 count "no improvement" 5 > n_iter_no_change times
    assert done.n_iter_ == 6
    theirs = sk_nn.MLPClassifier(hidden_layer_sizes=(8,), tol=10.0, n_iter_no_change=4, random_state=0).fit(X, y)
    assert theirs.n_iter_ == done.n_iter_


def test_early_stopping_curves_and_best_weights(iris) -> None:
    X, y = iris
    clf = small(MLPClassifier, random_state=0, early_stopping=True, n_iter_no_change=3, max_iter=200)
    clf.fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 200  # the validation score stopped improving


def test_vecprop_extras_are_used(iris) -> None:
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activations=["gelu", {"name": "leaky_relu", "slope": 0.1}],
                        dropout=[0.1, 0.0], optimizer={"name": "adamw", "weight_decay": 0.05},
                        lr_schedule="cosine", max_iter=30, learning_rate_init=0.03, random_state=0).fit(X, y)
    assert [a.name for a in clf.net_.activations] == ["gelu", "leaky_relu", "softmax"]
    assert clf.net_.dropout[:2] == (0.1, 0.0)
    assert isinstance(clf._optimizer.optimizer, AdamW) and clf._optimizer.optimizer.weight_decay == 0.05
    assert clf._optimizer.schedule.epoch == clf.n_iter_ == 30  # stepped once per epoch, over max_iter epochs
    assert clf._optimizer.learning_rate == CosineLR(0.03, total_epochs=30).lr_at(30) == 0.0
    assert clf.score(X, y) > 0.85
    given = AdamW(lr=0.02)
    clf = MLPClassifier(hidden_layer_sizes=(8,), optimizer=given, max_iter=3, random_state=0).fit(X, y)
    assert clf._optimizer.optimizer is not given and given.t == 0  # fit never changes a parameter


def test_verbose_prints_progress(iris, capsys) -> None:
    X, y = iris
    small(MLPClassifier, random_state=0, max_iter=2, verbose=True).fit(X, y)
    assert "Iteration 1, loss = " in capsys.readouterr().out


def test_lbfgs(iris) -> None:
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.97 and len(clf.loss_curve_) == clf.n_iter_ <= 200
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_warm_start_continues(iris) -> None:
    X, y = iris
    clf = small(MLPClassifier, random_state=0, max_iter=5, warm_start=True).fit(X, y)
    first = list(clf.loss_curve_)
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 10 and clf.loss_curve_[:5] == first and clf.loss_curve_[5] < first[-1]


# ---- model files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda X, y: small(MLPClassifier, random_state=0, max_iter=5, class_weight={"a": 2.0, "b": 1.0, "c": 1.0})
    .fit(X, np.array(["a", "b", "c"])[y]),
    lambda X, y: small(MLPClassifier, random_state=0, max_iter=5).fit(X.astype(np.float32), y == 1),
    lambda X, y: small(MLPRegressor, random_state=0, max_iter=5, loss="huber").fit(X, np.column_stack([y, -y])),
])
def test_save_load_round_trip(make, iris, tmp_path) -> None:
    X, y = iris
    est = make(X, y)
    path = est.save(tmp_path / "model.npz")
    back = type(est).load(path)
    assert back.get_params() == est.get_params()
    for method in ("predict", "predict_proba"):
        if hasattr(est, method):
            a, b = getattr(est, method)(X), getattr(back, method)(X)
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert back.loss_curve_ == est.loss_curve_ and back.n_iter_ == est.n_iter_
    other = MLPRegressor if isinstance(est, MLPClassifier) else MLPClassifier
    with pytest.raises(ValueError, match="not a"):
        other.load(path)


def test_save_refuses_parameters_it_cannot_write(iris, tmp_path) -> None:
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), optimizer=AdamW(lr=0.01), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="optimizer"):
        clf.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
