"""vecprop.Model: raw rows in, answers in the user's own terms out; one file for every writer and reader."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import vecprop
from vecprop import Model, ModelWarning, Network, load_model
from vecprop.datasets import MinMaxScaler, Standardizer
from vecprop.io import ModelFileError
from vecprop.preprocessing import Column, FeatureWarning, Preprocessor

V1 = Path(__file__).parent / "data" / "v1"  # files written by vecprop 0.1.0 (format version 1)


def rows(m: int = 9, n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(m, n)) * [1.0, 10.0, 100.0][:n] + 5.0


def classifier(classes=("cat", "dog", "emu"), n: int = 3, dtype: str = "float64") -> Model:
    X = rows(n=n)
    net = Network([n, 6, len(classes)], ["tanh", "softmax"], "cross_entropy", seed=1, dtype=dtype)
    return Model(net, classes=list(classes), feature_names=["a", "b", "c"][:n], scaler=Standardizer().fit(X))


# ---- predictions in the user's terms --------------------------------------------------------------
def test_predict_applies_the_scaler_and_returns_the_users_labels():
    model, X = classifier(), rows()
    scaled = model.preprocessing.scaler.transform(X)
    A_L = vecprop.predict(model.network, scaled.T)  # the network alone, on scaled columns
    assert model.predict(X).tolist() == [("cat", "dog", "emu")[i] for i in A_L.argmax(axis=0)]
    np.testing.assert_allclose(model.predict_proba(X), A_L.T)
    assert model.predict_proba(X).shape == (9, 3)


@pytest.mark.parametrize("classes", [(3, 7), ("no", "yes"), (True, False), (0.5, 1.5)])
def test_binary_labels_keep_their_type(classes):
    net = Network([2, 4, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0, dtype="float64")
    model = Model(net, classes=list(classes), scaler="none")
    X = rows(20, 2)
    p = vecprop.predict(net, X.T)[0]
    got = model.predict(X)
    assert got.tolist() == [classes[int(v > 0.5)] for v in p]
    assert type(got.tolist()[0]) is type(classes[0])
    np.testing.assert_allclose(model.predict_proba(X), np.column_stack([1 - p, p]))


def test_regression_answers_in_the_targets_units_per_output():
    X, Y = rows(30, 2), rows(30, 2, seed=1) * 1000
    net = Network([2, 5, 2], ["tanh", "identity"], "squared_error", seed=0, dtype="float64")
    tsc = Standardizer().fit(Y)
    model = Model(net, scaler="none", target_scaler=tsc)
    A_L = vecprop.predict(net, X.T)
    np.testing.assert_allclose(model.predict(X), A_L.T * tsc.std_ + tsc.mean_)
    result = model.evaluate(X, Y)
    assert result["m"] == 30 and len(result["r2_per_output"]) == 2 and len(result["mse_per_output"]) == 2
    assert result["mse"] == pytest.approx(np.mean((model.predict(X) - Y) ** 2))
    with pytest.raises(ValueError, match="predict_proba is for classifiers"):
        model.predict_proba(X)


def test_multilabel_predicts_indicators():
    net = Network([3, 4, 2], ["relu", "sigmoid"], "binary_cross_entropy", seed=0, dtype="float64")
    model = Model(net, classes=["red", "round"], scaler="none")
    assert model.task == "multilabel"
    X = rows()
    assert model.predict(X).tolist() == (vecprop.predict(net, X.T).T > 0.5).astype(int).tolist()
    assert model.evaluate(X, model.predict(X))["accuracy"] == 1.0


def test_evaluate_matches_the_labels_and_the_cost():
    model, X = classifier(), rows(40)
    y = model.predict(X)
    y[:10] = "emu"
    result = model.evaluate(X, y)
    assert result["accuracy"] == pytest.approx(np.mean(model.predict(X) == y))
    Y = vecprop.one_hot(model.encode_labels(y), 3, dtype="float64")
    assert result["cost"] == pytest.approx(model.network.cost(model.inputs(X), Y))
    with pytest.raises(ValueError, match=r"label\(s\) \['gnu'\] that the model never saw"):
        model.evaluate(X[:2], ["cat", "gnu"])


# ---- features by name -------------------------------------------------------------------------------
def test_dataframe_columns_match_by_name_in_any_order():
    pd = pytest.importorskip("pandas")
    model, X = classifier(), rows()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    shuffled = df[["c", "a", "b"]].assign(extra=1.0)
    with pytest.warns(FeatureWarning, match="ignoring column.*'extra'"):
        assert model.predict(shuffled).tolist() == model.predict(X).tolist()
    with pytest.warns(FeatureWarning):
        assert model.evaluate(shuffled, model.predict(X))["accuracy"] == 1.0
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) 'b'; it has 'a', 'c'"):
        model.predict(df[["a", "c"]])


def test_arrays_match_by_position_with_a_count_check():
    model = classifier()
    with pytest.raises(ValueError, match=r"X has 2 feature columns; the model takes 3 \('a', 'b', 'c'\)"):
        model.predict(rows(n=2))
    with pytest.raises(ValueError, match="reshape"):
        model.predict(rows()[0])
    names = model.select(rows()[:, [2, 0, 1]], feature_names=["c", "a", "b"])
    np.testing.assert_array_equal(names, rows())


def test_missing_values_are_errors_unless_the_column_has_a_fill():
    net = Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=0, dtype="float64")
    X = np.array([[1.0, np.nan], [2.0, 3.0]])
    strict = Model(net, scaler="none", feature_names=["u", "v"])
    with pytest.raises(ValueError, match=r"column 'v', row 0: the value is missing \(NaN\)"):
        strict.predict(X)
    filled = Model(net, preprocessing=Preprocessor([Column(), Column(fill=7.0)]))
    np.testing.assert_array_equal(filled.inputs(X), np.array([[1.0, 2.0], [7.0, 3.0]]))
    with pytest.raises(ValueError, match="infinite"):
        filled.predict(np.array([[1.0, np.inf]]))


def test_categorical_columns_are_one_hot_in_stored_order():
    pre = Preprocessor([Column("categorical", categories=("red", "blue")), Column()], MinMaxScaler(0, 10).fit(
        np.zeros((1, 1))))
    net = Network([3, 2], ["softmax"], "cross_entropy", seed=0, dtype="float64")
    model = Model(net, preprocessing=pre, feature_names=["color", "size"])
    X = np.array([["blue", 5], ["red", 10]], dtype=object)
    np.testing.assert_array_equal(model.inputs(X), [[0.0, 1.0], [1.0, 0.0], [0.5, 1.0]])
    with pytest.raises(ValueError, match="category 'green' was never seen"):
        model.inputs(np.array([["green", 1]], dtype=object))


@pytest.mark.parametrize("kwargs, message", [
    (dict(classes=["a", "b"]), "has 3 classes; got 2"),
    (dict(classes=["a", "a", "b"]), "distinct"),
    (dict(classes=["a", 1, "b"]), "must all be str"),
    (dict(task="regression", classes=["a", "b", "c"]), "no classes"),
    (dict(task="binary"), "binary classifier has 1 output"),
    (dict(task="kind"), "task must be one of"),
    (dict(feature_names=["a", "b"]), "2 feature_names for 3"),
    (dict(feature_names=["a", "a", "b"]), "appears twice"),
    (dict(scaler="standard"), "scaler must be"),
    (dict(scaler=Standardizer().fit(np.zeros((2, 2)))), "fitted on 2 features"),
    (dict(provenance={"x": object()}), "provenance"),
])
def test_bad_arguments_are_refused(kwargs, message):
    net = Network([3, 4, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    with pytest.raises((ValueError, TypeError), match=message):
        Model(net, **kwargs)


# ---- one file -------------------------------------------------------------------------------------
def test_save_and_load_give_the_same_answers(tmp_path):
    model, X = classifier(("x", "y", "z"), dtype="float32"), rows()
    path = model.save(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a model with its preprocessing loads without a warning
        back = load_model(path)
    assert back.predict(X).tolist() == model.predict(X).tolist()
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    assert (back.task, back.classes, back.feature_names) == ("multiclass", ("x", "y", "z"), ("a", "b", "c"))
    assert back.provenance["vecprop_version"] == vecprop.__version__ and back.provenance["created"].endswith("Z")
    assert vecprop.load(path).config() == model.network.config()  # learners still get a bare Network


def test_a_file_without_preprocessing_says_so_once(tmp_path):
    net = Network([3, 4, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    for path in (vecprop.save(net, tmp_path / "bare.npz"), Model(net).save(tmp_path / "unknown.npz"),
                 V1 / "bare_network.npz"):
        with pytest.warns(ModelWarning, match="stores no input preprocessing") as caught:
            model = load_model(path)
        assert len(caught) == 1 and model.preprocessing is None and model.task == "multiclass"


def test_task_comes_from_the_loss_never_from_the_output_count(tmp_path):
    net = Network([3, 4, 2], ["tanh", "identity"], "squared_error", seed=0)
    with pytest.warns(ModelWarning):
        assert load_model(vecprop.save(net, tmp_path / "reg.npz")).task == "regression"
    sig = Network([3, 4, 2], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0)
    with pytest.warns(ModelWarning):
        assert load_model(vecprop.save(sig, tmp_path / "ml.npz")).task == "multilabel"


# ---- files of vecprop 0.1 (format version 1) keep loading ------------------------------------------
def test_version_1_files_load_with_their_meaning():
    X = np.load(V1 / "iris_X.npy")
    clf = load_model(V1 / "sklearn_iris_strings.npz")  # MLPClassifier.save with string labels
    assert clf.predict(X).tolist() == np.load(V1 / "sklearn_iris_expected.npy").tolist()
    cli = load_model(V1 / "cli_iris.npz")  # vecprop train's run folder: the scaler is applied
    np.testing.assert_array_equal(cli.predict_proba(X), np.load(V1 / "cli_iris_expected_proba.npy"))
    assert cli.classes == ("setosa", "versicolor", "virginica") and cli.preprocessing.scaler is not None
    reg = load_model(V1 / "sklearn_two_output_regressor.npz")  # two outputs: regression, not two classes
    assert reg.task == "regression"
    np.testing.assert_array_equal(reg.predict(np.load(V1 / "regressor_X.npy")), np.load(V1 / "regressor_expected.npy"))
    assert vecprop.load_checkpoint(V1 / "checkpoint.npz").epoch == 2  # 2 epochs completed (0.1 wrote the index, 1)


def test_version_1_estimators_load_as_estimators():
    pytest.importorskip("sklearn")
    from vecprop.sklearn import MLPClassifier, MLPRegressor

    X = np.load(V1 / "iris_X.npy")
    assert MLPClassifier.load(V1 / "sklearn_iris_strings.npz").predict(X).tolist() == \
        np.load(V1 / "sklearn_iris_expected.npy").tolist()
    reg = MLPRegressor.load(V1 / "sklearn_two_output_regressor.npz")
    np.testing.assert_array_equal(reg.predict(np.load(V1 / "regressor_X.npy")), np.load(V1 / "regressor_expected.npy"))


def test_estimator_files_are_models_too(tmp_path):
    pytest.importorskip("sklearn")
    pd = pytest.importorskip("pandas")
    from vecprop.sklearn import MLPClassifier

    X = pd.DataFrame(rows(60, 3), columns=["p", "q", "r"])
    y = np.where(X["p"] > 5, "high", "low")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning at 50 epochs: a trained model is all we need
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, y)
    model = load_model(clf.save(tmp_path / "clf.npz"))
    assert model.feature_names == ("p", "q", "r") and model.classes == ("high", "low") and model.task == "binary"
    assert model.predict(X[["r", "q", "p"]]).tolist() == clf.predict(X).tolist()
    again = MLPClassifier.load(tmp_path / "clf.npz")
    assert again.predict(X).tolist() == clf.predict(X).tolist() and list(again.feature_names_in_) == ["p", "q", "r"]
    with pytest.raises(ValueError, match="not a MLPRegressor"):
        from vecprop.sklearn import MLPRegressor

        MLPRegressor.load(tmp_path / "clf.npz")
    with pytest.raises(ModelFileError):
        load_model(tmp_path)  # a folder, not a file
