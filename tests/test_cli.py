"""End-to-end tests of ``vecprop train / evaluate / predict`` through a subprocess, on small data."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import png_size, tomllib, vecprop

FAST = ["--epochs", "4", "--quiet"]


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    """One small trained classifier (iris from a CSV with a named text target), shared by several tests."""
    from vecprop.datasets import load

    root = tmp_path_factory.mktemp("iris")
    ds = load("iris")
    with open(root / "iris.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*ds.feature_names, "species"])
        w.writerows([*map(float, x), ds.classes[c]] for x, c in zip(ds.X, ds.y))
    r = vecprop("train", "--data", "iris.csv", "--target", "species", "--hidden", "8", "--lr", "0.01",
                "--out", "run", "--log-jsonl", "run/log.jsonl", *FAST, cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize("data, flags, key, plots", [
    ("blobs", ["--hidden", "8"], "test_accuracy",
     {"learning_curves.png", "confusion_matrix.png", "decision_regions.png"}),
    ("moons", ["--hidden", "8", "--activation", "tanh", "--n-samples", "200"], "test_accuracy",
     {"learning_curves.png", "confusion_matrix.png", "decision_regions.png"}),
    ("sine", ["--hidden", "8", "--activation", "tanh", "--schedule", "cosine"], "test_r2",
     {"learning_curves.png", "predicted_vs_true.png", "regression_fit.png"}),
])
def test_train_writes_the_run_folder(tmp_path, data, flags, key, plots):
    r = vecprop("train", "--data", data, *flags, "--out", "run", *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", "a quiet run prints nothing on stderr (no bar when not a terminal)"
    run = tmp_path / "run"
    m = _metrics(run)
    assert m["epochs_run"] == 4 and m["wall_seconds"] >= 0 and m["data"] == data
    assert np.isfinite(m[key])
    assert f"{key.replace('_', ' ')} {m[key]:.4f}" in r.stdout  # the summary prints the test metric
    assert {"model.npz", "config.toml", "metrics.json", "history.csv"} <= {p.name for p in run.iterdir()}
    assert {p.name for p in run.glob("*.png")} == plots
    for png in run.glob("*.png"):
        width, height = png_size(png)
        assert width >= 300 and height >= 300, f"{png.name} is {width}x{height}"
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    assert {"cost", "val_cost", "lr"} <= set(rows[0])


def test_plots_decode_as_images(iris_run):
    import matplotlib.image

    for png in (iris_run / "run").glob("*.png"):
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] == png_size(png)[1] and image.shape[1] == png_size(png)[0]
        assert image.std() > 0.01, f"{png.name} is blank"


def test_no_plots_flag(tmp_path):
    r = vecprop("train", "--data", "xor", "--hidden", "4", "--out", "run", "--no-plots", *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not list((tmp_path / "run").glob("*.png"))
    assert tomllib.loads((tmp_path / "run" / "config.toml").read_text())["output"]["plots"] is False


def test_config_reproduces_the_run_bit_for_bit(tmp_path):
    flags = ["--data", "spirals", "--hidden", "12,8", "--dropout", "0.2", "--schedule", "cosine", "--warmup", "1",
             "--early-stopping", "3", "--batch-size", "16", "--epochs", "6", "--seed", "3", "--quiet"]
    first = vecprop("train", *flags, "--out", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = vecprop("train", "--config", "a/config.toml", "--out", "b", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    a, b = tmp_path / "a", tmp_path / "b"
    from vecprop.io import read_model

    fa, fb = read_model(a / "model.npz"), read_model(b / "model.npz")
    assert fa.net.flat.tobytes() == fb.net.flat.tobytes()  # the same weights, bit for bit
    created = fa.model["provenance"].pop("created"), fb.model["provenance"].pop("created")
    assert created[0].endswith("Z") and fa.model == fb.model  # the same metadata but for the date
    ma, mb = _metrics(a), _metrics(b)
    ma.pop("wall_seconds"), mb.pop("wall_seconds")
    assert ma == mb
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()
    assert tomllib.loads((a / "config.toml").read_text()) == tomllib.loads((b / "config.toml").read_text())


def test_flags_override_the_config_file(tmp_path):
    first = vecprop("train", "--data", "xor", "--hidden", "4", "--out", "a", "--no-plots", *FAST, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    other = vecprop("train", "--config", "a/config.toml", "--seed", "1", "--epochs", "2", "--out", "b", "--quiet",
                    cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    cfg = tomllib.loads((tmp_path / "b" / "config.toml").read_text())
    assert cfg["training"]["seed"] == 1 and cfg["training"]["epochs"] == 2
    assert cfg["model"]["hidden"] == [4] and cfg["output"]["plots"] is False  # the rest comes from the file
    assert (tmp_path / "a" / "model.npz").read_bytes() != (tmp_path / "b" / "model.npz").read_bytes()


def test_config_is_fully_resolved(iris_run):
    cfg = tomllib.loads((iris_run / "run" / "config.toml").read_text())
    assert cfg["model"]["output_activation"] == "softmax" and cfg["model"]["loss"] == "cross_entropy"
    assert cfg["training"]["lr"] == 0.01 and cfg["training"]["optimizer"] == "adam"
    assert len(cfg["model"]["init"]) == 2
    assert Path(cfg["data"]["name"]).is_absolute() and cfg["data"]["target"] == "species"


def test_jsonl_log_has_one_object_per_epoch(iris_run):
    lines = (iris_run / "run" / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    history = list(csv.DictReader((iris_run / "run" / "history.csv").open()))
    for rec, row in zip(records, history):
        assert rec["cost"] == float(row["cost"]) and rec["val_accuracy"] == float(row["val_accuracy"])
        assert rec["elapsed_seconds"] >= 0


@pytest.mark.parametrize("task_flags, loss", [([], "binary_cross_entropy"), (["--loss", "cross_entropy",
                                                                                 "--output-activation", "softmax"],
                                                                                "cross_entropy")])
def test_binary_output_follows_the_loss(tmp_path, task_flags, loss):
    r = vecprop("train", "--data", "breast-cancer", "--hidden", "8", "--out", "run", "--no-plots", *task_flags,
                *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from vecprop.io import load

    net = load(tmp_path / "run" / "model.npz")
    assert net.loss.name == loss and net.sizes[-1] == (1 if loss == "binary_cross_entropy" else 2)


def test_evaluate_reproduces_the_test_metrics(iris_run):
    r = vecprop("evaluate", "run/model.npz", "--data", "iris.csv", "--json", cwd=iris_run)
    assert r.returncode == 0, r.stderr
    got, saved = json.loads(r.stdout), _metrics(iris_run / "run")
    assert got["split"] == "test" and got["m"] == saved["n_test"]
    assert got["accuracy"] == saved["test_accuracy"] and got["cost"] == pytest.approx(saved["test_cost"])
    assert sum(row["support"] for row in got["per_class"]) == got["m"]
    table = vecprop("evaluate", "run/model.npz", "--data", "iris.csv", "--split", "all", cwd=iris_run)
    assert table.returncode == 0 and "m = 150 examples" in table.stdout and "versicolor" in table.stdout


def test_predict_csv_and_npy(iris_run):
    from vecprop.datasets import load

    X = load("iris").X
    np.save(iris_run / "X.npy", X[:7])
    labels = vecprop("predict", "run/model.npz", "X.npy", cwd=iris_run)
    assert labels.returncode == 0, labels.stderr
    rows = list(csv.reader(labels.stdout.splitlines()))
    assert rows[0] == ["label"] and len(rows) == 8 and {r[0] for r in rows[1:]} <= {"setosa", "versicolor",
                                                                                     "virginica"}
    proba = vecprop("predict", "run/model.npz", "X.npy", "--proba", "--output", "p.npy", cwd=iris_run)
    assert proba.returncode == 0, proba.stderr
    P = np.load(iris_run / "p.npy")
    assert P.shape == (7, 3) and np.allclose(P.sum(axis=1), 1, atol=1e-5)
    assert [r[0] for r in rows[1:]] == [["setosa", "versicolor", "virginica"][i] for i in P.argmax(axis=1)]
    # the training CSV itself: the target column is ignored, the features picked by name
    whole = vecprop("predict", "run/model.npz", "iris.csv", "--output", "out.csv", cwd=iris_run)
    assert whole.returncode == 0, whole.stderr
    assert len((iris_run / "out.csv").read_text().splitlines()) == 151


def test_predict_regression_in_original_units(tmp_path):
    r = vecprop("train", "--data", "diabetes", "--hidden", "8", "--out", "run", "--no-plots", "--epochs", "30",
                "--lr", "0.01", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from vecprop.datasets import load

    ds = load("diabetes")
    np.save(tmp_path / "X.npy", ds.X[:50])
    out = vecprop("predict", "run/model.npz", "X.npy", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    values = np.array([float(v) for v in out.stdout.splitlines()[1:]])
    assert values.shape == (50,)
    # targets run 25..346: predictions in those units, not standardized ones
    assert 50 < values.mean() < 300 and np.corrcoef(values, ds.y[:50])[0, 1] > 0.3


def test_python_dash_m_and_version(tmp_path):
    r = vecprop("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("vecprop ")


def test_scaler_is_fitted_on_the_training_rows_only(iris_run):
    from vecprop import datasets, load_model

    model = load_model(iris_run / "run" / "model.npz")
    ds = datasets.load(str(iris_run / "iris.csv"), target="species")
    train = datasets.split(ds, val_fraction=0.1, test_fraction=0.2, seed=0).train
    scaler = model.preprocessing.scaler
    assert scaler.kind == "standardize"
    np.testing.assert_allclose(scaler.mean_, train.X.mean(axis=0))
    assert not np.allclose(scaler.mean_, ds.X.mean(axis=0))
    assert model.classes == ("setosa", "versicolor", "virginica") and model.task == "multiclass"
    assert model.feature_names == ds.feature_names


def test_split_is_stratified(iris_run):
    saved = _metrics(iris_run / "run")
    assert (saved["n_train"], saved["n_val"], saved["n_test"]) == (105, 15, 30)  # 50 per class: 35/5/10
    r = vecprop("evaluate", "run/model.npz", "--data", "iris.csv", "--json", cwd=iris_run)
    assert [row["support"] for row in json.loads(r.stdout)["per_class"]] == [10, 10, 10]


def test_binary_predict_gives_two_probabilities(tmp_path):
    r = vecprop("train", "--data", "moons", "--n-samples", "120", "--hidden", "4", "--out", "run", "--no-plots",
                *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "pts.csv").write_text("x0,x1\n0,1\n1,-0.5\n0.5,0.25\n")
    out = vecprop("predict", "run/model.npz", "pts.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(out.stdout.splitlines()))
    assert rows[0] == ["label", "p(0)", "p(1)"] and len(rows) == 4
    for label, p0, p1 in rows[1:]:
        assert float(p0) + float(p1) == pytest.approx(1, abs=1e-6)
        assert label == ("1" if float(p1) > 0.5 else "0")  # metrics.labels: scikit-learn's strict threshold
