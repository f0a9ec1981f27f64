"""`vecprop train --data NAME` with no other flag against scikit-learn's defaults, on the same splits.

For each data set and split seed: vecprop's run (its own 70/10/20 split; the validation rows
drive early stopping) and ``make_pipeline(StandardScaler(), MLPClassifier())`` (or MLPRegressor)
fitted on the same training + validation rows; both scored on the same test rows. The table
(means over the seeds, and training seconds) goes into docs/cli.md between marker comments.

    python benchmarks/bench_cli_defaults.py --out docs/cli.md         # what docs/cli.md shows
    python benchmarks/bench_cli_defaults.py --sets iris --seeds 0     # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _report import write_between

ROOT = Path(__file__).resolve().parents[1]
SETS = ("iris", "wine", "breast-cancer", "digits", "diabetes")
BEGIN, END = "<!-- begin: bench_cli_defaults -->", "<!-- end: bench_cli_defaults -->"


def vecprop_run(name: str, seed: int, folder: Path, flags: list[str] = ()) -> tuple[float, float]:
    """(test accuracy or R^2, training seconds) of `vecprop train --data NAME --seed SEED`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-m", "vecprop", "train", "--data", name, "--seed", str(seed), "--quiet", "--no-plots",
           "--out", str(folder), *flags]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    m = json.loads((folder / "metrics.json").read_text())
    return m.get("test_accuracy", m.get("test_r2")), m["wall_seconds"]


def sklearn_run(name: str, seed: int) -> tuple[float, float]:
    """(test accuracy or R^2, fit seconds) of scikit-learn's default MLP on the same split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from vecprop import datasets

    ds = datasets.load(name)
    parts = datasets.split(ds, val_fraction=0.1, test_fraction=0.2, seed=seed)
    X = np.concatenate([parts.train.X, parts.val.X])
    y = np.concatenate([parts.train.y, parts.val.y])
    est = MLPRegressor(random_state=seed) if ds.task == "regression" else MLPClassifier(random_state=seed)
    model = make_pipeline(StandardScaler(), est)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return float(model.score(parts.test.X, parts.test.y)), time.perf_counter() - t0


def table(results: dict[str, dict[str, list[tuple[float, float]]]], seeds: list[int]) -> str:
    lines = ["| data | metric | vecprop (no flags) | scikit-learn defaults | difference | vecprop s | scikit-learn s |",
             "|---|---|---|---|---|---|---|"]
    for name, by in results.items():
        metric = "R^2" if name == "diabetes" else "accuracy"
        (v, vs), (s, ss) = (np.mean(np.array(by[k]), axis=0) for k in ("vecprop", "sklearn"))
        lines.append(f"| {name} | {metric} | {v:.4f} | {s:.4f} | {v - s:+.4f} | {vs:.2f} | {ss:.2f} |")
    return "\n".join(lines) + f"\n\nMeans over split seeds {', '.join(map(str, seeds))}; seconds are training time.\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", type=Path, help="a markdown file whose marked section is replaced by the table")
    ap.add_argument("--flags", default="", help="extra `vecprop train` flags, to try other defaults (not for --out)")
    args = ap.parse_args()
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            results[name] = {"vecprop": [], "sklearn": []}
            for seed in args.seeds:
                results[name]["vecprop"].append(vecprop_run(name, seed, Path(tmp) / f"{name}-{seed}",
                                                            args.flags.split()))
                results[name]["sklearn"].append(sklearn_run(name, seed))
                print(name, seed, results[name]["vecprop"][-1], results[name]["sklearn"][-1], flush=True)
    text = table(results, args.seeds)
    print(text)
    if args.out and not args.flags:
        write_between(args.out, BEGIN, END, text)


if __name__ == "__main__":
    main()
