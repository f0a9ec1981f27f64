"""Helpers of the robustness suite: run command lines in a child (optionally memory-limited), check the one-line errors.

``VECPROP_FUZZ=N`` multiplies every fuzz count by N (default 1: the counts of ``make test``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli_helpers import SRC

HERE = Path(__file__).resolve().parent
FUZZ = max(1, int(os.environ.get("VECPROP_FUZZ", "1")))
GiB = 2**30


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
                MPLBACKEND="Agg", PYTHONWARNINGS="ignore::DeprecationWarning", OPENBLAS_NUM_THREADS="1",
                OMP_NUM_THREADS="1")


def limit_memory(nbytes: int | None):
    """A preexec_fn that caps the child's address space (RLIMIT_AS), as ``ulimit -v`` does."""
    if nbytes is None:
        return None

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))

    return apply


def run_cli_batch(cases: list[list[str]], cwd: Path, *, memory: int | None = None,
                  timeout: float = 180) -> list[dict[str, Any]]:
    """Every argv of ``cases`` through ``vecprop.cli.main`` in one child process (see cli_driver.py)."""
    todo, done = cwd / "_cases.json", cwd / "_results.json"
    todo.write_text(json.dumps(cases), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(HERE / "cli_driver.py"), str(todo), str(done)], cwd=cwd,
                          env=child_env(), capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit_memory(memory))
    assert proc.returncode == 0, f"the driver itself failed:\n{proc.stderr[-3000:]}"
    results = json.loads(done.read_text(encoding="utf-8"))
    todo.unlink()
    done.unlink()
    return results


def run_cli(*args: str, cwd: Path, memory: int | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m vecprop ARGS`` in its own process, optionally under an address-space limit."""
    return subprocess.run([sys.executable, "-m", "vecprop", *args], cwd=cwd, env=child_env(), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit_memory(memory))


def assert_user_error(code: Any, stderr: str, *needles: str, status: int = 2) -> str:
    """Exit ``status``, no traceback, exactly one ``vecprop: error:`` line, holding every needle; returns it."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("vecprop: error:")]
    assert len(lines) == 1, f"expected one error line:\n{stderr}"
    assert code == status, f"exit {code}, not {status}:\n{stderr}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in:\n{lines[0]}"
    assert not [line for line in stderr.splitlines() if "Warning" in line], f"a warning leaked:\n{stderr}"
    return lines[0]
