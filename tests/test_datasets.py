"""Tests for vecprop.datasets: named sets, IDX/CSV/NumPy files, splits, scalers, targets."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from vecprop import datasets as D
from vecprop.datasets import bundled, fashion_mnist, synthetic

SYNTHETIC = list(synthetic.SETS)
BUNDLED = list(bundled.SETS)
_IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def _default_shape(name: str) -> tuple[int, int]:
    """Parse the "R x C" start of available()'s shape description."""
    rows, cols = D.registry.SETS[name].shape.split()[0:3:2]
    return int(rows), int(cols)


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """An IDX writer independent of the reader under test: magic, big-endian dims, big-endian data."""
    header = bytes([0, 0, _IDX_CODES[array.dtype.name], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as fh:
        fh.write(payload)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------- synthetic sets

@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_default_shape_task_and_labels(name):
    ds = D.load(name)
    spec = D.registry.SETS[name]
    assert ds.X.shape == _default_shape(name)
    assert ds.X.dtype == np.float64 and np.all(np.isfinite(ds.X))
    assert ds.task == spec.task
    if ds.task == "regression":
        assert ds.y.shape == (ds.m,) and ds.classes is None
    else:
        assert ds.y.dtype == np.int64 and set(np.unique(ds.y)) == set(range(ds.n_classes))
        counts = np.bincount(ds.y)
        assert counts.max() - counts.min() <= 1, counts


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_is_determined_by_seed(name):
    a, b, c = D.load(name, seed=3), D.load(name, seed=3), D.load(name, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_n_samples(name):
    ds = D.load(name, n_samples=37)
    assert ds.m == 37 and ds.y.shape[0] == 37


@pytest.mark.parametrize("name", ["xor", "spirals", "blobs"])
def test_synthetic_too_few_samples_is_an_error(name):
    with pytest.raises(ValueError, match="n_samples must be >="):
        D.load(name, n_samples=2)


def test_xor_labels_follow_the_signs():
    ds = D.load("xor")
    xor = (ds.X[:, 0] > 0) != (ds.X[:, 1] > 0)
    assert np.mean(xor == ds.y.astype(bool)) > 0.95


def test_circles_inner_ring_is_class_1():
    ds = D.load("circles")
    radius = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert radius[ds.y == 1].mean() < 0.7 < radius[ds.y == 0].mean()


def test_sine_is_sine_plus_small_noise():
    ds = D.load("sine")
    residual = ds.y - np.sin(ds.X[:, 0])
    assert 0.07 < residual.std() < 0.13


# ---------------------------------------------------------------- scikit-learn's bundled sets

@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_matches_sklearn(name):
    sk = pytest.importorskip("sklearn.datasets")
    bunch = getattr(sk, bundled._TABLE[name][0])()
    ds = D.load(name)
    np.testing.assert_array_equal(ds.X, bunch.data)
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert ds.X.shape == _default_shape(name)
    assert ds.task == D.registry.SETS[name].task
    if ds.task != "regression":
        assert ds.classes == tuple(str(c) for c in bunch.target_names)


def test_bundled_without_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"vecprop\[sklearn\]"):
        D.load("iris")


# ---------------------------------------------------------------- Fashion-MNIST

@pytest.fixture(scope="module")
def fmnist():
    try:
        fashion_mnist.find()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise  # CI installs dataset-fashion-mnist: its absence is a failure there
        pytest.skip("Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)")
    return D.load("fashion-mnist")


def test_fashion_mnist_shapes_and_classes(fmnist):
    assert fmnist.X.shape == (60000, 784) and fmnist.X.dtype == np.uint8
    assert fmnist.X_test.shape == (10000, 784) and fmnist.y_test.shape == (10000,)
    assert fmnist.classes == fashion_mnist.CLASS_NAMES and fmnist.task == "multiclass"
    # the published class balance: 6000 per class in train, 1000 in test
    np.testing.assert_array_equal(np.bincount(fmnist.y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(fmnist.y_test), np.full(10, 1000))
    assert _default_shape("fashion-mnist") == fmnist.X.shape


def test_fashion_mnist_matches_the_readme_reader(fmnist):
    """Decode like the data set's own mnist_reader.py (fixed offsets 8 and 16)."""
    directory = fashion_mnist.find()
    with gzip.open(directory / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    with gzip.open(directory / "t10k-images-idx3-ubyte.gz") as fh:
        images = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(len(labels), 784)
    np.testing.assert_array_equal(fmnist.y_test, labels)
    np.testing.assert_array_equal(fmnist.X_test, images)


def _fake_fashion(folder: Path, m: int = 20) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, k in (("train", m), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (k, 28, 28), dtype=np.uint8), gz=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(k, dtype=np.uint8) % 10, gz=True)
    return folder


def test_fashion_mnist_prefers_the_vecprop_data_folder(tmp_path, monkeypatch):
    _fake_fashion(tmp_path / "fashion-mnist", m=20)
    monkeypatch.setenv("VECPROP_DATA", str(tmp_path))
    ds = D.load("fashion-mnist")
    assert ds.X.shape == (20, 784) and ds.X_test.shape == (10, 784)
    assert str(tmp_path) in ds.source


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VECPROP_DATA", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", ())
    monkeypatch.setattr(fashion_mnist, "_dpkg_dir", lambda: None)
    with pytest.raises(FileNotFoundError) as err:
        D.load("fashion-mnist")
    assert "apt-get install -y dataset-fashion-mnist" in str(err.value)
    assert "vecprop fetch fashion-mnist" in str(err.value)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_fashion_mnist_found_through_dpkg(tmp_path, monkeypatch):
    if fashion_mnist._dpkg_dir() is None:
        pytest.skip("dataset-fashion-mnist is not installed")
    monkeypatch.setenv("VECPROP_DATA", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", ())
    assert (fashion_mnist.find() / "train-images-idx3-ubyte.gz").is_file()


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, gz):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != "uint8" else \
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = D.read_idx(write_idx(tmp_path / "a.idx", array, gz=gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("magic", [0x12345678, 0x00000703, 0x00000800, 0x01000801])
def test_idx_bad_magic_names_file_and_magic(tmp_path, magic):
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(struct.pack(">I", magic) + bytes(16))
    with pytest.raises(ValueError, match=rf"bad-images-idx3-ubyte: not an IDX file: magic number 0x{magic:08X}"):
        D.read_idx(path)


def test_load_reports_bad_magic_before_looking_for_labels(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"PK\x03\x04" + bytes(40)))
    with pytest.raises(ValueError, match="x-images-idx3-ubyte.gz: not an IDX file: magic number 0x504B0304"):
        D.load(str(path))


def test_idx_truncated_file(tmp_path):
    path = write_idx(tmp_path / "t.idx", np.zeros((5, 4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"t\.idx: truncated IDX file: dimensions \(5, 4, 4\).* need 80 bytes.*found 70"):
        D.read_idx(path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "h.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + bytes(5))
    with pytest.raises(ValueError, match="h.idx: truncated IDX file: the header"):
        D.read_idx(path)


def test_idx_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((2, 2), np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="trailing bytes"):
        D.read_idx(path)


def test_idx_truncated_gzip_stream(tmp_path):
    path = write_idx(tmp_path / "z.idx.gz", np.arange(4000, dtype=np.int32), gz=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="z.idx.gz: truncated or corrupt gzip"):
        D.read_idx(path)


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.integers(0, 256, (12, 3, 3), dtype=np.uint8), np.array([3, 5, 7] * 4, np.uint8)
    X_test, y_test = rng.integers(0, 256, (6, 3, 3), dtype=np.uint8), np.array([7, 3] * 3, np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", X, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)  # plain beside gz: still paired
    write_idx(tmp_path / "t10k-images-idx3-ubyte", X_test)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y_test, gz=True)
    return tmp_path, X, y, X_test, y_test


@pytest.mark.parametrize("which", [".", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"])
def test_idx_pair_rule(idx_folder, which):
    folder, X, y, X_test, y_test = idx_folder
    ds = D.load(str(folder / which))
    np.testing.assert_array_equal(ds.X, X.reshape(12, 9))
    np.testing.assert_array_equal(ds.X_test, X_test.reshape(6, 9))
    assert ds.classes == ("3", "5", "7")
    np.testing.assert_array_equal(np.asarray(ds.classes)[ds.y], y.astype(str))
    np.testing.assert_array_equal(np.asarray(ds.classes)[ds.y_test], y_test.astype(str))


def test_idx_without_test_pair_or_labels(idx_folder):
    folder = idx_folder[0]
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).unlink()
    assert not D.load(str(folder)).has_test
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"no labels file train-labels-idx1-ubyte.gz\[\.gz\]"):
        D.load(str(folder / "train-images-idx3-ubyte.gz"))


def test_idx_label_count_mismatch(tmp_path):
    write_idx(tmp_path / "a-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="3 labels for 4 images"):
        D.load(str(tmp_path / "a-images-idx3-ubyte"))


# ---------------------------------------------------------------- CSV files

@pytest.mark.parametrize("text, names, m", [
    ("a,b,y\n1,2,0\n3,4,1\n", ("a", "b"), 2),
    ("1,2,0\n3,4,1\n5,6,1\n", None, 3),  # no header: no names, so models match these columns by position
    ("a,b,species\n1,2,cat\n3,4,dog\n", ("a", "b"), 2),
    ("1,2,cat\n3,4,dog\n", None, 2),
    ("x,2019,y\n1,2,0\n3,4,1\n", ("x", "2019"), 2),  # one text cell above a number suffices
])
def test_csv_header_detection(tmp_path, text, names, m):
    ds = D.load(str(write_text(tmp_path / "d.csv", text)))
    assert ds.feature_names == names and ds.m == m


def test_csv_empty_first_cell_does_not_make_a_header(tmp_path):
    with pytest.raises(ValueError, match=r"1 row\(s\) have missing values: line 1 \('col1'\)"):
        D.load(str(write_text(tmp_path / "d.csv", "1,,0\n3,4,1\n")))


def test_csv_header_only_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no data rows"):
        D.load(str(write_text(tmp_path / "d.csv", "a,b,y\n")))


def test_csv_categorical_target(tmp_path):
    path = write_text(tmp_path / "d.csv", "x1,x2,kind\n0,1,dog\n1,1,cat\n2,0,bird\n3,3,cat\n")
    ds = D.load(str(path))
    assert ds.task == "multiclass" and ds.classes == ("bird", "cat", "dog")
    np.testing.assert_array_equal(np.asarray(ds.classes)[ds.y], ["dog", "cat", "bird", "cat"])
    np.testing.assert_array_equal(ds.X, [[0, 1], [1, 1], [2, 0], [3, 3]])


@pytest.mark.parametrize("values, task, classes", [
    (["0", "1", "1", "0"], "binary", ("0", "1")),
    (["1", "2", "3", "2"], "multiclass", ("1", "2", "3")),
    (["0.5", "1.5", "2.0", "7.25"], "regression", None),
    ([str(v) for v in range(25)], "regression", None),  # integers, but more than MAX_CLASSES values
])
def test_csv_task_inference(tmp_path, values, task, classes):
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(values))
    ds = D.load(str(write_text(tmp_path / "d.csv", "x,t\n" + rows)))
    assert ds.task == task and ds.classes == classes
    if task == "regression":
        np.testing.assert_array_equal(ds.y, np.array(values, float))


def test_csv_task_override(tmp_path):
    path = str(write_text(tmp_path / "d.csv", "x,t\n1,0\n2,1\n3,2\n"))
    assert D.load(path, task="regression").task == "regression"
    assert D.load(path, task="multiclass").n_classes == 3
    with pytest.raises(ValueError, match="task='binary' needs exactly 2 classes; got 3"):
        D.load(path, task="binary")
    text = str(write_text(tmp_path / "e.csv", "x,t\n1,a\n2,b\n"))
    with pytest.raises(ValueError, match="task='regression' needs a numeric target"):
        D.load(text, task="regression")


@pytest.mark.parametrize("target", ["a", 0, "0", -3, "-3"])
def test_csv_target_by_name_or_index(tmp_path, target):
    ds = D.load(str(write_text(tmp_path / "d.csv", "a,b,c\n0,5,6\n1,7,8\n")), target=target)
    assert ds.feature_names == ("b", "c") and ds.task == "binary"
    np.testing.assert_array_equal(ds.X, [[5, 6], [7, 8]])


def test_csv_missing_target_lists_columns(tmp_path):
    path = str(write_text(tmp_path / "d.csv", "alpha,beta,gamma\n0,5,6\n1,7,8\n"))
    with pytest.raises(ValueError, match="target column 'label' not found; available columns: alpha, beta, gamma"):
        D.load(path, target="label")


@pytest.mark.parametrize("cell, what", [
    ("abc", r"column 'b' \(index 1\) holds numbers and 1 non-numeric value\(s\): line 5 'abc'"),
    ("", r"1 row\(s\) have missing values: line 5 \('b'\)"),
    ("nan", r"1 row\(s\) have missing values: line 5 \('b'\)"),
    ("inf", r"column 'b' \(index 1\), line 5: infinite value 'inf'"),
])
def test_csv_bad_feature_names_column_and_line(tmp_path, cell, what):
    # line 1 header, line 2 data, line 3 blank, line 4 data, line 5 the bad row
    text = f"a,b,y\n1,2,0\n\n3,4,1\n5,{cell},0\n"
    with pytest.raises(ValueError, match=what):
        D.load(str(write_text(tmp_path / "d.csv", text)))


@pytest.mark.parametrize("cell", ["", "nan", "NA"])
def test_csv_missing_target_value(tmp_path, cell):
    path = str(write_text(tmp_path / "d.csv", f"a,y\n1,0\n2,{cell}\n3,1\n4,0\n"))
    with pytest.raises(ValueError, match=r"1 row\(s\) have missing values: line 3 \('y'\)"):
        D.load(path)
    kept = D.load(path, missing="keep")  # a row without a target is dropped whatever the strategy
    assert kept.m == 3 and "dropped 1 of 4 rows" in kept.notes[0]


def test_csv_ragged_row(tmp_path):
    with pytest.raises(ValueError, match=r"1 row\(s\) do not have the first row's 3 fields \(delimiter ','\): "
                                         r"line 3 \(2 fields\)"):
        D.load(str(write_text(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,4\n")))


def test_tsv_and_predict_inputs(tmp_path):
    ds = D.load(str(write_text(tmp_path / "d.tsv", "a\tb\ty\n1\t2\tno\n3\t4\tyes\n")))
    assert ds.classes == ("no", "yes") and ds.X.shape == (2, 2)
    X, names = D.load_features(write_text(tmp_path / "p.csv", "a,b\n1,2\n3,4\n"))
    assert names == ("a", "b")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


# ---------------------------------------------------------------- NumPy files

def test_npz_with_codes_classes_and_test(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.eye(4), y=np.array([0, 1, 2, 1]), X_test=np.ones((2, 4)), y_test=np.array([2, 0]),
             classes=np.array(["a", "b", "c"]), feature_names=np.array(["p", "q", "r", "s"]))
    ds = D.load(str(path))
    assert ds.classes == ("a", "b", "c") and ds.feature_names == ("p", "q", "r", "s")
    np.testing.assert_array_equal(ds.y_test, [2, 0])
    assert ds.task == "multiclass" and ds.X_test.shape == (2, 4)


def test_npz_infers_classes_across_train_and_test(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 2)), y=np.array([10, 20, 10]), X_test=np.zeros((1, 2)), y_test=np.array([30]))
    ds = D.load(str(path))
    assert ds.classes == ("10", "20", "30")
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    np.testing.assert_array_equal(ds.y_test, [2])


def test_npz_regression_2d_target(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((3, 2)), y=np.arange(6.0).reshape(3, 2))
    ds = D.load(str(path))
    assert ds.task == "regression" and ds.y.shape == (3, 2)


def test_npz_missing_keys_are_listed(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(ValueError, match=r"needs arrays 'X' and 'y'.*found keys: \['features', 'labels'\]"):
        D.load(str(path))


def test_npz_refuses_pickled_objects(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="cannot read without pickle"):
        D.load(str(path))


@pytest.mark.parametrize("target, j", [(None, 2), (0, 0), ("1", 1), (-3, 0)])
def test_npy_target_column(tmp_path, target, j):
    features = np.column_stack([np.arange(6.0), np.arange(6.0) * 10])  # (6, 2)
    np.save(tmp_path / "d.npy", np.insert(features, j, [0, 1, 0, 1, 0, 1], axis=1))
    ds = D.load(str(tmp_path / "d.npy"), target=target)
    np.testing.assert_array_equal(ds.X, features)
    assert ds.task == "binary"
    np.testing.assert_array_equal(ds.y, [0, 1, 0, 1, 0, 1])


def test_npy_must_be_2d(tmp_path):
    np.save(tmp_path / "d.npy", np.arange(5.0))
    with pytest.raises(ValueError, match="must be a 2-D numeric array"):
        D.load(str(tmp_path / "d.npy"))


# ---------------------------------------------------------------- names and errors

@pytest.mark.parametrize("typo, nearest", [("moon", "moons"), ("irsi", "iris"), ("fashion_mnist", "fashion-mnist"),
                                           ("breastcancer", "breast-cancer")])
def test_unknown_name_suggests_nearest_and_lists_all(typo, nearest):
    with pytest.raises(ValueError) as err:
        D.load(typo)
    message = str(err.value)
    assert f"did you mean {nearest!r}" in message
    assert all(name in message for name, *_ in D.available())


def test_unknown_name_without_a_near_one():
    with pytest.raises(ValueError, match="unknown data set 'qqqq'") as err:
        D.load("qqqq")
    assert "did you mean" not in str(err.value)


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        D.load(str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        D.load(str(write_text(tmp_path / "notes.txt", "hello")))


def test_named_sets_reject_target_and_foreign_task():
    with pytest.raises(ValueError, match="target and weight columns and the header setting apply to files"):
        D.load("iris", target="species")
    with pytest.raises(ValueError, match="is a multiclass data set"):
        D.load("iris", task="regression")


def test_n_samples_subsamples_named_sets():
    full, part = D.load("iris"), D.load("iris", n_samples=40, seed=5)
    assert part.m == 40 and part.classes == full.classes
    rows = {tuple(r) + (c,) for r, c in zip(full.X, full.y)}
    assert all(tuple(r) + (c,) in rows for r, c in zip(part.X, part.y))
    np.testing.assert_array_equal(part.X, D.load("iris", n_samples=40, seed=5).X)


def test_dataset_validates_on_construction():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 2\)"):
        D.Dataset(X, np.array([0, 1, 2]), "binary", ("a", "b"), None, "t", "test")
    with pytest.raises(ValueError, match="binary data needs exactly two classes"):
        D.Dataset(X, np.array([0, 1, 2]), "binary", ("a", "b", "c"), None, "t", "test")
    with pytest.raises(ValueError, match=r"X must be a 2-D array \(m, n_0\); got \(3,\)"):
        D.Dataset(np.zeros(3), np.zeros(3), "regression", None, None, "t", "test")


# ---------------------------------------------------------------- splits

@pytest.mark.parametrize("name", ["iris", "spirals", "xor", "wine"])
@pytest.mark.parametrize("val_fraction, test_fraction", [(0.1, 0.2), (0.15, 0.3), (0.0, 0.25)])
def test_split_is_stratified(name, val_fraction, test_fraction):
    ds = D.load(name)
    parts = D.split(ds, val_fraction=val_fraction, test_fraction=test_fraction, seed=1)
    assert sum(p.X.shape[0] for p in parts) == ds.m
    for part, fraction in ((parts.val, val_fraction), (parts.test, test_fraction)):
        for c in range(ds.n_classes):
            n_c = np.sum(ds.y == c)
            assert abs(np.sum(part.y == c) - n_c * fraction) <= 1, (c, fraction)


def test_split_indices_partition_the_rows():
    y = D.load("spirals").y
    train, val, test = D.split_indices(y, val_fraction=0.1, test_fraction=0.2,
                                       rng=np.random.default_rng(0), stratify=True)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(y.size))


def test_split_rows_stay_with_their_labels():
    ds = D.load("blobs")
    lookup = {tuple(r): c for r, c in zip(ds.X, ds.y)}
    for part in D.split(ds, seed=2):
        assert all(lookup[tuple(r)] == c for r, c in zip(part.X, part.y))


def test_split_is_seeded():
    ds = D.load("moons")
    a, b, c = D.split(ds, seed=7), D.split(ds, seed=7), D.split(ds, seed=8)
    np.testing.assert_array_equal(a.test.X, b.test.X)
    np.testing.assert_array_equal(a.val.y, b.val.y)
    assert not np.array_equal(a.test.X, c.test.X)


def test_split_unstratified_and_regression_sizes():
    ds = D.load("sine")  # m = 300
    train, val, test = D.split(ds, val_fraction=0.1, test_fraction=0.2)
    assert (train.X.shape[0], val.X.shape[0], test.X.shape[0]) == (210, 30, 60)
    assert val.y.shape == (30,)
    train, val, test = D.split((np.zeros((11, 2)), np.arange(11.0)), val_fraction=0.0, test_fraction=0.5)
    assert (train.X.shape[0], val.X.shape[0], test.X.shape[0]) == (5, 0, 6)


def test_split_keeps_a_predefined_test_set(idx_folder):
    folder, _, y, X_test, _ = idx_folder
    ds = D.load(str(folder))
    train, val, test = D.split(ds, val_fraction=0.25, test_fraction=0.5)
    np.testing.assert_array_equal(test.X, X_test.reshape(6, 9))
    assert train.X.shape[0] + val.X.shape[0] == y.size and val.X.shape[0] == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"val_fraction": -0.1}, "val_fraction must be in"),
    ({"test_fraction": 1.0}, "test_fraction must be in"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "must be < 1"),
])
def test_split_rejects_bad_fractions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.split(D.load("xor"), **kwargs)


# ---------------------------------------------------------------- scaling

def test_standardizer_is_fitted_on_train_only():
    ds = D.load("wine")
    train, val, test = D.split(ds, seed=0)
    scaler = D.Standardizer().fit(train.X)
    np.testing.assert_allclose(scaler.mean_, train.X.mean(axis=0))
    assert not np.allclose(scaler.mean_, ds.X.mean(axis=0))
    Z = scaler.transform(train.X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(scaler.transform(test.X), (test.X - train.X.mean(0)) / train.X.std(0))


def test_standardizer_constant_column_and_round_trip():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    scaler = D.Standardizer().fit(X)
    assert scaler.std_[1] == 1.0 and np.all(scaler.transform(X)[:, 1] == 0.0)
    again = D.scaler_from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(again.transform(X), scaler.transform(X))
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X)
    with pytest.raises(ValueError, match="X has 3 features; the scaler was fitted on 2"):
        scaler.transform(np.zeros((1, 3)))


def test_minmax_scalers():
    pixels = np.array([[0, 255, 51]], dtype=np.uint8)
    np.testing.assert_allclose(D.MinMaxScaler(0, 255).fit_transform(pixels), [[0.0, 1.0, 0.2]])
    X = np.array([[1.0, -2.0], [3.0, 2.0]])
    fitted = D.MinMaxScaler().fit(X)
    np.testing.assert_allclose(fitted.transform(X), [[0.0, 0.0], [1.0, 1.0]])
    again = D.scaler_from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    with pytest.raises(ValueError, match="unknown scaler kind 'pca'"):
        D.scaler_from_dict({"kind": "pca"})


# ---------------------------------------------------------------- targets

def test_one_hot_is_columns():
    """datasets re-exports the core's one_hot; the CLI relies on this layout."""
    y = np.array([2, 0, 1, 2])
    Y = D.one_hot(y, 3)
    assert Y.shape == (3, 4) and Y.dtype.kind == "f"
    np.testing.assert_array_equal(Y, np.eye(3)[y].T)
    with pytest.raises(ValueError):
        D.one_hot(y, 2)


def test_label_encoder_round_trip_and_unseen():
    enc = D.LabelEncoder().fit(["b", "a", "c", "a"])
    codes = enc.transform(["c", "a"])
    np.testing.assert_array_equal(codes, [2, 0])
    np.testing.assert_array_equal(enc.inverse_transform(codes), ["c", "a"])
    with pytest.raises(ValueError, match="label 'z' was not seen"):
        enc.transform(["z"])


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_noise_scales_the_noise_and_defaults_to_the_usual(name):
    def points(**kw):  # X and y side by side: sine's noise is in y, the others' in X
        ds = getattr(synthetic, name)(seed=1, n_samples=30, **kw)
        return np.column_stack([ds.X, ds.y])

    usual = points()
    np.testing.assert_array_equal(points(noise=synthetic.NOISE[name]), usual)
    assert not np.array_equal(points(noise=2 * synthetic.NOISE[name]), usual)
    make = getattr(synthetic, name)
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match=f"{name}: noise must be a finite number >= 0"):
            make(seed=1, n_samples=30, noise=bad)
