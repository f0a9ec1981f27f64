"""Sparse X: vecprop.sklearn vs sklearn.neural_network on a CSR data set too wide to densify.

Default set: 50,000 training rows (plus 10,000 test rows) x 100,000 features at 0.1% density
(about 100 stored values a row, uniform in [0, 1), float32 CSR), 10 classes from a random
linear teacher (y = argmax X W). Dense, the training X alone would be 20 GB. Both estimators get
the same CSR matrices and their defaults (hidden (100,), relu, Adam, lr 1e-3, batch 200, alpha
1e-4) for ``--epochs`` epochs (tol=0, n_iter_no_change=inf, random_state=0). Each contender runs
in its own process, which builds the same data from the same seed, so that its peak RSS is its
own. Reported: fit seconds per epoch, predict seconds on the test rows, test accuracy, peak RSS.

Usage: python benchmarks/bench_sparse.py [--epochs 2] [--threads N] [--out docs/benchmarks.md]
(--out rewrites only the part of that file between the bench_sparse markers)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _report import write_between

BEGIN, END = "<!-- bench_sparse:begin -->", "<!-- bench_sparse:end -->"
CONTENDERS = ("vecprop", "sklearn")


def make_data(rows: int, test_rows: int, features: int, density: float, classes: int, seed: int = 0):
    """CSR rows (float32) and labels from a linear teacher; the same numbers for the same arguments."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    m = rows + test_rows
    counts = rng.poisson(density * features, size=m)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.integers(0, features, size=indptr[-1])
    data = rng.random(indptr[-1], dtype=np.float32)
    X = sparse.csr_matrix((data, indices, indptr), shape=(m, features))
    X.sum_duplicates()
    y = np.asarray(X @ rng.normal(size=(features, classes)).astype(np.float32)).argmax(axis=1)
    return X[:rows], y[:rows], X[rows:], y[rows:]


def run_child(lib: str, args: argparse.Namespace) -> dict:
    """Fit and score one contender in this process; its numbers as a dict."""
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.threads, user_api="blas")
    from sklearn.exceptions import ConvergenceWarning

    if lib == "vecprop":
        from vecprop.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    X_tr, y_tr, X_te, y_te = make_data(args.rows, args.test_rows, args.features, args.density, args.classes)
    clf = MLPClassifier(max_iter=args.epochs, tol=0.0, n_iter_no_change=np.inf, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X_tr, y_tr)
        fit_s = time.perf_counter() - start
    assert clf.n_iter_ == args.epochs, clf.n_iter_
    start = time.perf_counter()
    accuracy = float((clf.predict(X_te) == y_te).mean())
    predict_s = time.perf_counter() - start
    return {"lib": lib, "epoch_s": fit_s / args.epochs, "predict_s": predict_s, "accuracy": accuracy,
            "nnz": int(X_tr.nnz), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def machine(threads: int | None) -> str:
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    blas = "; ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
                     for i in threadpool_info() if i["user_api"] == "blas")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.machine()}, {os.cpu_count()} cores (load average {load}), Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; BLAS: {blas}; "
            f"BLAS thread limit: {threads or 'none'}")


def render(results: dict[str, dict], args: argparse.Namespace, command: str) -> str:
    vp, sk = results["vecprop"], results["sklearn"]
    dense_gb = args.rows * args.features * 4 / 1e9
    lines = [f"Command: `{command}`; {time.strftime('%Y-%m-%d')}; {machine(args.threads)}", "",
             "| data set | contender | fit s / epoch | predict s (test) | test acc. | peak RSS | sklearn / vecprop |",
             "|---|---|---:|---:|---:|---:|---:|"]
    name = (f"{args.rows} x {args.features} CSR float32, {vp['nnz'] / 1e6:.1f}M stored "
            f"({args.density:.2%}), {args.classes} classes, {args.epochs} epochs (dense: {dense_gb:.0f} GB)")
    for r in (vp, sk):
        ratio = f"{sk['epoch_s'] / vp['epoch_s']:.2f}x fit, {sk['predict_s'] / vp['predict_s']:.2f}x predict" \
            if r is vp else ""
        lines.append(f"| {name if r is vp else ''} | {r['lib']} | {r['epoch_s']:.1f} | {r['predict_s']:.2f} "
                     f"| {r['accuracy']:.4f} | {r['peak_rss_mb']:.0f} MB | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=50_000)
    p.add_argument("--test-rows", type=int, default=10_000)
    p.add_argument("--features", type=int, default=100_000)
    p.add_argument("--density", type=float, default=0.001)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="limit BLAS threads (threadpoolctl)")
    p.add_argument("--out", type=Path, default=None, help="rewrite the bench_sparse section of this markdown file")
    p.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args)))
        return 0
    passed = list(argv if argv is not None else sys.argv[1:])
    results = {}
    for lib in CONTENDERS:
        done = subprocess.run([sys.executable, __file__, *passed, "--child", lib], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(f"{lib} failed:\n{done.stderr}")
        results[lib] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"# {lib}: {results[lib]}", file=sys.stderr, flush=True)
    given = [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
             if k not in ("out", "child") and v != p.get_default(k)]
    text = render(results, args, " ".join(["python benchmarks/bench_sparse.py", *given]))
    print(text)
    if args.out is not None:
        write_between(args.out, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
