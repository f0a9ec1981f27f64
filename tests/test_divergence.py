"""A step that goes non-finite changes nothing: the network keeps the weights it had before it."""
import numpy as np
import pytest

import vecprop as vp
from vecprop.callbacks import Callback
from vecprop.optimizers import OPTIMIZERS, Optimizer, get_optimizer
from vecprop.training import TrainingDiverged, fit

STEP_OPTIMIZERS = sorted(OPTIMIZERS)


class _Weights(Callback):
    """The weights after every completed step (the first entry: before training)."""

    def on_train_begin(self, state):
        self.flats = [state.net.flat.copy()]

    def on_batch_end(self, state):
        self.flats.append(state.net.flat.copy())


def _data(m=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, m))
    return X, vp.one_hot((X[0] > 0).astype(int) + (X[1] > 1), 3)


@pytest.mark.parametrize("optimizer", STEP_OPTIMIZERS)
@pytest.mark.parametrize("block_bytes", [1 << 20, 64], ids=["one block", "16-value blocks"])
@pytest.mark.parametrize("numpy_errors", ["raise", "ignore"])
def test_the_network_keeps_the_weights_from_before_the_diverging_step(optimizer, block_bytes, numpy_errors):
    """Whether numpy raises mid-step (the test suite's setting) or the step's own check finds inf or NaN."""
    X, Y = _data()
    net = vp.Network([4, 16, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    opt = get_optimizer(optimizer, lr=1e30 if optimizer.startswith(("sgd", "mom", "nest")) else 1e36)
    opt._block_bytes = block_bytes  # many blocks: a later block fails after earlier ones were updated
    spy = _Weights()
    with np.errstate(all=numpy_errors), pytest.raises(TrainingDiverged, match=r"epoch \d+, batch \d+"):
        fit(net, X * 1e3, Y, optimizer=opt, epochs=20, batch_size=8, callbacks=[spy])
    np.testing.assert_array_equal(net.flat, spy.flats[-1])  # bit for bit: the last finite weights


def test_a_non_finite_cost_or_gradient_is_named_and_changes_nothing():
    X, Y = _data()
    net = vp.Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    before = net.flat.copy()
    X = X.copy()
    X[:, 5] = 3e38  # finite float32 input whose products overflow
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="non-finite (cost|gradient)"):
        fit(net, X, Y, optimizer="adam", epochs=1, batch_size=64)
    np.testing.assert_array_equal(net.flat, before)


@pytest.mark.parametrize("name", STEP_OPTIMIZERS)
def test_step_with_keep_is_the_same_step_and_keeps_the_weights_before_it(name):
    rng = np.random.default_rng(1)
    Theta = rng.normal(size=(40, 7)).astype(np.float32)
    grads = [rng.normal(size=Theta.shape).astype(np.float32) for _ in range(3)]
    plain, kept = get_optimizer(name), get_optimizer(name)
    for opt in (plain, kept):
        opt._block_bytes = 7 * 4 * 6  # blocks of 6 rows
    a, b, keep = Theta.copy(), Theta.copy(), np.empty_like(Theta)
    for g in grads:
        before = b.copy()
        plain.step([a], [g])
        kept.step([b], [g], keep=[keep])
        np.testing.assert_array_equal(b, a)  # the same bits as without keep
        np.testing.assert_array_equal(keep, before)


@pytest.mark.parametrize("name", STEP_OPTIMIZERS)
@pytest.mark.parametrize("bad", ["inf", "nan", "overflow"])
def test_step_with_keep_restores_every_block_when_a_later_one_fails(name, bad):
    rng = np.random.default_rng(2)
    params = [rng.normal(size=(30, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    grads = [rng.normal(size=p.shape).astype(np.float32) for p in params]
    opt = get_optimizer(name)
    opt._block_bytes = 5 * 4 * 4  # blocks of 4 rows: the failure is in the 8th block of params[0]
    opt.step([p.copy() for p in params], grads)  # state exists: the failing step is not the first
    if bad == "overflow":  # finite gradient, weights that overflow: only the step can tell
        params[0][29, 0], grads[0][29, 0], opt.lr = 3.3e38, -1e4, 1e38
    else:
        grads[0][29, 0] = np.inf if bad == "inf" else np.nan
    before = [p.copy() for p in params]
    keep = [np.empty_like(p) for p in params]
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match="non-finite"):
        opt.step(params, grads, keep=keep)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)


def test_step_with_keep_restores_when_numpy_raises_mid_step():
    params = [np.ones((12, 3), np.float32)]
    grads = [np.ones((12, 3), np.float32)]
    grads[0][11] = 3e38  # lr * g overflows in the last block
    opt = get_optimizer("sgd", lr=10.0)
    opt._block_bytes = 3 * 4 * 2
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        opt.step(params, grads, keep=[np.empty_like(params[0])])
    np.testing.assert_array_equal(params[0], 1.0)


def test_keep_must_match_the_params():
    opt = get_optimizer("sgd")
    with pytest.raises(ValueError, match="keep must hold one buffer like each parameter"):
        opt.step([np.ones(3)], [np.ones(3)], keep=[np.ones(4)])


class _Halving(Optimizer):
    """A user optimizer with its own step: fit keeps the copy-and-check guarantee for it."""

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g

    def _update(self, *args):  # pragma: no cover (step is overridden)
        raise AssertionError


def test_an_optimizer_with_its_own_step_keeps_the_guarantee():
    X, Y = _data()
    net = vp.Network([4, 16, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    spy = _Weights()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="non-finite"):
        fit(net, X * 1e3, Y, optimizer=_Halving(lr=1e36), epochs=20, batch_size=8, callbacks=[spy])
    np.testing.assert_array_equal(net.flat, spy.flats[-1])
