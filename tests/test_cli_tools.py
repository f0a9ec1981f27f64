"""``vecprop gradcheck / explain / datasets / fetch`` and the progress callbacks."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import re
import struct
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import vecprop as vp
from cli_helpers import vecprop
from vecprop.cli import main
from vecprop.cli.progress import JSONLinesLogger, ProgressBar, progress_enabled
from vecprop.io import save
from vecprop.training import fit


@pytest.fixture
def binary_model(tmp_path):
    """A saved 2 -> 4 -> 1 sigmoid classifier, as vecprop train would describe it (no scaler)."""
    net = vp.Network([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0)
    path = tmp_path / "model.npz"
    save(net, path, extra={"task": "binary", "classes": ["0", "1"], "feature_names": ["x0", "x1"],
                           "scaler": None, "target_scaler": None, "data": "moons"})
    return path


# ---- gradcheck ------------------------------------------------------------------------------------
def test_gradcheck_passes_and_prints_the_table(tmp_path):
    r = vecprop("gradcheck", "--layers", "3,5,4", "--activation", "tanh", "--batch", "6", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for layer in (1, 2):
        for param in ("dTheta", "db"):
            assert re.search(rf"^\s+{layer}\s+{param}\s+\S+e-\d+ .* yes$", r.stdout, re.M), r.stdout
    assert "PASS" in r.stdout


def test_gradcheck_exits_1_when_a_check_fails(capsys, monkeypatch):
    from vecprop import activations

    original = activations.Tanh.derivative  # a backward pass that is 2% off in layer 1's (C)
    monkeypatch.setattr(activations.Tanh, "derivative", lambda self, Z, A=None: 1.02 * original(self, Z, A))
    assert main(["gradcheck", "--layers", "3,4,2"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: dTheta[1], db[1]" in out and out.count(" NO") == 2


def test_gradcheck_says_when_the_tolerance_is_finer_than_central_differences(tmp_path):
    # float64 central differences agree to ~1e-10, never to 1e-15: the verdict says so instead of failing
    r = vecprop("gradcheck", "--layers", "3,4,2", "--tol", "1e-15", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.count("yes**") == 4 and "cannot resolve it here" in r.stdout


@pytest.mark.parametrize("loss, out", [("binary_cross_entropy", "sigmoid"), ("squared_error", "identity")])
def test_gradcheck_other_losses(loss, out, capsys):
    assert main(["gradcheck", "--layers", "2,3,1", "--loss", loss, "--batch", "4"]) == 0
    assert f"({'tanh'}, {out}), loss {loss}" in capsys.readouterr().out


def test_gradcheck_a_saved_model_on_data(binary_model, capsys):
    assert main(["gradcheck", "--model", str(binary_model), "--data", "moons", "--batch", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 rows of moons" in out and "PASS" in out


# ---- explain ----------------------------------------------------------------------------------------
def test_explain_shows_every_equation_with_shapes_flops_and_memory(capsys):
    n0, n1, n2, m = 10, 20, 5, 1000
    assert main(["explain", "--layers", f"{n0},{n1},{n2}", "--batch", str(m), "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    for tag in ("(1)", "(2)", "(A)", "(B)", "(C)", "(D)"):
        assert f"  {tag} " in out, tag
    assert "Z[1] = Theta[1] A[0] + b[1]" in out and f"({n1}, {n0}) x ({n0}, {m}) + ({n1}, 1) -> ({n1}, {m})" in out
    assert "dTheta[1] = 1/m dZ[1] A[0]^T" in out and f"({n1}, {m}) x ({m}, {n0}) -> ({n1}, {n0})" in out
    assert "dA[1] = Theta[2]^T dZ[2]" in out and f"({n1}, {n2}) x ({n2}, {m}) -> ({n1}, {m})" in out
    # FLOPs of (A) for layer 1: 2 n_1 m n_0 for the product and n_1 n_0 for the 1/m
    flops_A1 = 2 * n1 * m * n0 + n1 * n0
    assert f"= {flops_A1 / 1e3:.2f} K" in out
    # Theta[1] holds n_1 n_0 float64 numbers
    assert re.search(rf"Theta\[1\]\s+\({n1}, {n0}\)\s+{n1 * n0:,} numbers\s+{n1 * n0 * 8 / 1024:.1f} KiB", out)
    assert "softmax + cross_entropy fuse" in out and "dZ[2] = A[2] - Y" in out


def test_explain_without_fusion_starts_from_eq_5(capsys):
    assert main(["explain", "--layers", "4,3,2", "--activations", "relu,sigmoid", "--loss", "squared_error"]) == 0
    out = capsys.readouterr().out
    assert "(5) dA[2] = err'(A[2], Y)" in out and "dZ[2] = dA[2] * sigmoid'(Z[2])" in out
    assert "dZ[1] = dA[1] * relu'(Z[1])" in out


# ---- datasets -----------------------------------------------------------------------------------------
def test_datasets_lists_every_named_set(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name, task, _, _ in vp.datasets.available():
        assert re.search(rf"^{re.escape(name)}\s+{task}\s", out, re.M), name
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [row[0] for row in vp.datasets.available()]


# ---- fetch --------------------------------------------------------------------------------------------
def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server holding tiny Fashion-MNIST look-alikes, with FILES pointing at their checksums."""
    from vecprop.datasets import fashion_mnist

    root = tmp_path / "www"
    root.mkdir()
    rng = np.random.default_rng(0)
    sums = {}
    for prefix, m in (("train", 20), ("t10k", 10)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (m, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", np.arange(m, dtype=np.uint8) % 10)):
            name = f"{prefix}-{kind}-ubyte.gz"
            (root / name).write_bytes(gzip.compress(_idx(array), mtime=0))
            sums[name] = hashlib.sha256(_idx(array)).hexdigest()
    monkeypatch.setattr(fashion_mnist, "FILES", sums)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", sums
    server.shutdown()
    server.server_close()


def test_fetch_downloads_into_dest(mirror, tmp_path, monkeypatch, capsys):
    url, sums = mirror
    monkeypatch.setenv("VECPROP_FASHION_MNIST_URL", url)
    dest = tmp_path / "fm"
    assert main(["fetch", "fashion-mnist", "--dest", str(dest), "--quiet"]) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)
    assert "4 files verified" in capsys.readouterr().out


def test_fetch_rejects_a_bad_checksum(mirror, tmp_path, monkeypatch, capsys):
    from vecprop.datasets import fashion_mnist

    url, sums = mirror
    name = next(iter(sums))
    monkeypatch.setattr(fashion_mnist, "FILES", {**sums, name: "0" * 64})
    assert main(["fetch", "fashion-mnist", "--dest", str(tmp_path / "fm"), "--url", url, "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vecprop: error:") and "checksum" in err and name in err
    assert not (tmp_path / "fm" / name).exists()


def test_fetch_unreachable_server_is_a_clean_failure(tmp_path, capsys):
    code = main(["fetch", "fashion-mnist", "--dest", str(tmp_path / "fm"), "--url", "http://127.0.0.1:9/",
                 "--retries", "0", "-q"])
    assert code == 1 and "download failed" in capsys.readouterr().err


# ---- progress callbacks -------------------------------------------------------------------------------
class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_quiet():
    assert progress_enabled(False, _TTY()) and not progress_enabled(True, _TTY())
    assert not progress_enabled(False, io.StringIO())


def test_progress_bar_and_jsonl_logger_as_fit_callbacks(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3, 40)), rng.integers(0, 2, 40)
    net = vp.Network([3, 4, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    buf = _TTY()
    log = tmp_path / "log.jsonl"
    history = fit(net, X, vp.one_hot(y, 2), epochs=3, batch_size=10, validation=(X, vp.one_hot(y, 2)),
                  callbacks=[ProgressBar(4, stream=buf), JSONLinesLogger(log)])
    assert "3/3" in buf.getvalue() and "val_acc=" in buf.getvalue()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["val_cost"] for r in records] == history["val_cost"]
