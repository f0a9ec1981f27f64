"""What the benchmark ran on: CPU, library versions, BLAS thread pools and kernel, memory bandwidth, load."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from typing import Any

_INFO = r"""
import json, os, sys
out = {"python": sys.version.split()[0]}
import numpy; out["numpy"] = numpy.__version__
for mod in ("torch", "sklearn", "scipy", "threadpoolctl"):
    try:
        out[mod] = __import__(mod).__version__
    except Exception as e:
        out[mod] = f"unavailable ({type(e).__name__})"
try:
    import sklearn.neural_network  # loads scipy's own BLAS too: the pools a mixed process would hold
    import torch
    from threadpoolctl import threadpool_info
    out["threadpools"] = threadpool_info()
except Exception as e:
    out["threadpools"] = f"unavailable: {e}"
print(json.dumps(out))
"""

_PROBE = r"""
import json, time
import numpy as np
from threadpoolctl import threadpool_info
n = 1024
A, B = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
C = np.empty((n, n), np.float32)
np.matmul(A, B, out=C)
times = []
for _ in range(7):
    t = time.perf_counter(); np.matmul(A, B, out=C); times.append(time.perf_counter() - t)
blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
print(json.dumps({"gflops": 2 * n**3 / sorted(times)[3] / 1e9,
                  "kernel": blas[0].get("architecture") if blas else None,
                  "threads": blas[0].get("num_threads") if blas else None}))
"""

_STREAM = r"""
import json, sys, threading, time
import numpy as np
n = int(sys.argv[1])  # float32 entries per array: several times the last-level cache
a, b, c = np.ones(n, np.float32), np.ones(n, np.float32), np.zeros(n, np.float32)
kernels = {"copy": (lambda s: np.copyto(c[s], a[s]), 2), "scale": (lambda s: np.multiply(a[s], 3.0, out=c[s]), 2),
           "add": (lambda s: np.add(a[s], b[s], out=c[s]), 3)}  # (kernel on a slice, arrays it touches)

def seconds(f, k):  # numpy's ufuncs release the GIL: k threads stream k parts at once
    ts = [threading.Thread(target=f, args=(slice(i * n // k, (i + 1) * n // k),)) for i in range(k)]
    t = time.perf_counter()
    [th.start() for th in ts]
    [th.join() for th in ts]
    return time.perf_counter() - t

out = {}
for name, (f, arrays) in kernels.items():
    for k in (1, 2):
        out[f"{name}, {k} thread{'s' * (k > 1)}"] = arrays * 4 * n / min(seconds(f, k) for _ in range(5)) / 1e9
print(json.dumps(out))
"""

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _run_json(code: str, env: dict[str, str] | None = None, timeout: float = 300, args: list[str] = ()) -> Any:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine_info() -> dict[str, Any]:
    """Cores, CPU, versions, environment variables that steer BLAS/OpenMP, and every thread pool."""
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "env": {k: v for k, v in sorted(os.environ.items())
                if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS_"))},
    }
    info.update(_run_json(_INFO))
    return info


def blas_probe() -> dict[str, Any]:
    """Float32 GEMM rate and kernel with the environment as is, and with OPENBLAS_CORETYPE/L2_SIZE unset.

    Older OpenBLAS builds need those variables on some CPUs; a current numpy runs its own
    kernel choice faster. Only this probe's subprocess unsets them; the benchmark runs as is.
    """
    as_is = _run_json(_PROBE)
    stripped = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    unset = _run_json(_PROBE, env=stripped)
    return {"set": {k: os.environ[k] for k in BLAS_ENV if k in os.environ}, "as_is": as_is, "unset": unset}


def stream_bandwidth(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    """Memory bandwidth in GB/s, STREAM's way: copy, scale and add over float32 arrays far larger than the cache.

    Bytes counted are those the kernel reads and writes (not the write-allocate reads), each
    kernel with one and two threads, best of 5; ``best`` is the highest, the machine's bandwidth
    as numpy can use it. The limit of a training step charges the optimizer's unavoidable
    traffic at this rate.
    """
    n = (1 if tiny else 8 if quick else 32) * 2**20  # 32 Mi floats = 128 MiB per array (4x a 32 MiB L3)
    rates = _run_json(_STREAM, args=[str(n)])
    if "error" in rates:
        return {"best": None, **rates}
    return {"best": max(rates.values()), "kernels": rates, "array_mib": 4 * n / 2**20}
