"""The playground's Python side: setup (the URL state), features, data, a session's steps, export, the session store."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop as vp
from vecprop.datasets.synthetic import NOISE
from vecprop.playground import Session, Setup, export_model, features
from vecprop.playground.data import MAX_POINTS, domain, generate, parse_csv, split
from vecprop.playground.session import MAX_GRADCHECK_PARAMS, divergence_message
from vecprop.playground.sessions import SessionExpired, SessionStore
from vecprop.walkthrough import Step


def small(**changes) -> Setup:
    """A quick setup: 60 xor points, a 2-3-1 network."""
    return Setup(**{"n": 60, "hidden": (3,), "act": ("tanh",), **changes})


# ---- setup: the URL state --------------------------------------------------------------------------
@pytest.mark.parametrize("query", [
    {},
    {"data": "spirals", "hidden": "5,3", "act": "relu,gelu", "head": "identity_se", "lr": "0.123456789"},
    {"data": "sine", "features": "x1,sin_x1,x1_sq", "hidden": "", "opt": "rmsprop", "stop": "12", "layer": "1"},
    {"data": "moons", "noise": "0", "dropout": "0.3", "l2": "0.01", "unfused": "1", "batch": "7", "seed": "41"},
])
def test_a_link_round_trips_the_setup(query):
    task = {"spirals": "multiclass", "sine": "regression"}.get(query.get("data"), "binary")
    setup = Setup.from_query(query).resolve(task, {"binary": 2, "multiclass": 3}.get(task, 0))
    assert Setup.from_query(setup.to_query()) == setup
    for key, text in query.items():
        assert setup.to_query()[key] == Setup.from_query({key: text}).to_query()[key]


def test_setup_fills_the_data_sets_defaults():
    setup = Setup.from_query({"data": "blobs", "hidden": "6"}).resolve("multiclass", 3)
    assert setup.noise == NOISE["blobs"] and setup.head == "softmax_ce" and setup.act == ("tanh",)


@pytest.mark.parametrize("query, task, message", [
    ({"colour": "red"}, "binary", "unknown setting 'colour'; valid settings: act, batch"),
    ({"lr": "fast"}, "binary", "setting lr='fast'"),
    ({"lr": "0"}, "binary", "setting lr must be in (0, 10]; got 0.0"),
    ({"hidden": "4,99"}, "binary", "at most 6 hidden layers of 1 to 32 units"),
    ({"act": "softmax"}, "binary", "setting act must be one of identity, sigmoid, tanh"),
    ({"act": "tanh,relu,relu"}, "binary", "one activation, or one per hidden layer (2)"),
    ({"features": "x3"}, "binary", "unknown feature 'x3'; valid features: x1, x2"),
    ({"head": "sigmoid_bce"}, "multiclass", "needs 2 classes; the data has 3: use softmax_ce"),
    ({"head": "softmax_ce"}, "regression", "regression needs identity_se"),
    ({"hidden": "", "dropout": "0.5"}, "binary", "dropout drops hidden units"),
    ({"layer": "4"}, "binary", "setting layer must be from 1 to L = 3"),
    ({"n": "100000"}, "binary", "setting n must be from 20 to 2000 points"),
    ({"unfused": "maybe"}, "binary", "setting unfused='maybe': must be 0 or 1"),
])
def test_setup_refuses_bad_values_naming_the_setting(query, task, message):
    with pytest.raises(ValueError) as err:
        Setup.from_query(query).resolve(task, 3 if task == "multiclass" else 2)
    assert message in str(err.value)


# ---- features and data ---------------------------------------------------------------------------
def test_features_are_the_named_formulas_of_the_raw_point():
    P = np.random.default_rng(0).standard_normal((2, 5))
    x1, x2 = P
    X = features(P, ["sin_x2", "x1", "x1_x2", "x2_sq", "x1_sq", "sin_x1", "x2"])  # in the order given
    for row, expected in zip(X, [np.sin(x2), x1, x1 * x2, x2 * x2, x1 * x1, np.sin(x1), x2]):
        np.testing.assert_array_equal(row, expected)
    with pytest.raises(ValueError, match="each once"):
        features(P, ["x1", "x1"])
    with pytest.raises(ValueError, match=r"raw points must be \(2, m\)"):
        features(P.T, ["x1"])


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals", "blobs", "sine"])
def test_every_data_set_gives_2d_points(name):
    pts = generate(name, 90, NOISE[name], seed=3)
    assert pts.P.shape == (2, 90) and pts.y.shape == (90,)
    assert (pts.classes is None) == (name == "sine")
    train, test = split(pts, 0.7, seed=3)
    assert train.m == 63 and test.m == 27
    both = np.concatenate([train.P, test.P], axis=1)
    assert sorted(map(tuple, both.T)) == sorted(map(tuple, pts.P.T))  # a partition of the points


def test_noise_zero_means_no_noise():
    xor = generate("xor", 40, 0.0, seed=0)
    assert set(map(tuple, xor.P.T)) == {(-1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (1.0, -1.0)}
    assert all(y == (x1 * x2 < 0) for (x1, x2), y in zip(xor.P.T, xor.y))
    sine = generate("sine", 40, 0.0, seed=0)
    np.testing.assert_array_equal(sine.y, np.sin(sine.P[0]))


def test_domain_is_a_square_around_every_point():
    P = np.array([[0.0, 4.0, 2.0], [1.0, 2.0, 1.5]])
    a, b, c, d = domain(P)
    assert b - a == pytest.approx(d - c) and b - a == pytest.approx(4.4)
    assert a < 0 and b > 4 and c < 1 and d > 2


def test_csv_classes_header_and_order():
    pts = parse_csv("x1,x2,label\n0,0,10\n1,1,2\n\n2,0,10\n0.5,-1,2\n", "classification")
    assert pts.classes == ("2", "10") and pts.task == "binary"  # sorted as numbers, not text
    np.testing.assert_array_equal(pts.y, [1, 0, 1, 0])
    np.testing.assert_array_equal(pts.P, [[0, 1, 2, 0.5], [0, 1, 0, -1]])
    named = parse_csv("0,0,cat\n1,1,dog\n2,2,emu\n", "classification")
    assert named.classes == ("cat", "dog", "emu") and named.task == "multiclass"
    values = parse_csv("0,0,0.5\n1,1,-2\n", "regression")
    np.testing.assert_array_equal(values.y, [0.5, -2.0])


@pytest.mark.parametrize("text, task, message", [
    ("0,0\n", "classification", "CSV line 1: expected 3 columns x1,x2,label; got 2"),
    ("x1,x2,y\n0,0,a\nzero,0,b\n", "classification", "CSV line 3: x1 and x2 must be numbers"),
    ("0,inf,a\n1,1,b\n", "classification", "CSV line 1: x1 and x2 must be finite"),
    ("0,0,a\n1,1,a\n", "classification", "needs 2 to 8 classes; the labels hold 1"),
    ("".join(f"{i},0,c{i}\n" for i in range(9)), "classification", "the labels hold 9"),
    ("0,0,1\n1,1,high\n", "regression", "CSV line 2: a regression label must be a finite number; got 'high'"),
    ("0,0,1\n", "regression", "needs at least 2 rows"),
    ("0,0,1\n" * (MAX_POINTS + 1), "regression", f"more than {MAX_POINTS} rows"),
    ("0,0,1\n" * 50_000, "regression", "larger than 256 KiB"),
    ("0,0,1\n1,1,2\n", "clustering", "task must be 'classification' or 'regression'"),
])
def test_csv_refuses_bad_files_naming_the_line(text, task, message):
    with pytest.raises(ValueError) as err:
        parse_csv(text, task)
    assert message in str(err.value)


# ---- a session: the readable engine, a step at a time ----------------------------------------------
def test_a_step_shows_network_gradients_on_the_same_batch():
    s = Session.create(small(opt="sgd", lr=0.5))
    s.step()
    rec, v = s.last, s.last.values
    net = vp.Network(s.net.sizes, [a.name for a in s.net.activations], s.net.loss, dtype="float64")
    net.flat[...] = rec.flat_before
    Xb = features(s.train_set.P[:, rec.idx], s.setup.features)
    grads = net.gradients(Xb, rec.Y)
    np.testing.assert_array_equal(v["A[0]"], Xb)
    for l, (dTheta, db) in enumerate(grads, start=1):
        np.testing.assert_allclose(v[f"dTheta[{l}]"], dTheta, rtol=1e-15, atol=1e-17)
        np.testing.assert_allclose(v[f"db[{l}]"], db, rtol=1e-15, atol=1e-17)
        np.testing.assert_allclose(v[f"dZ[{l}]"], net.cache.dZ[l], rtol=1e-15, atol=1e-17)
        np.testing.assert_allclose(v[f"Theta_new[{l}]"], v[f"Theta[{l}]"] - 0.5 * dTheta, rtol=1e-15, atol=1e-17)
    assert v["J"] == pytest.approx(net.cached_cost(rec.Y), rel=1e-15)
    assert "dA[2]" not in v  # sigmoid + BCE: fused


def test_unfused_shows_dA_L_and_the_same_gradients():
    fused, unfused = Session.create(small()), Session.create(small(unfused=True))
    fused.step(), unfused.step()
    a, b = fused.last.values, unfused.last.values
    assert "dA[2]" in b and "dA[2]" not in a
    np.testing.assert_allclose(b["dTheta[1]"], a["dTheta[1]"], rtol=0, atol=1e-15)


def test_training_stops_after_n_epochs_and_learns_xor():
    s = Session.create(small(stop=25, lr=0.05))
    s.train(100_000, 30.0)
    assert s.epoch == 25 and s.stopped and [row[0] for row in s.history] == list(range(26))
    assert s.history[-1][2] < 0.5 * s.history[0][2]  # the test cost at least halves
    s.step()
    assert s.epoch == 25  # stopped: a step does nothing


def test_reset_starts_again_from_the_same_weights():
    s = Session.create(small())
    first = s.net.flat.copy()
    s.train(20, 10.0)
    assert not np.array_equal(s.net.flat, first)
    s.reset()
    np.testing.assert_array_equal(s.net.flat, first)
    assert s.epoch == 0 and s.last is None and len(s.history) == 1


def test_a_live_change_keeps_the_weights_and_others_reset():
    s = Session.create(small())
    s.train(5, 10.0)
    trained = s.net.flat.copy()
    assert s.tune(Setup.from_query({**s.setup.to_query(), "lr": "0.1", "batch": "4", "layer": "2"}))
    np.testing.assert_array_equal(s.net.flat, trained)
    assert s.optimizer.lr == 0.1 and all(len(b) <= 4 for b in s._epoch_batches)
    assert not s.tune(Setup.from_query({**s.setup.to_query(), "hidden": "5"}))


def test_divergence_names_the_layer_and_keeps_finite_weights():
    s = Session.create(Setup(data="sine", n=100, lr=5.0, opt="sgd", hidden=(8, 8), act=("relu",)))
    s.train(1000, 10.0)
    assert s.diverged is not None
    assert "Training diverged at epoch" in s.diverged and "(layer " in s.diverged and "Try " in s.diverged
    assert np.isfinite(s.net.flat).all()
    steps_before = s.n_steps
    s.step()
    assert s.n_steps == steps_before  # paused until reset


def test_a_blow_up_in_eq_5_points_at_the_unfused_option():
    s = Session.create(small())
    msg = divergence_message(Step("(5)", 2, "dA", "dA[2] = err'(A[2], Y)"), s)
    assert "dA[2] (layer 2, (5)" in msg and "unticking 'unfused'" in msg


def test_gradient_check_of_the_last_step_with_dropout():
    s = Session.create(small(hidden=(4,), dropout=0.3))
    with pytest.raises(ValueError, match="take a step first"):
        s.check_gradients()
    s.step()
    assert s.last.masks[1] is not None
    rows = s.check_gradients()
    assert [(r["layer"], r["param"]) for r in rows] == [(1, "dTheta"), (1, "db"), (2, "dTheta"), (2, "db")]
    assert all(r["ok"] and r["rel_error"] < 1e-6 for r in rows)
    big = Session.create(small(hidden=(32, 32, 32), act=("tanh",)))
    big.step()
    with pytest.raises(ValueError, match=f"at most {MAX_GRADCHECK_PARAMS} parameters"):
        big.check_gradients()


def test_clicked_points_join_the_training_set():
    s = Session.create(small())
    m, version = s.train_set.m, s.points_version
    s.add_point(0.5, -0.25, 1)
    assert s.train_set.m == m + 1 and s.X_train.shape[1] == m + 1 and s.points_version == version + 1
    np.testing.assert_array_equal(s.train_set.P[:, -1], [0.5, -0.25])
    with pytest.raises(ValueError, match="class index 0..1"):
        s.add_point(0.0, 0.0, 2)


def test_export_loads_with_vecprop_and_predicts_like_the_session(tmp_path):
    s = Session.create(small(data="spirals", features=("x1", "x2", "x1_x2")))
    s.train(30, 10.0)
    path = tmp_path / "model.npz"
    path.write_bytes(export_model(s))
    model = vp.load_model(path)  # the raw points in, the session's classes out: the features are in the file
    assert model.feature_names == ("x1", "x2") and model.classes == (0, 1, 2) and model.task == "multiclass"
    assert model.provenance["playground"]["steps"] == 30 and model.network.sizes[0] == 3
    np.testing.assert_allclose(model.predict_proba(s.test_set.P.T), vp.predict(s.net, s.X_test).T, rtol=1e-12)
    np.testing.assert_array_equal(model.inputs(s.test_set.P.T), features(s.test_set.P, ("x1", "x2", "x1_x2")))
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(export_model(s, "onnx"), providers=["CPUExecutionProvider"])
    (labels,) = session.run(["label"], {"X": s.test_set.P.T.astype(np.float32)})
    assert labels.tolist() == model.predict(s.test_set.P.T).tolist()


# ---- the session store ----------------------------------------------------------------------------
def test_sessions_are_capped_and_expire():
    now = [0.0]
    store = SessionStore(max_sessions=2, ttl_s=60, clock=lambda: now[0])
    a, b = (store.add(Session.create(small())) for _ in range(2))
    store.get(a)  # a is now the most recent
    c = store.add(Session.create(small()))
    assert len(store) == 2
    with pytest.raises(SessionExpired):
        store.get(b)  # evicted: the least recently used
    assert store.get(a) is not store.get(c)
    now[0] = 61.0
    with pytest.raises(SessionExpired, match="the page starts a new one"):
        store.get(a)
    assert len(store) == 0
    with pytest.raises(SessionExpired):
        store.get(None)
