"""Raw surgery on vecprop's .npz archives for the file tests, independent of vecprop's own reader."""
from __future__ import annotations

import hashlib
import json
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np


def npy(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    """The bytes of ``a`` as a .npy member."""
    buf = BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_members(path: Path, members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def get_meta(members: dict[str, bytes]) -> dict:
    return json.loads(np.lib.format.read_array(BytesIO(members["metadata.npy"])).tobytes())


def put_meta(members: dict[str, bytes], meta: dict | None = None, *, blob: bytes | None = None,
             digest: bool = True) -> None:
    """New metadata (``meta`` as JSON, or the raw ``blob``); with ``digest`` the metadata_sha256 entry,
    where there is one, is rewritten to match (a consistent edit)."""
    blob = json.dumps(meta).encode() if blob is None else blob
    members["metadata.npy"] = npy(np.frombuffer(blob, dtype=np.uint8))
    if digest and "metadata_sha256.npy" in members:
        members["metadata_sha256.npy"] = npy(np.frombuffer(hashlib.sha256(blob).hexdigest().encode(), np.uint8))
