"""Hostile command lines, by family: each ends in exit 2 and one ``vecprop: error:`` line naming the bad thing.

All cases run through ``vecprop.cli.main`` in one child process (cli_driver.py), so a traceback,
a second error line or a leaked warning shows up exactly as ``python -m vecprop`` would print it.
"""
from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import vecprop as vp
from robust_helpers import assert_user_error, run_cli_batch
from vecprop.datasets import Standardizer

TRAIN = ["train", "-q", "--no-plots", "--epochs", "2"]

# (family, id, argv, needles that the one error line must hold); argv runs in the files' folder
USER_ERRORS = [
    # silently wrong before: now refused
    ("silent", "complex-y", TRAIN + ["--data", "complex_y.npz", "--out", "r"], ["complex_y.npz", "complex"]),
    ("silent", "0-d-y", TRAIN + ["--data", "scalar_y.npz", "--out", "r"], ["scalar_y.npz", "y must be (m,)"]),
    ("silent", "nan-y", TRAIN + ["--data", "nan_y.npz", "--out", "r"], ["nan_y.npz", "row 3", "NaN"]),
    ("silent", "softmax-one-output", TRAIN + ["--data", "sine", "--output-activation", "softmax", "--out", "r"],
     ["--output-activation softmax", "always 1"]),
    ("silent", "ce-on-regression", TRAIN + ["--data", "sine", "--loss", "cross_entropy", "--out", "r"],
     ["--loss cross_entropy", "probabilities"]),
    ("silent", "lbfgs-schedule", TRAIN + ["--data", "xor", "--optimizer", "lbfgs", "--schedule", "cosine", "--out", "r"],
     ["--schedule cosine", "lbfgs"]),
    ("silent", "config-out-int", TRAIN + ["--data", "xor", "--config", "out_int.toml"], ["out_int.toml", "[output] out",
                                                                                        "string"]),
    ("silent", "dup-header", TRAIN + ["--data", "dup_header.csv", "--out", "r"], ["dup_header.csv", "line 1",
                                                                                  "two columns named 'a'"]),
    ("silent", "too-many-layers", TRAIN + ["--data", "xor", "--config", "layers.toml", "--out", "r"],
     ["5000 layers", "at most 998"]),
    # tracebacks before
    ("traceback", "config-latin1", TRAIN + ["--config", "latin1.toml", "--data", "xor"], ["latin1.toml", "line 3",
                                                                                          "UTF-8"]),
    ("traceback", "config-deep", TRAIN + ["--config", "deep.toml", "--data", "xor"], ["deep.toml", "nest"]),
    ("traceback", "config-fifo", TRAIN + ["--config", "fifo.toml", "--data", "xor"], ["fifo.toml", "not a regular file"]),
    ("traceback", "predict-nan", ["predict", "model.npz", "nan.npy"], ["nan.npy", "row 1", "NaN"]),
    ("traceback", "predict-0-rows", ["predict", "model.npz", "empty.npy"], ["empty.npy", "no data"]),
    ("traceback", "predict-1e308", ["predict", "model.npz", "huge.npy"], ["huge.npy", "row 0", "float32"]),
    ("traceback", "predict-1e308-csv", ["predict", "model.npz", "huge.csv"], ["huge.csv", "row 0"]),
    ("traceback", "class-weight-zero", TRAIN + ["--data", "labels.csv", "--class-weight", '{"u": 0, "v": 0}', "--out",
                                                "r"], ["--class-weight", "weight 0"]),
    ("traceback", "no-columns", TRAIN + ["--data", "no_columns.npz", "--out", "r"], ["no_columns.npz", "no data"]),
    ("traceback", "log-full-disk", TRAIN + ["--data", "xor", "--log-jsonl", "/dev/full", "--out", "r"],
     ["/dev/full", "No space left"]),
    ("traceback", "fifo-data", TRAIN + ["--data", "fifo.toml", "--out", "r"], ["fifo.toml", "not a regular file"]),
    ("traceback", "fifo-model", ["predict", "fifo.toml", "rows.csv"], ["fifo.toml", "not a regular file"]),
    ("hang", "fifo-input-csv", ["predict", "model.npz", "fifo.csv"], ["INPUT", "fifo.csv is a pipe"]),
    ("hang", "fifo-input-npy", ["predict", "model.npz", "fifo.npy"], ["INPUT", "fifo.npy is a pipe"]),
    ("traceback", "export-to-device", ["export", "model.npz", "-o", "/dev/full"], ["/dev/full", "not a regular file"]),
    ("traceback", "export-to-folder", ["export", "model.npz", "-o", "."], ["it is a directory"]),
    # data loss before: now refused before anything is written
    ("loss", "predict-over-input", ["predict", "model.npz", "rows.csv", "--output", "rows.csv"], ["rows.csv", "INPUT"]),
    ("loss", "log-missing-folder", TRAIN + ["--data", "xor", "--log-jsonl", "nowhere/log.jsonl", "--out", "r"],
     ["nowhere", "does not exist"]),
    ("loss", "out-is-file", TRAIN + ["--data", "xor", "--out", "rows.csv"], ["rows.csv", "is a file"]),
    ("loss", "out-under-file", TRAIN + ["--data", "xor", "--out", "rows.csv/run"], ["rows.csv", "is a file"]),
    ("loss", "out-dev-null", TRAIN + ["--data", "xor", "--out", "/dev/null"], ["/dev/null"]),
    ("loss", "out-existing-run", TRAIN + ["--data", "xor", "--out", "old_run"], ["old_run", "--overwrite"]),
    # messages that misled before
    ("message", "seed-negative", TRAIN + ["--data", "xor", "--seed", "-1", "--out", "r"], ["seed", "-1"]),
    ("message", "idx-zero-images", TRAIN + ["--data", "idx0/train-images-idx3-ubyte", "--out", "r"],
     ["train-images-idx3-ubyte", "no data", "(0, 28, 28)"]),
    ("message", "npy-huge-header", TRAIN + ["--data", "claims.npy", "--out", "r"], ["claims.npy", "truncated"]),
    ("message", "all-different-classes", TRAIN + ["--data", "ids.csv", "--out", "r"], ["30 classes", "--target"]),
    ("message", "latin1-csv", TRAIN + ["--data", "latin1.csv", "--out", "r"], ["latin1.csv", "UTF-8", "0xe9"]),
    ("message", "resume-a-file", ["train", "--resume", "rows.csv"], ["rows.csv", "not a run folder"]),
    ("message", "flag-value", TRAIN + ["--data", "xor", "--hidden", "0"], ["--hidden", "positive"]),
    ("message", "gradcheck-seed", ["gradcheck", "--seed", "-1"], ["--seed"]),
    ("message", "gradcheck-l2", ["gradcheck", "--l2", "nan"], ["--l2"]),
    ("message", "explain-examples", ["explain", "--layers", "3,4", "--examples", "-5"], ["--examples"]),
    ("message", "bad-npz", ["predict", "model.npz", "text.npz"], ["text.npz", "not a .npz"]),
    ("message", "pickled-npz", TRAIN + ["--data", "objects.npz", "--out", "r"], ["objects.npz", "pickle"]),
    # found by reviewing issues 11, 13 and 14 as users and adversaries
    ("silent", "decimal-comma", TRAIN + ["--data", "comma.csv", "--out", "r"], ["comma.csv", "'0,5'", "decimal comma"]),
    ("silent", "thousands", TRAIN + ["--data", "thousands.csv", "--target", "a", "--out", "r"],
     ["thousands.csv", "'1,000'", "separators"]),
    ("silent", "two-weight-columns", TRAIN + ["--data", "weights.csv", "--weight-column", "w2,w1", "--out", "r"],
     ["weights.csv", "one column", "w2,w1"]),
    ("silent", "numeric-names-header", ["predict", "numeric_names.npz", "numbers.csv"],
     ["numbers.csv", "feature names", "--header yes or --header no"]),
    ("silent", "evaluate-changed-file", ["evaluate", "changed/model.npz", "--data", "changed.csv", "--split", "test"],
     ["--split test", "changed.csv has changed", "--split all"]),
    ("traceback", "nan-uppercase", TRAIN + ["--data", "nan_upper.csv", "--out", "r"], ["nan_upper.csv", "line 4",
                                                                                      "missing"]),
    ("traceback", "val-weights-zero", TRAIN + ["--data", "weights.csv", "--weight-column", "w0", "--target", "y",
                                               "--out", "r"], ["--weight-column", "weight 0"]),
    ("traceback", "fetch-bad-url", ["fetch", "fashion-mnist", "--url", "notaurl", "--dest", "fm", "-q"], ["--url"]),
    ("traceback", "gradcheck-softmax-one", ["gradcheck", "--layers", "4,5,1", "--loss", "cross_entropy"],
     ["softmax over 1 output"]),
    ("traceback", "gradcheck-ce-identity", ["gradcheck", "--layers", "4,5,3", "--output-activation", "identity",
                                             "--loss", "cross_entropy"], ["--loss cross_entropy", "probabilities"]),
    ("loss", "predict-over-model", ["predict", "model_copy.npy", "rows.csv", "--output", "model_copy.npy"],
     ["model_copy.npy", "MODEL"]),
    ("loss", "log-onto-data", TRAIN + ["--data", "labels.csv", "--log-jsonl", "labels.csv", "--out", "r"],
     ["--log-jsonl labels.csv", "--data"]),
    ("loss", "log-onto-run-file", TRAIN + ["--data", "xor", "--out", "logrun", "--log-jsonl", "logrun/history.csv"],
     ["logrun/history.csv", "run's own files"]),
    ("message", "weight-column-missing", TRAIN + ["--data", "weights.csv", "--weight-column", "nosuch", "--out", "r"],
     ["weight column 'nosuch' not found"]),
    ("message", "fetch-dest-file", ["fetch", "fashion-mnist", "--dest", "rows.csv", "-q"], ["--dest rows.csv",
                                                                                             "not a folder"]),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    """Every case of this module, run once in one child process; by case id."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    np.savez(d / "complex_y.npz", X=X, y=np.arange(40) % 3 + 1j)
    np.savez(d / "scalar_y.npz", X=X, y=np.array(3.0))
    np.savez(d / "nan_y.npz", X=X, y=np.where(np.arange(40) == 3, np.nan, np.arange(40) * 0.37))
    np.savez(d / "no_columns.npz", X=np.zeros((40, 0)), y=np.arange(40) % 2)
    np.savez(d / "objects.npz", X=np.array([[1, "a"]], dtype=object), y=np.array([0]), allow_pickle=True)
    (d / "text.npz").write_text("not a zip")
    (d / "out_int.toml").write_text("[output]\nout = 5\n")
    (d / "layers.toml").write_text("[model]\nhidden = [" + ", ".join(["1"] * 5000) + "]\n")
    (d / "latin1.toml").write_bytes("[training]\nlr = 0.1\n# caf\xe9\n".encode("latin-1"))
    (d / "deep.toml").write_text("[model]\nhidden = " + "[" * 5000 + "]" * 5000 + "\n")
    import os

    for name in ("fifo.toml", "fifo.csv", "fifo.npy"):  # a read of any of them would block forever
        os.mkfifo(d / name)
    (d / "dup_header.csv").write_text("a,a,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    (d / "labels.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'uv'[i % 2]}\n" for i in range(20)))
    (d / "ids.csv").write_text("a,b,id\n" + "".join(f"{i},{i % 3},row{i}\n" for i in range(30)))
    (d / "latin1.csv").write_bytes("a,b,y\n1,2,caf\xe9\n3,4,x\n".encode("latin-1"))
    (d / "rows.csv").write_text("f0,f1\n1,2\n3,4\n")
    (d / "huge.csv").write_text("f0,f1\n1e308,-1e308\n")
    net = vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    vp.Model(net, classes=["u", "v"], feature_names=["f0", "f1"], scaler=Standardizer().fit(X)).save(d / "model.npz")
    np.save(d / "nan.npy", np.array([[1.0, 2.0], [np.nan, 1.0]]))
    (d / "model_copy.npy").write_bytes((d / "model.npz").read_bytes())  # a model under an .npy name
    (d / "comma.csv").write_text("a;b;y\n" + "".join(f"0,{i % 9 + 1};{i};{i % 2}\n" for i in range(4, 30)))
    (d / "thousands.csv").write_text("a,b,y\n" + "".join(f'"{i},000",{i},{i % 2}\n' for i in range(1, 30)))
    (d / "weights.csv").write_text("a,b,y,w0,w1,w2\n" + "".join(f"{i},{i % 3},{i % 2},{int(i == 3)},1,2\n"
                                                                for i in range(40)))
    (d / "nan_upper.csv").write_text("a,b,y\n" + "".join(f"{'NAN' if i == 2 else i},{i % 3},{i % 2}\n"
                                                         for i in range(30)))
    named = vp.Model(vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=0), classes=["u", "v"],
                     feature_names=["1", "2"], scaler=Standardizer().fit(X))
    named.save(d / "numeric_names.npz")
    (d / "numbers.csv").write_text("2,1\n1,1\n3,1\n")
    (d / "changed.csv").write_text("a,b,y\n" + "".join(f"{i},{(i * 7) % 11},{i % 2}\n" for i in range(60)))
    from vecprop.cli import main

    assert main(TRAIN + ["--data", str(d / "changed.csv"), "--hidden", "4", "--out", str(d / "changed")]) == 0
    (d / "changed.csv").write_text("a,b,y\n" + "".join(f"{i},{(i * 7) % 11},{i % 2}\n" for i in range(59, -1, -1)))
    np.save(d / "empty.npy", np.zeros((0, 2)))
    np.save(d / "huge.npy", np.array([[1e308, -1e308]]))
    with open(d / "claims.npy", "wb") as fh:  # a header that claims 80 TB, and 8 bytes of data
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**4)})
        fh.write(bytes(8))
    (d / "idx0").mkdir()
    (d / "idx0/train-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03" + struct.pack(">III", 0, 28, 28))
    (d / "idx0/train-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 0))
    (d / "old_run").mkdir()
    (d / "old_run/model.npz").write_bytes(b"an old run")
    # each case its own --out folder: one that wrongly trained must not change what the next one meets
    out = run_cli_batch([[a if a != "r" else f"run-{case_id}" for a in argv] for _, case_id, argv, _ in USER_ERRORS], d)
    assert (d / "rows.csv").read_text() == "f0,f1\n1,2\n3,4\n", "predict --output overwrote its input"
    assert (d / "old_run/model.npz").read_bytes() == b"an old run"
    assert (d / "model_copy.npy").read_bytes() == (d / "model.npz").read_bytes(), "predict --output overwrote MODEL"
    assert "{" not in (d / "labels.csv").read_text(), "--log-jsonl appended to the data file"
    assert not (d / "nowhere").exists() and not list(d.glob("*.tmp")) and not list(d.glob(".*.tmp"))
    return {case_id: r for (_, case_id, _, _), r in zip(USER_ERRORS, out)}


@pytest.mark.parametrize("family, case_id, argv, needles", USER_ERRORS, ids=[f"{f}-{c}" for f, c, _, _ in USER_ERRORS])
def test_hostile_command_line(results, family, case_id, argv, needles):
    r = results[case_id]
    assert_user_error(r["code"], r["stderr"], *needles)


HANDLED = ["train", "-q", "--no-plots", "--epochs", "3", "--hidden", "4", "--val-fraction", "0.25"]


@pytest.fixture(scope="module")
def handled(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Inputs that look hostile but are data: they must train, and say nothing on stderr."""
    d = tmp_path_factory.mktemp("handled")
    rng = np.random.default_rng(1)
    signs = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    rows = [f"{float(s) * 1e308!r},{rng.normal():.4f},{'uv'[i % 2]}" for i, s in enumerate(signs)]
    (d / "extreme.csv").write_text("big,small,y\n" + "\n".join(rows) + "\n")
    np.savez(d / "bytes_y.npz", X=rng.standard_normal((40, 2)), y=np.array([b"cat", b"dog"] * 20))
    with gzip.open(d / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(b"\0\0\x08\x03" + struct.pack(">III", 40, 2, 2) + rng.integers(0, 255, 160, dtype=np.uint8).tobytes())
    with gzip.open(d / "train-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(b"\0\0\x08\x01" + struct.pack(">I", 40) + bytes(i % 2 for i in range(40)))
    cases = [HANDLED + ["--data", "extreme.csv", "--out", "a"], HANDLED + ["--data", "bytes_y.npz", "--out", "b"],
             HANDLED + ["--data", "train-images-idx3-ubyte.gz", "--out", "c"],
             ["explain", "--layers", "99999999999999999999,4", "--batch", "99999999999999999999"]]
    return d, run_cli_batch(cases, d)


def test_extreme_but_finite_values_train_with_finite_metrics(handled):
    """A CSV of +-1e308 (standardising used to overflow): it trains, metrics.json holds finite numbers."""
    d, results = handled
    assert results[0]["code"] == 0 and results[0]["stderr"] == "", results[0]["stderr"]
    metrics = json.loads((d / "a/metrics.json").read_text())
    assert all(np.isfinite(metrics[k]) for k in ("train_cost", "val_cost", "test_cost"))
    scaler = vp.load_model(d / "a/model.npz").preprocessing.scaler
    assert np.isfinite(scaler.mean_).all() and np.isfinite(scaler.std_).all() and scaler.std_[0] > 1e307


def test_byte_string_labels_are_decoded(handled):
    d, results = handled
    assert results[1]["code"] == 0, results[1]["stderr"]
    assert vp.load_model(d / "b/model.npz").classes == ("cat", "dog")


def test_gzipped_idx_within_its_header_trains(handled):
    d, results = handled
    assert results[2]["code"] == 0, results[2]["stderr"]
    assert vp.load_model(d / "c/model.npz").network.sizes[0] == 4


def test_explain_prints_any_size_without_allocating(handled):
    _, results = handled
    assert results[3]["code"] == 0 and "EiB" in results[3]["stdout"]
