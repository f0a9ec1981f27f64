"""Model and checkpoint files: exact round trips, every kind of damage detected, atomic writes, no pickle."""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from vecprop import Network
from vecprop import io as vio
from vecprop.activations import Activation

from model_archive import get_meta, npy, put_meta, read_members, write_members

ARCHS = {
    "relu-softmax": dict(sizes=[3, 5, 2], activations=["relu", "softmax"], loss="cross_entropy"),
    "leaky-dropout-bce": dict(sizes=[4, 6, 6, 1], activations=[{"name": "leaky_relu", "slope": 0.2}, "tanh",
                              "sigmoid"], loss="binary_cross_entropy", dropout=[0.3, 0.1]),
    "huber-one-layer": dict(sizes=[2, 1], activations=["identity"], loss={"name": "huber", "delta": 0.5}),
    "elu-inits": dict(sizes=[5, 7, 3], activations=[{"name": "elu", "alpha": 0.7}, "identity"],
                      loss="squared_error", init=["glorot_normal", "lecun_uniform"]),
}


def make_net(arch: str = "relu-softmax", dtype: str = "float32", seed: int = 0) -> Network:
    spec = dict(ARCHS[arch])
    net = Network(spec.pop("sizes"), spec.pop("activations"), spec.pop("loss"), dtype=dtype, seed=seed, **spec)
    net.flat[...] = np.random.default_rng(seed + 100).normal(size=net.flat.size)  # biases non-zero too
    return net


# ---- raw archive surgery (independent of vecprop's reader) ------------------------------------------
def spec_digest(a: np.ndarray) -> str:
    """The digest as docs/file-format.md defines it."""
    head = f"{a.dtype.str}|{','.join(map(str, a.shape))}|".encode()
    return hashlib.sha256(head + np.ascontiguousarray(a).tobytes()).hexdigest()


def replace_array(members: dict[str, bytes], meta: dict, name: str, a: np.ndarray, *, update_table: bool) -> None:
    members[f"{name}.npy"] = npy(a)
    if update_table:
        meta["arrays"][name] = {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": spec_digest(a)}


def tamper(path: Path, edit) -> Path:
    """Rewrite the archive (with valid zip CRCs) after ``edit(members, meta)``."""
    members = read_members(path)
    meta = get_meta(members)
    edit(members, meta)
    put_meta(members, meta)
    write_members(path, members)
    return path


def load_error(path: Path, loader=vio.load) -> str:
    with pytest.raises(vio.ModelFileError) as info:
        loader(path)
    assert str(path) in str(info.value)
    return str(info.value)


@pytest.fixture(autouse=True)
def np_load_spy(monkeypatch):
    """Every np.load call the library makes must pass allow_pickle=False."""
    calls: list[dict] = []
    real = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    yield calls
    assert all(kw.get("allow_pickle") is False for kw in calls), calls


@pytest.fixture
def saved(tmp_path) -> tuple[Network, Path]:
    net = make_net("relu-softmax")
    return net, vio.save(net, tmp_path / "model.npz")


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


# ---- round trips ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("arch", list(ARCHS))
def test_round_trip_is_exact(tmp_path, arch, dtype):
    net = make_net(arch, dtype)
    loaded = vio.load(vio.save(net, tmp_path / "m.npz"))
    assert loaded.config() == net.config()
    assert loaded.flat.dtype == net.flat.dtype
    assert loaded.flat.tobytes() == net.flat.tobytes()
    X = np.random.default_rng(1).normal(size=(net.sizes[0], 9))
    assert np.array_equal(loaded.forward(X), net.forward(X))


@pytest.mark.parametrize("dtype, stored", [("float32", "<f4"), ("float64", "<f8")])
def test_entries_are_theta_b_with_digests(tmp_path, dtype, stored):
    net = make_net("leaky-dropout-bce", dtype)
    members = read_members(vio.save(net, tmp_path / "m.npz"))
    assert list(members) == ["metadata.npy", "metadata_sha256.npy", "Theta1.npy", "b1.npy", "Theta2.npy", "b2.npy",
                             "Theta3.npy", "b3.npy"]
    meta = get_meta(members)
    assert (meta["format"], meta["version"], meta["network"], meta["model"]) == ("vecprop-model", 2, net.config(), None)
    digest = np.lib.format.read_array(BytesIO(members["metadata_sha256.npy"])).tobytes().decode()
    assert digest == hashlib.sha256(np.lib.format.read_array(BytesIO(members["metadata.npy"])).tobytes()).hexdigest()
    for l, (Theta, b) in enumerate(net.params, start=1):
        for name, a in ((f"Theta{l}", Theta), (f"b{l}", b)):
            stored_a = np.lib.format.read_array(BytesIO(members[f"{name}.npy"]))
            assert stored_a.dtype.str == stored and np.array_equal(stored_a, a)
            assert meta["arrays"][name] == {"dtype": stored, "shape": list(a.shape), "sha256": spec_digest(stored_a)}


def test_same_network_gives_same_bytes(tmp_path):
    net = make_net()
    assert vio.save(net, tmp_path / "a.npz").read_bytes() == vio.save(net, tmp_path / "b.npz").read_bytes()


def test_extras_round_trip(tmp_path):
    extra = {"classes": ["setosa", "versicolor", "ü"], "scaler": {"kind": "standard", "eps": 1e-12},
             "n": 3, "one": 1.0, "flag": False, "none": None, "best": float("inf"), "pair": (1, 2.5)}
    numpy_scalars = {"accuracy": np.float64(0.97), "f32": np.float32(0.1), "epochs": np.int64(40), "ok": np.bool_(True)}
    arrays = {"scaler_mean": np.array([0.1, 2.0, -3.5]), "labels": np.array(["a", "bb"]),
              "counts": np.arange(4, dtype=np.int16), "mask": np.array([True, False])}
    path = vio.save(make_net(), tmp_path / "m.npz", extra={**extra, **numpy_scalars}, arrays=arrays)
    net, got_extra, got_arrays = vio.load_with_extras(path)
    assert_identical(got_extra, {**extra, **{k: v.item() for k, v in numpy_scalars.items()}})
    assert_identical(got_arrays, arrays)
    assert vio.load(path).config() == net.config()
    assert vio.load_with_extras(vio.save(net, tmp_path / "plain.npz"))[1:] == ({}, {})


class Sine:
    name = "sine"

    def value(self, Z):
        return np.sin(Z)

    def derivative(self, Z):
        return np.cos(Z)


class FakeRelu(Activation):
    name = "relu"  # claims a built-in name but is not the built-in

    def value(self, Z):
        return np.abs(Z)


def test_save_refuses_custom_activations_naming_the_layer(tmp_path):
    for acts, layer in (([Sine(), "identity"], "layer 1"), (["relu", FakeRelu()], "layer 2")):
        net = Network([2, 3, 1], acts, seed=0)
        with pytest.raises(ValueError, match=layer):
            vio.save(net, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("index, name", [(0, "Theta1"), (15, "b1"), (-1, "b2")])
def test_save_refuses_non_finite_weights(tmp_path, index, name):
    net = make_net()  # [3, 5, 2]: Theta1 is flat[0:15], b1 flat[15:20], Theta2 flat[20:30], b2 flat[30:32]
    net.flat[index] = np.nan
    with pytest.raises(ValueError, match=name):
        vio.save(net, tmp_path / "m.npz")


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(extra={"w": np.zeros(2)}), TypeError, "arrays="),
    (dict(extra={1: "x"}), TypeError, "keys must be str"),
    (dict(extra={"__array__": "x"}), ValueError, "reserved"),
    (dict(extra={"s": {1, 2}}), TypeError, r"extra\['s'\] is a set"),
    (dict(arrays={"../evil": np.zeros(2)}), ValueError, "array name"),
    (dict(arrays={"objs": np.array([object()])}), TypeError, "object"),
    (dict(arrays={"lst": [1.0, 2.0]}), TypeError, "numpy array"),
])
def test_save_rejects_bad_extras(tmp_path, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        vio.save(make_net(), tmp_path / "m.npz", **kwargs)


# ---- damage -----------------------------------------------------------------------------------------
def test_every_truncation_is_an_error(saved):
    _, path = saved
    size = path.stat().st_size
    loaded_anyway = []
    fd = os.open(path, os.O_RDWR)
    try:
        for n in [size - 1, *range(size - 2, -1, -3)]:  # descending: each cut only shortens the file
            os.ftruncate(fd, n)
            try:
                vio.load(path)
                loaded_anyway.append(n)
            except vio.ModelFileError:
                pass
    finally:
        os.close(fd)
    assert loaded_anyway == []


def test_a_bit_flip_anywhere_never_gives_a_different_network(saved):
    net, path = saved
    data = path.read_bytes()
    silently_different, errors = [], 0
    fd = os.open(path, os.O_RDWR)
    try:
        for i, byte in enumerate(data):
            os.pwrite(fd, bytes([byte ^ (1 << (i % 8))]), i)
            try:
                other = vio.load(path)  # anything but ModelFileError propagates and fails the test
            except vio.ModelFileError:
                errors += 1
            else:
                if other.config() != net.config() or other.flat.tobytes() != net.flat.tobytes():
                    silently_different.append(i)
            os.pwrite(fd, bytes([byte]), i)
    finally:
        os.close(fd)
    assert silently_different == []
    assert errors > 0.75 * len(data)  # harmless: zip fields zipfile ignores (timestamps, attributes, local sizes)


def test_bit_flip_in_array_data_names_the_array(saved):
    net, path = saved
    data = bytearray(path.read_bytes())
    start = bytes(data).find(np.ascontiguousarray(net.params[1][0]).tobytes())  # Theta2's data
    assert start > 0
    data[start + 5] ^= 0x10
    path.write_bytes(bytes(data))
    assert "'Theta2'" in load_error(path)


def test_replaced_array_fails_its_digest(saved):
    _, path = saved

    def edit(members, meta):
        Theta1 = np.lib.format.read_array(BytesIO(members["Theta1.npy"]))
        replace_array(members, meta, "Theta1", Theta1 + np.float32(1e-3), update_table=False)

    msg = load_error(tamper(path, edit))
    assert "'Theta1'" in msg and "SHA-256" in msg


@pytest.mark.parametrize("update_table", [True, False], ids=["digest-matches", "digest-stale"])
def test_wrong_shape_names_array_and_shapes(saved, update_table):
    _, path = saved  # sizes [3, 5, 2]: Theta1 is (5, 3)

    def edit(members, meta):
        Theta1 = np.lib.format.read_array(BytesIO(members["Theta1.npy"]))
        replace_array(members, meta, "Theta1", np.ascontiguousarray(Theta1.T), update_table=update_table)

    msg = load_error(tamper(path, edit))
    assert "'Theta1'" in msg and "(5, 3)" in msg and "(3, 5)" in msg


def test_wrong_dtype_names_array(saved):
    _, path = saved

    def edit(members, meta):
        b1 = np.lib.format.read_array(BytesIO(members["b1.npy"]))
        replace_array(members, meta, "b1", b1.astype("<f8"), update_table=True)

    msg = load_error(tamper(path, edit))
    assert "'b1'" in msg and "<f4" in msg and "<f8" in msg


def test_non_finite_weight_in_file(saved):
    _, path = saved

    def edit(members, meta):
        b2 = np.lib.format.read_array(BytesIO(members["b2.npy"])).copy()
        b2[1, 0] = np.inf
        replace_array(members, meta, "b2", b2, update_table=True)

    msg = load_error(tamper(path, edit))
    assert "'b2'" in msg and "non-finite" in msg


def test_newer_version_names_both_versions(saved):
    _, path = saved
    msg = load_error(tamper(path, lambda m, meta: meta.update(version=3)))
    assert "version 3" in msg and "version 1 and 2" in msg and "upgrade" in msg


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True, None])
def test_unknown_versions(saved, version):
    _, path = saved
    assert "version" in load_error(tamper(path, lambda m, meta: meta.update(version=version)))


def _set_network(key, value):
    return lambda m, meta: meta["network"].update({key: value})


@pytest.mark.parametrize("edit, fragment", [
    (_set_network("activations", [{"name": "swish"}, {"name": "softmax"}]), "layer 1"),
    (_set_network("activations", [{"name": "leaky_relu", "slope": -1.0}, {"name": "softmax"}]), "layer 1"),
    (_set_network("activations", [{"name": "relu", "custom": True}, {"name": "softmax"}]), "activations[0].custom"),
    (_set_network("activations", [{"name": "relu"}]), "L=2"),
    (_set_network("activations", [["relu"], {"name": "softmax"}]), "activations[0]: expected object"),
    (_set_network("loss", {"name": "huber", "delta": -1.0}), "loss"),
    (_set_network("loss", "cross_entropy"), "loss"),
    (_set_network("sizes", [3, 0, 2]), "sizes"),
    (_set_network("sizes", [3, 5.0, 2]), "sizes"),
    (_set_network("dtype", "float16"), "dtype"),
    (_set_network("init", ["nope", "glorot_uniform"]), "init"),
    (_set_network("dropout", [1.5]), "dropout"),
    (lambda m, meta: meta["network"].pop("dropout"), "required key 'dropout'"),
    (lambda m, meta: meta.update(surprise=1), "unknown key 'surprise'"),
    (lambda m, meta: meta.pop("network"), "lacks"),
    (lambda m, meta: meta.update(format="numpy-stuff"), "not a vecprop file"),
    (lambda m, meta: meta.update(arrays=[]), "arrays"),
    (lambda m, meta: meta["arrays"]["b1"].update(sha256="0" * 63), "sha256"),
    (lambda m, meta: meta["arrays"].pop("b1"), "'b1'"),
    (lambda m, meta: m.pop("b2.npy"), "'b2'"),
    (lambda m, meta: m.update({"evil.npy": npy(np.zeros(1))}), "'evil'"),
    (lambda m, meta: meta["extra"].update({"__float__": "one"}), "extra"),
])
def test_invalid_metadata_is_named(saved, edit, fragment):
    _, path = saved
    assert fragment in load_error(tamper(path, edit))


@pytest.mark.parametrize("content", [
    b"", b"hello, world\n", bytes(np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8)),
    npy(np.zeros((2, 2))), b"PK\x03\x04 but not really a zip", json.dumps({"format": "vecprop-model"}).encode(),
], ids=["empty", "text", "random", "npy", "zip-magic-only", "json"])
def test_garbage_is_an_error(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    load_error(path)


def test_plain_npz_is_an_error(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, Theta1=np.zeros((2, 2)))
    assert "metadata" in load_error(plain)


@pytest.mark.parametrize("name, fragment", [("Theta1.npy", "more than once"), ("notes.txt", "'notes.txt'")])
def test_duplicate_or_foreign_zip_members(saved, name, fragment):
    net, path = saved
    with zipfile.ZipFile(path, "a") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate name
        zf.writestr(name, npy(np.zeros_like(net.params[0][0])))
    assert fragment in load_error(path)


class Payload:
    """Unpickling this runs os.makedirs(marker): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.mark.parametrize("entry, table_dtype", [("Theta1", "as-saved"), ("Theta1", "|O"), ("metadata", None)])
def test_pickled_object_arrays_are_never_unpickled(saved, tmp_path, entry, table_dtype):
    _, path = saved
    marker = tmp_path / "code-ran"
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(marker)
    raw = npy(evil, allow_pickle=True)
    members = read_members(path)
    if entry == "metadata":
        members["metadata.npy"] = raw
    else:
        meta = get_meta(members)
        if table_dtype == "|O":
            meta["arrays"]["Theta1"] = {"dtype": "|O", "shape": [1], "sha256": "0" * 64}
        put_meta(members, meta)
        members["Theta1.npy"] = raw
    write_members(path, members)
    msg = load_error(path)
    assert not marker.exists()
    assert "pickle" in msg or "uint8" in msg
    np.lib.format.read_array(BytesIO(raw), allow_pickle=True)  # control: the payload is live
    assert marker.exists()


def test_np_load_is_called_without_pickle(saved, tmp_path, np_load_spy):
    net, path = saved
    vio.load(path)
    vio.save_checkpoint(tmp_path / "c.npz", net=net, optimizer_state={}, schedule_state=None,
                        rng_state=np.random.default_rng(0).bit_generator.state, epoch=0)
    vio.load_checkpoint(tmp_path / "c.npz")
    assert len(np_load_spy) == 2
    assert all(kw["allow_pickle"] is False for kw in np_load_spy)


def test_no_network_is_built_from_a_bad_file(saved, monkeypatch):
    _, path = saved
    built = []
    monkeypatch.setattr(vio, "Network", lambda *a, **k: built.append(1))
    tamper(path, lambda m, meta: meta["arrays"]["Theta2"].update(sha256="f" * 64))
    load_error(path)
    assert built == []


def test_format_kinds_are_not_confused(saved, tmp_path):
    net, model = saved
    ckpt = vio.save_checkpoint(tmp_path / "c.npz", net=net, optimizer_state={}, schedule_state=None,
                               rng_state=np.random.default_rng(0).bit_generator.state, epoch=1)
    assert "load_checkpoint" in load_error(ckpt, vio.load)
    assert "vecprop.io.load" in load_error(model, vio.load_checkpoint)


# ---- atomic writes ------------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


@pytest.mark.parametrize("exc", [Interrupted, KeyboardInterrupt])
@pytest.mark.parametrize("previous", [True, False], ids=["over-old-file", "new-file"])
def test_failure_mid_save_keeps_previous_file(tmp_path, monkeypatch, exc, previous):
    old = make_net(seed=1)
    path = tmp_path / "m.npz"
    if previous:
        vio.save(old, path)
    real = np.lib.format.write_array
    written = []

    def dies_midway(fp, array, *args, **kwargs):
        if len(written) == 3:  # metadata, Theta1, b1 written; dies before Theta2
            raise exc("killed")
        written.append(array.shape)
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", dies_midway)
    with pytest.raises(exc):
        vio.save(make_net(seed=2), path)
    monkeypatch.setattr(np.lib.format, "write_array", real)
    assert len(written) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == (["m.npz"] if previous else [])
    if previous:
        assert vio.load(path).flat.tobytes() == old.flat.tobytes()


def test_atomic_write_text_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "metrics.json"
    assert vio.atomic_write(path, lambda f: f.write('{"loss": 1}'), text=True) == path
    os.chmod(path, 0o640)
    vio.atomic_write(path, lambda f: f.write("{\"loss\": 0.5, \"name\": \"\u00fc\"}"), text=True)
    assert json.loads(path.read_text(encoding="utf-8")) == {"loss": 0.5, "name": "\u00fc"}
    assert path.stat().st_mode & 0o777 == 0o640

    def fails(f):
        f.write("partial")
        raise Interrupted

    with pytest.raises(Interrupted):
        vio.atomic_write(path, fails, text=True)
    assert json.loads(path.read_text(encoding="utf-8"))["loss"] == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_files_follow_the_umask(tmp_path, umask_027):
    path = vio.atomic_write(tmp_path / "new.bin", lambda f: f.write(b"x"))
    assert path.stat().st_mode & 0o777 == 0o640  # 0o666 & ~0o027, as open() would give


def test_atomic_write_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vio.atomic_write(tmp_path / "nope" / "m.npz", lambda f: f.write(b"x"))


# ---- checkpoints -------------------------------------------------------------------------------------
def assert_identical(a, b, where="value"):
    """Same types, dtypes, shapes and bits all the way down (ints stay ints, floats keep their bits)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} became {type(b).__name__}"
    if isinstance(a, (np.ndarray, np.generic)):
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), where
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b)), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def fake_adam_state() -> dict:
    rng = np.random.default_rng(5)
    return {
        "t": 7, "lr": 0.1 + 0.2, "beta1": 0.9, "one": 1.0, "neg_zero": -0.0, "tiny": 5e-324, "big": 2**100,
        "amsgrad": False, "name": "adam", "nothing": None, "best": float("inf"), "nan": float("nan"),
        "m": [rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 1)).astype(np.float32)],
        "v": (np.full((2, 5), 1e-30), np.zeros((0, 3))), "velocity": np.asfortranarray(rng.normal(size=(3, 4))),
        "steps": np.array([1, 2, 3], dtype=np.int64), "scalar": np.float32(0.3), "count": np.int64(-4),
        "nested": [[1, 2.5, "x"], {"deep": [np.arange(3, dtype=np.uint8)]}],
    }


def test_checkpoint_round_trip_is_bit_identical(tmp_path):
    net = make_net("leaky-dropout-bce", "float64")
    rng = np.random.default_rng(42)
    rng.random(11)
    optimizer_state = fake_adam_state()
    schedule_state = {"step": 3, "best": float("inf"), "bad_epochs": 0, "factor": 0.5}
    extra = {"history": np.linspace(0, 1, 5), "note": "resume me"}
    path = vio.save_checkpoint(tmp_path / "c.npz", net=net, optimizer_state=optimizer_state,
                               schedule_state=schedule_state, rng_state=rng.bit_generator.state, epoch=12,
                               extra=extra)
    ckpt = vio.load_checkpoint(path)
    assert ckpt.epoch == 12 and type(ckpt.epoch) is int
    assert ckpt.net.config() == net.config() and ckpt.net.flat.tobytes() == net.flat.tobytes()
    assert_identical(ckpt.optimizer_state, optimizer_state, "optimizer_state")
    assert_identical(ckpt.schedule_state, schedule_state, "schedule_state")
    assert_identical(ckpt.rng_state, rng.bit_generator.state, "rng_state")
    assert_identical(ckpt.extra, extra, "extra")
    assert ckpt.optimizer_state["m"][0].flags.writeable  # an optimizer may update it in place
    default = vio.load_checkpoint(vio.save_checkpoint(tmp_path / "d.npz", net=net, optimizer_state={},
                                                      schedule_state=None, rng_state=rng.bit_generator.state,
                                                      epoch=0))
    assert (default.schedule_state, default.extra) == (None, {})


@pytest.mark.parametrize("bit_generator", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_restored_generator_draws_the_same_numbers(tmp_path, bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(2019))
    rng.random(7)
    rng.integers(0, 2**32, size=3, dtype=np.uint32)  # an odd count leaves a buffered uint32 in the state
    path = vio.save_checkpoint(tmp_path / "c.npz", net=make_net(), optimizer_state={}, schedule_state=None,
                               rng_state=rng.bit_generator.state, epoch=3)
    resumed = np.random.Generator(getattr(np.random, bit_generator)())
    resumed.bit_generator.state = vio.load_checkpoint(path).rng_state
    assert np.array_equal(resumed.integers(0, 2**32, size=5, dtype=np.uint32),
                          rng.integers(0, 2**32, size=5, dtype=np.uint32))
    assert np.array_equal(resumed.normal(size=20), rng.normal(size=20))


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(rng_state=np.random.default_rng(0)), TypeError, "bit_generator.state"),
    (dict(rng_state={"bit_generator": "Evil"}), ValueError, "PCG64"),
    (dict(rng_state={"bit_generator": "PCG64", "state": {}}), ValueError, "not a valid PCG64 state"),
    (dict(epoch=-1), ValueError, "epoch"),
    (dict(epoch=True), ValueError, "epoch"),
    (dict(optimizer_state=[1, 2]), TypeError, "optimizer_state must be a dict"),
    (dict(optimizer_state={"m": [np.zeros(2), object()]}), TypeError, r"optimizer_state\['m'\]\[1\]"),
    (dict(optimizer_state={"m": np.array([None])}), TypeError, "object"),
    (dict(schedule_state=3), TypeError, "schedule_state"),
])
def test_save_checkpoint_rejects_bad_state(tmp_path, kwargs, error, fragment):
    args = dict(net=make_net(), optimizer_state={}, schedule_state=None,
                rng_state=np.random.default_rng(0).bit_generator.state, epoch=0)
    with pytest.raises(error, match=fragment):
        vio.save_checkpoint(tmp_path / "c.npz", **{**args, **kwargs})
    assert list(tmp_path.iterdir()) == []


def _ckpt_edit_optimizer_array(members, meta):
    m0 = np.lib.format.read_array(BytesIO(members["optimizer/0.npy"]))
    replace_array(members, meta, "optimizer/0", m0 * 2, update_table=False)


def _ckpt_unreferenced(members, meta):
    replace_array(members, meta, "optimizer/9", np.zeros(3), update_table=True)


def _ckpt_reference_twice(members, meta):
    meta["optimizer_state"]["v"] = {"__array__": "optimizer/0"}


@pytest.mark.parametrize("edit, fragment", [
    (_ckpt_edit_optimizer_array, "'optimizer/0'"),
    (_ckpt_unreferenced, "'optimizer/9'"),
    (_ckpt_reference_twice, "second time"),
    (lambda m, meta: meta["optimizer_state"].update(w={"__array__": "Theta1"}), "'Theta1'"),
    (lambda m, meta: meta["rng_state"].update(bit_generator="Evil"), "rng_state"),
    (lambda m, meta: meta["rng_state"]["state"].update(state="zero"), "PCG64"),
    (lambda m, meta: meta.update(epoch=-2), "epoch"),
    (lambda m, meta: meta.update(epoch=2.0), "epoch"),
    (lambda m, meta: meta.update(optimizer_state=[]), "optimizer_state"),
    (lambda m, meta: meta.update(version=9), "version 9"),
])
def test_damaged_checkpoints_are_errors(tmp_path, edit, fragment):
    path = vio.save_checkpoint(tmp_path / "c.npz", net=make_net(), optimizer_state={"m": [np.ones(3)], "t": 1},
                               schedule_state=None, rng_state=np.random.default_rng(0).bit_generator.state,
                               epoch=4)
    assert fragment in load_error(tamper(path, edit), vio.load_checkpoint)
