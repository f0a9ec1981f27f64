"""Helpers shared by the playground tests: a server on a free port in a thread, and JSON requests to it."""
from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from vecprop.playground.server import PlaygroundServer


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[PlaygroundServer]:
    """A playground on 127.0.0.1 and a free port, served from a thread until the block ends."""
    server = PlaygroundServer("127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            method: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; HTTP errors are answers too, not exceptions."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def api(server: PlaygroundServer, action: str, **body: Any) -> tuple[int, Any]:
    """POST /api/<action> with a JSON body; (status, decoded JSON or raw bytes)."""
    status, headers, data = request(server.url + f"api/{action}", json.dumps(body).encode(),
                                    {"Content-Type": "application/json"})
    return status, json.loads(data) if headers.get("Content-Type") == "application/json" else data
