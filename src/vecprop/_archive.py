"""The archive layer of vecprop files: checked .npz entries and JSON state trees (written by ``_atomic``)."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

METADATA = "metadata"  # the entry holding the UTF-8 JSON metadata as a 1-D uint8 array
DIGEST = "metadata_sha256"  # format version >= 2: the SHA-256 (64 ASCII hex digits) of the metadata's bytes
MAX_METADATA_BYTES = 16 * 2**20
MAX_DEPTH = 32  # JSON nesting; vecprop's own metadata nests at most ~10 deep
MAX_ENTRIES = 65536
SAFE_KINDS = "biufcSU"  # bool, ints, floats, complex, bytes, str; never object ("O") or void ("V")
LOADERS = {"vecprop-model": "vecprop.io.load", "vecprop-checkpoint": "vecprop.io.load_checkpoint"}
TAGS = ("__array__", "__scalar__", "__float__", "__tuple__")  # JSON objects that stand for non-JSON values
_ZIP_MAGIC = b"PK\x03\x04"
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same content always gives the same bytes

# name -> (shape, dtype) of the entries a caller requires, worked out from the metadata
Expected = Callable[[dict[str, Any]], dict[str, tuple[tuple[int, ...], np.dtype]]]


class ModelFileError(ValueError):
    """A file that is not a valid vecprop model or checkpoint; the message names the path and the fault."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


# ---- digests and writing ---------------------------------------------------------------------
def array_digest(a: np.ndarray) -> str:
    """SHA-256 over ``dtype.str | shape | C-order bytes``: a changed value, dtype or shape changes it."""
    h = hashlib.sha256(f"{a.dtype.str}|{','.join(map(str, a.shape))}|".encode())
    h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return h.hexdigest()


def check_array_dtype(a: np.ndarray, where: str) -> None:
    if a.dtype.kind not in SAFE_KINDS or a.dtype.hasobject:
        raise TypeError(
            f"{where} has dtype {a.dtype}; files hold only bool, integer, float, complex, bytes or str "
            "arrays (object arrays would need pickle)"
        )


def write_archive(fh: IO[bytes], metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``metadata`` (plus an ``arrays`` table of dtype, shape, sha256) and the arrays as a .npz.

    Entries are stored uncompressed, in order: ``metadata`` first, then ``arrays``.
    """
    table = {
        name: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
        for name, a in arrays.items()
    }
    blob = json.dumps({**metadata, "arrays": table}, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")
    if len(blob) > MAX_METADATA_BYTES or json_depth(blob) > MAX_DEPTH:
        raise ValueError(f"the metadata would be {len(blob):,} bytes nested {json_depth(blob)} deep; vecprop files "
                         f"hold at most {MAX_METADATA_BYTES:,} bytes nested {MAX_DEPTH} deep (store big data as arrays)")
    digest = np.frombuffer(hashlib.sha256(blob).hexdigest().encode("ascii"), dtype=np.uint8)
    entries = {METADATA: np.frombuffer(blob, dtype=np.uint8), DIGEST: digest, **arrays}
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in entries.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=a.nbytes > 2**30) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)


# ---- reading ---------------------------------------------------------------------------------
def read_archive(
    path: str | os.PathLike, fmt: str, versions: tuple[int, ...], expected: Expected
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check a vecprop archive: (metadata, every array by entry name).

    Order of checks: zip magic; entry names, count and sizes (every member stored uncompressed
    and no larger than the file, so nothing can inflate); the metadata is a bounded uint8 array
    whose SHA-256 matches the ``metadata_sha256`` entry (version >= 2), of UTF-8 JSON nested at
    most ``MAX_DEPTH`` deep (an object, no duplicate keys, no NaN literals); format and a version
    in ``versions``; ``expected(metadata)`` (the caller's checks, which give the required entries'
    shapes and dtypes); the ``arrays`` table lists exactly the entries present, with required
    shapes and dtypes; each entry's .npy header matches the table before its data is read; its
    size matches; its SHA-256 matches.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a FIFO (which would block), a device
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise ModelFileError(path, f"{kind}; give the path of a vecprop .npz file")
    with open(path, "rb") as fh:
        head = fh.read(len(_ZIP_MAGIC))
        if head != _ZIP_MAGIC:
            raise ModelFileError(path, f"not a vecprop file: not a .npz (zip) archive (it starts with {head!r})")
        fh.seek(0)
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        try:
            with np.load(fh, allow_pickle=False) as npz:
                return _read(path, npz, size, fmt, versions, expected)
        except ModelFileError:
            raise
        except Exception as e:  # anything a damaged archive provokes (zipfile, numpy, json) -> one error type
            raise ModelFileError(path, f"damaged archive ({type(e).__name__}: {e})") from e


def _read(path: Path, npz: Any, size: int, fmt: str, versions: tuple[int, ...], expected: Expected):
    zf: zipfile.ZipFile = npz.zip
    names = zf.namelist()
    if len(names) > MAX_ENTRIES:
        raise ModelFileError(path, f"the archive has {len(names):,} entries; vecprop files hold at most {MAX_ENTRIES:,}")
    for info in zf.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(path, f"entry {info.filename!r} is compressed (method {info.compress_type}); vecprop "
                                       "files store every entry uncompressed, so no entry can inflate beyond the file")
        if info.file_size > size or info.compress_size != info.file_size:
            raise ModelFileError(path, f"entry {info.filename!r} claims {info.file_size:,} bytes in a file of "
                                       f"{size:,} bytes")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ModelFileError(path, f"the archive holds entry {dup!r} more than once")
    odd = [n for n in names if not n.endswith(".npy")]
    if odd:
        raise ModelFileError(path, f"unexpected entry {odd[0]!r}: a vecprop file holds only .npy entries")
    members = {n[: -len(".npy")]: zf.getinfo(n) for n in names}
    if METADATA not in members:
        raise ModelFileError(path, f"no {METADATA!r} entry: not a vecprop file (is it a plain np.savez archive?)")
    meta = _read_metadata(path, npz, zf, members)
    _check_format(path, meta, fmt, versions)
    if meta["version"] >= 2 and DIGEST not in members:
        raise ModelFileError(path, f"no {DIGEST!r} entry: a version {meta['version']} file carries the digest "
                                   "of its metadata")
    required = expected(meta)
    table = _check_table(path, meta.get("arrays"), {k: v for k, v in members.items() if k != DIGEST}, required)
    arrays = {name: _read_entry(path, npz, zf, members[name], name, *desc) for name, desc in table.items()}
    return meta, arrays


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) from a .npy entry's header, without reading its data."""
    with zf.open(info) as fh:
        v = np.lib.format.read_magic(fh)
        if v == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif v == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {v}")
        return tuple(shape), dtype, fh.tell()


def _entry_fault(name: str, e: Exception) -> str:
    # zipfile reads a small entry whole when its header is read, so a CRC mismatch surfaces here
    if isinstance(e, zipfile.BadZipFile):
        return f"entry {name!r} is damaged ({e})"
    return f"entry {name!r} has a malformed .npy header ({type(e).__name__}: {e})"


def _read_metadata(path: Path, npz: Any, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
    info = members[METADATA]
    try:
        shape, dtype, header_len = _header(zf, info)
    except Exception as e:
        raise ModelFileError(path, _entry_fault(METADATA, e)) from e
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(path, f"the {METADATA!r} entry must be a 1-D uint8 array (UTF-8 JSON); "
                                   f"found dtype {dtype}, shape {shape}")
    if shape[0] > MAX_METADATA_BYTES or info.file_size != header_len + shape[0]:
        raise ModelFileError(path, f"the {METADATA!r} entry has a bad size ({info.file_size} bytes, "
                                   f"header says {shape[0]} bytes of JSON)")
    blob = npz[METADATA].tobytes()
    if DIGEST in members:
        _check_digest(path, npz, zf, members[DIGEST], blob)
    depth = json_depth(blob)
    if depth > MAX_DEPTH:
        raise ModelFileError(path, f"the metadata nests {depth} levels deep; vecprop files nest at most {MAX_DEPTH}")
    try:
        meta = json.loads(blob.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except Exception as e:
        raise ModelFileError(path, f"the metadata is not valid UTF-8 JSON ({type(e).__name__}: {e})") from e
    if not isinstance(meta, dict):
        raise ModelFileError(path, f"the metadata must be a JSON object; found {type(meta).__name__}")
    return meta


def _check_digest(path: Path, npz: Any, zf: zipfile.ZipFile, info: zipfile.ZipInfo, blob: bytes) -> None:
    try:
        shape, dtype, header_len = _header(zf, info)
    except Exception as e:
        raise ModelFileError(path, _entry_fault(DIGEST, e)) from e
    if dtype != np.uint8 or shape != (64,) or info.file_size != header_len + 64:
        raise ModelFileError(path, f"the {DIGEST!r} entry must hold 64 uint8 hex digits; found {dtype} {shape}")
    if npz[DIGEST].tobytes() != hashlib.sha256(blob).hexdigest().encode("ascii"):
        raise ModelFileError(path, "the metadata does not match its SHA-256 digest: the file is corrupted or its "
                                   "metadata was edited")


def json_depth(blob: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, counted without parsing it."""
    bare = np.frombuffer(_JSON_STRING.sub(b'""', blob), dtype=np.uint8)  # brackets inside strings don't count
    step = np.isin(bare, _OPEN).astype(np.int64) - np.isin(bare, _CLOSE)
    return int(np.cumsum(step).max(initial=0))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        dup = next(k for k, _ in pairs if sum(k == j for j, _ in pairs) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (non-finite floats are stored as {{'__float__': ...}})")


def _check_format(path: Path, meta: dict[str, Any], fmt: str, versions: tuple[int, ...]) -> None:
    found = meta.get("format")
    if found not in LOADERS:
        raise ModelFileError(path, f"not a vecprop file: metadata format is {found!r}, expected {fmt!r}")
    if found != fmt:
        raise ModelFileError(path, f"this is a {found} file, not a {fmt}; read it with {LOADERS[found]}")
    v = meta.get("version")
    if type(v) is not int:
        raise ModelFileError(path, f"the {fmt} format version must be an integer; found {v!r}")
    known = " and ".join(map(str, versions))
    if v > max(versions):
        raise ModelFileError(path, f"written in {fmt} format version {v}, but this vecprop reads only "
                                   f"version {known}: upgrade vecprop to read it")
    if v not in versions:
        raise ModelFileError(path, f"unknown {fmt} format version {v}; this vecprop reads version {known}")


def _check_table(path: Path, table: Any, members: dict[str, zipfile.ZipInfo], required: dict):
    """{name: (shape, dtype, sha256)} from the metadata's arrays table, checked against the archive."""
    if not isinstance(table, dict):
        raise ModelFileError(path, "the metadata has no 'arrays' table (an object: name -> dtype, shape, sha256)")
    present = set(members) - {METADATA}
    for name in table:
        if name not in present:
            raise ModelFileError(path, f"the metadata lists array {name!r} but the archive has no such entry")
    unlisted = sorted(present - set(table))
    if unlisted:
        raise ModelFileError(path, f"unexpected entry {unlisted[0]!r}: not listed in the metadata's arrays table")
    for name, (shape, dtype) in required.items():
        if name not in table:
            raise ModelFileError(path, f"missing array {name!r} (needs shape {shape}, dtype {dtype.str})")
    out = {}
    for name, desc in table.items():
        if not (isinstance(desc, dict) and set(desc) == {"dtype", "shape", "sha256"}):
            raise ModelFileError(path, f"arrays table entry {name!r} must be {{dtype, shape, sha256}}; found {desc!r}")
        try:
            dtype = np.dtype(desc["dtype"]) if isinstance(desc["dtype"], str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in SAFE_KINDS or dtype.hasobject:
            raise ModelFileError(path, f"array {name!r} has dtype {desc['dtype']!r}; vecprop files hold only "
                                       "bool, integer, float, complex, bytes or str arrays (never pickled objects)")
        shape = desc["shape"]
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
            raise ModelFileError(path, f"array {name!r} has a malformed shape {shape!r} in the metadata")
        sha = desc["sha256"]
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise ModelFileError(path, f"array {name!r} has a malformed sha256 {sha!r} in the metadata")
        shape = tuple(shape)
        if name in required:
            want_shape, want_dtype = required[name]
            if shape != want_shape:
                raise ModelFileError(path, f"array {name!r} must have shape {want_shape} for the network in "
                                           f"the metadata; found {shape}")
            if dtype != want_dtype:
                raise ModelFileError(path, f"array {name!r} must have dtype {want_dtype.str}; found {dtype.str}")
        out[name] = (shape, dtype, sha)
    return out


def _read_entry(path: Path, npz: Any, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                shape: tuple[int, ...], dtype: np.dtype, sha: str) -> np.ndarray:
    try:
        found_shape, found_dtype, header_len = _header(zf, info)
    except Exception as e:
        raise ModelFileError(path, _entry_fault(name, e)) from e
    if found_dtype.hasobject or found_dtype.kind not in SAFE_KINDS:
        raise ModelFileError(path, f"entry {name!r} holds dtype {found_dtype} (Python objects, i.e. pickle); "
                                   "vecprop never unpickles")
    if found_shape != shape:
        raise ModelFileError(path, f"array {name!r} has shape {found_shape}; the metadata says {shape}")
    if found_dtype != dtype:
        raise ModelFileError(path, f"array {name!r} has dtype {found_dtype.str}; the metadata says {dtype.str}")
    size = header_len + math.prod(shape) * dtype.itemsize
    if info.file_size != size:
        raise ModelFileError(path, f"entry {name!r} is {info.file_size} bytes; its header and shape need {size}")
    try:
        a = npz[name]
    except Exception as e:
        raise ModelFileError(path, f"entry {name!r} is unreadable ({type(e).__name__}: {e})") from e
    if a.shape != shape or a.dtype != dtype or array_digest(a) != sha:
        raise ModelFileError(path, f"array {name!r} does not match its SHA-256 digest: the file is "
                                   "corrupted or was edited")
    return a


# ---- state trees: JSON with arrays moved out -----------------------------------------------------
class TreeWriter:
    """Encode a state tree as JSON, moving numpy arrays and scalars into entries ``prefix/0``, ``prefix/1``..."""

    def __init__(self, prefix: str, arrays: dict[str, np.ndarray], *, allow_arrays: bool = True) -> None:
        self.prefix, self.arrays, self.allow_arrays = prefix, arrays, allow_arrays
        self._n = 0

    def encode(self, value: Any, where: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:  # before Python's recursion limit: files nest at most MAX_DEPTH deep anyway
            raise ValueError(f"{where} nests more than {MAX_DEPTH} levels deep; vecprop files nest at most {MAX_DEPTH}")
        if isinstance(value, np.ndarray):
            return {"__array__": self._add(value, where)}
        if isinstance(value, np.generic):  # before float: np.float64 is a float, and must come back as one
            if not self.allow_arrays:  # plain JSON metadata: np.float64(0.97) is stored as the float 0.97
                return self.encode(value.item(), where, depth)
            return {"__scalar__": self._add(np.asarray(value), where)}
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}  # JSON floats: repr, exact
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]}
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise TypeError(f"{where} has key {k!r} of type {type(k).__name__}; keys must be str")
                if k in TAGS:
                    raise ValueError(f"{where} uses the reserved key {k!r}")
                out[k] = self.encode(v, f"{where}[{k!r}]", depth + 1)
            return out
        raise TypeError(
            f"{where} is a {type(value).__name__}; files store numpy arrays and scalars, None, bool, int, "
            "float, str, and lists, tuples and str-keyed dicts of those"
        )

    def _add(self, a: np.ndarray, where: str) -> str:
        if not self.allow_arrays:
            raise TypeError(f"{where} is a numpy {'array' if a.ndim else 'scalar'}; pass arrays in arrays=, "
                            "not in extra")
        check_array_dtype(a, where)
        name = f"{self.prefix}/{self._n}"
        self._n += 1
        self.arrays[name] = a
        return name


def decode_tree(node: Any, where: str, prefix: str, arrays: dict[str, np.ndarray], used: set[str]) -> Any:
    """Invert ``TreeWriter.encode``; each referenced entry name is added to ``used``. Raises ValueError."""
    if isinstance(node, list):
        return [decode_tree(v, f"{where}[{i}]", prefix, arrays, used) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node  # None, bool, int, float, str
    tags = [k for k in node if k in TAGS]
    if not tags:
        return {k: decode_tree(v, f"{where}[{k!r}]", prefix, arrays, used) for k, v in node.items()}
    if len(node) != 1:
        raise ValueError(f"{where}: a {tags[0]!r} object must have no other keys; found {sorted(node)}")
    tag, v = tags[0], node[tags[0]]
    if tag == "__float__":
        if v not in ("nan", "inf", "-inf"):
            raise ValueError(f"{where}: '__float__' must be 'nan', 'inf' or '-inf'; found {v!r}")
        return float(v)
    if tag == "__tuple__":
        if not isinstance(v, list):
            raise ValueError(f"{where}: '__tuple__' must hold a list; found {v!r}")
        return tuple(decode_tree(x, f"{where}[{i}]", prefix, arrays, used) for i, x in enumerate(v))
    if not (isinstance(v, str) and v.startswith(prefix + "/") and v in arrays):
        raise ValueError(f"{where} refers to array entry {v!r}, which this file does not hold under {prefix}/")
    if v in used:
        raise ValueError(f"{where} refers to array entry {v!r} a second time")
    used.add(v)
    if tag == "__scalar__":
        if arrays[v].ndim != 0:
            raise ValueError(f"{where}: scalar entry {v!r} must be 0-d; found shape {arrays[v].shape}")
        return arrays[v][()]
    return arrays[v]
