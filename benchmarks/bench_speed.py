"""Training and inference speed of vecprop against PyTorch CPU and scikit-learn, on the same work.

Usage: ``python benchmarks/bench_speed.py --out docs/benchmarks.md`` (what ``make bench`` runs, ~10
minutes on a quiet 2-core machine, ~20 on a busy one); ``--quick`` (or ``VECPROP_BENCH_QUICK=1``) is a 1-2 minute smoke run of the same tables.

Two parts: the four benchmark configurations (tiny to xlarge, SGD and Adam, against every
contender and the limit), and a matrix of configurations a user may pick (every activation,
dropout, L2, every optimizer, regression, float64, odd widths, batch sizes 16 to 1024) against
PyTorch, with inference also against scikit-learn. Every contender runs in its own process (its
own thread pools, its own peak RSS), all started before the first measurement and driven in
turn: one warm-up epoch each, then ``rounds`` epochs each in rotating order (A B C, B C A, ...),
so that a slow moment of this shared machine hits them all. Medians; speed-ups are ratios of
medians, and their spread is the range of the per-round ratios.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _machine import blas_probe, load_average, machine_info, stream_bandwidth  # noqa: E402
from _goals import speedup  # noqa: E402
from _report import write_chart, write_report  # noqa: E402

CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {"sizes": [64, 32, 10], "batch": 32, "steps": 400, "predict_m": 32768, "rounds": 9},
    "mnist": {"sizes": [784, 256, 128, 10], "batch": 128, "steps": 60, "predict_m": 16384, "rounds": 9},
    "large": {"sizes": [784, 1024, 1024, 10], "batch": 512, "steps": 8, "predict_m": 8192, "rounds": 5},
    "xlarge": {"sizes": [784, 2048, 2048, 2048, 10], "batch": 1024, "steps": 2, "predict_m": 4096, "rounds": 3},
}
# label -> (worker class in _contenders.py, settings merged into the configuration)
CONTENDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "vecprop": ("vecprop", {}),
    "vecprop-readable": ("vecprop-readable", {}),
    "vecprop-1thread": ("vecprop", {"env": {"OPENBLAS_NUM_THREADS": "1"}}),
    "torch": ("torch", {}),
    "torch-compile": ("torch-compile", {}),
    "torch-1thread": ("torch", {"threads": 1}),  # less hurt than 2 threads when other work shares the cores
    "sklearn-f32": ("sklearn", {"dtype": "float32"}),
    "sklearn-f64": ("sklearn", {"dtype": "float64"}),
    "gemm-bound": ("gemm-bound", {}),
}
DEFAULT_CONTENDERS = [c for c in CONTENDERS if c != "torch-compile"]  # compiling costs ~40 s a run; --contenders
OPTIMIZERS = ("sgd", "adam")
MNIST, B = [784, 256, 128, 10], "batch"
# The matrix: configurations a user may pick, each trained with one optimizer (name -> settings)
MATRIX: dict[str, dict[str, Any]] = {
    "elu-dropout-adam": {"sizes": MNIST, B: 128, "steps": 60, "activation": "elu", "dropout": 0.2,
                         "optimizer": "adam"},
    "leaky-l2-momentum": {"sizes": MNIST, B: 128, "steps": 60, "activation": "leaky_relu", "l2": 0.01,
                          "optimizer": "momentum"},
    "gelu-adam": {"sizes": MNIST, B: 128, "steps": 60, "activation": "gelu", "optimizer": "adam"},
    "silu-nesterov-b64": {"sizes": MNIST, B: 64, "steps": 100, "activation": "silu", "optimizer": "nesterov"},
    "sigmoid-rmsprop": {"sizes": MNIST, B: 128, "steps": 60, "activation": "sigmoid", "optimizer": "rmsprop"},
    "tanh-adamw-b256": {"sizes": MNIST, B: 256, "steps": 30, "activation": "tanh", "optimizer": "adamw"},
    "softplus-l2-sgd": {"sizes": MNIST, B: 128, "steps": 60, "activation": "softplus", "l2": 0.01,
                        "optimizer": "sgd"},
    "identity-sgd-tiny": {"sizes": [64, 32, 10], B: 32, "steps": 400, "activation": "identity", "optimizer": "sgd"},
    "regression-relu-adam-b16": {"sizes": [13, 64, 64, 1], B: 16, "steps": 400, "task": "regress",
                                 "optimizer": "adam"},
    "regression-tanh-l2-f64": {"sizes": [100, 200, 50, 3], B: 64, "steps": 300, "task": "regress",
                               "activation": "tanh", "l2": 0.01, "dtype": "float64", "optimizer": "sgd"},
    "float64-relu-adam": {"sizes": MNIST, B: 128, "steps": 30, "dtype": "float64", "optimizer": "adam"},
    "odd-widths-b16": {"sizes": [37, 101, 53, 7], B: 16, "steps": 400, "optimizer": "adam"},
    "relu-sgd-b16": {"sizes": MNIST, B: 16, "steps": 240, "optimizer": "sgd"},
    "relu-adam-b1024": {"sizes": MNIST, B: 1024, "steps": 10, "optimizer": "adam"},
    "deep-tanh-momentum": {"sizes": [32, 64, 64, 64, 64, 4], B: 64, "steps": 300, "activation": "tanh",
                           "optimizer": "momentum"},
    "wide-gelu-dropout-adamw-b512": {"sizes": [784, 512, 512, 10], B: 512, "steps": 10, "activation": "gelu",
                                     "dropout": 0.5, "optimizer": "adamw"},
    "large-elu-dropout-rmsprop": {"sizes": [784, 1024, 1024, 10], B: 256, "steps": 8, "activation": "elu",
                                  "dropout": 0.3, "optimizer": "rmsprop"},
}
MATRIX_CONTENDERS = ("vecprop", "torch", "sklearn")
ROW_CONTENDERS = {"sklearn": ("sklearn", {})}  # the matrix's: inference only, in the row's dtype
MATRIX_ROUNDS, MATRIX_PREDICT_M = 5, 8192


class Worker:
    """One contender's process: send a JSON command, wait (bounded) for its JSON answer."""

    def __init__(self, label: str, cfg: dict[str, Any], timeout: float) -> None:
        kind, extra = {**CONTENDERS, **ROW_CONTENDERS}[label]
        extra = dict(extra)
        env = dict(os.environ, **extra.pop("env", {}), PYTHONPATH=os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.label, self.timeout = label, timeout
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(HERE / "_contenders.py"), kind, json.dumps({**cfg, **extra})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.error: str | None = None

    def wait_ready(self) -> Worker:
        """Block until the process has imported its library and built its data (started ones load in parallel)."""
        ready = self._read()
        if "ready" not in ready:
            self.error = ready.get("error", "did not start")
        return self

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stderr.seek(0)
            tail = self.stderr.read().strip().splitlines()[-3:]
            return {"error": ("timed out" if not ready else "exited") + (": " + " | ".join(tail) if tail else "")}
        return json.loads(line)

    def ask(self, **cmd: Any) -> dict[str, Any]:
        if self.error:
            return {"error": self.error}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.error = "exited"
            return {"error": self.error}
        reply = self._read()
        if "error" in reply and reply["error"].startswith(("timed out", "exited")):
            self.error = reply["error"]
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def interleaved(workers: list[Worker], rounds: int, settle: float, log, **cmd: Any) -> dict[str, dict[str, Any]]:
    """A warm-up command for each worker, then ``rounds`` more in rotating order; times per worker."""
    out: dict[str, dict[str, Any]] = {w.label: {"times": []} for w in workers}
    for r in range(rounds + 1):
        for w in workers[r % len(workers):] + workers[: r % len(workers)]:
            reply, rec = w.ask(**cmd), out[w.label]
            if "seconds" not in reply:
                rec.setdefault("note", reply.get("skipped") or reply.get("error"))
            elif r == 0:
                rec["warmup"] = reply["seconds"]
            else:
                rec["times"].append(reply["seconds"])
                rec.setdefault("cpu_times", []).append(reply["cpu_seconds"])
            time.sleep(settle)  # let the last worker's BLAS/OpenMP threads stop spinning
        log(".")
    return out


def measure(cfg: dict[str, Any], labels: Any, optimizers: Any, args: argparse.Namespace, log,
            train_skip: tuple[str, ...] = (), predict_skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Start every contender's process, time each optimizer's epochs, then inference (interleaved), then memory."""
    workers = [w.wait_ready() for w in [Worker(label, cfg, args.timeout) for label in labels]]
    result: dict[str, Any] = {"config": cfg, "contenders": {w.label: {} for w in workers}}
    try:
        for opt in optimizers:
            log(f"{opt} ")
            train = [w for w in workers if w.label not in train_skip]
            for label, r in interleaved(train, cfg["rounds"], args.settle, log, cmd="train", optimizer=opt).items():
                result["contenders"][label][opt] = r
        log("predict ")
        inference = [w for w in workers if w.label not in predict_skip]
        for label, r in interleaved(inference, cfg["rounds"], args.settle, log, cmd="predict").items():
            result["contenders"][label]["predict"] = r
        _collect_info(workers, result)
    finally:
        for w in workers:
            w.close()
    summarise(result)
    return result


def run_config(name: str, cfg: dict[str, Any], labels: list[str], args: argparse.Namespace, log) -> dict[str, Any]:
    """One of the four benchmark configurations: SGD and Adam against every contender, inference, the limit."""
    cfg = {**cfg, "threads": args.threads}
    log(f"{name} {cfg['sizes']} batch {cfg['batch']}: starting {len(labels)} workers ")
    result = measure(cfg, labels, OPTIMIZERS, args, log, predict_skip=("torch-compile", "gemm-bound"))
    log("\n")
    return result


def run_matrix_row(name: str, row: dict[str, Any], args: argparse.Namespace, log) -> dict[str, Any]:
    """One configuration of the matrix: its optimizer against PyTorch, inference also against scikit-learn."""
    cfg = {k: v for k, v in row.items() if k != "optimizer"}
    cfg = {"predict_m": MATRIX_PREDICT_M, "rounds": MATRIX_ROUNDS, **cfg, "threads": args.threads, "name": name}
    log(f"{name} ")
    result = {**measure(cfg, MATRIX_CONTENDERS, [row["optimizer"]], args, log, train_skip=("sklearn",)),
              "optimizer": row["optimizer"]}
    ups = [speedup(result, rival, what) for rival, what in (("torch", row["optimizer"]), ("torch", "predict"),
                                                           ("sklearn", "predict"))]
    log(" vecprop × PyTorch: training {}, predict {}; × scikit-learn predict {}\n".format(
        *("—" if u is None else f"{u:.2f}" for u in ups)))
    return result


def _collect_info(workers: list[Worker], result: dict[str, Any]) -> None:
    for w in workers:
        info = w.ask(cmd="info")
        result["contenders"][w.label].update(
            {k: info[k] for k in ("peak_rss_mb", "import_rss_mb", "threadpools") if k in info})
        if w.error:
            result["contenders"][w.label]["error"] = w.error


def summarise(result: dict[str, Any]) -> None:
    """Examples per second for every contender and measurement, from the median epoch and from the fastest; in place."""
    cfg = result["config"]
    for r in result["contenders"].values():
        for what, rec in list(r.items()):
            if isinstance(rec, dict) and rec.get("times"):
                n = cfg["predict_m"] if what == "predict" else cfg["batch"] * cfg["steps"]
                r.setdefault("rate", {})[what] = n / median(rec["times"])
                r.setdefault("best_rate", {})[what] = n / min(rec["times"])


def shrink(cfg: dict[str, Any]) -> dict[str, Any]:
    """``--tiny``: the same configuration on a toy network (a check of the script, not of speed)."""
    sizes = [min(n, 12) for n in cfg["sizes"]]
    return {**cfg, "sizes": sizes, "batch": min(cfg["batch"], 16), "steps": 2, "predict_m": 64, "rounds": 1}


QUICK = {"configs": ["tiny", "mnist"], "scale": 0.25, "rounds": 2,
         "matrix": ["elu-dropout-adam", "regression-tanh-l2-f64", "relu-sgd-b16"],
         "contenders": ["vecprop", "vecprop-1thread", "torch", "torch-1thread", "sklearn-f32", "gemm-bound"]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file to update")
    p.add_argument("--chart", type=Path, default=None, help="PNG chart (default: docs/img/bench_speed.png beside --out)")
    p.add_argument("--json", type=Path, default=None, help="also save the raw results here")
    p.add_argument("--configs", nargs="*", choices=list(CONFIGS), default=None)
    p.add_argument("--matrix", nargs="*", choices=list(MATRIX), default=None, help="matrix rows (default: all)")
    p.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), default=None)
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per configuration (default: per config)")
    p.add_argument("--scale", type=float, default=None, help="multiply every epoch's steps (e.g. 0.25 for a smoke run)")
    p.add_argument("--quick", action="store_true", default=os.environ.get("VECPROP_BENCH_QUICK", "") not in ("", "0"),
                   help=f"smoke run (1-2 minutes; also VECPROP_BENCH_QUICK=1): {QUICK}")
    p.add_argument("--tiny", action="store_true", help="every network shrunk to toy sizes (tests the script)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (numpy's BLAS uses all cores)")
    p.add_argument("--settle", type=float, default=0.1, help="seconds of quiet between two measurements")
    p.add_argument("--timeout", type=float, default=600, help="seconds one command may take before its worker is dropped")
    args = p.parse_args(argv)
    for key, full in (("configs", list(CONFIGS)), ("matrix", list(MATRIX)), ("contenders", DEFAULT_CONTENDERS),
                      ("scale", 1.0)):
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else full)
    if args.quick and args.rounds is None:
        args.rounds = QUICK["rounds"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()

    def log(msg: str) -> None:
        print(msg, end="", file=sys.stderr, flush=True)

    meta: dict[str, Any] = {
        "command": " ".join(["python", os.path.relpath(__file__, ROOT), *(sys.argv[1:] if argv is None else argv)]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": load_average(),
    }
    log("machine info ")
    meta["machine"] = machine_info()
    meta["blas_probe"] = blas_probe()
    meta["bandwidth"] = stream_bandwidth(quick=args.quick, tiny=args.tiny)
    log("done\n")
    results, matrix = [], []
    for name in args.configs:
        cfg = dict(CONFIGS[name], name=name)
        cfg["steps"] = max(1, round(cfg["steps"] * args.scale))
        if args.rounds is not None:
            cfg["rounds"] = args.rounds
        results.append(run_config(name, shrink(cfg) if args.tiny else cfg, args.contenders, args, log))
    for name in args.matrix:
        row = dict(MATRIX[name])
        row["steps"] = max(1, round(row["steps"] * args.scale))
        if args.rounds is not None:
            row["rounds"] = args.rounds
        matrix.append(run_matrix_row(name, shrink(row) if args.tiny else row, args, log))
    meta["load_after"] = load_average()
    meta["wall_s"] = time.perf_counter() - t0
    chart = args.chart or args.out.parent / "img" / "bench_speed.png"
    try:
        write_chart(results, chart)
    except ImportError as e:  # matplotlib is optional: the table still gets written
        log(f"no chart ({e})\n")
    write_report(results, matrix, meta, args.out, chart)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results, "matrix": matrix}, indent=1))
    log(f"wrote {args.out} and {chart} in {meta['wall_s']:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
