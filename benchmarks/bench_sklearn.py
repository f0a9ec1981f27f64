"""vecprop.sklearn vs sklearn.neural_network: fit time and test score, same architecture and epochs.

Contenders, on the same split, in float32 and float64: vecprop's MLPClassifier/MLPRegressor and
scikit-learn's, each fed X of that dtype (scikit-learn then trains in that dtype too). Every
fit runs exactly ``epochs`` epochs (tol=0, n_iter_no_change=inf), everything else at the
defaults of both (hidden (100,), relu, Adam, lr 1e-3, batch 200, alpha 1e-4). Fits are
interleaved (A B C D A B C D ...) and the median time is reported, with ratios: these machines
are shared and noisy.

Usage: python benchmarks/bench_sklearn.py [--out FILE] [--threads 1]   (the table is recorded in docs/benchmarks.md)
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import datasets as sk_datasets
from sklearn import neural_network as sk_nn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from vecprop import sklearn as vp_sk

CONTENDERS = [("vecprop", "float32"), ("vecprop", "float64"), ("sklearn", "float32"), ("sklearn", "float64")]


@dataclass
class Data:
    name: str
    X_tr: np.ndarray
    y_tr: np.ndarray
    X_te: np.ndarray
    y_te: np.ndarray
    regression: bool
    epochs: int


def small_sets(epochs: dict[str, int]) -> list[Data]:
    out = []
    for name, loader, regression in [("digits", sk_datasets.load_digits, False),
                                     ("breast_cancer", sk_datasets.load_breast_cancer, False),
                                     ("iris", sk_datasets.load_iris, False),
                                     ("diabetes", sk_datasets.load_diabetes, True)]:
        X, y = loader(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=None if regression else y)
        scaler = StandardScaler().fit(X_tr)
        if regression:  # standardised targets, as a TransformedTargetRegressor would
            mu, sd = y_tr.mean(), y_tr.std()
            y_tr, y_te = (y_tr - mu) / sd, (y_te - mu) / sd
        out.append(Data(name, scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te, regression,
                        epochs[name]))
    return out


def fashion_mnist(epochs: int, n_train: int | None) -> Data | None:
    try:
        from vecprop.datasets import load
        d = load("fashion-mnist")
    except Exception as err:  # noqa: BLE001 - the benchmark runs without it
        print(f"# skipping Fashion-MNIST: {err}", file=sys.stderr)
        return None
    X_tr, y_tr = d.X / 255.0, d.y
    if n_train is not None:
        X_tr, y_tr = X_tr[:n_train], y_tr[:n_train]
    return Data("fashion-mnist", X_tr, y_tr, d.X_test / 255.0, d.y_test, False, epochs)


def run_one(lib: str, dtype: str, data: Data, seed: int) -> tuple[float, float]:
    module = vp_sk if lib == "vecprop" else sk_nn
    cls = module.MLPRegressor if data.regression else module.MLPClassifier
    est = cls(hidden_layer_sizes=(100,), max_iter=data.epochs, tol=0.0, n_iter_no_change=np.inf, random_state=seed)
    X_tr, X_te = data.X_tr.astype(dtype), data.X_te.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        est.fit(X_tr, data.y_tr)
        seconds = time.perf_counter() - start
    assert est.n_iter_ == data.epochs, (lib, dtype, data.name, est.n_iter_)
    return seconds, float(est.score(X_te, data.y_te))


def bench(data: Data, repeats: int) -> dict[tuple[str, str], tuple[float, float]]:
    times: dict[tuple[str, str], list[float]] = {c: [] for c in CONTENDERS}
    scores: dict[tuple[str, str], list[float]] = {c: [] for c in CONTENDERS}
    run_one("vecprop", "float32", Data(**{**data.__dict__, "epochs": 1}), 0)  # warm-up (imports, caches)
    run_one("sklearn", "float32", Data(**{**data.__dict__, "epochs": 1}), 0)
    for r in range(repeats):
        for lib, dtype in CONTENDERS:
            t, s = run_one(lib, dtype, data, seed=r)
            times[(lib, dtype)].append(t)
            scores[(lib, dtype)].append(s)
    return {c: (statistics.median(times[c]), float(np.mean(scores[c]))) for c in CONTENDERS}


def table(results: list[tuple[Data, dict]], repeats: dict[str, int]) -> str:
    metric = lambda d: "R^2" if d.regression else "acc."  # noqa: E731
    lines = ["| data set | train m x n | epochs | runs | vecprop f32 | vecprop f64 | sklearn f32 | sklearn f64 "
             "| sk f32 / vp f32 | sk f64 / vp f32 | sk f64 / vp f64 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d, r in results:
        cells = [f"{r[c][0]:.3g} s ({metric(d)} {r[c][1]:.4f})" for c in CONTENDERS]
        t = {c: r[c][0] for c in CONTENDERS}
        ratios = [t[("sklearn", "float32")] / t[("vecprop", "float32")],
                  t[("sklearn", "float64")] / t[("vecprop", "float32")],
                  t[("sklearn", "float64")] / t[("vecprop", "float64")]]
        lines.append(f"| {d.name} | {d.X_tr.shape[0]} x {d.X_tr.shape[1]} | {d.epochs} | {repeats[d.name]} | "
                     + " | ".join(cells) + " | " + " | ".join(f"{x:.2f}x" for x in ratios) + " |")
    return "\n".join(lines)


def machine(threads: int | None) -> str:
    try:
        from threadpoolctl import threadpool_info
        blas = "; ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, "
                         f"{i['num_threads']} threads)" for i in threadpool_info() if i["user_api"] == "blas")
    except ImportError:
        blas = "threadpoolctl not installed"
    import sklearn
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{platform.machine()}, {os.cpu_count()} cores (load average {load}), Python "
            f"{platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
            f"BLAS: {blas}; BLAS thread limit: {threads or 'none'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per contender on the small sets")
    p.add_argument("--threads", type=int, default=None, help="limit BLAS threads (threadpoolctl)")
    p.add_argument("--fashion-epochs", type=int, default=5)
    p.add_argument("--fashion-train", type=int, default=None, help="use the first N training images")
    p.add_argument("--no-fashion", action="store_true")
    args = p.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.threads, user_api="blas")
    epochs = {"digits": 100, "breast_cancer": 100, "iris": 300, "diabetes": 100}
    sets = small_sets(epochs)
    repeats = {d.name: args.repeats for d in sets}
    if not args.no_fashion:
        fm = fashion_mnist(args.fashion_epochs, args.fashion_train)
        if fm is not None:
            sets.append(fm)
            repeats[fm.name] = 1
    results = []
    for d in sets:
        results.append((d, bench(d, repeats[d.name])))
        print(f"# {d.name} done", file=sys.stderr, flush=True)
    text = (f"Fit time (median) and mean test score; ratios > 1 mean vecprop is faster.\n"
            f"Command: `python benchmarks/bench_sklearn.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
            f"; {time.strftime('%Y-%m-%d')}; {machine(args.threads)}\n\n{table(results, repeats)}\n")
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)  # atomic: a crash never leaves half a table
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
