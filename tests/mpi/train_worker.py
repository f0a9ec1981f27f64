"""One rank of a test run: ``mpiexec -n N python train_worker.py OUT CASE [raise|exit:RANK]`` trains, saves.

Without a launcher (or when imported) the same ``train`` runs in one process: the reference.
Each rank writes OUT/rank<r>.npz with the final weights, the weights after every epoch and the
history, so the test can compare ranks with each other and with the single-process run; with
``raise:R`` or ``exit:R`` rank R fails in the middle of epoch 1 (an exception, or a dead process).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from vecprop import Network
from vecprop.callbacks import Callback, EarlyStopping, TrainState
from vecprop.distributed import Comm, abort_on_error, world
from vecprop.training import fit

BASE = dict(dtype="float64", task="multiclass", dropout=0.0, l2=0.0, m=103, batch_size=16, engine=None, seed="int",
            weights=False)
# m % batch_size leaves an uneven last batch in every case.
CASES = {
    "float64": BASE,
    "float64_readable": {**BASE, "engine": "readable"},  # the derivation's own path; others use fit's default
    "float32": {**BASE, "dtype": "float32", "seed": "generator"},  # a Generator seed, as the CLI passes it
    "regression_l2": {**BASE, "task": "regression", "l2": 0.01, "m": 101, "batch_size": 12},
    "weighted": {**BASE, "weights": True, "l2": 0.01},  # sample weights 0..3: each rank divides by the batch's
    "dropout": {**BASE, "dropout": 0.3},
    "too_many_ranks": {**BASE, "m": 10, "batch_size": 4},  # last batch: 2 examples
    "seed_per_rank": {**BASE, "seed": "rank"},  # each rank passes seed=rank: refused
}
EPOCHS = 6


class RecordWeights(Callback):
    """Keeps the flat weights after every epoch (ranks never drift apart) and the first dropout mask."""

    def __init__(self) -> None:
        self.flats: list[np.ndarray] = []
        self.mask = np.zeros((0, 0))

    def on_batch_end(self, state: TrainState) -> None:
        if state.epoch == 0 and state.batch == 0 and state.engine.cache.M[1] is not None:
            self.mask = state.engine.cache.M[1].copy()  # (n_1, this rank's share of batch 0)

    def on_epoch_end(self, state: TrainState) -> None:
        self.flats.append(state.net.flat.copy())


class FailOnRank(Callback):
    """Fails on one rank in the middle of epoch 1, while the others go on to the next Allreduce."""

    def __init__(self, how: str, rank: int, out: Path) -> None:
        self.how, self.rank, self.out = how, rank, out

    def on_batch_end(self, state: TrainState) -> None:
        if state.epoch == 1 and state.batch == 2:
            (self.out / "failed_at").write_text(repr(time.time()))  # the test measures the job's exit from here
            if self.how == "exit":
                os._exit(3)  # a dead process: no exception, no Abort
            raise RuntimeError(f"deliberate failure on rank {self.rank}")


def problem(case: str) -> tuple[Network, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """The network, X (n_0, m), Y (n_L, m), validation set and fit keywords of a case (same on every rank)."""
    c = CASES[case]
    m, dtype, dropout = c["m"], c["dtype"], c["dropout"]
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, m + 29))
    if c["task"] == "multiclass":
        Y = np.eye(3)[(X[0] + X[1] ** 2 > 1).astype(int) + (X[2] > 0.5)].T  # (3, m)
        net = Network([5, 8, 3], ["tanh", "softmax"], "cross_entropy", seed=1, dtype=dtype, dropout=dropout)
    else:
        Y = np.stack([np.sin(X[0]) + X[1], X[2] * X[3]])  # (2, m)
        net = Network([5, 8, 2], ["tanh", "identity"], "squared_error", seed=1, dtype=dtype, dropout=dropout)
    seed = np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1]) if c["seed"] == "generator" else 3
    kwargs = dict(optimizer="adam", lr=0.02, epochs=EPOCHS, batch_size=c["batch_size"], l2=c["l2"], seed=seed)
    validation = (X[:, m:], Y[:, m:])
    if c["weights"]:
        w = rng.integers(0, 4, size=m + 29).astype(float)
        kwargs["sample_weight"], validation = w[:m], (*validation, w[m:])
    if c["engine"] is not None:
        kwargs["engine"] = c["engine"]
    return net, X[:, :m], Y[:, :m], validation, kwargs


def train(case: str, comm: Comm | None, fail: str = "", out: Path = Path()) -> tuple[Network, RecordWeights, list]:
    """fit on the case's problem; EarlyStopping's min_delta makes it stop before EPOCHS."""
    net, X, Y, validation, kwargs = problem(case)
    record = RecordWeights()
    callbacks = [record, EarlyStopping("val_cost", patience=0, min_delta=0.04)]
    if CASES[case]["seed"] == "rank" and comm is not None:
        kwargs["seed"] = comm.Get_rank()
    how, _, fail_rank = fail.partition(":")
    if comm is not None and fail and comm.Get_rank() == int(fail_rank):
        callbacks.append(FailOnRank(how, int(fail_rank), out))
    history = fit(net, X, Y, validation=validation, callbacks=callbacks, comm=comm, **kwargs)
    return net, record, history.records


def main(out: Path, case: str, fail: str) -> None:
    comm = world()
    with abort_on_error(comm):
        rank = 0 if comm is None else comm.Get_rank()
        net, record, records = train(case, comm, fail, out)
        keys = sorted(k for k in records[0] if k != "epoch")
        np.savez(out / f"rank{rank}.npz", flat=net.flat, flats=np.stack(record.flats), mask=record.mask,
                 **{k: np.array([r[k] for r in records]) for k in keys})


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
