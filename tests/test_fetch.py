"""Tests for vecprop.datasets.fetch (download.py) against a local HTTP server (never the real network)."""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from vecprop import datasets as D
from vecprop.datasets import fashion_mnist
from vecprop.datasets import download

IMAGES = "train-images-idx3-ubyte.gz"
CUT = 5000  # bytes sent before a simulated dropped connection


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _fake_files() -> dict[str, bytes]:
    """Small but valid Fashion-MNIST look-alikes: 30 train and 10 test images of 28x28."""
    rng = np.random.default_rng(0)
    payloads = {}
    for prefix, m in (("train", 30), ("t10k", 10)):
        payloads[f"{prefix}-images-idx3-ubyte.gz"] = _idx(rng.integers(0, 256, (m, 28, 28), dtype=np.uint8))
        payloads[f"{prefix}-labels-idx1-ubyte.gz"] = _idx(np.arange(m, dtype=np.uint8) % 10)
    return {name: gzip.compress(data, mtime=0) for name, data in payloads.items()}


class FakeServer:
    """What the handler serves, how it misbehaves, and what it was asked."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []  # (file name, Range header)
        self.cut_after: dict[str, int] = {}  # one-shot: close after K body bytes
        self.ignore_range = False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        fake: FakeServer = self.server.fake
        name, wanted = self.path.lstrip("/"), self.headers.get("Range")
        fake.requests.append((name, wanted))
        if name not in fake.files:
            self.send_error(404)
            return
        data, start = fake.files[name], 0
        if wanted and not fake.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = fake.cut_after.pop(name, None)
        self.wfile.write(body if cut is None else body[:cut])  # HTTP/1.0: the socket closes after

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    files = _fake_files()
    sums = {name: hashlib.sha256(gzip.decompress(data)).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(fashion_mnist, "FILES", sums)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.fake = FakeServer(files)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    # every route to a URL leads here: argument default, environment, module constant
    monkeypatch.setenv("VECPROP_FASHION_MNIST_URL", url)
    monkeypatch.setattr(download, "FASHION_MNIST_URL", url)
    monkeypatch.setenv("VECPROP_DATA", str(tmp_path / "data"))
    yield httpd.fake
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _requests_for(fake: FakeServer, name: str) -> list[str | None]:
    return [wanted for asked, wanted in fake.requests if asked == name]


def test_full_download_verifies_and_loads(server, tmp_path):
    calls: list[tuple[int, int | None]] = []
    folder = D.fetch(progress=lambda done, total: calls.append((done, total)))
    assert folder == tmp_path / "data" / "fashion-mnist"
    for name, data in server.files.items():
        assert (folder / name).read_bytes() == data
    assert not list(folder.glob("*.part"))
    assert (len(server.files[IMAGES]), len(server.files[IMAGES])) in calls
    ds = D.load("fashion-mnist")  # found in $VECPROP_DATA, ahead of any system copy
    assert ds.X.shape == (30, 784) and ds.X_test.shape == (10, 784)


def test_files_already_present_are_not_downloaded_again(server, tmp_path):
    D.fetch(dest=tmp_path / "f")
    asked = len(server.requests)
    D.fetch(dest=tmp_path / "f")
    assert len(server.requests) == asked == 4


def test_dropped_connection_resumes_with_range(server, tmp_path):
    server.cut_after[IMAGES] = CUT
    folder = D.fetch(dest=tmp_path / "f", retries=1)
    assert _requests_for(server, IMAGES) == [None, f"bytes={CUT}-"]
    assert (folder / IMAGES).read_bytes() == server.files[IMAGES]


def test_failed_run_keeps_the_part_and_the_next_run_resumes(server, tmp_path):
    server.cut_after[IMAGES] = CUT
    with pytest.raises(ConnectionError, match="run again to resume"):
        D.fetch(dest=tmp_path / "f", retries=0)
    part = tmp_path / "f" / (IMAGES + ".part")
    assert part.read_bytes() == server.files[IMAGES][:CUT]
    assert not (tmp_path / "f" / IMAGES).exists()
    D.fetch(dest=tmp_path / "f", retries=0)
    assert _requests_for(server, IMAGES)[-1] == f"bytes={CUT}-"
    assert (tmp_path / "f" / IMAGES).read_bytes() == server.files[IMAGES]
    assert not part.exists()


def test_server_that_ignores_range_still_gives_the_right_file(server, tmp_path):
    server.ignore_range = True
    server.cut_after[IMAGES] = CUT
    folder = D.fetch(dest=tmp_path / "f", retries=1)
    assert _requests_for(server, IMAGES) == [None, f"bytes={CUT}-"]  # asked, got a 200, restarted
    assert (folder / IMAGES).read_bytes() == server.files[IMAGES]


def test_complete_part_file_answered_416_is_verified_and_kept(server, tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / (IMAGES + ".part")).write_bytes(server.files[IMAGES])
    D.fetch(dest=tmp_path / "f")
    assert (tmp_path / "f" / IMAGES).read_bytes() == server.files[IMAGES]


def test_bad_checksum_is_rejected_and_nothing_is_left(server, tmp_path, monkeypatch):
    monkeypatch.setitem(fashion_mnist.FILES, IMAGES, "0" * 64)
    with pytest.raises(D.ChecksumError, match=f"{IMAGES}: checksum mismatch"):
        D.fetch(dest=tmp_path / "f")
    assert not (tmp_path / "f" / IMAGES).exists()
    assert not (tmp_path / "f" / (IMAGES + ".part")).exists()


def test_corrupt_existing_file_is_replaced(server, tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / IMAGES).write_bytes(b"not gzip")
    D.fetch(dest=tmp_path / "f")
    assert (tmp_path / "f" / IMAGES).read_bytes() == server.files[IMAGES]


def test_missing_file_on_server(server, tmp_path):
    del server.files[IMAGES]
    with pytest.raises(ConnectionError, match="HTTP 404"):
        D.fetch(dest=tmp_path / "f")


def test_only_fashion_mnist_is_fetchable(server):
    with pytest.raises(ValueError, match="cannot fetch 'iris'"):
        D.fetch("iris")


def test_upstream_md5_is_accepted_too(server, tmp_path, monkeypatch):
    monkeypatch.setitem(fashion_mnist.FILES, IMAGES, "0" * 64)
    monkeypatch.setitem(fashion_mnist.UPSTREAM_MD5, IMAGES, hashlib.md5(server.files[IMAGES]).hexdigest())
    D.fetch(dest=tmp_path / "f")
    assert (tmp_path / "f" / IMAGES).read_bytes() == server.files[IMAGES]


def test_checksum_table_matches_the_local_copy():
    """The SHA-256 table was computed from Debian's files; keep it honest against them."""
    try:
        folder = fashion_mnist.find()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)")
    for name in fashion_mnist.FILES:
        assert download.verified(folder / name, name), name
