"""Bad input fails at the boundary with the offending name, shape or value and the fix."""
from __future__ import annotations

import re

import numpy as np
import pytest

import vecprop


@pytest.fixture
def net():
    return vecprop.Network([4, 5, 3], ["relu", "softmax"], "cross_entropy", seed=0, dtype="float64")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 6))
    Y = vecprop.one_hot(rng.integers(3, size=6), 3, dtype="float64")
    return X, Y


# ---- X ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["forward", "cost", "gradients"])
def test_X_transposed_suggests_X_T(net, data, method):
    X, Y = data
    args = (X.T,) if method == "forward" else (X.T, Y)
    with pytest.raises(ValueError, match=r"X must be \(n_0=4, m\).*got \(6, 4\).*did you mean X\.T\?"):
        getattr(net, method)(*args)


def test_X_wrong_shape_without_a_transpose_hint(net):
    with pytest.raises(ValueError, match=r"X must be \(n_0=4, m\).*got \(3, 6\)") as info:
        net.forward(np.zeros((3, 6)))
    assert "X.T" not in str(info.value)  # the transpose would not fit either


def test_X_one_dimensional_suggests_reshape(net):
    with pytest.raises(ValueError, match=r"got \(4,\).*reshape\(-1, 1\)"):
        net.forward(np.zeros(4))


def test_X_with_no_examples(net):
    with pytest.raises(ValueError, match=r"m >= 1; got \(4, 0\)"):
        net.forward(np.zeros((4, 0)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_X_not_finite(net, data, bad):
    X, Y = data
    X = X.copy()
    X[2, 3] = bad
    with pytest.raises(ValueError, match=rf"X contains a non-finite value \({re.escape(str(bad))}\) at row 2, column \(example\) 3"):
        net.gradients(X, Y)


@pytest.mark.parametrize("X", ["abc", 3.0, None])
def test_X_not_an_array(net, X):
    with pytest.raises(TypeError, match="X must be a 2-D array"):
        net.forward(X)


def test_X_not_numeric(net):
    with pytest.raises(TypeError, match="X must be numeric"):
        net.forward([["a", "b"]] * 4)


# ---- Y ------------------------------------------------------------------------------------


def test_Y_transposed_suggests_Y_T(net, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"Y must be \(n_L=3, m=6\).*got \(6, 3\).*did you mean Y\.T\?"):
        net.cost(X, Y.T)


def test_Y_labels_suggest_one_hot(net, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"got \(6,\).*vecprop\.one_hot"):
        net.gradients(X, np.zeros(6))


def test_Y_wrong_number_of_examples(net, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"Y must be \(n_L=3, m=6\) to match A\[L\]; got \(3, 5\)"):
        net.gradients(X, Y[:, :5])


def test_Y_not_finite(net, data):
    X, Y = data
    Y = Y.copy()
    Y[0, 0] = np.nan
    with pytest.raises(ValueError, match="Y contains NaN or inf"):
        net.cost(X, Y)


def test_cross_entropy_targets_must_be_probability_columns(net, data):
    X, Y = data
    Y = Y.copy()
    Y[:, 4] = [0.5, 0.2, 0.1]
    with pytest.raises(ValueError, match=r"cross_entropy.*column 4 sums to 0\.8.*one_hot"):
        net.gradients(X, Y)


def test_cross_entropy_targets_must_not_be_negative(net, data):
    X, Y = data
    Y = Y.copy()
    Y[:, 1] = [1.5, -0.5, 0.0]  # sums to 1, but is no probability vector
    with pytest.raises(ValueError, match=r"cross_entropy.*negative entry -0\.5"):
        net.cost(X, Y)


@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_binary_cross_entropy_targets_in_0_1(bad):
    net = vecprop.Network([2, 1], ["sigmoid"], "binary_cross_entropy", dtype="float64")
    Y = np.array([[0.0, 1.0, bad]])
    with pytest.raises(ValueError, match=rf"binary_cross_entropy needs targets in \[0, 1\].*{re.escape(f'{bad:g}')}"):
        net.gradients(np.zeros((2, 3)), Y)


def test_backward_before_forward(net, data):
    with pytest.raises(RuntimeError, match="forward"):
        net.backward(data[1])


# ---- construction -------------------------------------------------------------------------------


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'; valid names: .*identity.*sigmoid.*softmax"):
        vecprop.Network([2, 3, 1], ["relu6", "identity"])


def test_unknown_activation_in_a_config_dict():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; valid names:"):
        vecprop.get_activation({"name": "swish"})


def test_bad_activation_parameter():
    with pytest.raises(ValueError, match=r"bad parameters for activation 'elu'"):
        vecprop.get_activation({"name": "elu", "beta": 2.0})
    with pytest.raises(ValueError, match=r"leaky_relu slope must be a finite number >= 0; got -0\.1"):
        vecprop.get_activation({"name": "leaky_relu", "slope": -0.1})


def test_activation_object_without_derivative():
    class OnlyValue:
        def value(self, Z):
            return Z

    with pytest.raises(TypeError, match=r"value\(Z\) and derivative\(Z\); got OnlyValue"):
        vecprop.Network([2, 1], [OnlyValue()])


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown loss 'mse'; valid names: .*squared_error.*cross_entropy.*huber"):
        vecprop.Network([2, 1], ["identity"], "mse")


def test_bad_loss_parameter():
    with pytest.raises(ValueError, match=r"huber delta must be a finite number > 0; got 0"):
        vecprop.get_loss({"name": "huber", "delta": 0})
    with pytest.raises(TypeError, match=r"loss must be a name"):
        vecprop.get_loss(3)


@pytest.mark.parametrize("sizes, bad", [
    ([4, 0, 3], r"sizes\[1\] = 0"),
    ([4, -2, 3], r"sizes\[1\] = -2"),
    ([4, 2.5, 3], r"sizes\[1\] = 2\.5"),
    ([4, 5, "3"], r"sizes\[2\] = '3'"),
    ([4, True], r"sizes\[1\] = True"),
])
def test_layer_sizes_positive_integers(sizes, bad):
    with pytest.raises(ValueError, match=rf"layer sizes must be positive integers; {bad}"):
        vecprop.Network(sizes, ["identity"] * (len(sizes) - 1))


def test_too_few_layers():
    with pytest.raises(ValueError, match=r"at least \[n_0, n_1\]"):
        vecprop.Network([4], [])


def test_sizes_not_a_sequence():
    with pytest.raises(TypeError, match="sizes must be a sequence"):
        vecprop.Network(4, ["identity"])


@pytest.mark.parametrize("activations", [["relu"], ["relu", "relu", "identity"], "relu"])
def test_wrong_number_of_activations(activations):
    with pytest.raises(ValueError, match=r"one activation per layer \(L=2\)"):
        vecprop.Network([4, 5, 3], activations)


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex128", "nonsense"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match=rf"dtype must be 'float32' or 'float64'; got '{dtype}'"):
        vecprop.Network([2, 1], ["identity"], dtype=dtype)


@pytest.mark.parametrize("dropout, message", [
    (1.0, r"dropout rate for layer 1 must be in \[0, 1\); got 1\.0"),
    (-0.1, r"dropout rate for layer 1 must be in \[0, 1\); got -0\.1"),
    ([0.2, 1.5], r"dropout rate for layer 2 must be in \[0, 1\); got 1\.5"),
    (float("nan"), r"dropout rate for layer 1 must be in \[0, 1\); got nan"),
    ([0.2], r"dropout must be one rate or L-1=2 rates"),
])
def test_bad_dropout_rate(dropout, message):
    with pytest.raises(ValueError, match=message):
        vecprop.Network([4, 5, 5, 3], ["relu", "relu", "identity"], dropout=dropout)


def test_bad_initializer():
    with pytest.raises(ValueError, match=r"unknown initializer 'zeros'; valid names: .*he_normal"):
        vecprop.Network([2, 1], ["identity"], init="zeros")


def test_one_hot_bad_labels():
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2; got values from 0 to 3"):
        vecprop.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"1-D array of integer class labels; got shape \(2,\), dtype float64"):
        vecprop.one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="needs n_classes"):
        vecprop.one_hot(np.array([], dtype=int))


def test_dtype_none_and_dropout_without_hidden_layers_are_refused():
    with pytest.raises(ValueError, match="dtype"):
        vecprop.Network([2, 1], ["identity"], dtype=None)
    with pytest.raises(ValueError, match="L=1"):
        vecprop.Network([2, 1], ["identity"], dropout=0.5)
