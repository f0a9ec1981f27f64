"""Download Fashion-MNIST with urllib: resumable (.part + Range), verified (SHA-256), atomic (os.replace)."""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

from . import fashion_mnist
from .paths import data_dir

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""The official location, from the data set's README."""
URL_ENV = "VECPROP_FASHION_MNIST_URL"
_CHUNK = 1 << 16

Progress = Callable[[int, "int | None"], None]


class ChecksumError(ValueError):
    """A downloaded file's content is not the expected one (the partial file is deleted)."""


def payload_sha256(path: Path) -> str | None:
    """SHA-256 of the decompressed content of a gzip file; None if it is not a whole gzip stream."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, name: str) -> bool:
    """Whether ``path`` holds the file ``name``: its decompressed SHA-256 is in
    ``fashion_mnist.FILES``, or its own MD5 is the upstream README's."""
    if payload_sha256(path) == fashion_mnist.FILES[name]:
        return True
    return _file_md5(path) == fashion_mnist.UPSTREAM_MD5.get(name)


def _download(url: str, part: Path, progress: Progress | None, timeout: float) -> None:
    """One request: append to ``part`` from its current size (Range), or restart it on a 200."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "vecprop-fetch"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing past our end: the part is whole; verification decides
            return
        raise
    with response:
        if response.status == 206:
            start = (response.headers.get("Content-Range") or "").removeprefix("bytes ").split("-")[0]
            if start != str(have):
                part.unlink()
                raise ConnectionError(f"{url}: asked to resume at byte {have}, got range {start!r}")
            mode = "ab"
        else:  # 200: a fresh download, or a server that ignores Range; start over
            mode, have = "wb", 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = have
        with open(part, mode) as fh:
            while chunk := response.read(_CHUNK):
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            fh.flush()
            os.fsync(fh.fileno())
    if total is not None and done < total:
        raise ConnectionError(f"{url}: connection closed after {done} of {total} bytes")


def _fetch_file(url: str, final: Path, progress: Progress | None, retries: int, timeout: float) -> None:
    if final.exists() and verified(final, final.name):
        return
    part = final.with_name(final.name + ".part")
    for attempt in range(retries + 1):
        try:
            _download(url, part, progress, timeout)
            break
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == retries:
                raise ConnectionError(f"{url}: HTTP {err.code} {err.reason}") from err
        except (OSError, http.client.HTTPException) as err:
            if attempt == retries:
                kept = part.stat().st_size if part.exists() else 0
                raise ConnectionError(f"{url}: download failed after {retries + 1} attempts ({err}); "
                                      f"{part} keeps {kept} bytes: run again to resume") from err
    if not verified(part, final.name):
        found = payload_sha256(part) or "(not a whole gzip stream)"
        part.unlink()
        raise ChecksumError(f"{url}: checksum mismatch: the SHA-256 of the decompressed content is "
                            f"{found}, expected {fashion_mnist.FILES[final.name]}; the download "
                            f"was deleted, run again")
    os.replace(part, final)


def fetch(name: str = "fashion-mnist", dest: str | Path | None = None, *, base_url: str | None = None,
          progress: Progress | None = None, retries: int = 3, timeout: float = 60.0) -> Path:
    """Download a data set's files into ``dest`` and return that folder.

    Parameters
    ----------
    name : str
        Only ``"fashion-mnist"`` (its four gzipped IDX files).
    dest : str or Path, optional
        Default: ``data_dir() / name`` (``$VECPROP_DATA`` or ``~/.cache/vecprop``),
        where :func:`vecprop.datasets.load` looks first.
    base_url : str, optional
        Default: ``$VECPROP_FASHION_MNIST_URL``, else :data:`FASHION_MNIST_URL`.
    progress : callable, optional
        ``progress(bytes_done, total)`` after each chunk, per file; ``bytes_done``
        counts resumed bytes, ``total`` is None when the server does not say.
    retries : int
        Extra attempts after a dropped connection (each resumes where the last stopped).
    timeout : float
        Seconds a socket may wait.

    Notes
    -----
    Each file downloads into ``<file>.part``; a retry asks for ``Range: bytes=N-``
    and appends (a server answering 200 instead restarts the file). Complete files
    are checked (:func:`verified`: SHA-256 of the decompressed content, or the
    upstream MD5 of the .gz) and only then moved into place with ``os.replace``; a
    mismatch deletes the part file and raises :class:`ChecksumError`. Files already
    present and correct are not downloaded again.
    """
    if name != fashion_mnist.NAME:
        raise ValueError(f"cannot fetch {name!r}; fetchable: {fashion_mnist.NAME!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0; got {retries}")
    dest = Path(dest) if dest is not None else data_dir() / name
    base = base_url or os.environ.get(URL_ENV) or FASHION_MNIST_URL
    base = base if base.endswith("/") else base + "/"
    dest.mkdir(parents=True, exist_ok=True)
    for filename in fashion_mnist.FILES:
        _fetch_file(base + filename, dest / filename, progress, retries, timeout)
    return dest
