"""One artifact, every entry point: a model written by the CLI, by Python or by an estimator is read the
same way by `vecprop predict`, `vecprop.load_model` and onnxruntime."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import vecprop
from cli_helpers import SRC, vecprop as cli
from vecprop.datasets import Standardizer

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """iris.csv with string labels, and the rows of a shuffled copy whose columns are in another order."""
    root = tmp_path_factory.mktemp("one-model")
    ds = vecprop.datasets.load("iris")
    names = np.asarray(ds.classes)[ds.y]
    with open(root / "iris.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*FEATURES, "species"])
        w.writerows([*map(float, x), c] for x, c in zip(ds.X, names))
    order = [3, "species", 1, 0, 2]  # target in the middle, features reordered
    with open(root / "reordered.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([FEATURES[j] if j != "species" else "species" for j in order])
        w.writerows([c if j == "species" else float(x[j]) for j in order] for x, c in zip(ds.X, names))
    return root, ds.X, names


def _three_writers(root: Path, X: np.ndarray, y: np.ndarray) -> dict[str, Path]:
    r = cli("train", "--data", "iris.csv", "--target", "species", "--hidden", "8", "--epochs", "20", "--lr", "0.01",
            "--out", "cli-run", "--quiet", "--no-plots", cwd=root)
    assert r.returncode == 0, r.stderr
    scaler = Standardizer().fit(X)
    net = vecprop.Network([4, 8, 3], ["tanh", "softmax"], "cross_entropy", seed=0)
    codes = np.searchsorted(["setosa", "versicolor", "virginica"], y)
    vecprop.fit(net, scaler.transform(X).T, vecprop.one_hot(codes, 3), epochs=30, lr=0.01)
    vecprop.Model(net, scaler=scaler, classes=["setosa", "versicolor", "virginica"],
                  feature_names=FEATURES).save(root / "python.npz")
    pd = pytest.importorskip("pandas")
    from vecprop.sklearn import MLPClassifier

    est = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning, maybe: we only need a trained model
        est.fit(pd.DataFrame(X, columns=FEATURES), y)
    est.save(root / "sklearn.npz")
    return {"cli": root / "cli-run" / "model.npz", "python": root / "python.npz", "sklearn": root / "sklearn.npz"}


def test_string_labels_mean_the_same_everywhere(iris):
    ort = pytest.importorskip("onnxruntime")
    root, X, y = iris
    for writer, path in _three_writers(root, X, y).items():
        model = vecprop.load_model(path)
        in_python = model.predict(X).tolist()
        assert set(in_python) <= {"setosa", "versicolor", "virginica"}, writer
        assert np.mean(np.asarray(in_python) == y) > 0.6, writer  # a trained model, not noise
        r = cli("predict", str(path), "iris.csv", cwd=root)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1:] == in_python, writer
        onnx_path = root / f"{writer}.onnx"
        assert cli("export", str(path), "-o", str(onnx_path), cwd=root).returncode == 0
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        (labels,) = session.run(["label"], {"X": X.astype(np.float32)})
        assert labels.tolist() == in_python, writer


def test_reordered_columns_give_identical_predict_and_evaluate(iris):
    root, _, _ = iris
    assert cli("train", "--data", "iris.csv", "--target", "species", "--hidden", "6", "--epochs", "5", "--out", "run",
               "--quiet", "--no-plots", cwd=root).returncode == 0
    plain = cli("predict", "run/model.npz", "iris.csv", "--proba", cwd=root)
    moved = cli("predict", "run/model.npz", "reordered.csv", "--proba", cwd=root)
    assert plain.returncode == moved.returncode == 0, moved.stderr
    assert plain.stdout == moved.stdout
    assert "ignoring column(s) 'species'" in moved.stderr
    a = cli("evaluate", "run/model.npz", "--data", "iris.csv", "--target", "species", "--split", "all", "--json",
            cwd=root)
    b = cli("evaluate", "run/model.npz", "--data", "reordered.csv", "--target", "species", "--json", cwd=root)
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    for key in ("m", "cost", "accuracy", "per_class"):
        assert ja[key] == jb[key], key


def test_mpiexec_writes_the_same_kind_of_model(tmp_path):
    pytest.importorskip("mpi4py")
    here = Path(sys.executable).parent / "mpiexec"
    launcher = str(here) if here.exists() else shutil.which("mpiexec")
    if launcher is None:
        pytest.fail("mpi4py is installed but no mpiexec was found; pip install mpich")
    env = {"PYTHONPATH": str(SRC), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "vecprop", "train", "--data", "blobs", "--hidden",
                        "6", "--epochs", "3", "--out", "run", "--quiet", "--no-plots"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    model = vecprop.load_model(tmp_path / "run" / "model.npz")
    assert model.provenance["n_ranks"] == 2 and model.task == "multiclass"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n_ranks"] == 2
