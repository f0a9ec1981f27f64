"""The playground's HTTP server, standard library only: a fixed set of static files and a JSON API."""
from __future__ import annotations

import json
import sys
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import urlsplit

from .app import Playground
from .sessions import SessionExpired

STATIC: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    **{f"/{name}": (name, "text/javascript; charset=utf-8")
       for name in ("app.js", "api.js", "controls.js", "draw.js", "matrices.js", "network_view.js")},
}
"""URL path -> file in vecprop/playground/static: the only files the server ever reads."""

MAX_BODY = 1024 * 1024  # bytes of one request; a CSV upload is at most data.MAX_CSV_BYTES of it
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Handler(BaseHTTPRequestHandler):
    """GET: the static files of STATIC; POST /api/<action>: JSON in, JSON (or a model file) out."""

    server_version = "vecprop-playground"
    timeout = 15  # seconds a client may take to send its request
    server: PlaygroundServer

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path not in STATIC:
            return self._send_json({"error": f"no such page: {path[:80]}"}, HTTPStatus.NOT_FOUND)
        name, kind = STATIC[path]
        body = resources.files(__package__).joinpath("static", name).read_bytes()
        self._send(body, kind, HTTPStatus.OK, csp=True)

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if not path.startswith("/api/"):
            return self._send_json({"error": f"no such action: {path[:80]}"}, HTTPStatus.NOT_FOUND)
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            return self._send_json({"error": "cross-origin requests are refused"}, HTTPStatus.FORBIDDEN)
        if self.headers.get_content_type() != "application/json":
            return self._send_json({"error": "send JSON (Content-Type: application/json)"},
                                   HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send_json({"error": "Content-Length is required"}, HTTPStatus.LENGTH_REQUIRED)
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for the next request
            return self._send_json({"error": f"the request is larger than {MAX_BODY // 1024} KiB"},
                                   HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the request must be a JSON object")
            result = self.server.playground.act(path[len("/api/"):], body)
        except SessionExpired as err:
            return self._send_json({"error": err.args[0], "expired": True}, HTTPStatus.GONE)
        except LookupError:
            return self._send_json({"error": f"no such action: {path[:80]}"}, HTTPStatus.NOT_FOUND)
        except (ValueError, TypeError) as err:  # bad input from the page: its message is shown there
            return self._send_json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
        except RecursionError:  # JSON nested thousands deep: no page sends that
            return self._send_json({"error": "the request nests too deeply"}, HTTPStatus.BAD_REQUEST)
        if isinstance(result, bytes):
            self._send(result, "application/octet-stream", HTTPStatus.OK,
                       extra={"Content-Disposition": 'attachment; filename="playground-model.npz"'})
        else:
            self._send_json(result, HTTPStatus.OK)

    def _host_ok(self) -> bool:
        """Bound to loopback, only a loopback Host is served: a web page cannot rebind a name to us."""
        if not self.server.loopback_only:
            return True
        host = urlsplit("//" + self.headers.get("Host", "")).hostname
        if host in LOOPBACK:
            return True
        self._send_json({"error": "the playground answers only http://127.0.0.1 or http://localhost"},
                        HTTPStatus.MISDIRECTED_REQUEST)
        return False

    def _send_json(self, payload: Any, status: HTTPStatus) -> None:
        body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
        self._send(body, "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus, *, csp: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if csp:
            self.send_header("Content-Security-Policy", CSP)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)


class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server holding one Playground (its sessions); each request runs in its own thread."""

    daemon_threads = True

    def __init__(self, host: str, port: int, playground: Playground | None = None, verbose: bool = False) -> None:
        self.address_family = _family(host)
        super().__init__((host, port), Handler)
        self.playground = playground or Playground()
        self.loopback_only = host in LOOPBACK
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8765, *, open_browser: bool = True,
          say: Callable[[str], None] = print) -> None:
    """Serve the playground until Ctrl-C; ``port=0`` picks a free port. Binds ``host`` as given."""
    with PlaygroundServer(host, port) as server:
        say(f"vecprop playground: {server.url}  (Ctrl-C to stop)")
        sys.stdout.flush()
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET
