"""``vecprop playground``: serve the learners' playground, a local web page that trains with vecprop."""
from __future__ import annotations

import argparse
import errno
import socket
import sys
from typing import Any

from .errors import UserError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "playground", help="a local web page to watch (1) and (A)-(D) train, matrix by matrix",
        description="Serve the playground: pick data, features and a network in the browser and watch "
                    "vecprop's readable engine train it, with every matrix of the forward and backward "
                    "pass of the last mini-batch, its shape and its equation. Serves 127.0.0.1 only "
                    "unless --host says otherwise. See docs/playground.md.",
        epilog="examples:\n  vecprop playground\n  vecprop playground --port 0 --no-browser",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only). Anything else lets "
                        "other machines in: the playground has no passwords")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..playground.server import LOOPBACK, serve

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be from 0 to 65535; got {args.port}")

    def say(line: str) -> None:  # called once the address is bound: a host that fails gets only its error
        if args.host not in LOOPBACK:
            print(f"vecprop: warning: --host {args.host} lets other machines reach the playground, which has no "
                  f"passwords; use it only on a network you trust", file=sys.stderr)
        print(line)

    try:
        serve(args.host, args.port, open_browser=not args.no_browser, say=say)
    except socket.gaierror as err:
        raise UserError(f"--host {args.host}: no such address ({err.strerror or err})") from None
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise UserError(f"port {args.port} is in use; pass another --port, or --port 0 to pick a free one") from None
        if err.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise UserError(f"cannot listen on {args.host}:{args.port}: {err.strerror}") from None
        raise
    return 0
