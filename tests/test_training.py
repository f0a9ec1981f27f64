"""The training loop: learning, mini-batch semantics, regularisation, early stopping, divergence, resume."""
import copy
import pickle

import numpy as np
import pytest

import vecprop as vp
from vecprop.callbacks import Callback, Checkpoint, EarlyStopping
from vecprop.optimizers import SGD
from vecprop.training import TrainingDiverged, batches, fit, predict

XOR_X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
XOR_Y = np.array([[0, 1, 1, 0]], dtype=float)


def _data(m=60, n_0=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_0, m))
    y = (X[0] + X[1] ** 2 > 0.5).astype(int) + (X[2] > 1).astype(int)
    return X, vp.one_hot(y % k, k, "float64")


def test_xor_reaches_100_percent():
    net = vp.Network([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0, dtype="float64")
    history = fit(net, XOR_X, XOR_Y, optimizer="adam", lr=0.05, epochs=400, batch_size=None)
    assert history["accuracy"][-1] == 1.0
    assert ((predict(net, XOR_X) >= 0.5) == XOR_Y).all()


def test_spirals_reach_95_percent_train_accuracy():
    ds = vp.datasets.load("spirals", seed=0)
    X, Y = ds.X.T, vp.one_hot(ds.y, 3)
    net = vp.Network([2, 64, 64, 3], ["relu", "relu", "softmax"], "cross_entropy", seed=0)
    fit(net, X, Y, optimizer="adam", lr=0.01, epochs=200, batch_size=64, seed=0)
    assert vp.metrics.accuracy(predict(net, X), Y, "multiclass") >= 0.95


def test_digits_reach_97_percent_test_accuracy():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    net = vp.Network([64, 128, 10], ["relu", "softmax"], "cross_entropy", seed=0)
    fit(net, X_tr.T, vp.one_hot(y_tr, 10), optimizer="adam", lr=1e-3, epochs=40, batch_size=32, seed=0)
    acc = vp.metrics.accuracy(predict(net, X_te.T), vp.one_hot(y_te, 10), "multiclass")
    assert acc >= 0.97


def test_full_batch_sgd_is_the_derivations_gradient_step():
    X, Y = _data()
    net = vp.Network([3, 5, 3], ["tanh", "softmax"], "cross_entropy", seed=1, dtype="float64")
    twin = net.copy()
    fit(net, X, Y, optimizer=SGD(lr=0.1), epochs=3, batch_size=None)
    for _ in range(3):
        for (Theta, b), (dTheta, db) in zip(twin.params, twin.gradients(X, Y)):
            Theta -= 0.1 * dTheta  # Theta[l] := Theta[l] - lr dTheta[l]
            b -= 0.1 * db
    np.testing.assert_allclose(net.flat, twin.flat, rtol=0, atol=1e-14)


def test_last_smaller_batch_uses_its_own_m():
    X, Y = _data(m=10)
    rng = np.random.default_rng(5)
    order = [idx.copy() for idx in batches(10, 4, np.random.default_rng(5))]
    assert [len(i) for i in order] == [4, 4, 2]
    net = vp.Network([3, 4, 3], ["sigmoid", "softmax"], "cross_entropy", seed=2, dtype="float64")
    twin = net.copy()
    fit(net, X, Y, optimizer=SGD(lr=0.5), epochs=1, batch_size=4, seed=rng)
    for idx in order:
        grads = twin.gradients(X[:, idx], Y[:, idx])  # 1/m with m = len(idx), also for the last batch
        for (Theta, b), (dTheta, db) in zip(twin.params, grads):
            Theta -= 0.5 * dTheta
            b -= 0.5 * db
    np.testing.assert_allclose(net.flat, twin.flat, rtol=0, atol=1e-14)


def test_same_seed_is_bit_identical_and_other_seed_differs():
    X, Y = _data()

    def run(seed):
        net = vp.Network([3, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0, dropout=0.2)
        fit(net, X, Y, optimizer="adam", epochs=5, batch_size=16, seed=seed)
        return net.flat.copy()

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_dropout_keeps_expected_scale_and_is_off_at_inference():
    net = vp.Network([20, 400, 2], ["relu", "softmax"], "cross_entropy", seed=0, dropout=0.3, dtype="float64")
    X = np.random.default_rng(0).normal(size=(20, 500))
    clean = net.forward(X)
    assert net.cache.M[1] is None  # no rng: inference, no mask
    A1 = net.cache.A[1].copy()
    net.forward(X, rng=np.random.default_rng(1))
    M = net.cache.M[1]
    assert set(np.unique(M)) == {0.0, 1 / 0.7}
    assert abs((M == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(net.cache.A[1].mean(), A1.mean(), rtol=0.02)  # inverted dropout
    np.testing.assert_array_equal(predict(net, X), clean)


def test_l2_adds_its_term_to_cost_and_gradient():
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy", seed=0, dtype="float64")
    lam, m = 0.7, X.shape[1]
    J0, J = net.cost(X, Y), net.cost(X, Y, l2=lam)
    assert J - J0 == pytest.approx(lam / (2 * m) * sum((T**2).sum() for T, _ in net.params))
    g0, g = net.gradients(X, Y), net.gradients(X, Y, l2=lam)
    for (T, _), (dT0, db0), (dT, db) in zip(net.params, g0, g):
        np.testing.assert_allclose(dT - dT0, lam / m * T, atol=1e-15)
        np.testing.assert_array_equal(db, db0)  # biases are exempt


class _Spy(Callback):
    def __init__(self):
        self.flats = []

    def on_epoch_end(self, state):
        self.flats.append((state.logs["val_cost"], state.net.flat.copy()))


def test_early_stopping_restores_best_validation_weights():
    X, Y = _data(m=80, seed=0)
    Xv, Yv = _data(m=40, seed=1)
    net = vp.Network([3, 32, 3], ["relu", "softmax"], "cross_entropy", seed=0, dtype="float64")
    spy, stop = _Spy(), EarlyStopping(patience=3)
    history = fit(net, X, Y, optimizer="adam", lr=0.05, epochs=300, batch_size=8,
                  validation=(Xv, Yv), callbacks=[spy, stop])
    assert len(history) < 300, "over-fitting should have stopped training early"
    best_cost, best_flat = min(spy.flats, key=lambda t: t[0])
    assert stop.best == best_cost
    np.testing.assert_array_equal(net.flat, best_flat)
    assert len(history) == stop.improved_epoch + 1 + 3  # patience 3: exactly 3 epochs without gain, then stop
    assert stop.stopped_epoch == stop.improved_epoch + 3 and stop.best_epoch == stop.improved_epoch  # min_delta 0


def test_early_stopping_counts_patience_from_the_last_gain_above_min_delta():
    """A gain under min_delta moves the best weights but not the count (scikit-learn's tol): the
    stop comes patience epochs after the last real gain, and the report says which epoch that was."""
    from types import SimpleNamespace

    from vecprop.cli.report import stop_reason

    stop = EarlyStopping(patience=3, min_delta=0.01)
    state = SimpleNamespace(net=SimpleNamespace(flat=np.zeros(2)), stop=False, epoch=0, logs={})
    for epoch, cost in enumerate([1.0, 0.5, 0.499, 0.498, 0.6]):
        state.epoch, state.logs = epoch, {"val_cost": cost}
        state.net.flat = np.full(2, float(epoch))
        stop.on_epoch_end(state)
    assert (stop.improved_epoch, stop.best_epoch, stop.stopped_epoch) == (1, 3, 4) and state.stop
    cfg = SimpleNamespace(optimizer="adam", epochs=100)
    assert stop_reason(cfg, stop, 5) == ("val_cost did not improve by more than --min-delta 0.01 for 3 epochs after "
                                         "epoch 2; kept epoch 4's weights, its best value")
    restored = EarlyStopping(patience=3, min_delta=0.01)
    restored.load_state_dict(stop.state_dict())
    assert restored.improved_epoch == 1


def test_divergence_raises_clear_error_and_keeps_finite_weights():
    X, Y = _data()
    net = vp.Network([3, 16, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, batch \d+"):
        fit(net, X * 1e3, Y, optimizer="sgd", lr=1e6, epochs=50, batch_size=8)
    assert np.isfinite(net.flat).all()


@pytest.mark.parametrize("copy_of", [lambda net: pickle.loads(pickle.dumps(net)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_copies_keep_params_as_views_of_flat(copy_of):
    """joblib and scikit-learn pickle fitted estimators: training the copy must move the weights its forward reads."""
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy", seed=0)
    fit(net, X, Y, epochs=1)
    twin = copy_of(net)
    assert all(np.shares_memory(Theta, twin.flat) and np.shares_memory(b, twin.flat) for Theta, b in twin.params)
    np.testing.assert_array_equal(predict(twin, X), predict(net, X))
    fit(twin, X, Y, epochs=3)
    assert not np.array_equal(predict(twin, X), predict(net, X))
    np.testing.assert_array_equal(twin.forward(X), predict(twin, X))


def test_bad_arguments_fail_at_the_boundary():
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy")
    with pytest.raises(ValueError, match="batch_size"):
        fit(net, X, Y, batch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        fit(net, X, Y, epochs=-1)
    with pytest.raises(ValueError, match="X.T"):
        fit(net, X.T, Y)
    with pytest.raises(ValueError, match="unknown optimizer|valid"):
        fit(net, X, Y, optimizer="adamz")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_resume_is_bit_identical(tmp_path, optimizer):
    X, Y = _data()
    Xv, Yv = _data(m=20, seed=1)
    kw = dict(optimizer=optimizer, lr=0.01, batch_size=16, validation=(Xv, Yv), seed=7)

    def net():
        return vp.Network([3, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0, dropout=0.1)

    straight = net()
    fit(straight, X, Y, epochs=6, schedule=vp.schedules.get_schedule("cosine", lr=0.01, total_epochs=6), **kw)

    ckpt = tmp_path / "ckpt.npz"
    first = net()
    fit(first, X, Y, epochs=3, callbacks=[Checkpoint(ckpt)],
        schedule=vp.schedules.get_schedule("cosine", lr=0.01, total_epochs=6), **kw)
    resumed = net()
    history = fit(resumed, X, Y, epochs=6, resume=ckpt,
                  schedule=vp.schedules.get_schedule("cosine", lr=0.01, total_epochs=6), **kw)
    assert np.array_equal(resumed.flat, straight.flat)
    assert [r["epoch"] for r in history.records] == list(range(6))


class _Hooks(Callback):
    """Records every hook fit calls, in order."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, state):
        self.calls.append("train_begin")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state):
        self.calls.append(f"batch_end {state.epoch}.{state.batch}")

    def on_epoch_end(self, state):
        self.calls.append(f"epoch_end {state.epoch} cost={state.logs['cost']:.12g}")

    def on_train_end(self, state):
        self.calls.append("train_end")


def test_lbfgs_fires_every_hook_of_fit_once_per_iteration():
    pytest.importorskip("scipy")
    X, Y = _data()
    Xv, Yv = _data(m=20, seed=1)
    net = vp.Network([3, 5, 3], ["tanh", "softmax"], "cross_entropy", seed=1, dtype="float64")
    hooks = _Hooks()
    history = fit(net, X, Y, optimizer="lbfgs", epochs=4, validation=(Xv, Yv), callbacks=[hooks])
    assert len(history) == 4 and {"cost", "accuracy", "val_cost", "val_accuracy"} <= set(history.keys())
    expected = ["train_begin"]
    for e, J in enumerate(history["cost"]):
        expected += [f"epoch_begin {e}", f"batch_end {e}.0", f"epoch_end {e} cost={J:.12g}"]
    assert hooks.calls == expected + ["train_end"]
    assert history["val_cost"][-1] == pytest.approx(net.cost(Xv, Yv), rel=1e-12)  # the weights it ended with


@pytest.mark.parametrize("arg", [dict(schedule=vp.schedules.get_schedule("constant", lr=0.1)), dict(clip_norm=1.0),
                                 dict(resume="ckpt.npz")])
def test_lbfgs_refuses_what_only_step_optimizers_do(arg):
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy")
    with pytest.raises(ValueError, match=f"L-BFGS trains full-batch in one process and takes no {next(iter(arg))}"):
        fit(net, X, Y, optimizer="lbfgs", **arg)


def test_lbfgs_refuses_a_network_with_dropout():
    """Full-batch L-BFGS runs the network in inference mode: dropout would be silently off."""
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy", dropout=0.2)
    with pytest.raises(ValueError, match="dropout"):
        fit(net, X, Y, optimizer="lbfgs")


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_validation_must_be_a_pair_or_a_triple(optimizer):
    X, Y = _data()
    net = vp.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy")
    with pytest.raises(ValueError, match=r"validation must be a pair \(X_val, Y_val\) or a triple"):
        fit(net, X, Y, optimizer=optimizer, validation=(X,))


@pytest.mark.parametrize("change, message", [
    (dict(activations=["tanh", "softmax"]), "its activations is"),
    (dict(dtype="float32"), "its dtype is"),
    (dict(optimizer="sgd"), "another optimizer: Adam, where this run uses SGD"),
    (dict(lr=0.02), "another optimizer setting: lr 0.01 there, 0.02 here"),
    (dict(data_seed=5), "trained on other data"),
])
def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, change, message):
    from vecprop.callbacks import Checkpoint

    def run(activations=("relu", "softmax"), dtype="float64", optimizer="adam", lr=0.01, data_seed=0, **kw):
        X, Y = _data(m=40, seed=data_seed)
        net = vp.Network([3, 8, 3], list(activations), "cross_entropy", seed=0, dtype=dtype)
        return fit(net, X, Y, optimizer=optimizer, lr=lr, epochs=3, batch_size=8, seed=1, **kw)

    path = tmp_path / "ck.npz"
    run(callbacks=[Checkpoint(path)])
    assert vp.load_checkpoint(path).epoch == 3  # completed epochs
    run(resume=path)  # the same run resumes (nothing left to do at epoch 3 of 3)
    with pytest.raises(ValueError, match=message):
        run(resume=path, **change)
