"""ONNX export: onnxruntime and ONNX's reference evaluator give Model.predict's labels and probabilities."""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from vecprop import ACTIVATIONS, Model, Network
from vecprop.datasets import MinMaxScaler, Standardizer
from vecprop.preprocessing import Column, Preprocessor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402

from cli_helpers import vecprop as run_cli  # noqa: E402

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
# output layer, loss, task, classes: every output/loss pair the library's tasks use
HEADS = {
    "softmax-ce": ("softmax", "cross_entropy", "multiclass", ["setosa", "versicolor", "virginica"]),
    "sigmoid-bce": ("sigmoid", "binary_cross_entropy", "binary", [3, 7]),
    "sigmoid-bce-multilabel": ("sigmoid", "binary_cross_entropy", "multilabel", ["red", "round", "ripe"]),
    "softmax-squared": ("softmax", "squared_error", "multiclass", [10, 20, 30]),
    "identity-squared": ("identity", "squared_error", "regression", None),
    "identity-absolute": ("identity", "absolute_error", "regression", None),
    "identity-huber": ("identity", {"name": "huber", "delta": 0.5}, "regression", None),
}
BATCHES = (1, 7, 1000)


def make_model(hidden: str, head: str, dtype: str = "float32") -> Model:
    out, loss, task, classes = HEADS[head]
    n_L = 1 if task == "binary" else 3 if task != "regression" else 2
    rng = np.random.default_rng(zlib.crc32(f"{hidden} {head}".encode()))
    act = {"name": "leaky_relu", "slope": 0.1} if hidden == "leaky_relu" else hidden
    net = Network([4, 6, 5, n_L], [act, act, out], loss, seed=rng, dtype=dtype)
    net.flat[...] = rng.normal(scale=0.2 if hidden == "exp" else 0.8, size=net.flat.size)  # e^(e^z) overflows
    scaler = Standardizer().fit(rng.normal(size=(50, 4)) * 3 + 1)
    target = Standardizer().fit(rng.normal(size=(50, 2)) * 100) if task == "regression" else None
    return Model(net, task=task, classes=classes, feature_names=["sl", "sw", "pl", "pw"], scaler=scaler,
                 target_scaler=target)


def rows(m: int) -> np.ndarray:
    return np.random.default_rng(m).normal(size=(m, 4)) * 3 + 1


def run_both(proto, X: np.ndarray) -> list[list[np.ndarray]]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return [session.run(names, {"X": X}), ReferenceEvaluator(proto).run(names, {"X": X})]


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_runtimes_agree_with_the_model(hidden, head):
    model = make_model(hidden, head)
    proto = model.to_onnx()
    onnx.checker.check_model(proto, full_check=True)
    graph_inputs = proto.graph.input
    assert [i.name for i in graph_inputs] == ["X"]
    assert graph_inputs[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert sum(n.op_type == "Gemm" for n in proto.graph.node) == model.network.L
    for m in BATCHES:
        X = rows(m)
        for outputs in run_both(proto, X.astype(np.float32)):
            if model.task == "regression":
                (pred,) = outputs
                assert pred.shape == (m, 2)
                np.testing.assert_allclose(pred, model.predict(X), rtol=1e-5, atol=1e-5 * 100)
            else:
                label, proba = outputs
                assert label.tolist() == model.predict(X).tolist()
                want = model.predict_proba(X)
                assert proba.shape == want.shape
                np.testing.assert_allclose(proba, want, atol=1e-5)


@pytest.mark.parametrize("hidden", ["relu", "elu", "leaky_relu", "softplus", "gelu"])
def test_float64_export_matches_to_double_rounding(hidden):
    model = make_model(hidden, "softmax-ce", dtype="float64")
    proto = model.to_onnx(dtype="float64")
    X = rows(7)
    for label, proba in run_both(proto, X):
        assert proba.dtype == np.float64 and label.tolist() == model.predict(X).tolist()
        np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_opsets(opset):
    proto = make_model("tanh", "sigmoid-bce").to_onnx(opset=opset)
    assert proto.opset_import[0].version == opset
    label, _ = run_both(proto, rows(5).astype(np.float32))[0]
    assert label.dtype == np.int64 and set(label.tolist()) <= {3, 7}


def test_metadata_props_name_the_classes_features_and_version():
    import vecprop

    props = {p.key: p.value for p in make_model("relu", "softmax-ce").to_onnx().metadata_props}
    assert json.loads(props["classes"]) == ["setosa", "versicolor", "virginica"]
    assert json.loads(props["feature_names"]) == ["sl", "sw", "pl", "pw"]
    assert props["vecprop_version"] == vecprop.__version__ and props["task"] == "multiclass"


def test_missing_values_and_minmax_scaling_are_inside_the_graph():
    net = Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    pre = Preprocessor([Column(fill=4.0), Column()], MinMaxScaler().fit(np.array([[0.0, 1.0], [8.0, 3.0]])))
    model = Model(net, preprocessing=pre, classes=["n", "y"])
    X = np.array([[np.nan, 2.0], [1.0, 1.5]])
    for label, proba in run_both(model.to_onnx(), X.astype(np.float32)):
        np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)


def test_bad_exports_are_clear_errors(tmp_path):
    model = make_model("relu", "softmax-ce")
    with pytest.raises(ValueError, match="opset must be an integer from 13"):
        model.to_onnx(opset=9)
    with pytest.raises(ValueError, match="dtype must be"):
        model.to_onnx(dtype="float16")
    cat = Model(Network([2, 2], ["softmax"], "cross_entropy", seed=0),
                preprocessing=Preprocessor([Column("categorical", categories=("a", "b"))]))
    with pytest.raises(ValueError, match="categorical"):
        cat.to_onnx()


def test_cli_export_then_onnxruntime(tmp_path):
    model = make_model("gelu", "softmax-ce")
    model.save(tmp_path / "m.npz")
    r = run_cli("export", "m.npz", "-o", "m.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "input X (batch, 4) float32, outputs label, probabilities" in r.stdout
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    X = rows(9).astype(np.float32)
    label, _ = session.run(["label", "probabilities"], {"X": X})
    assert label.tolist() == model.predict(X).tolist()
    bad = run_cli("export", "m.npz", "-o", "m.onnx", "--opset", "3", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("vecprop: error: ") and "opset" in bad.stderr


def test_float_and_large_int_classes_come_out_exactly():
    """Float classes are not rounded to the graph's float32 (16777217.0 is no float32)."""
    net = Network([4, 3], ["softmax"], "cross_entropy", seed=0)
    for classes in ([0.1, 0.2, 16777217.0], [2**62 + 1, -(2**63), 7]):
        model = Model(net, scaler="none", classes=classes)
        X = rows(50).astype(np.float32)
        for label in (out[0] for out in run_both(model.to_onnx(), X)):
            assert label.tolist() == model.predict(X).tolist()
            assert set(label.tolist()) <= set(classes)
