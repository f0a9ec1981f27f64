"""``backward(Y, fused=False)``: (5) and (C) computed apart at a fused output equal A[L] - Y, and central differences."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop as vp

FUSED_PAIRS = [("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 1),
               ("sigmoid", "binary_cross_entropy", 2)]


def _net_and_data(out: str, loss: str, n_L: int, m: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    net = vp.Network([3, 4, n_L], ["tanh", out], loss, seed=seed, dtype="float64")
    X = rng.standard_normal((3, m))
    Y = vp.one_hot(rng.integers(0, n_L, m), n_L, dtype="float64") if loss == "cross_entropy" \
        else rng.integers(0, 2, (n_L, m)).astype(np.float64)
    return net, X, Y


def _central(f, P: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dP by central differences, entry by entry (P is perturbed in place and restored)."""
    out = np.empty_like(P)
    for idx in np.ndindex(P.shape):
        saved = P[idx]
        P[idx] = saved + eps
        plus = f()
        P[idx] = saved - eps
        minus = f()
        P[idx] = saved
        out[idx] = (plus - minus) / (2 * eps)
    return out


@pytest.mark.parametrize("out, loss, n_L", FUSED_PAIRS)
def test_unfused_equals_the_fused_shortcut_to_rounding(out, loss, n_L):
    net, X, Y = _net_and_data(out, loss, n_L)
    assert net.fused
    fused = net.gradients(X, Y)
    dZ_fused = net.cache.dZ[2].copy()
    assert net.cache.dA[2] is None  # the default path is unchanged: dA[L] is never formed
    unfused = net.gradients(X, Y, fused=False)
    c = net.cache
    assert c.dA[2] is not None and c.dA[2].shape == (n_L, 5)
    np.testing.assert_allclose(c.dZ[2], dZ_fused, rtol=0, atol=1e-15)  # A - Y vs (5) then (C): rounding only
    np.testing.assert_allclose(c.dZ[2], c.A[2] - Y, rtol=0, atol=1e-15)
    for (dT_f, db_f), (dT_u, db_u) in zip(fused, unfused):
        np.testing.assert_allclose(dT_u, dT_f, rtol=0, atol=1e-15)
        np.testing.assert_allclose(db_u, db_f, rtol=0, atol=1e-15)


@pytest.mark.parametrize("out, loss, n_L", FUSED_PAIRS)
def test_unfused_dA_and_dZ_match_central_differences(out, loss, n_L):
    """dA[L] = m dJ/dA[L] (eq. 5, per example) and dZ[L] = m dJ/dZ[L], with J of eq. 2 as a function of each."""
    net, X, Y = _net_and_data(out, loss, n_L)
    net.gradients(X, Y, fused=False)
    c, m = net.cache, X.shape[1]
    A_L, Z_L = c.A[2].copy(), c.Z[2].copy()
    J_of_A = lambda: float(net.loss.err(A_L, Y).sum()) / m  # noqa: E731
    J_of_Z = lambda: float(net.loss.err(net.activations[1].value(Z_L), Y).sum()) / m  # noqa: E731
    np.testing.assert_allclose(c.dA[2], m * _central(J_of_A, A_L), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(c.dZ[2], m * _central(J_of_Z, Z_L), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("out, loss, n_L", FUSED_PAIRS)
def test_unfused_gradients_match_central_differences_of_the_cost(out, loss, n_L):
    net, X, Y = _net_and_data(out, loss, n_L, m=4, seed=1)
    grads = net.flatten(net.gradients(X, Y, l2=0.3, fused=False))
    numeric = _central(lambda: net.cost(X, Y, l2=0.3), net.flat)
    np.testing.assert_allclose(grads, numeric, rtol=1e-6, atol=1e-9)


def test_fused_false_changes_nothing_when_the_output_does_not_fuse():
    net = vp.Network([3, 4, 2], ["tanh", "sigmoid"], "squared_error", seed=0, dtype="float64")
    X, Y = np.random.default_rng(0).standard_normal((3, 5)), np.random.default_rng(1).random((2, 5))
    a = net.flatten(net.gradients(X, Y))
    dA = net.cache.dA[2].copy()
    b = net.flatten(net.gradients(X, Y, fused=False))
    assert np.array_equal(a, b) and np.array_equal(net.cache.dA[2], dA)


@pytest.mark.parametrize("out, loss, n_L", FUSED_PAIRS)
def test_unfused_dA_and_dZ_match_torch_autograd(out, loss, n_L):
    """The same per-example derivatives from PyTorch: m * dJ/dA[L] and m * dJ/dZ[L], J written with torch's losses."""
    torch = pytest.importorskip("torch")
    net, X, Y = _net_and_data(out, loss, n_L, seed=2)
    net.gradients(X, Y, fused=False)
    c, m = net.cache, X.shape[1]
    Z = torch.tensor(c.Z[2].T, requires_grad=True)  # rows are examples in torch
    A = torch.softmax(Z, dim=1) if out == "softmax" else torch.sigmoid(Z)
    A.retain_grad()
    Yt = torch.tensor(Y.T)
    J = (-(Yt * torch.log(A)).sum() if loss == "cross_entropy"
         else torch.nn.functional.binary_cross_entropy(A, Yt, reduction="sum")) / m
    J.backward()
    np.testing.assert_allclose(c.dA[2], m * A.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.dZ[2], m * Z.grad.numpy().T, rtol=1e-10, atol=1e-12)
