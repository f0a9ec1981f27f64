"""The fast engine computes the readable path's numbers, without per-step allocations."""
import doctest
import inspect
import tracemalloc

import numpy as np
import pytest

import vecprop as vp
import vecprop.fast
from vecprop.activations import ACTIVATIONS, Activation
from vecprop.fast import FastPath
from vecprop.optimizers import SGD, Adam
from vecprop.metrics import evaluate, n_correct
from vecprop._checks import as_columns
from vecprop.inference import chunk_size
from vecprop.training import ENGINES, fit, predict, validation_logs

# output activation + loss: fused (dZ = A - Y) and through (5) and (C)
OUTPUTS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("identity", "squared_error"),
           ("softmax", "squared_error"), ("tanh", "absolute_error"), ("sigmoid", "huber")]
HIDDEN = sorted(ACTIVATIONS)
# float64 agrees to the last bits; float32 to its rounding (a few ulps of the largest entry)
TOL = {"float64": 1e-12, "float32": 2e-6}


def _problem(hidden, output, loss, dtype, m=23, dropout=0.0, seed=0):
    rng = np.random.default_rng(seed)
    net = vp.Network([5, 7, 6, 4], [hidden, hidden, output], loss, seed=seed, dtype=dtype, dropout=dropout)
    X_rows = rng.normal(size=(m, 5)).astype(dtype)  # row-major data, used through its transpose like fit
    if loss == "cross_entropy":
        Y = vp.one_hot(rng.integers(0, 4, m), 4, dtype)
    else:
        Y = rng.uniform(size=(4, m)).astype(dtype)
    return net, X_rows.T, Y


def _both(net, X, Y, l2=0.0, seed=None):
    """(A[L], J, packed gradient) from the readable path and from the fast engine, same dropout draws."""
    rng = None if seed is None else np.random.default_rng(seed)
    A_read = net.forward(X, rng=rng)
    J_read = net.cached_cost(Y, l2=l2)
    g_read = net.flatten(net.backward(Y, l2=l2))
    fast, rng = FastPath(net), None if seed is None else np.random.default_rng(seed)
    A_fast = fast.forward(X, rng=rng).copy()
    J_fast = fast.cached_cost(Y, l2=l2)
    g_fast = np.empty_like(net.flat)
    fast.backward_into(Y, g_fast, l2=l2)
    return (A_read, J_read, g_read), (A_fast, J_fast, g_fast)


def _assert_grads_agree(net, g_read, g_fast, tol):
    scale = float(np.abs(g_read).max())
    for l, ((dT_r, db_r), (dT_f, db_f)) in enumerate(zip(net.views(g_read), net.views(g_fast)), start=1):
        np.testing.assert_allclose(dT_f, dT_r, rtol=0, atol=tol * scale, err_msg=f"layer {l} dTheta")
        np.testing.assert_allclose(db_f, db_r, rtol=0, atol=tol * scale, err_msg=f"layer {l} db")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output,loss", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_fast_engine_agrees_with_readable_path(hidden, output, loss, dtype):
    net, X, Y = _problem(hidden, output, loss, dtype)
    (A_r, J_r, g_r), (A_f, J_f, g_f) = _both(net, X, Y)
    tol = TOL[dtype]
    np.testing.assert_allclose(A_f, A_r, rtol=0, atol=tol * float(np.abs(A_r).max()), err_msg="A[L]")
    assert J_f == pytest.approx(J_r, rel=tol, abs=tol)
    _assert_grads_agree(net, g_r, g_f, tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden,output,loss", [("relu", "softmax", "cross_entropy"), ("tanh", "sigmoid",
                         "binary_cross_entropy"), ("gelu", "identity", "squared_error")])
def test_dropout_and_l2_agree(hidden, output, loss, dtype):
    net, X, Y = _problem(hidden, output, loss, dtype, m=40, dropout=[0.3, 0.5])
    (A_r, J_r, g_r), (A_f, J_f, g_f) = _both(net, X, Y, l2=0.3, seed=7)
    assert net.cache.M[1] is not None and (net.cache.M[1] == 0).any()  # units were dropped
    tol = TOL[dtype]
    np.testing.assert_allclose(A_f, A_r, rtol=0, atol=tol * float(np.abs(A_r).max()), err_msg="A[L]")
    assert J_f == pytest.approx(J_r, rel=tol)
    _assert_grads_agree(net, g_r, g_f, tol)


def test_dropout_draws_the_same_masks_and_consumes_the_same_randomness():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float32", m=64, dropout=0.5)
    r_read, r_fast = np.random.default_rng(3), np.random.default_rng(3)
    net.forward(X, rng=r_read)
    fast = FastPath(net)
    fast.forward(X, rng=r_fast)
    ws = fast.workspace(64, dropout=True)
    for l in (1, 2):
        np.testing.assert_array_equal(ws.M[l], net.cache.M[l], err_msg=f"layer {l} dropout mask")
    assert r_read.random() == r_fast.random()


def test_no_dropout_without_rng():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float64", dropout=0.5)
    # to the last bits (the softmax's column sums are a product here, a reduction there); a dropped
    # unit (p = 0.5) would change A[L] by far more
    np.testing.assert_allclose(FastPath(net).forward(X), net.forward(X), rtol=1e-15, atol=1e-16)


class _DoubledReLU(Activation):
    """A user activation that reuses a built-in name: it must not get the built-in's kernel."""

    name = "relu"

    def value(self, Z):
        return 2 * np.maximum(Z, 0)

    def derivative(self, Z, A=None):
        return 2 * (Z > 0).astype(Z.dtype)


class _Cube:
    """A duck-typed activation (value/derivative only)."""

    def value(self, Z):
        return Z**3

    def derivative(self, Z):
        return 3 * Z**2


@pytest.mark.parametrize("act", [_DoubledReLU(), _Cube()], ids=["subclass-named-relu", "duck-typed"])
def test_user_activations_take_the_allocating_fallback(act):
    net = vp.Network([5, 7, 4], [act, "softmax"], "cross_entropy", seed=0, dtype="float64")
    _, X, Y = _problem("relu", "softmax", "cross_entropy", "float64")
    (A_r, J_r, g_r), (A_f, J_f, g_f) = _both(net, X, Y)
    np.testing.assert_allclose(A_f, A_r, rtol=0, atol=1e-13)
    _assert_grads_agree(net, g_r, g_f, TOL["float64"])


def test_gradient_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float64", m=16)
    g = np.empty_like(net.flat)
    fast = FastPath(net)
    fast.forward(X)
    J = fast.cached_cost(Y)
    fast.backward_into(Y, g)
    layers = []
    for Theta, b in net.params:
        lin = torch.nn.Linear(Theta.shape[1], Theta.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(Theta))  # torch's weight is (out, in): Theta itself
            lin.bias.copy_(torch.from_numpy(b[:, 0]))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(np.ascontiguousarray(X.T))),
                                             torch.from_numpy(Y.argmax(axis=0)))
    loss.backward()
    assert J == pytest.approx(loss.item(), rel=1e-12)
    for l, ((dTheta, db), lin) in enumerate(zip(net.views(g), layers[::2]), start=1):
        np.testing.assert_allclose(dTheta, lin.weight.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"layer {l} dTheta")
        np.testing.assert_allclose(db[:, 0], lin.bias.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"layer {l} db")


def test_a_step_allocates_no_buffers_after_the_first():
    net = vp.Network([50, 128, 64, 10], ["relu", "relu", "softmax"], "cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 50)).astype(np.float32).T
    Y = vp.one_hot(rng.integers(0, 10, 512), 10)
    fast, grad = FastPath(net), np.empty_like(net.flat)

    def step():
        fast.forward(X)
        fast.cached_cost(Y)
        fast.backward_into(Y, grad)

    step()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy's ufunc iterator may take its 8192-element scratch buffer (32 KiB) for a broadcast or a
    # cast; a buffer of the step's own, like Z[2] (64, 512) float32, would be 128 KiB.
    assert peak <= 2 * 8192 * 4 < 64 * 512 * 4, f"a step allocated {peak} bytes"


def test_workspaces_are_reused_per_batch_size():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float32", m=30)
    fast = FastPath(net)
    A1 = fast.forward(X)
    assert fast.forward(X) is A1  # same m: the same buffer
    assert fast.forward(X[:, :7]).shape == (4, 7)
    assert fast.workspace(30) is fast.workspace(30) and fast.workspace(7) is not fast.workspace(30)
    for m in (1, 2, 3, 4, 5):
        fast.forward(X[:, :m])
    assert len(fast._spaces) <= FastPath._max_spaces


def test_results_survive_a_forward_of_another_batch_size():
    net, X, Y = _problem("tanh", "softmax", "cross_entropy", "float64", m=30)
    fast, g1, g2 = FastPath(net), np.empty_like(net.flat), np.empty_like(net.flat)
    fast.forward(X)
    fast.backward_into(Y, g1)
    fast.forward(X[:, :5])
    fast.forward(X)
    fast.backward_into(Y, g2)
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_with_either_engine_reaches_the_same_weights(optimizer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 70))
    Y = vp.one_hot((X[0] + X[1] > 0).astype(int) + (X[2] > 1), 3, "float64")
    nets = {e: vp.Network([6, 9, 8, 3], ["relu", "tanh", "softmax"], "cross_entropy", seed=1, dtype="float64",
                          dropout=0.2) for e in ("readable", "fast")}
    hist = {}
    for engine, net in nets.items():  # batch 16: the last batch of each epoch has m = 6
        opt = SGD(lr=0.1) if optimizer == "sgd" else Adam(lr=0.01)
        hist[engine] = fit(net, X, Y, optimizer=opt, epochs=4, batch_size=16, l2=0.01, seed=3, engine=engine)
    np.testing.assert_allclose(nets["fast"].flat, nets["readable"].flat, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hist["fast"]["cost"], hist["readable"]["cost"], rtol=1e-12)
    assert hist["fast"]["accuracy"] == hist["readable"]["accuracy"]


def test_fast_is_fits_default_engine():
    assert ENGINES["fast"] is FastPath
    assert inspect.signature(fit).parameters["engine"].default == "fast"


def test_bad_inputs_fail_with_the_shape_or_dtype():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float32")
    fast = FastPath(net)
    with pytest.raises(RuntimeError, match="forward pass first"):
        fast.cached_cost(Y)
    with pytest.raises(ValueError, match=r"float32 array of shape \(n_0=5, m\); got float64"):
        fast.forward(X.astype(np.float64))
    with pytest.raises(ValueError, match=r"got float32 \(23, 5\)"):
        fast.forward(X.T)
    fast.forward(X)
    with pytest.raises(ValueError, match=r"Y must be \(n_L=4, m=23\)"):
        fast.cached_cost(Y[:, :5])
    with pytest.raises(ValueError, match=r"out must be a float32 vector of shape"):
        fast.backward_into(Y, np.empty(3, np.float32))


def test_docstring_example_runs():
    result = doctest.testmod(vecprop.fast, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_engines_cache_shows_the_last_forwards_activations_and_masks():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float64", m=40, dropout=0.4)
    net.forward(X, rng=np.random.default_rng(2))
    readable = net.cache
    path = FastPath(net)
    path.forward(X, rng=np.random.default_rng(2))
    fast = path.cache
    assert net.cache is readable, "the fast engine wrote net.cache: it owns its buffers"
    for l in range(net.L + 1):
        np.testing.assert_allclose(fast.A[l], readable.A[l], rtol=0, atol=1e-13, err_msg=f"A[{l}]")
    for l in (1, 2):
        np.testing.assert_array_equal(fast.M[l], readable.M[l], err_msg=f"M[{l}]")
        np.testing.assert_allclose(fast.alpha_Z[l], readable.alpha_Z[l], rtol=0, atol=1e-13)
    assert fast.Z[1] is None and fast.dZ == [None] * (net.L + 1)  # overwritten in place: not shown


def test_training_imports_no_second_blas():
    """scipy brings its own OpenBLAS: two BLAS thread pools in the hot loop fight for the cores."""
    import subprocess
    import sys

    code = ("import sys, vecprop, vecprop.training, vecprop.fast; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'sklearn', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- inference: predict and validation_logs run the fast engine's forward ------------------------

TASK_OF_OUTPUT = {"cross_entropy": "multiclass", "binary_cross_entropy": "multilabel"}


@pytest.mark.parametrize("layout", ["rows.T", "C"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output,loss", OUTPUTS)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "gelu"])
def test_predict_and_validation_logs_agree_with_the_readable_forward(hidden, output, loss, dtype, layout):
    net, X, Y = _problem(hidden, output, loss, dtype, m=50, dropout=0.3)  # dropout: off at inference
    X = X if layout == "rows.T" else np.ascontiguousarray(X)
    l2, tol = 0.2, TOL[dtype]
    A_read = net.forward(X)  # the derivation line by line, whole set, no rng: no dropout
    J_read = net.cached_cost(Y, l2=l2)
    task = TASK_OF_OUTPUT.get(loss, "regression")
    for chunk in (None, 50, 16):  # chunk_size(net); one chunk; four chunks, the last of 2 columns
        A_fast = predict(net, X, batch_size=chunk)
        assert A_fast.shape == A_read.shape and A_fast.dtype == net.dtype
        np.testing.assert_allclose(A_fast, A_read, rtol=0, atol=tol * float(np.abs(A_read).max()),
                                   err_msg=f"predict, chunk {chunk}")
        logs = validation_logs(net, X, Y, l2=l2, chunk=chunk)
        assert logs["val_cost"] == pytest.approx(J_read, rel=tol), f"chunk {chunk}"
        for k, v in evaluate(A_read, Y, task).items():
            assert logs[f"val_{k}"] == pytest.approx(v, rel=tol, abs=tol), f"val_{k}, chunk {chunk}"


def test_predict_checks_X_once_at_the_boundary():
    net, X, _ = _problem("relu", "softmax", "cross_entropy", "float32")
    np.testing.assert_array_equal(predict(net, X.astype(np.float64)), predict(net, X))  # converted once
    with pytest.raises(ValueError, match="X.T"):
        predict(net, X.T)
    bad = np.array(X)
    bad[2, 9] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at row 2, column \(example\) 9"):
        predict(net, bad, batch_size=4)
    for bad_size in (0, -4, 2.5):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            predict(net, X, batch_size=bad_size)
        with pytest.raises(ValueError, match="chunk must be a positive integer"):
            validation_logs(net, X, vp.one_hot(np.zeros(23, int), 4), chunk=bad_size)


def test_chunk_size_is_smaller_only_for_networks_that_fit_the_cache():
    small = vp.Network([64, 32, 10], ["relu", "softmax"], "cross_entropy")
    mnist = vp.Network([784, 256, 128, 10], ["relu", "relu", "softmax"], "cross_entropy")
    assert chunk_size(small) == 2048 and chunk_size(mnist) == 4096
    assert chunk_size(small.astype("float64")) == 2048 and chunk_size(vp.Network([200, 60, 2], ["relu", "softmax"],
                                                                                   "cross_entropy")) == 4096


def test_finite_entries_whose_sum_overflows_are_accepted():
    """The boundary's finiteness check sums X first: an overflowing sum must fall back, not refuse."""
    X = np.full((3, 5), 3e38, np.float32)
    assert as_columns(X, 3, np.dtype(np.float32)) is X
    for bad in (np.inf, -np.inf, np.nan):
        X[1, 2] = bad
        with pytest.raises(ValueError, match=r"non-finite value .* at row 1, column \(example\) 2"):
            as_columns(X, 3, np.dtype(np.float32))


def test_validation_targets_are_checked_once_at_the_boundary():
    net, X, Y = _problem("relu", "softmax", "cross_entropy", "float64")
    not_one_hot = Y * 2.0
    with pytest.raises(ValueError, match="probability vector"):
        validation_logs(net, X, not_one_hot)
    before = net.flat.copy()
    with pytest.raises(ValueError, match="probability vector"):  # fit refuses it before the first step
        fit(net, X, Y, optimizer=SGD(lr=0.1), epochs=1, validation=(X, not_one_hot))
    np.testing.assert_array_equal(net.flat, before)


def test_fit_logs_validation_and_regression_metrics_of_the_readable_forward():
    net, X, Y = _problem("tanh", "identity", "squared_error", "float64", m=40)
    Xv, Yv = X[:, :15], Y[:, :15]
    hist = fit(net, X, Y, optimizer=SGD(lr=0.05), epochs=2, batch_size=16, l2=0.1, validation=(Xv, Yv))
    A, A_val = net.forward(X), net.forward(Xv)  # the final weights, read line by line
    assert hist["val_cost"][-1] == pytest.approx(net.cost(Xv, Yv, l2=0.1), rel=1e-12)
    for k, v in evaluate(A, Y, "regression").items():
        assert hist[k][-1] == pytest.approx(v, rel=1e-12), k
    for k, v in evaluate(A_val, Yv, "regression").items():
        assert hist[f"val_{k}"][-1] == pytest.approx(v, rel=1e-12), f"val_{k}"


@pytest.mark.parametrize("output,loss,n_L", [("softmax", "cross_entropy", 4), ("sigmoid", "binary_cross_entropy", 1),
                                             ("sigmoid", "binary_cross_entropy", 3)],
                         ids=["multiclass", "binary", "multilabel"])
def test_an_epoch_without_steps_logs_the_cost_and_accuracy_of_the_whole_set(output, loss, n_L):
    # lr = 0: the weights never move, so the epoch's mean over its mini-batches (gathered in
    # batches of 7, the last of 2) is the cost and accuracy of the whole set at those weights.
    rng = np.random.default_rng(4)
    net = vp.Network([5, 8, n_L], ["relu", output], loss, seed=3, dtype="float64")
    X = rng.normal(size=(5, 51))
    Y = vp.one_hot(rng.integers(0, n_L, 51), n_L, "float64") if n_L > 1 and loss == "cross_entropy" \
        else (rng.uniform(size=(n_L, 51)) > 0.5).astype(np.float64)
    task = "multiclass" if loss == "cross_entropy" else "binary" if n_L == 1 else "multilabel"
    hist = fit(net, X, Y, optimizer=SGD(lr=0.0), epochs=1, batch_size=7, seed=1)
    assert hist["cost"][0] == pytest.approx(net.cost(X, Y), rel=1e-12)
    assert hist["accuracy"][0] == n_correct(net.forward(X), Y, task) / 51
