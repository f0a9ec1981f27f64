"""Huge logits stay finite and silent (np.seterr raises, warnings are errors); float32 tracks float64."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop
from vecprop.activations import ACTIVATIONS

# Past exp's overflow in float32 (~88.7) and float64 (~709.8), up to 1e4.
HUGE = np.array([-1e4, -800.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 800.0, 1e4])
DTYPES = ["float32", "float64"]
FINITE_ON_HUGE = sorted(set(ACTIVATIONS) - {"exp"})  # e^1e4 is no float: exp must overflow loudly (below)

pytestmark = pytest.mark.filterwarnings("error")


def assert_finite(*arrays):
    for x in arrays:
        assert np.isfinite(x).all(), x


def huge_net(dtype, hidden, output, loss, n_L):
    """2-2-n_L network whose Z[1] = X exactly (Theta1 = I, b1 = 0) and X holds the huge values."""
    net = vecprop.Network([2, 2, n_L], [hidden, output], loss, dtype=dtype)
    (Theta1, b1), (Theta2, b2) = net.params
    Theta1[...] = np.eye(2)
    b1[...] = 0.0
    Theta2[...] = 1e-3 * np.arange(1, 2 * n_L + 1).reshape(n_L, 2)
    b2[...] = 0.0
    X = np.stack([HUGE, -HUGE[::-1] / 2])
    return net, X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FINITE_ON_HUGE)
def test_activation_on_huge_inputs(name, dtype):
    act = vecprop.get_activation(name)
    Z = np.stack([HUGE, HUGE[::-1]]).astype(dtype)
    A = act.value(Z)
    dZ = act.backward(Z, A, np.ones_like(Z))
    assert_finite(A, dZ)
    assert A.dtype == dZ.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FINITE_ON_HUGE)
def test_network_with_huge_hidden_logits(name, dtype):
    net, X = huge_net(dtype, name, "identity", "squared_error", n_L=1)
    Y = np.zeros((1, X.shape[1]))
    grads = net.gradients(X, Y)
    assert_finite(net.cache.Z[1], net.cache.A[1], *(g for pair in grads for g in pair))
    assert np.abs(net.cache.Z[1]).max() == 1e4  # the huge values did reach the activation
    assert np.isfinite(net.cost(X, Y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FINITE_ON_HUGE)
def test_network_with_huge_output_logits(name, dtype):
    net = vecprop.Network([2, 2], [name], "squared_error", dtype=dtype)
    Theta, b = net.params[0]
    Theta[...] = np.eye(2)
    b[...] = 0.0
    X = np.stack([HUGE, -HUGE])
    Y = np.full((2, X.shape[1]), 0.5)
    grads = net.gradients(X, Y)
    assert_finite(net.cache.A[1], *(g for pair in grads for g in pair))
    assert np.isfinite(net.cost(X, Y))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_overflows_loudly(dtype):
    """e^z past ~88.7 (float32) or ~709.8 (float64) is not representable: an error, never a silent inf.

    In a run without np.seterr, numpy returns inf and ``fit`` raises TrainingDiverged at that step.
    """
    act = vecprop.get_activation("exp")
    with pytest.raises(FloatingPointError, match="overflow"):
        act.value(np.array([[800.0]], dtype))
    Z = np.array([[-1e4, 0.0, 80.0]], dtype)  # e^-1e4 underflows to exactly 0: right, and silent
    np.testing.assert_allclose(act.value(Z), np.exp(Z.astype(np.float64)), rtol=1e-6)
    net = vecprop.Network([2, 1], ["exp"], "poisson", dtype=dtype)
    net.flat[...] = 1.0  # Z = 2001 for every example
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(vecprop.TrainingDiverged):
        vecprop.fit(net, np.full((2, 4), 1e3), np.ones((1, 4)), epochs=1, batch_size=None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_sigmoid_binary_cross_entropy_on_huge_logits(dtype):
    net = vecprop.Network([1, 1], ["sigmoid"], "binary_cross_entropy", dtype=dtype)
    Theta, b = net.params[0]
    Theta[...] = 1.0
    b[...] = 0.0
    X = HUGE.reshape(1, -1)
    for y in (0.0, 1.0):
        Y = np.full_like(X, y)
        J = net.cost(X, Y)
        (dTheta, db), = net.gradients(X, Y)
        assert_finite(J, dTheta, db, net.cache.dZ[1])
        # err = softplus(z) - y z; exactly max(z, 0) - y z once e^-|z| vanishes (|z| >= 800).
        far = np.abs(HUGE) >= 800
        np.testing.assert_allclose(
            net.loss.err_from_logits(X, Y)[:, far], (np.maximum(X, 0) - y * X)[:, far], rtol=1e-6)
        assert J >= np.sum((np.maximum(X, 0) - y * X)[:, far]) / X.shape[1] * (1 - 1e-6)
        np.testing.assert_allclose(net.cache.dZ[1], net.cache.A[1] - Y)  # fused, in [-1, 1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_softmax_cross_entropy_on_huge_logits(dtype):
    net = vecprop.Network([3, 3], ["softmax"], "cross_entropy", dtype=dtype)
    Theta, b = net.params[0]
    Theta[...] = np.eye(3)
    b[...] = 0.0
    X = np.stack([HUGE, -HUGE, np.zeros_like(HUGE)])
    for label in range(3):
        Y = vecprop.one_hot(np.full(X.shape[1], label), 3, dtype=dtype)
        J = net.cost(X, Y)
        (dTheta, db), = net.gradients(X, Y)
        assert_finite(J, dTheta, db, net.cache.A[1], net.cache.dZ[1])
        # -log softmax_label = logsumexp(z) - z_label; for the huge columns logsumexp(z) = max(z).
        far = np.abs(HUGE) >= 800
        expected = (X.max(axis=0) - X[label])[far]
        np.testing.assert_allclose(net.loss.err_from_logits(X, Y).sum(axis=0)[far], expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_regression_losses_on_huge_outputs(loss, dtype):
    net, X = huge_net(dtype, "relu", "identity", loss, n_L=2)
    Theta2, _ = net.params[1]
    Theta2[...] = np.eye(2)  # A[2] = relu(X): outputs up to 1e4
    Y = np.zeros((2, X.shape[1]))
    grads = net.gradients(X, Y)
    assert_finite(net.cost(X, Y), *(g for pair in grads for g in pair))


# ---- float32 against float64 on the same weights ------------------------------------------------


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(b), 1e-30))


@pytest.mark.parametrize("loss, output", [
    ("squared_error", "identity"),
    ("absolute_error", "identity"),
    ("huber", "identity"),
    ("binary_cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
])
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_float32_tracks_float64(hidden, loss, output):
    rng = np.random.default_rng(0)
    net64 = vecprop.Network([6, 8, 8, 4], [hidden, hidden, output], loss, seed=1, dtype="float64")
    for _, b in net64.params:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    net32 = net64.astype("float32")
    X = rng.normal(size=(6, 16))
    if loss == "cross_entropy":
        Y = vecprop.one_hot(rng.integers(4, size=16), 4, dtype="float64")
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(4, 16)).astype(np.float64)
    else:
        Y = rng.normal(size=(4, 16))
    tol = 1e-4
    assert rel(net32.forward(X), net64.forward(X)) < tol
    assert abs(net32.cost(X, Y) - net64.cost(X, Y)) < tol * abs(net64.cost(X, Y))
    for l, (g32, g64) in enumerate(zip(net32.gradients(X, Y), net64.gradients(X, Y)), start=1):
        assert g32[0].dtype == g32[1].dtype == np.float32
        assert rel(g32[0], g64[0]) < tol, f"dTheta[{l}]"
        assert rel(g32[1], g64[1]) < tol, f"db[{l}]"
