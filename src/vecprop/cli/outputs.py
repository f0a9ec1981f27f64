"""Writing the run folder: every file atomically (temp file + os.replace), so none is ever half-written."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write


def write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text), text=True)


def write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def write_json(path: Path, obj: Any) -> Path:
    """Strict JSON (see ``plain_json``), indented, keys in insertion order."""
    return write_text(path, json.dumps(plain_json(obj), indent=2, allow_nan=False) + "\n")


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON values for people and tools (metrics.json, the JSON-lines log).

    numpy numbers become Python numbers, tuples lists, and non-finite floats null (strict JSON
    has no NaN). Model files keep such values exactly instead: ``vecprop.io`` tags them.
    """
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: plain_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_json(v) for v in obj]
    return obj


def history_csv(records: Sequence[dict[str, float]]) -> str:
    """One row per epoch (epoch counted from 1), one column per logged key, in first-seen order."""
    columns: list[str] = []
    for r in records:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: repr(float(v)) if isinstance(v, float) else v for k, v in r.items()})
    return buf.getvalue()


def rows_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A CSV table (predictions). Numbers are written in the shortest form that reads back to the
    same value of their own dtype (a float32 probability as 0.9999975, not 0.99999749660491943)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([str(v) if isinstance(v, np.floating) else repr(v) if isinstance(v, float) else v
                         for v in row])
    return buf.getvalue()


def unique_run_dir(base: Path) -> Path:
    """``base`` if it is free, else ``base-2``, ``base-3``... (two runs in the same second)."""
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate
