"""A sparse X (scipy CSR/CSC): the same numbers as the dense X through both engines, fit, L-BFGS and predict,
without ever densifying it."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import vecprop as vp
import vecprop._sparse
from vecprop._checks import as_columns
from vecprop.fast import FastPath
from vecprop.inference import validation_logs
from vecprop.training import fit, predict

sparse = pytest.importorskip("scipy.sparse")

FORMATS = [sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array, sparse.csc_array]
TOL = {"float64": 1e-12, "float32": 2e-6}


def _problem(dtype="float64", m=30, n_0=12, loss="cross_entropy", seed=0):
    """A mostly-zero X (n_0, m), its targets, and a 2-hidden-layer network."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_0, m)) * (rng.random((n_0, m)) < 0.2)
    X[:, 3] = 0.0  # an example with no stored value at all
    out = {"cross_entropy": "softmax", "squared_error": "identity", "poisson": "exp"}[loss]
    net = vp.Network([n_0, 7, 5, 3], ["relu", "tanh", out], loss, seed=seed, dtype=dtype)
    Y = vp.one_hot(rng.integers(0, 3, m), 3, dtype) if loss == "cross_entropy" else rng.poisson(1.0, (3, m)).astype(dtype)
    return net, X.astype(dtype), Y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.__name__)
def test_both_engines_give_the_dense_numbers(fmt, dtype):
    """(1) Theta[1] X and (A) dZ[1] X^T as sparse products: A[L], J and every gradient as with the dense X."""
    net, X, Y = _problem(dtype)
    Xs = fmt(X)
    A_dense = net.forward(X)
    g_dense = net.flatten(net.gradients(X, Y, l2=0.3))
    J_dense = net.cost(X, Y, l2=0.3)
    scale = float(np.abs(g_dense).max())
    np.testing.assert_allclose(net.forward(Xs), A_dense, rtol=0, atol=TOL[dtype])  # readable: Network.forward
    np.testing.assert_allclose(net.flatten(net.gradients(Xs, Y, l2=0.3)), g_dense, rtol=0, atol=TOL[dtype] * scale)
    assert net.cost(Xs, Y, l2=0.3) == pytest.approx(J_dense, rel=TOL[dtype])
    path = FastPath(net)
    Xc = as_columns(Xs, 12, net.dtype)  # CSC of the network's dtype, as fit checks it
    np.testing.assert_allclose(path.forward(Xc), A_dense, rtol=0, atol=TOL[dtype])
    assert path.cached_cost(Y, l2=0.3) == pytest.approx(J_dense, rel=TOL[dtype])
    g_fast = np.empty_like(net.flat)
    path.backward_into(Y, g_fast, l2=0.3)
    np.testing.assert_allclose(g_fast, g_dense, rtol=0, atol=TOL[dtype] * scale)


@pytest.mark.parametrize("density", [0.01, 0.5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_one_products(dtype, density):
    """_sparse.matmul: (1) Theta X and (A) dZ X^T, row by row, equal the dense products."""
    rng = np.random.default_rng(2)
    X = sparse.random(300, 40, density=density, format="csc", random_state=3, dtype=dtype)  # (n_0, m)
    Theta, dZ = rng.normal(size=(6, 300)).astype(dtype), rng.normal(size=(6, 40)).astype(dtype)
    Z, dTheta = vp._sparse.matmul(Theta, X, np.empty((6, 40), dtype)), vp._sparse.matmul(dZ, X.T, np.empty((6, 300), dtype))
    tol = TOL[dtype] * 10  # sums of up to 150 products of size ~1: float32 rounds to ~1e-5 of them
    np.testing.assert_allclose(Z, Theta @ X.toarray(), rtol=0, atol=tol)
    np.testing.assert_allclose(dTheta, dZ @ X.toarray().T, rtol=0, atol=tol)


@pytest.mark.parametrize("engine", ["fast", "readable"])
@pytest.mark.parametrize("loss", ["cross_entropy", "poisson"])
def test_fit_on_sparse_equals_fit_on_dense(loss, engine):
    """Same seed, mini-batches, weights, validation: the same history and weights as the dense X."""
    net, X, Y = _problem(loss=loss, m=40)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 40)
    runs = []
    for data in (X, sparse.csr_matrix(X.T).T):  # the adapter's form: the transpose of CSR rows
        twin = net.copy()
        history = fit(twin, data, Y, sample_weight=w, epochs=4, batch_size=7, lr=0.01, l2=0.1, seed=3,
                      validation=(data, Y), engine=engine)
        runs.append((twin, history))
    (dense, h_dense), (sparse_net, h_sparse) = runs
    for key in ("cost", "val_cost"):
        np.testing.assert_allclose(h_sparse[key], h_dense[key], rtol=1e-12)
    np.testing.assert_allclose(sparse_net.flat, dense.flat, rtol=0, atol=1e-12)
    np.testing.assert_allclose(predict(sparse_net, sparse.csc_matrix(X)), predict(dense, X), rtol=0, atol=1e-12)
    assert validation_logs(sparse_net, sparse.csr_array(X), Y) == pytest.approx(validation_logs(dense, X, Y), rel=1e-12)


def test_lbfgs_on_sparse_equals_dense():
    pytest.importorskip("scipy.optimize")
    net, X, Y = _problem(m=25)
    dense, sparse_net = net.copy(), net.copy()
    h_dense = fit(dense, X, Y, optimizer="lbfgs", epochs=15)
    h_sparse = fit(sparse_net, sparse.csc_matrix(X), Y, optimizer="lbfgs", epochs=15)
    assert h_sparse.result.n_iter == h_dense.result.n_iter
    np.testing.assert_allclose(h_sparse["cost"], h_dense["cost"], rtol=1e-9)
    np.testing.assert_allclose(sparse_net.flat, dense.flat, rtol=0, atol=1e-8)


def test_a_wide_sparse_x_is_never_densified():
    """1,000,000 features x 300 examples: dense that would be 1.2 GB in float32; training stays far below it."""
    n_0, m = 1_000_000, 300
    rng = np.random.default_rng(0)
    nnz = 3000
    X = sparse.csc_matrix((rng.random(nnz, dtype=np.float32), (rng.integers(0, n_0, nnz), rng.integers(0, m, nnz))),
                          shape=(n_0, m))
    Y = vp.one_hot(rng.integers(0, 2, m), 2, "float32")
    net = vp.Network([n_0, 2, 2], ["relu", "softmax"], "cross_entropy", seed=0, dtype="float32")  # Theta[1]: 8 MB
    tracemalloc.start()
    try:
        fit(net, X, Y, epochs=2, batch_size=100, lr=0.01)
        predict(net, X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150e6, f"peak {peak / 1e6:.0f} MB: X was densified"


def test_sparse_x_errors_name_the_problem():
    net, X, Y = _problem()
    with pytest.raises(ValueError, match=r"sparse \(30, 12\).*did you mean X.T"):
        fit(net, sparse.csr_matrix(X.T), Y, epochs=1)
    bad = sparse.csc_matrix(X)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="non-finite stored value"):
        predict(net, bad)
    with pytest.raises(ValueError, match="sparse X trains in one process"):
        fit(net, sparse.csc_matrix(X), Y, epochs=1, comm=object())


def test_sparse_x_checkpoints_and_resumes_to_the_same_bits(tmp_path):
    """The data fingerprint hashes the CSR arrays (it used to fail on a sparse X with any checkpoint)."""
    from vecprop.callbacks import Checkpoint

    rng = np.random.default_rng(0)
    X = sparse.random(6, 40, density=0.3, format="csc", random_state=1)
    Y = vp.one_hot(rng.integers(0, 2, 40), 2)
    nets = [vp.Network([6, 5, 2], ["relu", "softmax"], "cross_entropy", seed=0, dtype="float64") for _ in range(2)]
    vp.fit(nets[0], X, Y, epochs=4, batch_size=8, seed=3)
    vp.fit(nets[1], X, Y, epochs=2, batch_size=8, seed=3, callbacks=[Checkpoint(tmp_path / "c.npz")])
    vp.fit(nets[1], X, Y, epochs=4, batch_size=8, seed=3, resume=tmp_path / "c.npz")
    assert nets[0].flat.tobytes() == nets[1].flat.tobytes()
    with pytest.raises(ValueError, match="other data"):
        vp.fit(nets[1], X * 2, Y, epochs=5, batch_size=8, seed=3, resume=tmp_path / "c.npz")
