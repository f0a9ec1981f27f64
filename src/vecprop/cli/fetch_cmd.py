"""``vecprop fetch fashion-mnist``: download with checksum verification, resumable and atomic."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .errors import UserError
from .progress import download_progress, progress_enabled

FETCHABLE = ("fashion-mnist",)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fetch", help="download a data set (fashion-mnist), verified and resumable",
        description="Download Fashion-MNIST's four gzipped IDX files from the official location into DEST "
                    "(default: $VECPROP_DATA/fashion-mnist, else ~/.cache/vecprop/fashion-mnist, where "
                    "--data fashion-mnist looks). Each file is checked against its SHA-256 and moved into "
                    "place only when whole; an interrupted download resumes. $VECPROP_FASHION_MNIST_URL "
                    "overrides the server (a mirror).",
        epilog="example:\n  vecprop fetch fashion-mnist && vecprop train --data fashion-mnist --hidden 256,128",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="the data set: fashion-mnist")
    p.add_argument("--dest", metavar="DIR", help="folder to download into")
    p.add_argument("--url", metavar="URL", help="base URL of a mirror (default: the official location)")
    p.add_argument("--retries", type=int, default=3, help="reconnect attempts, each resuming (default 3)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.name not in FETCHABLE:
        import difflib

        close = difflib.get_close_matches(args.name, FETCHABLE, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"cannot fetch {args.name!r}{hint}; fetchable: {', '.join(FETCHABLE)} (the other "
                        f"named sets need no download: see `vecprop datasets`)")
    if args.retries < 0:
        raise UserError(f"--retries must be >= 0; got {args.retries}")
    if args.dest is not None and os.path.exists(args.dest) and not os.path.isdir(args.dest):
        raise UserError(f"--dest {args.dest} is a file, not a folder; give a folder to download into")
    if args.url is not None and not args.url.lower().startswith(("http://", "https://", "file://")):
        raise UserError(f"--url {args.url}: give an http://, https:// or file:// address of a mirror")
    from ..datasets import ChecksumError, fetch

    progress = download_progress() if progress_enabled(args.quiet) else None
    try:
        dest = fetch(args.name, args.dest, base_url=args.url, progress=progress, retries=args.retries)
    except ChecksumError as err:
        raise UserError(str(err), code=1) from None
    except (ConnectionError, OSError) as err:
        raise UserError(f"download failed: {err}", code=1) from None
    except ValueError as err:  # urllib's "unknown url type": a mistake in --url, not a failed download
        raise UserError(f"--url {args.url}: {err}") from None
    print(f"{args.name}: 4 files verified in {dest}", file=sys.stdout)
    return 0
