"""Train the Fashion-MNIST config over several seeds, one after another, and tabulate mean +- std.

Usage (from the repository root, in the project's virtual environment)::

    python examples/fashion_mnist/run_seeds.py                    # seeds 0 1 2 -> runs/fashion_mnist/
    python examples/fashion_mnist/run_seeds.py --seeds 0 1 2 3 4 --out runs/fm5

Each seed is one ``vecprop train --config CONFIG --seed S --out OUT/seedS`` in its own process
(the seed changes the validation split, the initial weights, the batch order and the dropout
masks; the test set is always the official 10,000 images). The runs go one after another, never
in parallel, so that their wall times are comparable. The script prints a markdown table and
writes it to ``OUT/seeds.md`` (and ``OUT/seeds.json``). The std is the sample standard deviation
(ddof = 1).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def train(config: str, seed: int, out: Path, extra: list[str]) -> dict[str, Any]:
    """One ``vecprop train`` run in a fresh process; its metrics.json, plus the process's wall time."""
    run_dir = out / f"seed{seed}"
    cmd = [sys.executable, "-m", "vecprop", "train", "--config", config, "--seed", str(seed),
           "--out", str(run_dir), "--quiet", *extra]
    print(f"[{time.strftime('%H:%M:%S')}] {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["process_seconds"] = time.perf_counter() - t0
    metrics["seed"], metrics["run_folder"] = seed, str(run_dir)
    return metrics


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def table(runs: list[dict[str, Any]]) -> str:
    """Per-seed rows and a mean +- std row (markdown)."""
    lines = ["| seed | test accuracy | val accuracy | train accuracy | epochs run | "
             "training wall time (s) | whole run (s) |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['seed']} | {r['test_accuracy']:.4f} | {r['val_accuracy']:.4f} | "
                     f"{r['train_accuracy']:.4f} | {r['epochs_run']} | {r['wall_seconds']:.0f} | "
                     f"{r['process_seconds']:.0f} |")
    cols = {key: mean_std([float(r[key]) for r in runs])
            for key in ("test_accuracy", "val_accuracy", "train_accuracy", "epochs_run", "wall_seconds",
                        "process_seconds")}
    fmt = {key: (".4f" if "accuracy" in key else ".0f") for key in cols}
    cells = [f"{cols[k][0]:{fmt[k]}} ± {cols[k][1]:{fmt[k]}}" for k in cols]
    lines.append(f"| **mean ± std** | **{cells[0]}** | " + " | ".join(cells[1:]) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(HERE / "config.toml"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/fashion_mnist")
    p.add_argument("extra", nargs=argparse.REMAINDER,
                   help="after --, more `vecprop train` flags for every run (e.g. -- --epochs 5)")
    args = p.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started, t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    runs = [train(args.config, seed, out, extra) for seed in args.seeds]
    total = time.perf_counter() - t0
    mean, std = mean_std([r["test_accuracy"] for r in runs])
    text = (f"`{args.config}` over seeds {' '.join(map(str, args.seeds))}"
            + (f" with `{' '.join(extra)}`" if extra else "")
            + f", started {started}, total {total / 60:.1f} min, one run at a time.\n\n" + table(runs)
            + f"\nTest accuracy {mean:.4f} ± {std:.4f} (mean ± sample std over {len(runs)} seeds).\n")
    print("\n" + text)
    (out / "seeds.md").write_text(text)
    (out / "seeds.json").write_text(json.dumps({"config": args.config, "extra": extra, "started": started,
                                                "total_seconds": total, "runs": runs}, indent=1))
    print(f"wrote {out / 'seeds.md'} and {out / 'seeds.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
