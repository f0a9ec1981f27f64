"""The playground's HTTP server (fixed static files, bounded JSON API, sessions per tab) and ``vecprop playground``."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

import vecprop as vp
from cli_helpers import SRC, vecprop
from playground_helpers import api, request, running_server
from vecprop.playground.server import MAX_BODY, STATIC


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


def test_every_static_file_is_served_with_its_type(server):
    for path, (_, kind) in STATIC.items():
        status, headers, body = request(server.url.rstrip("/") + path)
        assert status == 200 and headers["Content-Type"] == kind and body, path
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert b'<script type="module" src="/app.js">' in request(server.url)[2]


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml", "/static/app.js",
                                  "/index.html/..", "//etc/passwd", "/server.py", "/__init__.py", "/favicon.ico"])
def test_no_other_path_reaches_the_file_system(server, path):
    status, _, body = request(server.url.rstrip("/") + path)
    assert status == 404 and b"no such page" in body


def test_new_session_then_a_step(server):
    status, f = api(server, "new", setup={"data": "moons", "n": "40", "hidden": "3"})
    assert status == 200 and f["setup"]["data"] == "moons" and f["step"] is None and f["walk"]
    assert len(f["points"]["train"]["x1"]) + len(f["points"]["test"]["x1"]) == 40
    status, g = api(server, "step", session=f["session"], layers=[1, 2])
    assert status == 200 and g["steps"] == 1 and g["step"]["matrices"]["dTheta[1]"]["shape"] == [3, 2]
    assert "points" in g  # the page did not say which points it has
    status, h = api(server, "state", session=f["session"], have={"points": g["points"]["version"]})
    assert "points" not in h and h["steps"] == 1


def test_tabs_are_independent_sessions(server):
    _, a = api(server, "new", setup={"n": "40"})
    _, b = api(server, "new", setup={"n": "40"})
    assert a["session"] != b["session"]
    api(server, "train", session=a["session"], steps=7)
    assert api(server, "state", session=a["session"])[1]["steps"] == 7
    assert api(server, "state", session=b["session"])[1]["steps"] == 0


@pytest.mark.parametrize("action, body, status, message", [
    ("new", {"setup": {"lr": "-1"}}, 400, "setting lr must be in (0, 10]"),
    ("new", {"setup": "lr=1"}, 400, "'setup' must be a JSON dict"),
    ("new", {"setup": {"data": "csv"}}, 400, "uploaded points (data=csv) are not part of a link"),
    ("step", {"session": "not-a-session"}, 410, "this playground session has ended"),
    ("delete", {}, 404, "no such action: /api/delete"),
])
def test_bad_requests_get_a_message(server, action, body, status, message):
    got, answer = api(server, action, **body)
    assert got == status and message in answer["error"]


def test_bad_values_in_a_session_request(server):
    _, f = api(server, "new", setup={"n": "40"})
    sid = f["session"]
    for body, message in [({"layers": [0]}, "layers must list layer numbers from 1 to L = 3"),
                          ({"steps": 0}, "steps must be from 1 to 10000"),
                          ({"steps": "10"}, "'steps' must be a JSON int")]:
        status, answer = api(server, "train", session=sid, **body)
        assert status == 400 and message in answer["error"], body
    status, answer = api(server, "point", session=sid, x1=0.1, x2=0.2, label=5)
    assert status == 400 and "class index 0..1" in answer["error"]
    status, answer = api(server, "upload", session=sid, csv="1,2\n", task="classification")
    assert status == 400 and "CSV line 1: expected 3 columns" in answer["error"]


def test_upload_and_click_change_the_points(server):
    _, f = api(server, "new", setup={"n": "40"})
    sid = f["session"]
    csv = "".join(f"{i % 7},{i % 5},{'ab'[i % 2]}\n" for i in range(30))
    status, g = api(server, "upload", session=sid, csv=csv, task="classification")
    assert status == 200 and g["setup"]["data"] == "csv" and g["classes"] == ["a", "b"]
    m = len(g["points"]["train"]["x1"])
    _, h = api(server, "point", session=sid, x1=0.5, x2=0.5, label=1, have={"points": g["points"]["version"]})
    assert len(h["points"]["train"]["x1"]) == m + 1 and h["points"]["train"]["y"][-1] == 1
    _, k = api(server, "setup", session=sid, setup={**h["setup"], "lr": "0.1"})
    assert k["setup"]["data"] == "csv" and k["setup"]["lr"] == "0.1"  # the uploaded points stay


def test_export_is_a_model_file(server, tmp_path):
    _, f = api(server, "new", setup={"n": "40"})
    api(server, "train", session=f["session"], steps=20)
    status, data = api(server, "export", session=f["session"])
    assert status == 200 and isinstance(data, bytes)
    (tmp_path / "m.npz").write_bytes(data)
    assert vp.load(tmp_path / "m.npz").sizes == (2, 4, 4, 1)


def _raw(server, text: str) -> bytes:
    """Send one raw HTTP request; the server's whole answer."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(text.encode())
        return b"".join(iter(lambda: sock.recv(65536), b""))


def test_request_limits_and_origins(server):
    url = server.url + "api/new"
    head = "POST /api/new HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
    too_big = _raw(server, head + f"Content-Length: {MAX_BODY + 1}\r\n\r\n")  # refused before reading a byte
    assert too_big.split(b"\r\n")[0].endswith(b"413 Request Entity Too Large")
    assert _raw(server, head + "\r\n").split(b"\r\n")[0].endswith(b"411 Length Required")
    assert request(url, b"{}", {"Content-Type": "text/plain"})[0] == 415
    assert request(url, b"{}", {"Content-Type": "application/json", "Origin": "http://evil.example"})[0] == 403
    assert request(url, b"[1]", {"Content-Type": "application/json"})[0] == 400
    assert request(url, b"{not json", {"Content-Type": "application/json"})[0] == 400


def test_a_foreign_host_name_is_refused(server):
    """DNS rebinding: a page served as evil.example whose name now points at 127.0.0.1 gets nothing."""
    answer = _raw(server, "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert answer.split(b"\r\n")[0].endswith(b"421 Misdirected Request")


# ---- vecprop playground ---------------------------------------------------------------------------
def _start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "vecprop", "playground", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_serves_on_a_free_port_and_stops_on_ctrl_c():
    proc = _start("--port", "0")
    try:
        line = proc.stdout.readline()
        assert line.startswith("vecprop playground: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        status, _, body = request(url)
        assert status == 200 and b"vecprop playground" in body
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err and "warning" not in err


def test_cli_warns_when_the_host_is_widened():
    proc = _start("--port", "0", "--host", "0.0.0.0")
    try:
        assert proc.stdout.readline().startswith("vecprop playground: http://0.0.0.0:")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert "warning: --host 0.0.0.0 lets other machines reach the playground" in err


def test_cli_reports_a_busy_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = vecprop("playground", "--no-browser", "--port", str(port), cwd=tmp_path)
    assert r.returncode == 2 and f"vecprop: error: port {port} is in use" in r.stderr


def test_cli_refuses_a_bad_port(tmp_path):
    r = vecprop("playground", "--port", "70000", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "vecprop: error: --port must be from 0 to 65535; got 70000"


def test_frames_are_json_without_nan(server):
    """A diverged step holds inf or NaN: they travel as null, never as the NaN that breaks JSON.parse."""
    _, f = api(server, "new", setup={"data": "sine", "n": "100", "lr": "5", "opt": "sgd", "hidden": "8,8",
                                     "act": "relu"})
    status, _, raw = request(server.url + "api/train", json.dumps({"session": f["session"], "steps": 2000}).encode(),
                             {"Content-Type": "application/json"})
    def refuse(constant):
        raise AssertionError(f"{constant} in the JSON")

    g = json.loads(raw, parse_constant=refuse)  # NaN, Infinity, -Infinity: not JSON, JSON.parse fails on them
    assert status == 200 and g["diverged"]
    step = g["step"]
    assert step["J"] is None or "null" in json.dumps(step["matrices"])  # the blow-up is there, as null
    assert np.isfinite(np.array(g["network"]["Theta"][0], dtype=float)).all()  # the weights went back
