"""Backward (A)-(D) against central differences of J (vecprop.gradcheck), and the public contract."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import vecprop
from vecprop.activations import ACTIVATIONS, Sigmoid, Softmax

TOL = 1e-7
# A step of 1e-5 balances truncation (~eps^2) against the rounding of J (~|J| u / eps) in
# float64; gradcheck's default 1e-6 is rounding-dominated and fails ~3x more correct gradients.
EPS = 1e-5


class Sine:
    """A user activation: any object with value(Z) and derivative(Z), element-wise."""

    name = "sine"

    def value(self, Z):
        return np.sin(Z)

    def derivative(self, Z):
        return np.cos(Z)


class WrongSine(Sine):
    """The same activation with a sign error in alpha': gradcheck must catch it."""

    name = "wrong_sine"

    def derivative(self, Z):
        return -np.cos(Z)


class UnfusedSigmoid(Sigmoid):
    """Sigmoid that does not fuse with binary cross-entropy: exercises err' = (a-y)/(a(1-a)) and (C)."""

    name = "unfused_sigmoid"


class UnfusedSoftmax(Softmax):
    """Softmax that does not fuse with cross-entropy: exercises err' = -y/a and the Jacobian product."""

    name = "unfused_softmax"


# Every loss with the output activations that make sense for it (fused and unfused paths).
LOSS_PAIRS = [
    ("squared_error", "identity"),
    ("squared_error", "sigmoid"),
    ("absolute_error", "identity"),
    ({"name": "huber", "delta": 0.5}, "identity"),
    ("binary_cross_entropy", "sigmoid"),
    ("binary_cross_entropy", UnfusedSigmoid()),
    ("cross_entropy", "softmax"),
    ("cross_entropy", UnfusedSoftmax()),
    ("poisson", "exp"),
    ("poisson", "softplus"),
]
PAIR_IDS = ["se-identity", "se-sigmoid", "abs-identity", "huber-identity", "bce-sigmoid(fused)",
            "bce-sigmoid(unfused)", "ce-softmax(fused)", "ce-softmax(unfused)", "poisson-exp(fused)",
            "poisson-softplus(unfused)"]
HIDDEN_CYCLE = ["tanh", "relu", "gelu", "sigmoid", "elu"]


def make_targets(net: vecprop.Network, m: int, rng: np.random.Generator) -> np.ndarray:
    """Targets in the loss's domain: one-hot columns, {0, 1} entries, or reals."""
    n_L = net.sizes[-1]
    if net.loss.name == "cross_entropy":
        return vecprop.one_hot(rng.integers(n_L, size=m), n_L, dtype="float64")
    if net.loss.name == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n_L, m)).astype(np.float64)
    if net.loss.name == "poisson":
        return rng.poisson(1.0, size=(n_L, m)).astype(np.float64)
    return rng.normal(size=(n_L, m))


def check(net: vecprop.Network, X: np.ndarray, Y: np.ndarray, **kwargs) -> vecprop.GradcheckReport:
    """Run gradcheck and insist the numbers are meaningful (no kink in the step) and agree."""
    report = vecprop.gradcheck(net, X, Y, eps=EPS, tol=TOL, **kwargs)
    assert not report.warnings, f"a kink lies inside the difference step; pick another seed:\n{report}"
    assert report.worst.rel_error < TOL, str(report)
    assert report.ok
    return report


def build(sizes, activations, loss, m, seed=0):
    net = vecprop.Network(sizes, activations, loss, seed=seed, dtype="float64")
    rng = np.random.default_rng(seed + 1)
    # Non-zero biases: with b = 0 a ReLU layer that is all zero for one example puts the next
    # Z exactly on the kink; and db deserves a non-trivial check.
    for _, b in net.params:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    X = rng.normal(size=(sizes[0], m))
    return net, X, make_targets(net, m, rng)


# ---- the grid -----------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 4])
@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_as_hidden_layer(act, depth, m):
    sizes = [3] + [4] * (depth - 1) + [2]
    net, X, Y = build(sizes, [act] * (depth - 1) + ["identity"], "squared_error", m, seed=depth)
    if act == "exp":  # exp of exp of exp grows doubly exponentially: keep J where differences are accurate
        net.flat *= 0.3
    check(net, X, Y)


@pytest.mark.parametrize("m", [1, 4])
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_as_output_layer(act, depth, m):
    sizes = [3] + [4] * (depth - 1) + [3]
    check(*build(sizes, ["tanh"] * (depth - 1) + [act], "squared_error", m, seed=10 + depth))


@pytest.mark.parametrize("m", [1, 5])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("loss, output", LOSS_PAIRS, ids=PAIR_IDS)
def test_every_loss(loss, output, depth, m):
    sizes = [4] + [5] * (depth - 1) + [3]
    hidden = [HIDDEN_CYCLE[l % len(HIDDEN_CYCLE)] for l in range(depth - 1)]
    net, X, Y = build(sizes, hidden + [output], loss, m, seed=20 + depth)
    fused_pairs = {("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("exp", "poisson")}
    assert net.fused == ((net.activations[-1].name, net.loss.name) in fused_pairs)
    check(net, X, Y)


@pytest.mark.parametrize("loss, output", LOSS_PAIRS, ids=PAIR_IDS)
def test_l2_penalty(loss, output):
    net, X, Y = build([4, 5, 5, 3], ["tanh", "relu", output], loss, m=6, seed=3)
    check(net, X, Y, l2=0.7)


def test_l2_adds_its_share_to_dTheta_and_cost_only():
    net, X, Y = build([4, 5, 3], ["tanh", "identity"], "squared_error", m=6)
    l2, m = 0.7, X.shape[1]
    plain, penalised = net.gradients(X, Y), net.gradients(X, Y, l2=l2)
    for (Theta, b), (dT0, db0), (dT1, db1) in zip(net.params, plain, penalised):
        np.testing.assert_allclose(dT1 - dT0, l2 / m * Theta, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(db1, db0)  # biases are not penalised
    penalty = l2 / (2 * m) * sum(np.sum(Theta**2) for Theta, _ in net.params)
    assert net.cost(X, Y, l2=l2) == pytest.approx(net.cost(X, Y) + penalty, rel=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_with_a_fixed_mask(dtype):
    net = vecprop.Network([4, 6, 6, 2], ["tanh", "sigmoid", "identity"], "squared_error",
                          seed=1, dtype=dtype, dropout=0.5)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(4, 8)), rng.normal(size=(2, 8))
    net.forward(X, rng=np.random.default_rng(7))
    masks = net.cache.M
    assert masks[0] is None and masks[-1] is None  # input and output never drop
    for M in masks[1:-1]:
        assert 0 < np.count_nonzero(M) < M.size  # some units dropped, some kept
        np.testing.assert_allclose(np.unique(M), [0.0, 2.0])  # inverted dropout: kept units scaled by 1/(1-p)
    check(net, X, Y, masks=masks)
    # The mask matters: without it the gradient differs.
    with_mask = net.flatten(net.gradients(X, Y, masks=masks))
    without = net.flatten(net.gradients(X, Y))
    assert not np.allclose(with_mask, without)


# ---- user activations ---------------------------------------------------------------------


@pytest.mark.parametrize("position", ["hidden", "output"])
def test_custom_activation_is_checked(position):
    acts = ["tanh", Sine(), "identity"] if position == "hidden" else ["tanh", "relu", Sine()]
    net, X, Y = build([3, 4, 4, 2], acts, "squared_error", m=5, seed=4)
    assert any(a.name == "sine" for a in net.activations)
    check(net, X, Y)


@pytest.mark.parametrize("wrong_layer", [1, 2, 3])
def test_wrong_custom_derivative_is_reported_for_its_layer(wrong_layer):
    acts: list = ["tanh", "tanh", "tanh", "identity"]
    acts[wrong_layer - 1] = WrongSine()
    net, X, Y = build([3, 4, 4, 4, 2], acts, "squared_error", m=5, seed=6)
    report = vecprop.gradcheck(net, X, Y, eps=EPS, tol=TOL)
    assert not report.ok
    # (C) is wrong at wrong_layer, so dTheta, db there fail; (D) carries the error to every
    # layer below it, while the layers above it are untouched.
    failing = {r.layer for r in report.failures}
    assert failing == set(range(1, wrong_layer + 1))
    assert max(failing) == wrong_layer
    assert all(r.ok for r in report.rows if r.layer > wrong_layer)
    assert f"dTheta[{wrong_layer}]" in str(report) and "FAIL" in str(report)


# ---- random architectures -------------------------------------------------------------------


@st.composite
def architectures(draw):
    L = draw(st.integers(1, 5))
    loss, output = draw(st.sampled_from(LOSS_PAIRS))
    sizes = draw(st.lists(st.integers(1, 6), min_size=L + 1, max_size=L + 1))
    if isinstance(output, Softmax) or output == "softmax":
        sizes[-1] = max(sizes[-1], 2)  # a one-unit softmax is constant 1: nothing to check
    hidden = draw(st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=L - 1, max_size=L - 1))
    m = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    return build(sizes, hidden + [output], loss, m, seed=seed)


# The autouse seterr fixture is function-scoped on purpose: its state holds for every example.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(architectures())
def test_random_architectures(arch):
    net, X, Y = arch
    # Central differences resolve a gradient only above the rounding noise of J
    # (about |J| u / eps per entry); vanishing or exactly-zero gradients are below it.
    J = abs(net.cost(X, Y))
    smallest = min(np.linalg.norm(g) / np.sqrt(g.size) for pair in net.gradients(X, Y) for g in pair)
    assume(smallest >= 1e-3 * J)
    # A step across a kink (alpha' or err' jumps: relu, leaky_relu, |a - y|) makes the numeric
    # slope wrong; across a jump of alpha'' or err'' (elu, huber) it adds O(eps) error. A step in
    # a lower layer moves Z[l] by more than eps, so keep a margin wider than gradcheck's own.
    assume(not near_a_kink(net, X, Y, margin=1e-3))
    if net.loss.name == "binary_cross_entropy" and not net.fused:
        # Unfused, J holds log(1 - a), whose rounding error grows like u / (1 - a) as the sigmoid
        # saturates (the reason for the fused path): too noisy to difference there.
        A_L = net.forward(X)
        assume(np.minimum(A_L, 1 - A_L).min() > 1e-3)
    report = vecprop.gradcheck(net, X, Y, eps=EPS, tol=TOL)
    assume(not report.warnings)
    assert report.ok, str(report)


def near_a_kink(net: vecprop.Network, X: np.ndarray, Y: np.ndarray, margin: float) -> bool:
    A_L = net.forward(X)
    c = net.cache
    if any(act.kink and np.abs(c.Z[l]).min() < margin for l, act in enumerate(net.activations, start=1)):
        return True
    if net.loss.name == "absolute_error":
        return bool(np.abs(A_L - Y).min() < margin)
    if net.loss.name == "huber":
        return bool(np.abs(np.abs(A_L - Y) - net.loss.delta).min() < margin)
    return False


# ---- the public contract --------------------------------------------------------------------


def test_public_contract():
    net = vecprop.Network([4, 5, 3], activations=["relu", "softmax"], loss="cross_entropy",
                          seed=0, dtype="float64")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 7))
    Y = vecprop.one_hot(rng.integers(3, size=7), 3, dtype="float64")

    assert isinstance(net.params, list) and len(net.params) == 2
    for (Theta, b), n_l, n_prev in zip(net.params, net.sizes[1:], net.sizes):
        assert Theta.shape == (n_l, n_prev) and b.shape == (n_l, 1)

    A_L = net.forward(X)
    assert A_L.shape == (3, 7)
    np.testing.assert_allclose(A_L.sum(axis=0), 1.0)

    J = net.cost(X, Y)
    assert type(J) is float and J > 0

    grads = net.gradients(X, Y)
    assert isinstance(grads, list) and len(grads) == len(net.params)
    for (dTheta, db), (Theta, b) in zip(grads, net.params):
        assert dTheta.shape == Theta.shape and db.shape == b.shape

    # Writing into params changes the network.
    Theta2, b2 = net.params[1]
    b2[0, 0] += 5.0
    assert not np.allclose(net.forward(X), A_L)
    Theta2[...] = 0.0
    b2[...] = 0.0
    np.testing.assert_allclose(net.forward(X), 1.0 / 3.0)  # zero logits: uniform softmax
    assert net.cost(X, Y) == pytest.approx(np.log(3.0))


def test_a_truly_zero_gradient_passes_instead_of_failing_on_rounding_noise():
    # With Theta = 0 and b = 0.9, A = 0.9 for all four examples; |a - y| has err' = +1, +1, -1, -1,
    # so db = 1/m sum_c dZ = 0 exactly, while the numeric slope is rounding noise (~1e-11).
    net = vecprop.Network([1, 1], ["identity"], "absolute_error", dtype="float64")
    net.params[0][0][...] = 0.0
    net.params[0][1][...] = 0.9
    X, Y = np.array([[1.0, -1.0, 2.0, 0.5]]), np.array([[0.1, 0.2, 1.7, 2.9]])
    report = vecprop.gradcheck(net, X, Y)
    db = next(r for r in report.rows if r.param == "db")
    assert db.analytic == 0.0 and db.rel_error > 1e-7  # the relative error alone would fail it
    assert report.ok


def test_trained_networks_pass_within_the_finite_differences_own_error_and_wrong_gradients_still_fail():
    """Near a minimum the gradient is small and central differences' truncation error dominates the
    relative error: the check then compares with that error (estimated from a second step), says
    so, and still catches an analytic gradient that is 1% off."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 32))
    Y = (X[0] * X[1] > 0).astype(float).reshape(1, -1)
    net = vecprop.Network([2, 8, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0, dtype="float64")
    vecprop.fit(net, X, Y, optimizer="adam", lr=0.05, epochs=1500, batch_size=None)
    report = vecprop.gradcheck(net, X, Y, tol=1e-12)  # far stricter than the slopes can be
    assert report.ok and {r.basis for r in report.rows} <= {"fd", "noise", "rel"} and "**" in str(report)
    from vecprop import activations

    original = activations.Tanh.derivative
    try:
        activations.Tanh.derivative = lambda self, Z, A=None: 1.01 * original(self, Z, A)
        broken = vecprop.gradcheck(net, X, Y, tol=1e-12)
    finally:
        activations.Tanh.derivative = original
    assert not broken.ok and any(r.layer == 1 and not r.ok for r in broken.rows)
