"""The Python API at its edges: bad arguments fail at the boundary with a message naming them, and nothing that
would be silently wrong (a complex number cut to its real part, a stopped run that trains on) gets through."""
from __future__ import annotations

import re

import numpy as np
import pytest

import vecprop as vp
from vecprop.callbacks import Checkpoint, EarlyStopping
from vecprop.datasets import MinMaxScaler, Standardizer, load_npz

X = np.random.default_rng(0).standard_normal((2, 40))
Y = vp.one_hot((X[0] > 0).astype(int), 2)


def net(**kwargs) -> vp.Network:
    return vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"dropout": None}, "dropout must be one rate or L-1=1 rates"),
    ({"dropout": "high"}, "dropout rate for layer 1"),
    ({"init": 5}, "init must be one initializer name or L=2 names"),
    ({"init": ["he_normal", 5]}, "init must be one initializer name"),
    ({"seed": -1}, "seed must be a non-negative integer or a numpy Generator; got -1"),
    ({"seed": "a"}, "seed must be"),
    ({"dtype": "float16"}, "dtype must be 'float32' or 'float64'"),
])
def test_network_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        net(**kwargs)


def test_network_activations_must_be_listed():
    with pytest.raises(ValueError, match=r"activations must list one activation per layer \(L=2\); got None"):
        vp.Network([2, 3, 2], None)


@pytest.mark.parametrize("sizes, needle", [([784, 10**9, 10], "Theta[1] would need 2.9 TiB (1,000,000,000 x 784 numbers in float32)"),
                                           ([2, 10**17, 2], "Theta[1] would need 710.5 PiB (100,000,000,000,000,000 x 2"),
                                           ([2, 2**70, 2], "EiB")])
def test_absurd_sizes_are_a_value_error_with_the_estimate(sizes, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        vp.Network(sizes, ["relu", "softmax"], "cross_entropy")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"validation": (X,)}, ValueError, "validation must be a pair .* got a 1-tuple"),
    ({"validation": X}, ValueError, "got ndarray"),
    ({"l2": -1}, ValueError, "l2 must be a finite number >= 0; got -1"),
    ({"l2": float("nan")}, ValueError, "l2 must be a finite number >= 0; got nan"),
    ({"l2": "a"}, ValueError, "l2 must be"),
    ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
    ({"callbacks": 5}, TypeError, "callbacks must be a list of Callback objects; got int"),
    ({"callbacks": EarlyStopping()}, TypeError, "callbacks must be a list"),
    ({"schedule": 5}, TypeError, "schedule must be a vecprop schedule"),
    ({"optimizer": 5}, TypeError, "optimizer must be a name"),
])
def test_fit_arguments(kwargs, error, message):
    n = net()
    before = n.flat.copy()
    with pytest.raises(error, match=message):
        vp.fit(n, X, Y, epochs=1, **kwargs)
    assert np.array_equal(n.flat, before), "refused after training had started"


@pytest.mark.parametrize("which", ["X", "Y", "validation X"])
def test_complex_inputs_are_refused_not_cut_to_their_real_part(which):
    Xc, Yc, val = X, Y, None
    if which == "X":
        Xc = X + 1j
    elif which == "Y":
        Yc = Y + 0j
    else:
        val = (X + 1j, Y)
    with pytest.raises(TypeError, match="complex"):
        vp.fit(net(), Xc, Yc, epochs=1, validation=val)


@pytest.mark.parametrize("y, message", [(np.arange(20) % 3 + 1j, "complex"), (np.array(3.0), r"y must be \(m,\)"),
                                        (np.r_[np.arange(19.0) * 0.3, np.nan], "row 19 is nan"),
                                        (np.zeros((20, 2, 2)), r"y must be \(m,\)")])
def test_npz_targets_that_would_convert_with_loss(tmp_path, y, message):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((20, 2)), y=y)
    with pytest.raises(ValueError, match=message):
        load_npz(path)


def test_save_to_a_folder_writes_nothing(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        vp.save(net(), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("scaler", [Standardizer, MinMaxScaler])
def test_scalers_survive_numbers_near_the_float_limit(scaler):
    rows = np.array([[1e308, 1.0], [-1e308, 2.0], [1.7e308, 3.0], [-1.7e308, 5.0]])
    s = scaler().fit(rows)
    Z = s.transform(rows)
    assert np.isfinite(Z).all() and np.abs(Z).max() < 10
    assert np.allclose(Z[:, 1], scaler().fit_transform(rows[:, 1:])[:, 0])  # the ordinary column: as before
    if scaler is Standardizer:
        assert np.allclose(Z.mean(axis=0), 0, atol=1e-12) and np.allclose(Z.std(axis=0), 1)


def test_model_names_inputs_beyond_the_networks_range():
    model = vp.Model(net(), scaler="none")
    with pytest.raises(ValueError, match=r"X: row 1, network input 0: 1e\+39 is beyond .* float32"):
        model.predict(np.array([[0.0, 0.0], [1e39, 0.0]]))


def test_model_names_an_output_that_overflows():
    big = vp.Network([1, 1], ["identity"], "squared_error", dtype="float32")
    big.params[0][0][...] = 3e38
    model = vp.Model(big, scaler="none")
    with pytest.raises(ValueError, match="X: row 2: the network's output overflowed"):
        model.predict(np.array([[0.5], [1.0], [2.0]]))


def test_resuming_a_run_that_early_stopping_ended_stays_ended(tmp_path):
    """The checkpoint of the epoch early stopping stopped at: resuming must not train on (it used to)."""
    rng = np.random.default_rng(2)
    Xv, Yv = rng.standard_normal((2, 20)), vp.one_hot(rng.integers(0, 2, 20), 2)

    def run(resume=None):
        n = net(seed=1)
        stop = EarlyStopping(patience=2)
        hist = vp.fit(n, X, Y, epochs=200, batch_size=8, seed=3, validation=(Xv, Yv), resume=resume,
                      callbacks=[stop, Checkpoint(tmp_path / "ck.npz", callbacks=[stop])])
        return n.flat.copy(), len(hist.records), stop

    flat, epochs, stop = run()
    assert stop.stopped_epoch >= 0 and epochs < 200
    again, epochs_again, stop_again = run(resume=tmp_path / "ck.npz")
    assert np.array_equal(again, flat) and epochs_again == epochs and stop_again.stopped_epoch == stop.stopped_epoch


def test_resume_refuses_other_optimizer_settings(tmp_path):
    n = net()
    vp.fit(n, X, Y, epochs=2, optimizer=vp.optimizers.get_optimizer("adam", lr=0.01),
           callbacks=[Checkpoint(tmp_path / "ck.npz")])
    with pytest.raises(ValueError, match="lr 0.01 there, 0.02 here"):
        vp.fit(net(), X, Y, epochs=3, optimizer=vp.optimizers.get_optimizer("adam", lr=0.02),
               resume=tmp_path / "ck.npz")


@pytest.mark.parametrize("change, message", [({"batch_size": 16}, "batch_size 8 there, 16 here"),
                                             ({"l2": 0.1}, "l2 0.0 there, 0.1 here"),
                                             ({"clip_norm": 1}, "clip_norm None there, 1.0 here")])
def test_resume_refuses_other_fit_settings(tmp_path, change, message):
    """A resumed run with another batch size, penalty or clipping is not the run it claims to continue."""
    vp.fit(net(), X, Y, epochs=2, batch_size=8, callbacks=[Checkpoint(tmp_path / "ck.npz")])
    with pytest.raises(ValueError, match=message):
        vp.fit(net(), X, Y, epochs=3, resume=tmp_path / "ck.npz", **{"batch_size": 8, **change})


def test_playground_refuses_json_nested_thousands_deep():
    """The playground's API parses request bodies: nesting that exhausts the parser is a 400, not a crashed handler."""
    from playground_helpers import request, running_server

    with running_server() as server:
        status, _, body = request(server.url + "api/new", b"[" * 50000, {"Content-Type": "application/json"})
    assert status == 400 and b"nests too deeply" in body


def test_gradcheck_never_passes_a_nan_gradient():
    """Cross-entropy after a relu output: err' = -Y / A divides by 0. NaN used to pass with 'error 0'."""
    rng = np.random.default_rng(0)
    n = vp.Network([4, 5, 3], ["tanh", "relu"], "cross_entropy", seed=0, dtype="float64")
    Yr = vp.one_hot(rng.integers(0, 3, 8), 3)
    with np.errstate(all="ignore"):
        report = vp.gradcheck(n, rng.standard_normal((4, 8)), Yr)
    assert not report.ok and "nan" in str(report) and np.isnan(report.worst.rel_error)


def _deep(levels: int) -> dict:
    d: dict = {"leaf": 1}
    for _ in range(levels):
        d = {"a": d}
    return d


@pytest.mark.parametrize("call, error, message", [
    (lambda tmp: vp.datasets.load(""), TypeError, "name_or_path must be a data set name"),
    (lambda tmp: vp.datasets.load(None), TypeError, "got None"),
    (lambda tmp: vp.datasets.load("iris", n_samples="10"), ValueError, "n_samples must be a positive integer; got '10'"),
    (lambda tmp: vp.datasets.load("iris", n_samples=5, seed=-1), ValueError, "seed must be"),
    (lambda tmp: vp.datasets.load_csv(_csv(tmp), target=[]), ValueError, "target lists no column"),
    (lambda tmp: vp.Model(net(), scaler="none").predict(np.zeros((1, 2)) + 1j), TypeError, "complex"),
    (lambda tmp: vp.one_hot(np.array([0, 1]), 10**12), ValueError, "over 1,000,000,000,000 classes would need 7.3 TiB"),
    (lambda tmp: vp.one_hot(np.array([0, 1]), -1), ValueError, "n_classes must be a positive integer"),
    (lambda tmp: Standardizer().fit(np.array([[np.nan], [1.0]])), ValueError, "row 0, column 0 is nan"),
    (lambda tmp: MinMaxScaler().fit(np.array([[1.0], [np.inf]])), ValueError, "row 1, column 0 is inf"),
    (lambda tmp: vp.save(net(), tmp / "m.npz", extra=_deep(5000)), ValueError, "nests more than 32 levels"),
    (lambda tmp: vp.Model(net(), provenance=_deep(5000)), ValueError, "nests more than 32 levels"),
    (lambda tmp: vp.fit(net(), np.ones((2, 4)), vp.one_hot(np.array([0, 1, 0, 1]), 2), epochs=1,
                        sample_weight=np.ones(4) + 1j), TypeError, "sample_weight holds complex numbers"),
    (lambda tmp: vp.fit("net", np.ones((2, 4)), np.ones((2, 4)), epochs=1), TypeError, "net must be a vecprop.Network"),
    (lambda tmp: vp.fit(net(), np.ones((2, 4)), vp.one_hot(np.array([0, 1, 0, 1]), 2), epochs=1, callbacks=[5]),
     TypeError, "callbacks must be Callback objects"),
    (lambda tmp: vp.gradcheck(net(), np.ones((2, 3)), vp.one_hot(np.array([0, 1, 0]), 2), eps=0), ValueError,
     "eps must be"),
    (lambda tmp: vp.gradcheck(net(), np.ones((2, 3)), vp.one_hot(np.array([0, 1, 0]), 2), tol=float("nan")),
     ValueError, "tol must be"),
    (lambda tmp: vp.Model(net(), classes=[2**63 + 5, 1]), ValueError, "integer classes must fit in 64 bits"),
])
def test_library_entry_points(tmp_path, call, error, message):
    with pytest.raises(error, match=message):
        call(tmp_path)
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".*"))


def _csv(folder) -> str:
    path = folder / "d.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")
    return str(path)
