"""Every loader under hypothesis: truncations, bit flips, edited metadata, compressed or inflating members, deep
nesting. A loader either returns what was saved (or a valid reading of the edited file) or raises its one
documented error, naming the file; never another exception, never unbounded memory.

Counts: ``EXAMPLES`` per test (times ``VECPROP_FUZZ``).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vecprop as vp
from model_archive import npy
from robust_helpers import FUZZ
from vecprop.cli.config import read_config_file
from vecprop.cli.errors import UserError
from vecprop.datasets import load_csv, load_npy, load_npz
from vecprop.datasets.idx import read_idx
from vecprop.datasets.scaling import Standardizer
from vecprop.io import ModelFileError, load_checkpoint, save_checkpoint
from vecprop.model import ModelWarning

EXAMPLES = 25 * FUZZ
FUZZED = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SCRATCH = Path(tempfile.mkdtemp(prefix="vecprop-fuzz-"))


def _model_bytes() -> tuple[bytes, np.ndarray]:
    net = vp.Network([3, 5, 2], ["tanh", "softmax"], "cross_entropy", seed=4)
    path = SCRATCH / "model.npz"
    vp.Model(net, classes=["a", "b"], feature_names=["x", "y", "z"],
             scaler=Standardizer().fit(np.arange(12.0).reshape(4, 3))).save(path)
    return path.read_bytes(), net.flat.copy()


def _checkpoint_bytes() -> tuple[bytes, np.ndarray]:
    net = vp.Network([3, 4, 1], ["relu", "identity"], "squared_error", seed=5)
    path = SCRATCH / "checkpoint.npz"
    save_checkpoint(path, net=net, optimizer_state={"m": np.arange(3.0), "t": 7}, schedule_state=None,
                    rng_state=np.random.default_rng(1).bit_generator.state, epoch=3)
    return path.read_bytes(), net.flat.copy()


MODEL, MODEL_FLAT = _model_bytes()
CHECKPOINT, CHECKPOINT_FLAT = _checkpoint_bytes()


def mutations(blob: bytes) -> st.SearchStrategy[bytes]:
    """Truncations, bit flips (1-8 bits), overwritten runs and inserted bytes of ``blob``."""
    n = len(blob)
    truncate = st.integers(0, n - 1).map(lambda k: blob[:k])
    flips = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 7)), min_size=1, max_size=8).map(
        lambda fl: _flip(blob, fl))
    overwrite = st.tuples(st.integers(0, n - 1), st.binary(min_size=1, max_size=16)).map(
        lambda t: blob[: t[0]] + t[1] + blob[t[0] + len(t[1]):])
    insert = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=16)).map(
        lambda t: blob[: t[0]] + t[1] + blob[t[0]:])
    return st.one_of(truncate, flips, overwrite, insert)


def _flip(blob: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(blob)
    for i, bit in flips:
        b[i] ^= 1 << bit
    return bytes(b)


def _write(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def loads_or_names_the_file(load, path: Path, error: type[Exception] = ValueError):
    """``load(path)``, or None when it raised ``error`` naming the file; any other exception fails the test."""
    try:
        return load(path)
    except error as e:
        assert path.name in str(e), str(e)
        return None


# ---- model and checkpoint files --------------------------------------------------------------------
@FUZZED
@given(mutations(MODEL))
def test_damaged_model_files(blob):
    model = loads_or_names_the_file(vp.load_model, _write("damaged.npz", blob), ModelFileError)
    assert model is None or np.array_equal(model.network.flat, MODEL_FLAT)  # a flip in a zip field nothing reads


@FUZZED
@given(mutations(CHECKPOINT))
def test_damaged_checkpoints(blob):
    ck = loads_or_names_the_file(load_checkpoint, _write("damaged_ck.npz", blob), ModelFileError)
    assert ck is None or (np.array_equal(ck.net.flat, CHECKPOINT_FLAT) and ck.epoch == 3)


def _members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _with_metadata(meta: object) -> bytes:
    """The model file with its metadata replaced by ``meta`` (any JSON), the digest made to match:
    an edit by someone who knows the format."""
    members = _members(MODEL)
    text = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    members["metadata.npy"] = npy(np.frombuffer(text, np.uint8))
    members["metadata_sha256.npy"] = npy(np.frombuffer(hashlib.sha256(text).hexdigest().encode(), np.uint8))
    return _rezip(members)


def _paths(node: object, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, at + (i,))
    return out


META = json.loads(np.lib.format.read_array(io.BytesIO(_members(MODEL)["metadata.npy"])).tobytes())
PATHS = _paths(META)[1:]
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                           | st.text(max_size=12), lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=6)


@FUZZED
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_edited_model_metadata(path_in_meta, value):
    """Any field replaced by any JSON value, digest recomputed: a ModelFileError, or a model as valid as the edit."""
    meta = json.loads(json.dumps(META))
    node = meta
    for key in path_in_meta[:-1]:
        node = node[key]
    node[path_in_meta[-1]] = value
    path = _write("edited.npz", _with_metadata(meta))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)  # an edit that drops the preprocessing: said, and fine
            model = vp.load_model(path)
    except ModelFileError:
        return
    numeric = model.preprocessing is None or model.preprocessing.numeric_only
    try:  # what the edit allows: answers, or a boundary error about the rows
        model.predict(np.zeros((1, model.n_features)) if numeric else np.array([[None] * model.n_features], object))
    except ValueError:
        pass


@pytest.mark.parametrize("attack", ["deflated", "bomb", "deep", "duplicate", "pickle", "huge-shape"])
def test_hostile_model_archives(attack):
    members = _members(MODEL)
    if attack == "deflated":
        blob = _rezip(members, zipfile.ZIP_DEFLATED)
    elif attack == "bomb":
        from bombs import zip_bomb

        blob = zip_bomb("metadata.npy", b"", 64 * 2**20)
    elif attack == "deep":
        blob = _with_metadata(b"[" * 5000 + b"]" * 5000)
    elif attack == "duplicate":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name": the point
            for name, data in [*members.items(), ("Theta1.npy", members["Theta1.npy"])]:
                zf.writestr(name, data)
        blob = buf.getvalue()
    elif attack == "pickle":
        buf = io.BytesIO()
        np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        blob = _rezip({**members, "Theta1.npy": buf.getvalue()})
    else:
        blob = _rezip({**members, "Theta1.npy": npy(np.zeros((5, 3), np.float32))[:-60].replace(
            b"(5, 3)", b"(99999999999, 3)")})
    path = _write(f"{attack}.npz", blob)
    with pytest.raises(ModelFileError, match="hostile|" + str(path).replace("/", ".")):
        vp.load_model(path)


# ---- data files ---------------------------------------------------------------------------------------
CSV = b"a,b,label\n1.5,2,u\n3,-4e3,v\n5,6,u\n7,8,v\n1e308,-1e308,u\n,7,v\n"


@FUZZED
@given(mutations(CSV), st.sampled_from(["error", "drop", "keep"]))
def test_damaged_csv(blob, missing):
    ds = loads_or_names_the_file(lambda p: load_csv(p, missing=missing), _write("damaged.csv", blob))
    assert ds is None or ds.X.shape[0] == ds.y.shape[0] >= 1


@FUZZED
@given(st.text(alphabet="0123456789,.;\t|\"'-+eEnaNI \n", max_size=200))
def test_csv_from_text(text):
    ds = loads_or_names_the_file(load_csv, _write("text.csv", text.encode()))
    if ds is not None and ds.kinds is None:
        assert np.isfinite(ds.X).all()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


NPZ = _npz_bytes(X=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2, feature_names=np.array(["p", "q"]))
NPY = npy(np.c_[np.arange(20.0).reshape(10, 2), np.arange(10) % 2])


@FUZZED
@given(mutations(NPZ))
def test_damaged_npz(blob):
    loads_or_names_the_file(load_npz, _write("damaged_data.npz", blob))


@FUZZED
@given(mutations(NPY))
def test_damagednpy(blob):
    loads_or_names_the_file(load_npy, _write("damaged.npy", blob))


DTYPES = st.sampled_from([np.float64, np.float32, np.int8, np.uint8, np.complex128, np.bool_, "U3", "S2", "M8[s]"])


@FUZZED
@given(st.tuples(st.integers(0, 6), st.integers(0, 3)), DTYPES, DTYPES, st.sampled_from([(), (0,), (1,), None]))
def test_npz_of_any_shape_and_dtype(shape, x_dtype, y_dtype, y_shape):
    """X and y of any shape and dtype: a dataset that is exactly what was saved, or a ValueError naming the file."""
    m = shape[0]
    X = np.ones(shape).astype(x_dtype) if np.dtype(x_dtype).kind != "M" else np.zeros(shape, x_dtype)
    y = (np.arange(m) % 2).astype(y_dtype) if np.dtype(y_dtype).kind != "M" else np.zeros(m, y_dtype)
    if y_shape is not None:
        y = y.reshape(-1)[: int(np.prod(y_shape))].reshape(y_shape) if y.size >= int(np.prod(y_shape)) else y
    path = SCRATCH / "shapes.npz"
    np.savez(path, X=X, y=y)
    ds = loads_or_names_the_file(load_npz, path)
    if ds is None:
        return
    assert ds.X.shape == X.shape and np.array_equal(ds.X, X.astype(ds.X.dtype))
    assert np.dtype(x_dtype).kind in "biuf" and np.dtype(y_dtype).kind != "c"


def _idx(dims: tuple[int, ...], data: bytes, type_byte: int = 0x08) -> bytes:
    return b"\0\0" + bytes([type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


IDX = _idx((3, 2, 2), bytes(range(12)))


@FUZZED
@given(mutations(IDX), st.booleans())
def test_damaged_idx(blob, gzipped):
    a = loads_or_names_the_file(read_idx, _write("damaged-idx" + (".gz" if gzipped else ""),
                                                 gzip.compress(blob) if gzipped else blob))
    assert a is None or a.size * a.itemsize == len(blob) - 4 - 4 * a.ndim


@FUZZED
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4), st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]))
def test_idx_headers_claiming_anything(dims, type_byte):
    """Any dimensions in the header: read with a bound, refused before allocating what the file does not hold."""
    a = loads_or_names_the_file(read_idx, _write("claims-idx.gz", gzip.compress(_idx(tuple(dims), bytes(64), type_byte))))
    assert a is None or a.nbytes == 64


# ---- config files -------------------------------------------------------------------------------------
CONFIG = b"[data]\nname = 'xor'\n[model]\nhidden = [8, 4]\n[training]\nlr = 0.01\nepochs = 3\n"


@FUZZED
@given(mutations(CONFIG))
def test_damaged_config(blob):
    loads_or_names_the_file(read_config_file, _write("damaged.toml", blob), UserError)


@pytest.mark.parametrize("text", ["[model]\nhidden = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 3000 + "1" +
                                  "}" * 3000, "x = '" + "é" * 10 + "'"])
def test_deep_or_odd_configs(text):
    path = _write("odd.toml", text.encode())
    with pytest.raises(UserError):
        read_config_file(path)


def test_a_byte_order_mark_is_not_part_of_the_config():
    """Editors on Windows start UTF-8 files with one; TOML itself does not allow it, so it is skipped."""
    assert read_config_file(_write("bom.toml", "\ufeff[data]\nname='xor'\n".encode()))["data"] == "xor"
