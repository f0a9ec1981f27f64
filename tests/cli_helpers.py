"""Helpers shared by the CLI tests: run ``python -m vecprop`` in a subprocess, check PNG files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # noqa: F401

SRC = Path(__file__).resolve().parents[1] / "src"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def vecprop(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m vecprop ARGS`` with this checkout's src first on the path; stdout/stderr as text."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg", PYTHONWARNINGS="ignore::DeprecationWarning")
    return subprocess.run([sys.executable, "-m", "vecprop", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature and the chunk type."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG (starts with {data[:8]!r})"
    assert data[12:16] == b"IHDR", f"{path}: the first chunk is {data[12:16]!r}, not IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
