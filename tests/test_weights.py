"""Sample weights in the core: J = sum_c w_c err_c / sum_c w_c, w in dZ[L], m = sum(w) in (A) and (B)."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop as vp
from vecprop.callbacks import Callback
from vecprop.fast import FastPath
from vecprop.optimizers import SGD
from vecprop.training import fit, validation_logs

# output activation + loss: fused (dZ = A - Y) and through (5) and (C)
OUTPUTS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("identity", "squared_error"),
           ("softmax", "squared_error"), ("tanh", "absolute_error"), ("sigmoid", "huber")]
TOL = {"float64": 1e-12, "float32": 2e-6}


def problem(output, loss, m=13, dtype="float64", seed=0):
    """A 4-6-3 network, X (4, m), Y (3, m) in the loss's domain, integer weights (m,) with zeros."""
    rng = np.random.default_rng(seed)
    net = vp.Network([4, 6, 3], ["tanh", output], loss, seed=seed, dtype=dtype)
    X = rng.normal(size=(4, m))
    Y = vp.one_hot(rng.integers(0, 3, m), 3, "float64") if loss == "cross_entropy" else rng.uniform(size=(3, m))
    w = rng.integers(0, 4, size=m)
    w[:2] = [0, 3]
    return net, X, Y, w


def test_hand_worked_weighted_cost_and_gradient():
    # 1-1 network, identity output, squared error: A = theta x + b with theta = 2, b = 0.
    # x = [1, 2], y = [0, 1], w = [1, 3]: A = [2, 4], err = (a - y)^2 / 2 = [2, 4.5]
    # (2) J = (1*2 + 3*4.5) / (1 + 3) = 15.5 / 4 = 3.875; with l2 = 0.5: + 0.5/(2*4) * 2^2 = 0.25
    # dZ = w (A - Y) = [1*2, 3*3] = [2, 9]
    # (A) dTheta = 1/4 (2*1 + 9*2) + 0.5/4 * 2 = 5 + 0.25;  (B) db = 1/4 (2 + 9) = 2.75
    net = vp.Network([1, 1], ["identity"], "squared_error", dtype="float64")
    net.params[0][0][...] = 2.0
    X, Y, w = np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]]), np.array([1.0, 3.0])
    assert net.cost(X, Y, sample_weight=w) == 3.875
    assert net.cost(X, Y, sample_weight=w, l2=0.5) == 4.125
    (dTheta, db), = net.gradients(X, Y, sample_weight=w, l2=0.5)
    np.testing.assert_array_equal(net.cache.dZ[1], [[2.0, 9.0]])
    assert dTheta[0, 0] == 5.25 and db[0, 0] == 2.75
    path = FastPath(net)
    path.forward(X)
    grad = np.empty_like(net.flat)
    path.backward_into(Y, grad, l2=0.5, sample_weight=w)
    assert path.cached_cost(Y, l2=0.5, sample_weight=w) == 4.125 and grad.tolist() == [5.25, 2.75]


@pytest.mark.parametrize("output,loss", OUTPUTS)
def test_weighted_gradient_matches_central_differences(output, loss):
    net, X, Y, w = problem(output, loss)
    if loss == "absolute_error":  # err' jumps where a = y: keep every |a - y| away from the kink
        Y = net.forward(X) + np.where(np.arange(Y.size).reshape(Y.shape) % 2, 0.3, -0.3)
    report = vp.gradcheck(net, X, Y, l2=0.2, sample_weight=w)
    assert report.ok, str(report)


@pytest.mark.parametrize("output,loss", OUTPUTS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_engines_agree_with_weights(output, loss, dtype):
    net, X, Y, w = problem(output, loss, dtype=dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    net.forward(X)
    J_read = net.cached_cost(Y, l2=0.3, sample_weight=w)
    g_read = net.flatten(net.backward(Y, l2=0.3, sample_weight=w))
    path, g_fast = FastPath(net), np.empty_like(net.flat)
    path.forward(X)
    J_fast = path.cached_cost(Y, l2=0.3, sample_weight=w.astype(dtype))
    path.backward_into(Y, g_fast, l2=0.3, sample_weight=w.astype(dtype))
    assert J_fast == pytest.approx(J_read, rel=TOL[dtype])
    np.testing.assert_allclose(g_fast, g_read, rtol=0, atol=TOL[dtype] * float(np.abs(g_read).max()))


def test_weighted_cost_and_gradient_match_torch():
    torch = pytest.importorskip("torch")
    net, X, Y, w = problem("softmax", "cross_entropy")
    lam, grads = 0.4, net.gradients(X, Y, sample_weight=w, l2=0.4)
    params = [(torch.tensor(T, requires_grad=True), torch.tensor(b, requires_grad=True)) for T, b in net.params]
    (T1, b1), (T2, b2) = params
    Z2 = T2 @ torch.tanh(T1 @ torch.tensor(X) + b1) + b2  # (3, m): columns are examples, as here
    per_example = torch.nn.functional.cross_entropy(Z2.T, torch.tensor(Y.argmax(axis=0)), reduction="none")
    W = torch.tensor(w, dtype=torch.float64)
    J = ((per_example * W).sum() + lam / 2 * ((T1 ** 2).sum() + (T2 ** 2).sum())) / W.sum()
    J.backward()
    assert net.cost(X, Y, sample_weight=w, l2=lam) == pytest.approx(J.item(), rel=1e-12)
    for l, ((dTheta, db), (T, b)) in enumerate(zip(grads, params), start=1):
        np.testing.assert_allclose(dTheta, T.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"layer {l} dTheta")
        np.testing.assert_allclose(db, b.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"layer {l} db")


@pytest.mark.parametrize("engine", ["fast", "readable"])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("identity", "squared_error")])
def test_weight_k_trains_like_k_copies_and_weight_0_like_dropping(engine, output, loss):
    """Full batch: the same steps, costs and metrics as the data with each example repeated w_c times."""
    net, X, Y, w = problem(output, loss, m=21)
    twin = net.copy()
    Xv, Yv = X[:, :9], Y[:, :9]
    kw = dict(optimizer="sgd", lr=0.2, epochs=4, batch_size=None, l2=0.1, engine=engine)
    weighted = fit(net, X, Y, sample_weight=w, validation=(Xv, Yv, w[:9]), **kw)
    repeated = fit(twin, np.repeat(X, w, axis=1), np.repeat(Y, w, axis=1),
                   validation=(np.repeat(Xv, w[:9], axis=1), np.repeat(Yv, w[:9], axis=1)), **kw)
    np.testing.assert_allclose(net.flat, twin.flat, rtol=0, atol=1e-13)
    assert weighted.keys() == repeated.keys()
    for key in weighted.keys():
        np.testing.assert_allclose(weighted[key], repeated[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_unit_weights_change_nothing_and_the_last_batch_divides_by_its_own_weight():
    net, X, Y, w = problem("softmax", "cross_entropy", m=10)
    plain, ones = net.copy(), net.copy()
    fit(plain, X, Y, optimizer=SGD(lr=0.5), epochs=2, batch_size=4, seed=3)
    fit(ones, X, Y, sample_weight=np.ones(10), optimizer=SGD(lr=0.5), epochs=2, batch_size=4, seed=3)
    np.testing.assert_array_equal(ones.flat, plain.flat)
    twin = net.copy()
    fit(net, X, Y, sample_weight=w, optimizer=SGD(lr=0.5), epochs=1, batch_size=4, seed=5)
    for idx in vp.training.batches(10, 4, np.random.default_rng(5)):  # 4, 4, 2 examples
        for (Theta, b), (dTheta, db) in zip(twin.params, twin.gradients(X[:, idx], Y[:, idx], sample_weight=w[idx])):
            Theta -= 0.5 * dTheta  # 1/m with m = sum of the batch's weights
            b -= 0.5 * db
    np.testing.assert_allclose(net.flat, twin.flat, rtol=0, atol=1e-14)


class _Batches(Callback):
    def __init__(self) -> None:
        self.seen = []

    def on_batch_end(self, state) -> None:
        self.seen.append(state.batch)


def test_a_batch_whose_weights_are_all_zero_is_skipped():
    net, X, Y, _ = problem("softmax", "cross_entropy", m=6)
    w = np.array([1.0, 2.0, 0.0, 0.0, 1.0, 1.0])
    spy, before = _Batches(), net.copy()
    history = fit(net, X, Y, sample_weight=w, optimizer=SGD(lr=0.5), epochs=1, batch_size=2, shuffle=False,
                  callbacks=[spy])
    assert spy.seen == [0, 2]  # batch 1 (examples 2 and 3) weighs nothing: no step, no cost
    twin = before
    for idx in ([0, 1], [4, 5]):
        for (Theta, b), (dTheta, db) in zip(twin.params, twin.gradients(X[:, idx], Y[:, idx], sample_weight=w[idx])):
            Theta -= 0.5 * dTheta
            b -= 0.5 * db
    np.testing.assert_allclose(net.flat, twin.flat, rtol=0, atol=1e-14)
    assert np.isfinite(history["cost"][0])


@pytest.mark.parametrize("w, match", [
    (np.ones(5), r"sample_weight must be \(m=6,\)"),
    (np.array([1.0, -1.0, 1.0, 1.0, 1.0, 1.0]), "must be >= 0; example 1 has weight -1"),
    (np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0]), "must be finite"),
    (np.zeros(6), "sums to 0"),
    (["a"] * 6, "must be numeric"),
])
def test_bad_weights_fail_at_the_boundary(w, match):
    net, X, Y, _ = problem("softmax", "cross_entropy", m=6)
    before = net.flat.copy()
    with pytest.raises((ValueError, TypeError), match=match):
        fit(net, X, Y, sample_weight=w, epochs=1)
    with pytest.raises((ValueError, TypeError), match=match):
        validation_logs(net, X, Y, sample_weight=w)
    np.testing.assert_array_equal(net.flat, before)
