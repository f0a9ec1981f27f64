"""Run many ``vecprop`` command lines in one process (a subprocess of the test), as ``python -m vecprop`` would.

Usage: ``python cli_driver.py CASES.json RESULTS.json``; CASES is a list of argv lists. Each result
holds the exit status (``"exception"`` when one escaped ``main``, which ``python -m vecprop`` would
print as a traceback), stdout, stderr, the wall time and the process's peak memory so far (KiB). One process instead of one per case keeps
the suite fast; the tests that need a real process of their own (limits, signals) start one.
"""
from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
import traceback
import warnings


def run_all(cases: list[list[str]]) -> list[dict]:
    from vecprop.cli import main

    results = []
    for argv in cases:
        out, err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")
            try:
                code: object = main(argv)
            except SystemExit as stop:
                code = stop.code
            except BaseException:  # noqa: BLE001 - exactly what the test looks for
                code = "exception"
                traceback.print_exc(file=err)
        results.append({"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                        "seconds": time.perf_counter() - t0,
                        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})  # so far, this process
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        todo = json.load(fh)
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(run_all(todo), fh)
