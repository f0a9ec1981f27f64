"""What each choice of the fast engine buys: the step without it, timed against the step with all of them.

Usage: ``python benchmarks/bench_ablation.py [--configs tiny mnist large] [--rounds 9]``; prints a
markdown table (CPU ms per forward + cost + backward step, no optimizer) for docs/benchmarks.md.

Each variant is ``FastPath`` with one choice undone; every variant's gradient is first checked
against the engine's, so a variant that is faster because it is wrong cannot slip in. Variants
run interleaved in one process with ONE BLAS thread, timed in CPU seconds (``process_time``):
on a machine shared with other work, a two-thread BLAS waits for whichever thread was
descheduled and wall times swing 2-10x, while the CPU time of one thread measures the work
each choice saves. The table shows the minimum over rounds and the median.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import vecprop as vp  # noqa: E402
from vecprop.engines import ReadablePath  # noqa: E402
from vecprop.fast import FastPath  # noqa: E402

CONFIGS = {
    "tiny": ([64, 32, 10], 32, 400),
    "mnist": ([784, 256, 128, 10], 128, 20),
    "large": ([784, 1024, 1024, 10], 512, 2),
}
UNDO = {
    "dA0": "also computes dA[0] = Theta[1]^T dZ[1]",
    "sum_db": "(B) as dZ.sum(axis=1) instead of a product with a ones vector",
    "where_relu": "ReLU's (C) as np.where(A > 0, dA, 0) instead of a boolean-mask multiply",
    "late_m": "divides dTheta and db by m after the products instead of carrying 1/m in dZ[L]",
    "alloc": "allocates Z, A, dTheta, dA every step (no out=), copies dTheta into the flat gradient",
}


class Ablated:
    """FastPath's step (softmax + cross-entropy, ReLU hidden layers) with one choice undone.

    Written with the public API only: the forward pass is FastPath's (its ``cache`` shows A[l]),
    except for "alloc", which recomputes it allocating; the backward pass is the engine's
    (A)-(D) again, in buffers of its own, with the one choice undone.
    """

    def __init__(self, net: vp.Network, undo: str) -> None:
        self.net, self.undo, self.fast = net, undo, FastPath(net)
        self.A: list[np.ndarray] = []
        self.buffers: dict[int, dict[str, list[np.ndarray]]] = {}
        self.grads: tuple[np.ndarray | None, list] = (None, [])  # (out, its (dTheta, db) views), like the engine

    def forward(self, X, rng=None):
        if self.undo != "alloc":
            A_L = self.fast.forward(X)
            self.A = self.fast.cache.A  # views of the engine's buffers; A[0] is X
            return A_L
        A, self.A = X, [X]
        for l, (Theta, b) in enumerate(self.net.params, start=1):
            Z = Theta @ A + b
            if l < self.net.L:
                A = np.maximum(Z, 0)
            else:
                E = np.exp(Z - Z.max(axis=0, keepdims=True))
                A = E / E.sum(axis=0, keepdims=True)
            self.A.append(A)
        return A

    def cached_cost(self, Y, l2=0.0):
        if self.undo != "alloc":
            return self.fast.cached_cost(Y)
        return -float((Y * np.log(self.A[-1])).sum()) / Y.shape[1]

    def _buffers(self, m: int) -> dict[str, list[np.ndarray]]:
        """dZ[L], dA[l], ReLU masks and the ones vector of (B) for batch size m, kept like the engine's."""
        if m not in self.buffers:
            sizes, dtype = self.net.sizes, self.net.dtype
            self.buffers[m] = {"dZ_L": [np.empty((sizes[-1], m), dtype)], "ones": [np.ones(m, dtype)],
                               "dA": [np.empty((n, m), dtype) for n in sizes[:-1]],
                               "mask": [np.empty((n, m), bool) for n in sizes[:-1]]}
        return self.buffers[m]

    def backward_into(self, Y, out, l2=0.0):
        net, L, undo, A = self.net, self.net.L, self.undo, self.A
        m = Y.shape[1]
        buf = self._buffers(m)
        if self.grads[0] is not out:
            self.grads = (out, [(dT, db[:, 0]) for dT, db in net.views(out)])
        grads = self.grads[1]
        dZ = buf["dZ_L"][0]
        np.subtract(A[L], Y, out=dZ)  # (C) fused with the loss
        if undo != "late_m":
            dZ *= 1.0 / m
        for l in range(L, 0, -1):
            Theta, _ = net.params[l - 1]
            dTheta, db = grads[l - 1]
            if undo == "alloc":
                dTheta[...] = dZ @ A[l - 1].T  # (A)
            else:
                np.matmul(dZ, A[l - 1].T, out=dTheta)  # (A)
            if undo == "sum_db":
                np.sum(dZ, axis=1, out=db)  # (B)
            else:
                np.matmul(dZ, buf["ones"][0], out=db)  # (B)
            if undo == "late_m":
                dTheta /= m
                db /= m
            if l == 1:
                if undo == "dA0":
                    np.matmul(Theta.T, dZ, out=buf["dA"][0])
                break
            if undo == "alloc":
                dZ = (Theta.T @ dZ) * (A[l - 1] > 0)  # (D), (C)
                continue
            dA = buf["dA"][l - 1]
            np.matmul(Theta.T, dZ, out=dA)  # (D)
            if undo == "where_relu":
                dZ = np.where(A[l - 1] > 0, dA, 0)  # (C)
            else:
                mask = buf["mask"][l - 1]
                np.greater(A[l - 1], 0, out=mask)  # (C) ReLU: multiply by a boolean mask
                dZ = np.multiply(dA, mask, out=dA)


def run(name: str, rounds: int) -> list[str]:
    sizes, m, steps = CONFIGS[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, sizes[0]), dtype=np.float32).T
    Y = vp.one_hot(rng.integers(0, sizes[-1], m), sizes[-1])
    net = vp.Network(sizes, ["relu"] * (len(sizes) - 2) + ["softmax"], "cross_entropy", seed=0)
    engines = {"fast (all choices)": FastPath(net), "readable path": ReadablePath(net)}
    engines.update({f"fast, undo {k}": Ablated(net, k) for k in UNDO})
    grads = {k: np.empty_like(net.flat) for k in engines}
    for k, e in engines.items():  # each variant must compute the same gradient
        e.forward(X)
        e.cached_cost(Y)
        e.backward_into(Y, grads[k])
        ref = grads["fast (all choices)"]
        assert np.allclose(grads[k], ref, rtol=0, atol=1e-5 * np.abs(ref).max()), f"{k} computes another gradient"
    times: dict[str, list[float]] = {k: [] for k in engines}
    for r in range(rounds):
        for k, e in list(engines.items())[r % len(engines):] + list(engines.items())[: r % len(engines)]:
            t = time.process_time()
            for _ in range(steps):
                e.forward(X)
                e.cached_cost(Y)
                e.backward_into(Y, grads[k])
            times[k].append((time.process_time() - t) / steps * 1e3)
    best = min(times["fast (all choices)"])
    rows = []
    for k, ts in times.items():
        what = UNDO.get(k.removeprefix("fast, undo "), "")
        rows.append(f"| {name} | {k} | {what} | {min(ts):.3f} | {median(ts):.3f} | {min(ts) / best:.2f}x |")
    return rows + gather_rows(name, rounds)


def gather_rows(name: str, rounds: int) -> list[str]:
    """One mini-batch's gather: rows of a row-major (m, n_0) store (what fit does) vs columns of (n_0, m)."""
    sizes, B, _ = CONFIGS[name]
    m = 16 * B
    X_rows = np.random.default_rng(0).standard_normal((m, sizes[0]), dtype=np.float32)
    X_cols = np.ascontiguousarray(X_rows.T)
    idx = np.random.default_rng(1).permutation(m)[:B]
    ways = {"gather: X_rows[idx].T (fit)": lambda: X_rows[idx].T,
            "gather: X_cols[:, idx] from (n_0, m)": lambda: X_cols[:, idx]}
    times: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(rounds):
        for k, f in ways.items():
            t = time.process_time()
            for _ in range(50):
                f()
            times[k].append((time.process_time() - t) / 50 * 1e3)
    best = min(times["gather: X_rows[idx].T (fit)"])
    return [f"| {name} | {k} | one mini-batch of {B} from {m} examples | {min(ts):.3f} | {median(ts):.3f} | "
            f"{min(ts) / best:.2f}x |" for k, ts in times.items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (CPU time is comparable only with 1)")
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads, user_api="blas")
    print("| configuration | engine | what is undone | min CPU ms/step | median CPU ms/step | min / fast's min |")
    print("|---|---|---|---|---|---|")
    for name in args.configs:
        print("\n".join(run(name, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
