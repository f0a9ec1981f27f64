"""Activations, losses and initialisers one by one; dtypes that never change behind the user's back."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop
from vecprop.activations import ACTIVATIONS, Softmax
from vecprop.initializers import INITIALIZERS
from vecprop.losses import LOSSES

ELEMENTWISE = sorted(name for name, cls in ACTIVATIONS.items() if cls.elementwise)
# Non-default parameters, so a parameter that is ignored shows up.
SPECS = {name: name for name in ACTIVATIONS}
SPECS["leaky_relu"] = {"name": "leaky_relu", "slope": 0.2}
SPECS["elu"] = {"name": "elu", "alpha": 0.7}
H = 1e-6  # central-difference step for element-wise derivatives


def central_difference(f, x):
    return (f(x + H) - f(x - H)) / (2 * H)


# ---- activations ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    act = vecprop.get_activation(SPECS[name])
    Z = np.linspace(-5.0, 5.0, 201).reshape(3, 67) + 0.013  # no entry on a kink at 0
    np.testing.assert_allclose(act.derivative(Z), central_difference(act.value, Z), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_is_equation_C(name):
    act = vecprop.get_activation(SPECS[name])
    rng = np.random.default_rng(0)
    Z, dA = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    A = act.value(Z)
    np.testing.assert_allclose(act.backward(Z, A, dA), dA * act.derivative(Z), rtol=1e-15, atol=1e-15)
    # Passing A = alpha(Z) is only a shortcut: same alpha'.
    np.testing.assert_allclose(act.derivative(Z, A), act.derivative(Z), rtol=1e-15, atol=1e-15)


def softmax_jacobians(A):
    """J[:, :, c] = diag(a) - a a^T for column a = A[:, c], written out entry by entry."""
    n, m = A.shape
    return np.eye(n)[:, :, None] * A[None, :, :] - A[:, None, :] * A[None, :, :]


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(1)
    Z, dA = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    act = Softmax()
    A = act.value(Z)
    J = softmax_jacobians(A)  # J[i, j, c] = dA_i / dZ_j for example c
    expected = np.einsum("ijc,ic->jc", J, dA)  # dZ_j = sum_i dA_i J_ij, column by column
    np.testing.assert_allclose(act.backward(Z, A, dA), expected, rtol=1e-13, atol=1e-15)


def test_softmax_backward_matches_finite_differences():
    """d/dZ of sum(dA * softmax(Z)) entry by entry: the Jacobian product without writing J."""
    rng = np.random.default_rng(2)
    Z, dA = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    act = Softmax()
    numeric = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        E = np.zeros_like(Z)
        E[idx] = H
        numeric[idx] = (np.sum(dA * act.value(Z + E)) - np.sum(dA * act.value(Z - E))) / (2 * H)
    np.testing.assert_allclose(act.backward(Z, act.value(Z), dA), numeric, rtol=1e-7, atol=1e-9)


def test_softmax_columns_are_probabilities_and_derivative_refuses():
    Z = np.random.default_rng(3).normal(size=(4, 6)) * 10
    A = Softmax().value(Z)
    assert (A > 0).all()
    np.testing.assert_allclose(A.sum(axis=0), 1.0)
    with pytest.raises(TypeError, match="not element-wise"):
        Softmax().derivative(Z)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_registry_round_trip(name):
    act = vecprop.get_activation(SPECS[name])
    assert act.name == name
    assert vecprop.get_activation(act.config()) == act
    assert vecprop.get_activation(act) is act
    assert repr(act).startswith(f"{type(act).__name__}(")


# ---- losses --------------------------------------------------------------------------------------


def loss_inputs(name, rng):
    """A in the loss's domain, and targets Y (3, 8)."""
    if name == "cross_entropy":
        A = rng.uniform(0.05, 1.0, size=(3, 8))
        Y = rng.dirichlet(np.ones(3), size=8).T  # soft targets: probability columns
    elif name == "binary_cross_entropy":
        A = rng.uniform(0.05, 0.95, size=(3, 8))
        Y = rng.uniform(0.0, 1.0, size=(3, 8))
    elif name == "poisson":
        A = rng.uniform(0.2, 3.0, size=(3, 8))  # rates
        Y = rng.poisson(1.5, size=(3, 8)).astype(float)  # counts, zeros included
    else:
        A, Y = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    return A, Y


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_derivative_matches_finite_differences(name):
    loss = vecprop.get_loss({"name": "huber", "delta": 0.7} if name == "huber" else name)
    A, Y = loss_inputs(name, np.random.default_rng(4))
    if name == "huber":
        assert (np.abs(A - Y) < 0.7).any() and (np.abs(A - Y) > 0.7).any()  # both branches
    numeric = central_difference(lambda a: loss.err(a, Y), A)
    np.testing.assert_allclose(loss.derivative(A, Y), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["squared_error", "absolute_error", "huber"])
def test_regression_losses_vanish_at_the_target(name):
    loss = vecprop.get_loss(name)
    A, Y = loss_inputs(name, np.random.default_rng(5))
    assert (loss.err(A, Y) > 0).all()
    np.testing.assert_array_equal(loss.err(Y, Y), 0.0)
    np.testing.assert_array_equal(loss.derivative(Y, Y), 0.0)


def test_poisson_hand_worked():
    """Half the Poisson deviance, y log(y/a) - y + a: a = 2, y = 3 gives 3 log 1.5 - 1 = 0.2163953...; y = 0 gives a."""
    loss = vecprop.get_loss("poisson")
    A, Y = np.array([[2.0, 0.5, 4.0]]), np.array([[3.0, 0.0, 4.0]])
    np.testing.assert_allclose(loss.err(A, Y), [[0.21639532432449315, 0.5, 0.0]], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(loss.derivative(A, Y), [[-0.5, 1.0, 0.0]], rtol=1e-15)  # 1 - y/a
    np.testing.assert_allclose(loss.err_from_logits(np.log(A), Y), loss.err(A, Y), rtol=1e-14, atol=1e-15)
    assert vecprop.losses.output_activation("poisson") == "exp"
    with pytest.raises(ValueError, match="poisson needs targets >= 0"):
        loss.check_targets(np.array([[1.0, -2.0]]))


@pytest.mark.parametrize("name, activation", [("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax"),
                                              ("poisson", "exp")])
def test_fused_loss_equals_the_composition(name, activation):
    """err_from_logits(Z) = err(alpha(Z)) and A - Y = (C) applied to err'{A, Y}: the fusion is exact."""
    loss, act = vecprop.get_loss(name), vecprop.get_activation(activation)
    rng = np.random.default_rng(6)
    Z = rng.normal(size=(3, 8)) * 3
    Y = vecprop.one_hot(rng.integers(3, size=8), 3, dtype="float64") if name == "cross_entropy" \
        else rng.uniform(0, 1, size=(3, 8))
    A = act.value(Z)
    np.testing.assert_allclose(loss.err_from_logits(Z, Y), loss.err(A, Y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.backward(Z, A, loss.derivative(A, Y)), A - Y, rtol=1e-10, atol=1e-12)
    assert vecprop.losses.is_fused(act, loss)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_registry_round_trip(name):
    loss = vecprop.get_loss(name)
    assert loss.name == name
    assert vecprop.get_loss(loss.config()) == loss
    assert vecprop.get_loss(loss) is loss


# ---- initialisers ------------------------------------------------------------------------------

# The variance each scheme promises, written independently of the library: Var = 2/n_in (He),
# 2/(n_in + n_out) (Glorot), 1/n_in (LeCun); a uniform(-r, r) has variance r^2/3.
EXPECTED_VARIANCE = {
    "he_normal": lambda n_in, n_out: 2 / n_in,
    "he_uniform": lambda n_in, n_out: 2 / n_in,
    "glorot_normal": lambda n_in, n_out: 2 / (n_in + n_out),
    "glorot_uniform": lambda n_in, n_out: 2 / (n_in + n_out),
    "xavier_normal": lambda n_in, n_out: 2 / (n_in + n_out),
    "xavier_uniform": lambda n_in, n_out: 2 / (n_in + n_out),
    "lecun_normal": lambda n_in, n_out: 1 / n_in,
    "lecun_uniform": lambda n_in, n_out: 1 / n_in,
}


def test_every_initializer_has_an_expected_variance():
    assert set(EXPECTED_VARIANCE) == set(INITIALIZERS)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_variance(name):
    n_out, n_in = 300, 500  # 150,000 draws: the sample variance is within ~0.4% (1 sd)
    Theta = vecprop.get_initializer(name)(n_out, n_in, np.random.default_rng(0))
    assert Theta.shape == (n_out, n_in)
    expected = EXPECTED_VARIANCE[name](n_in, n_out)
    assert Theta.var() == pytest.approx(expected, rel=0.03)
    assert abs(Theta.mean()) < 0.02 * np.sqrt(expected)
    if name.endswith("uniform"):
        assert np.abs(Theta).max() <= np.sqrt(3 * expected)  # the uniform limit r with r^2/3 = Var


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_is_seeded(name):
    init = vecprop.get_initializer(name)
    a = init(20, 30, np.random.default_rng(7))
    np.testing.assert_array_equal(a, init(20, 30, np.random.default_rng(7)))
    assert not np.array_equal(a, init(20, 30, np.random.default_rng(8)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network_weights_are_seeded_and_biases_zero(dtype):
    make = lambda seed: vecprop.Network([30, 40, 10], ["relu", "softmax"], "cross_entropy",  # noqa: E731
                                        seed=seed, dtype=dtype)
    a, b, c = make(0), make(0), make(1)
    np.testing.assert_array_equal(a.flat, b.flat)
    assert not np.array_equal(a.flat, c.flat)
    for _, bias in a.params:
        np.testing.assert_array_equal(bias, 0.0)
    g = make(np.random.default_rng(0))  # a Generator works as well as an int seed
    np.testing.assert_array_equal(g.flat, a.flat)


def test_default_initializer_follows_the_activation():
    net = vecprop.Network([400, 300, 200], ["relu", "tanh"], seed=0, dtype="float64")
    (Theta1, _), (Theta2, _) = net.params
    assert Theta1.var() == pytest.approx(2 / 400, rel=0.03)  # He for ReLU
    assert Theta2.var() == pytest.approx(2 / (300 + 200), rel=0.03)  # Glorot for tanh


# ---- dtypes never change silently -------------------------------------------------------------


@pytest.mark.parametrize("loss, output", [
    ("squared_error", "identity"),
    ("absolute_error", "softplus"),
    ("huber", "tanh"),
    ("binary_cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
])
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_everywhere(dtype, hidden, loss, output):
    net = vecprop.Network([4, 5, 5, 3], [SPECS[hidden], SPECS[hidden], output], loss, seed=0,
                          dtype=dtype, dropout=0.3)
    want = np.dtype(dtype)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 6)).astype(np.float32 if dtype == "float64" else np.float64)  # the other dtype
    if loss == "cross_entropy":
        Y = vecprop.one_hot(rng.integers(3, size=6), 3)  # float32 by default
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(3, 6))  # integers
    else:
        Y = rng.normal(size=(3, 6))
    grads = net.gradients(X, Y, l2=0.1, rng=rng)
    assert net.flat.dtype == want
    for Theta, b in net.params:
        assert Theta.dtype == b.dtype == want
    c = net.cache
    for field in ("A", "Z", "M", "alpha_Z", "dZ", "dA"):
        for l, x in enumerate(getattr(c, field)):
            assert x is None or x.dtype == want, f"cache.{field}[{l}] is {x.dtype}"
    assert all(M is not None for M in c.M[1:-1])  # dropout ran, so the masks were checked too
    for dTheta, db in grads:
        assert dTheta.dtype == db.dtype == want
    assert type(net.cost(X, Y)) is float
    assert net.forward(X).dtype == want
    assert net.flatten(grads).dtype == want


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_astype_is_the_explicit_conversion(dtype):
    net = vecprop.Network([3, 4, 2], ["gelu", "identity"], seed=0, dtype="float64")
    twin = net.astype(dtype)
    assert twin.dtype == np.dtype(dtype) and twin.flat.dtype == np.dtype(dtype)
    np.testing.assert_allclose(twin.flat, net.flat, rtol=1e-7)
    twin.flat[0] += 1.0  # a copy: the original is untouched
    assert twin.flat[0] != net.flat[0]


def test_one_hot():
    Y = vecprop.one_hot(np.array([2, 0, 1, 2]), 4)
    assert Y.shape == (4, 4) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.sum(axis=0), 1.0)
    np.testing.assert_array_equal(Y.argmax(axis=0), [2, 0, 1, 2])
    assert vecprop.one_hot(np.array([0, 2])).shape == (3, 2)  # n_classes from the largest label
