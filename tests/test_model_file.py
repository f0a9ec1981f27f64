"""Model files (format 2) under attack: edited or hostile metadata, bombs, deep nesting -> ModelFileError."""
from __future__ import annotations

import copy
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vecprop import Model, Network, load_model
from vecprop._schema import SchemaError, load_schema, validate
from vecprop.datasets import Standardizer
from vecprop.io import ModelFileError

from model_archive import get_meta, put_meta, read_members, write_members

SRC = Path(__file__).resolve().parents[1] / "src"


def rewrite(path: Path, meta: dict | None = None, *, blob: bytes | None = None, digest: bool = True,
            compress: int = zipfile.ZIP_STORED, extra: dict[str, bytes] | None = None) -> Path:
    """The file with new metadata (and a matching digest unless told otherwise): a consistent edit."""
    members = read_members(path)
    put_meta(members, meta, blob=blob, digest=digest)
    members.update(extra or {})
    out = path.with_name("edited.npz")
    write_members(out, members, compress)
    return out


@pytest.fixture
def saved(tmp_path) -> tuple[Path, dict]:
    X = np.random.default_rng(0).normal(size=(20, 3))
    net = Network([3, 4, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    model = Model(net, classes=["a", "b", "c"], feature_names=["x", "y", "z"], scaler=Standardizer().fit(X),
                  provenance={"data": {"name": "test"}})
    path = model.save(tmp_path / "model.npz")
    return path, get_meta(read_members(path))


def error_of(path: Path) -> str:
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert str(err.value).startswith(str(path)), "the message names the file"
    return str(err.value)


def nested(depth: int) -> list:
    out: list = []
    for _ in range(depth - 1):
        out = [out]
    return out


def _edit(path_in_meta: str, value):
    def apply(meta: dict) -> None:
        *parents, last = path_in_meta.split(".")
        node = meta
        for key in parents:
            node = node[key]
        node[last] = value(node[last]) if callable(value) else value
    return apply


HOSTILE = [
    (_edit("model.preprocessing.scaler", lambda s: {**s, "kind": "robust"}), "model.preprocessing.scaler"),
    (_edit("model.classes", ["a", "b"]), "has 3 classes; got 2"),
    (_edit("model.classes", ["a", "b", "b"]), "repeats an earlier item"),
    (_edit("model.classes", ["a", 1, "b"]), "model.classes"),
    (_edit("model.provenance", lambda p: {**p, "deep": nested(500)}), "levels deep; vecprop files nest at most 32"),
    (_edit("extra", {"deep": nested(40)}), "levels deep"),
    (_edit("model.task", "clustering"), "model.task"),
    (_edit("model.task", "regression"), "no classes"),
    (_edit("model.n_outputs", 4), "n_outputs is 4 but the network has 3"),
    (_edit("model.feature_names", ["x", "y"]), "2 feature_names for 3"),
    (_edit("model.feature_names", ["x", "x", "y"]), "repeats an earlier item"),
    (_edit("model.preprocessing.columns", [{"kind": "numeric", "fill": None}] * 2), "fitted on 3 features"),
    (_edit("model.preprocessing.columns", [{"kind": "text"}] * 3), "model.preprocessing.columns[0]"),
    (_edit("model.preprocessing.scaler", lambda s: {**s, "std": [1.0, 0.0, 1.0]}), "must be > 0"),
    (_edit("model.preprocessing.scaler", lambda s: {**s, "mean": [1.0, 2.0]}), "scaler"),
    (_edit("model.preprocessing.scaler", lambda s: {**s, "mean": s["mean"][:2] + ["NaN"]}), "expected number"),
    (_edit("model.preprocessing.unknown_category", "guess"), "unknown_category"),
    (_edit("model.target_scaler", {"kind": "standardize", "mean": [0.0], "std": [1.0]}), "target_scaler"),
    (_edit("model.provenance", [1, 2]), "model.provenance: expected object"),
    (_edit("model", {"task": "multiclass"}), "lacks the required key"),
    (_edit("model", lambda m: {**m, "surprise": 1}), "unknown key 'surprise'"),
    (_edit("network.sizes", [3, 10**6, 3]), "array 'Theta1' must have shape (1000000, 3)"),
    (_edit("written_by", 7), "written_by: expected string"),
]


@pytest.mark.parametrize("edit, fragment", HOSTILE, ids=[f for _, f in HOSTILE])
def test_hostile_metadata_is_a_model_file_error(saved, edit, fragment):
    path, meta = saved
    meta = copy.deepcopy(meta)
    edit(meta)
    assert fragment in error_of(rewrite(path, meta))


def test_non_finite_numbers_written_as_overflowing_literals(saved):
    path, meta = saved
    meta = copy.deepcopy(meta)
    meta["model"]["preprocessing"]["scaler"]["mean"][0] = 12345.678
    blob = json.dumps(meta).encode().replace(b"12345.678", b"1e999")  # JSON's parser reads it as inf
    assert "non-finite" in error_of(rewrite(path, blob=blob))


def test_an_edit_without_a_new_digest_is_detected(saved):
    path, meta = saved
    meta = copy.deepcopy(meta)
    meta["model"]["classes"] = ["c", "b", "a"]  # a plausible, silent swap of the labels
    assert "does not match its SHA-256 digest" in error_of(rewrite(path, meta, digest=False))
    members = read_members(path)
    del members["metadata_sha256.npy"]
    bare = path.with_name("nodigest.npz")
    write_members(bare, members)
    assert "no 'metadata_sha256' entry" in error_of(bare)


def test_oversized_metadata_is_refused_before_it_is_parsed(saved):
    path, meta = saved
    meta = copy.deepcopy(meta)
    meta["model"]["provenance"]["padding"] = "x" * (17 * 2**20)
    assert "bad size" in error_of(rewrite(path, meta))


def test_compressed_entries_are_refused(saved):
    path, meta = saved
    assert "is compressed" in error_of(rewrite(path, meta, compress=zipfile.ZIP_DEFLATED))


def test_a_member_claiming_1_5_gib_is_refused_without_reading(saved):
    """A deflated member whose sizes say 1.5 GiB (a zip bomb's shape): refused from the directory alone."""
    path, meta = saved
    bomb = rewrite(path, meta, compress=zipfile.ZIP_DEFLATED)
    data = bytearray(bomb.read_bytes())
    claim = struct.pack("<I", 3 * 2**29)
    central = data.find(b"PK\x01\x02")
    while central != -1:  # every central-directory record: uncompressed size at offset 24
        data[central + 24 : central + 28] = claim
        central = data.find(b"PK\x01\x02", central + 4)
    bomb.write_bytes(bytes(data))
    assert "compressed" in error_of(bomb) or "claims" in error_of(bomb)


def test_a_real_bomb_is_refused_within_a_memory_limit(tmp_path):
    """A valid-looking 4096 x 4096 float32 network (64 MiB) deflated to ~64 KiB, loaded in a child
    process whose address space allows 48 MiB more than it uses: refused, no MemoryError."""
    net = Network([4096, 4096, 1], ["relu", "identity"], "squared_error", seed=0)
    net.flat[...] = 0.0
    stored = Model(net, scaler="none").save(tmp_path / "big.npz")
    bomb = rewrite(stored, get_meta(read_members(stored)), compress=zipfile.ZIP_DEFLATED)
    os.unlink(stored)
    assert bomb.stat().st_size < 2**20
    code = f"""
import resource, sys
import vecprop
from vecprop.io import ModelFileError
used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + 48 * 2**20, used + 48 * 2**20))
try:
    vecprop.load_model({str(bomb)!r})
except ModelFileError as e:
    print("refused:", e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(SRC), OPENBLAS_NUM_THREADS="1"))
    assert r.returncode == 0 and "refused:" in r.stdout and "compressed" in r.stdout, r.stderr


def test_folders_and_fifos_are_refused_not_waited_for(tmp_path):
    assert "a folder" in error_of(tmp_path)
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert "not a regular file" in error_of(fifo)


# ---- fuzzing: any edit of the metadata (with a consistent digest) loads or is a ModelFileError --------
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                    | st.text(max_size=8), lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=6), kids, max_size=4), max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


@settings(max_examples=int(os.environ.get("VECPROP_FUZZ", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_metadata_never_escapes_as_another_error(saved, data):
    path, meta = saved
    meta = copy.deepcopy(meta)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from([p for p in _paths(meta) if p and p[0] != "arrays"]))
        parent = meta
        for key in where[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(JSON)
    edited = rewrite(path, meta)
    try:
        load_model(edited)
    except ModelFileError:
        pass  # the one error type a bad file may raise


# ---- the published schema: vecprop's validator agrees with the jsonschema package -------------------
def test_the_schema_is_valid_json_schema_and_the_validators_agree(saved):
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    _, meta = saved
    ours_ok = _ours(meta, schema)
    assert ours_ok and jsonschema.Draft202012Validator(schema).is_valid(meta)
    rng = np.random.default_rng(0)
    paths = [p for p in _paths(meta) if p]
    values = [None, True, 0, -1, 2.5, "", "x", [], {}, [1, 1], ["a"], {"kind": "numeric", "fill": None}, 10**20]
    disagreements = []
    for trial in range(400):
        edited = copy.deepcopy(meta)
        where = paths[rng.integers(len(paths))]
        parent = edited
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = values[rng.integers(len(values))]
        if _ours(edited, schema) != jsonschema.Draft202012Validator(schema).is_valid(edited):
            disagreements.append(where)
    assert not disagreements


def _ours(instance, schema) -> bool:
    try:
        validate(instance, schema)
    except SchemaError:
        return False
    return True


def test_the_docs_link_to_the_shipped_schema():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "file-format.md").read_text()
    assert "src/vecprop/model.schema.json" in docs
