"""Data-parallel scaling here (1 vs 2 ranks, time in the Allreduce) and its ring-allreduce extrapolation.

Run ``python benchmarks/bench_mpi.py`` (about four minutes). It starts, one after the other:
one process with 1 BLAS thread, one process with 2 BLAS threads, and ``mpiexec -n 2`` with 1
thread per rank, all training the large configuration on the same global batches; then an
Allreduce micro-benchmark on 2 ranks and a single-thread step time of every configuration.
It prints Markdown tables; ``--json PATH`` also writes the raw numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STEPS = {"tiny": 40, "mnist": 20, "large": 8, "very_large": 3}  # per timed epoch, for the step times
CONFIGS = {  # name: (sizes, batch size)
    "tiny": ([64, 32, 10], 32),
    "mnist": ([784, 256, 128, 10], 128),
    "large": ([784, 1024, 1024, 10], 512),
    "very_large": ([784, 2048, 2048, 2048, 10], 1024),
}
NETWORKS = {  # (bandwidth in bytes/s, latency in s) assumed for a typical cluster
    "InfiniBand EDR (12 GB/s, 2 us)": (12e9, 2e-6),
    "10 Gb Ethernet (1.2 GB/s, 30 us)": (1.2e9, 30e-6),
}
RANKS = (8, 64, 512)


def n_params(sizes: list[int]) -> int:
    return sum(n * (p + 1) for p, n in zip(sizes, sizes[1:]))


# ---- what runs inside each process ----------------------------------------------------------
def run_training(config: str, steps: int) -> dict:
    """Two epochs of ``steps`` global batches; time the second (the first warms caches and BLAS)."""
    from vecprop import Network
    from vecprop.callbacks import Callback
    from vecprop.distributed import abort_on_error, is_root, world
    from vecprop.training import fit

    sizes, B = CONFIGS[config]
    comm = world()
    timed = None if comm is None else TimedComm(comm)

    class EpochClock(Callback):
        def on_epoch_begin(self, state) -> None:
            self.t0 = time.perf_counter()
            if timed is not None:
                timed.seconds, timed.calls = 0.0, 0

        def on_epoch_end(self, state) -> None:
            self.seconds = time.perf_counter() - self.t0

    with abort_on_error(comm):
        rng = np.random.default_rng(0)
        m = B * steps
        X = rng.normal(size=(sizes[0], m)).astype(np.float32)
        Y = np.eye(sizes[-1], dtype=np.float32)[:, rng.integers(0, sizes[-1], m)]
        net = Network(sizes, ["relu"] * (len(sizes) - 2) + ["softmax"], "cross_entropy", seed=0)
        clock = EpochClock()
        fit(net, X, Y, optimizer="adam", lr=1e-3, epochs=2, batch_size=B, seed=0, callbacks=[clock], comm=timed)
        out = {"step_s": clock.seconds / steps, "examples_per_s": m / clock.seconds}
        if timed is not None:
            out["allreduce_s_per_step"] = timed.seconds / steps
        if is_root(comm):
            print(json.dumps(out))
    return out


class TimedComm:
    """A communicator that adds up the wall time of its Allreduce calls (and delegates the rest)."""

    def __init__(self, comm) -> None:
        self._comm, self.seconds, self.calls = comm, 0.0, 0

    def __getattr__(self, name: str):
        return getattr(self._comm, name)

    def Allreduce(self, *args, **kwargs) -> None:
        t0 = time.perf_counter()
        self._comm.Allreduce(*args, **kwargs)
        self.seconds += time.perf_counter() - t0
        self.calls += 1


def run_allreduce(reps: int) -> None:
    """Fastest time of an in-place float32 SUM Allreduce of one value and of each configuration's n + 2.

    The fastest of ``reps``: on a shared machine the slower ones measure a descheduled rank.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    out = {}
    for name, n in [("one value", 1), *((c, n_params(sizes) + 2) for c, (sizes, _) in CONFIGS.items())]:
        buf = np.ones(n, dtype=np.float32)
        times = []
        for _ in range(reps):
            comm.Barrier()  # every rank ready: measure the transfer, not waiting for a late rank
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        out[name] = float(np.min(times))
    if comm.Get_rank() == 0:
        print(json.dumps(out))


# ---- the driver ------------------------------------------------------------------------------
def launch(args: list[str], threads: int, ranks: int = 1) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "SLURM_"))}
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    if ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec") or "mpiexec", "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(repeats: int, runs: dict[str, tuple[list[str], int, int]]) -> dict[str, dict]:
    """The fastest of ``repeats`` runs of each (args, threads, ranks), interleaved so that a busy
    spell on this shared machine hits every variant alike; the minimum is the least disturbed."""
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (args, threads, ranks) in runs.items():
            results[name].append(launch(args, threads, ranks))
    return {name: min(rs, key=lambda r: r["step_s"]) for name, rs in results.items()}


def ring_seconds(n_values: int, p: int, bandwidth: float, latency: float) -> float:
    """Ring allreduce of n float32 values on p ranks: 2 (p-1)/p n bytes / bandwidth + 2 (p-1) latency."""
    return 2 * (p - 1) / p * 4 * n_values / bandwidth + 2 * (p - 1) * latency


def fit_loopback(allreduce: dict) -> tuple[float, float]:
    """Bandwidth (from the two largest sizes) and latency (from one value) of the 2-rank Allreduce here.

    For p = 2 the ring formula is n bytes / bandwidth + 2 latency.
    """
    n_mid, n_big = (n_params(CONFIGS[c][0]) + 2 for c in ("large", "very_large"))
    bandwidth = 4 * (n_big - n_mid) / max(allreduce["very_large"] - allreduce["large"], 1e-9)
    return bandwidth, allreduce["one value"] / 2


def report(results: dict) -> str:
    tr, ar, step = results["training"], results["allreduce"], results["step_s"]
    one, two_t, two_r = tr["1 process, 1 thread"], tr["1 process, 2 threads"], tr["2 ranks, 1 thread each"]
    lines = [
        "| large 784-1024-1024-10, batch 512, float32 | examples/s | step (ms) | Allreduce per step (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, r in tr.items():
        ar_ms = f"{1e3 * r['allreduce_s_per_step']:.1f}" if "allreduce_s_per_step" in r else "-"
        lines.append(f"| {name} | {r['examples_per_s']:.0f} | {1e3 * r['step_s']:.1f} | {ar_ms} |")
    lines += ["", f"{results['machine']}.", "", f"2 ranks / 1 process 1 thread: **{two_r['examples_per_s'] / one['examples_per_s']:.2f}x**; "
              f"2 ranks / 1 process 2 threads: **{two_r['examples_per_s'] / two_t['examples_per_s']:.2f}x**; "
              f"time in the Allreduce (including waiting for the other rank): "
              f"{100 * two_r['allreduce_s_per_step'] / two_r['step_s']:.0f}% of a step.", ""]
    bw, lat = fit_loopback(ar)
    networks = {f"loopback here ({bw / 1e9:.1f} GB/s, {1e6 * lat:.0f} us)": (bw, lat), **NETWORKS}
    lines += ["| config | params | 1-thread step (ms) | 2-rank Allreduce here (ms) |", "|---|---:|---:|---:|"]
    for c, (sizes, B) in CONFIGS.items():
        lines.append(f"| {c} b{B} | {n_params(sizes):,} | {1e3 * step[c]:.2f} | {1e3 * ar[c]:.3f} |")
    for title, strong in (("weak scaling: every rank keeps the configuration's batch", False),
                          ("strong scaling: the configuration's batch split over p ranks", True)):
        lines += ["", f"Estimated efficiency, {title}:", "",
                  "| network | config | " + " | ".join(f"p={p}" for p in RANKS) + " |",
                  "|---|---|" + "---:|" * len(RANKS)]
        for net_name, (bw_n, lat_n) in networks.items():
            for c, (sizes, B) in CONFIGS.items():
                cells = []
                for p in RANKS:
                    if strong and p > B:
                        cells.append("n/a (p > batch)")
                        continue
                    t = step[c] / p if strong else step[c]  # strong: assumes compute splits perfectly
                    cells.append(f"{100 * t / (t + ring_seconds(n_params(sizes) + 2, p, bw_n, lat_n)):.0f}%")
                lines.append(f"| {net_name} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["train", "allreduce"], help=argparse.SUPPRESS)
    parser.add_argument("--config", default="large", choices=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=12, help="global batches per timed epoch")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the fastest counts")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    if args.worker == "train":
        run_training(args.config, args.steps)
        return
    if args.worker == "allreduce":
        run_allreduce(reps=30)
        return
    load = os.getloadavg()[0]
    train = ["--worker", "train", "--config", "large", "--steps", str(args.steps)]
    results = {"training": best_of(args.repeats, {
        "1 process, 1 thread": (train, 1, 1),
        "1 process, 2 threads": (train, 2, 1),
        "2 ranks, 1 thread each": (train, 1, 2),
    })}
    results["allreduce"] = launch(["--worker", "allreduce"], threads=1, ranks=2)
    steps = best_of(args.repeats, {c: (["--worker", "train", "--config", c, "--steps", str(STEPS[c])], 1, 1)
                                   for c in CONFIGS})
    results["step_s"] = {c: r["step_s"] for c, r in steps.items()}
    results["machine"] = (f"{os.cpu_count()} cores; 1-minute load average {load:.1f} before and "
                          f"{os.getloadavg()[0]:.1f} after the runs")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(report(results))


if __name__ == "__main__":
    main()
