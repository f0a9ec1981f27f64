"""Decompression bombs built cheaply: deflate streams that inflate to gigabytes of zeros from a few kilobytes.

One 16 MiB run of zeros is compressed once with a full flush (so the segment refers to nothing
before it) and repeated; checksums are left wrong on purpose, since a bounded reader stops long
before the end where they are checked.
"""
from __future__ import annotations

import struct
import zlib

_CHUNK = 1 << 24


def _segment(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def raw_deflate(prefix: bytes, zeros: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``zeros`` zero bytes (``zeros`` a multiple of 16 MiB)."""
    assert zeros % _CHUNK == 0
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    return _segment(prefix) + _segment(bytes(_CHUNK)) * (zeros // _CHUNK) + tail.flush(zlib.Z_FINISH)


def gzip_bomb(prefix: bytes, zeros: int) -> bytes:
    """A .gz file of ``prefix`` then ``zeros`` zero bytes (its CRC and size trailer are wrong)."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw_deflate(prefix, zeros) + bytes(8)


def zip_bomb(name: str, prefix: bytes, zeros: int) -> bytes:
    """A one-member zip (deflated) whose member inflates to ``prefix`` + ``zeros`` bytes, sizes declared
    truthfully (below 4 GiB: no zip64), its CRC wrong."""
    data = raw_deflate(prefix, zeros)
    size = len(prefix) + zeros
    assert size < 2**32
    fname = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(data), size, len(fname), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, 0, len(data), size,
                          len(fname), 0, 0, 0, 0, 0o644 << 16, 0)
    offset = len(local) + len(fname) + len(data)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(fname), offset, 0)
    return local + fname + data + central + fname + end


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()
