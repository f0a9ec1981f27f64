"""Training and inference speed of vecprop against PyTorch CPU and scikit-learn, on the same work.

Usage: ``python benchmarks/bench_speed.py --out docs/benchmarks.md`` (what ``make bench`` runs).

Every contender runs in its own process (its own thread pools, its own peak RSS), all started
before the first measurement and driven in turn: for each configuration and optimizer, one
warm-up epoch each, then ``rounds`` epochs each in rotating order (A B C, B C A, ...), so that a
slow moment of this shared machine hits them all. Medians; speed-ups are ratios of medians.
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

from _machine import blas_probe, load_average, machine_info  # noqa: E402
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
OPTIMIZERS = ("sgd", "adam")


class Worker:
    """One contender's process: send a JSON command, wait (bounded) for its JSON answer."""

    def __init__(self, label: str, cfg: dict[str, Any], timeout: float) -> None:
        kind, extra = CONTENDERS[label]
        extra = dict(extra)
        env = dict(os.environ, **extra.pop("env", {}), PYTHONPATH=os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.label, self.timeout = label, timeout
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(HERE / "_contenders.py"), kind, json.dumps({**cfg, **extra})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.error: str | None = None
        ready = self._read()
        if "ready" not in ready:
            self.error = ready.get("error", "did not start")

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


def run_config(name: str, cfg: dict[str, Any], labels: list[str], args: argparse.Namespace, log) -> dict[str, Any]:
    cfg = {**cfg, "threads": args.threads}
    log(f"{name} {cfg['sizes']} batch {cfg['batch']}: starting {len(labels)} workers ")
    workers = [Worker(label, cfg, args.timeout) for label in labels]
    result: dict[str, Any] = {"config": cfg, "contenders": {w.label: {} for w in workers}}
    try:
        for opt in OPTIMIZERS:
            log(f"{opt} ")
            for label, r in interleaved(workers, cfg["rounds"], args.settle, log, cmd="train", optimizer=opt).items():
                result["contenders"][label][opt] = r
        log("predict ")
        inference = [w for w in workers if w.label not in ("torch-compile", "gemm-bound")]
        for label, r in interleaved(inference, cfg["rounds"], args.settle, log, cmd="predict").items():
            result["contenders"][label]["predict"] = r
        for w in workers:
            info = w.ask(cmd="info")
            result["contenders"][w.label].update(
                {k: info[k] for k in ("peak_rss_mb", "import_rss_mb", "threadpools") if k in info})
            if w.error:
                result["contenders"][w.label]["error"] = w.error
    finally:
        for w in workers:
            w.close()
    log("\n")
    return result


def summarise(result: dict[str, Any]) -> None:
    """Examples per second for every contender, from the median epoch and from the fastest; in place."""
    cfg = result["config"]
    for r in result["contenders"].values():
        for what in (*OPTIMIZERS, "predict"):
            n = cfg["predict_m"] if what == "predict" else cfg["batch"] * cfg["steps"]
            times = r.get(what, {}).get("times")
            r.setdefault("rate", {})[what] = n / median(times) if times else None
            r.setdefault("best_rate", {})[what] = n / min(times) if times else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file to update")
    p.add_argument("--chart", type=Path, default=None, help="PNG chart (default: docs/img/bench_speed.png beside --out)")
    p.add_argument("--json", type=Path, default=None, help="also save the raw results here")
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), default=list(CONTENDERS))
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per configuration (default: per config)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every epoch's steps (e.g. 0.25 for a smoke run)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (numpy's BLAS uses all cores)")
    p.add_argument("--settle", type=float, default=0.2, help="seconds of quiet between two measurements")
    p.add_argument("--timeout", type=float, default=600, help="seconds one command may take before its worker is dropped")
    return p.parse_args(argv)


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
    log("done\n")
    results = []
    for name in args.configs:
        cfg = dict(CONFIGS[name], name=name)
        cfg["steps"] = max(1, round(cfg["steps"] * args.scale))
        if args.rounds is not None:
            cfg["rounds"] = args.rounds
        result = run_config(name, cfg, args.contenders, args, log)
        summarise(result)
        results.append(result)
    meta["load_after"] = load_average()
    meta["wall_s"] = time.perf_counter() - t0
    chart = args.chart or args.out.parent / "img" / "bench_speed.png"
    try:
        write_chart(results, chart)
    except ImportError as e:  # matplotlib is optional: the table still gets written
        log(f"no chart ({e})\n")
    write_report(results, meta, args.out, chart)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    log(f"wrote {args.out} and {chart} in {meta['wall_s']:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
