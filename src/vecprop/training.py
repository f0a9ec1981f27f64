"""The training loop: mini-batches -> forward -> cost -> backward -> step -> callbacks."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ._checks import as_columns, as_targets
from .fast import FastPath
from .callbacks import Callback, Checkpoint, History, LRScheduler, TrainState, split_states
from .metrics import evaluate, task_of
from .network import Network
from .lbfgs import LBFGS
from .optimizers import clip_grad_norm, clip_grad_value, get_optimizer


class TrainingDiverged(FloatingPointError):
    """A non-finite cost, gradient or weight; the network keeps its last finite weights."""


def batches(m: int, batch_size: int | None, rng: np.random.Generator, shuffle: bool = True) -> Iterator[np.ndarray]:
    """Index arrays of one epoch: a seeded permutation cut into batches; the last may be smaller."""
    order = rng.permutation(m) if shuffle else np.arange(m)
    size = m if batch_size is None else batch_size
    for start in range(0, m, size):
        yield order[start : start + size]


def fit(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    optimizer: str | Any = "adam",
    lr: float | None = None,
    epochs: int = 10,
    batch_size: int | None = 32,
    l2: float = 0.0,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    schedule: Any = None,
    callbacks: Sequence[Callback] = (),
    seed: int | np.random.Generator = 0,
    shuffle: bool = True,
    resume: str | Path | None = None,
    engine: str = "fast",
    comm: Any = None,
) -> History:
    """Train ``net`` on X (n_0, m), Y (n_L, m); return the per-epoch History.

    Every epoch logs ``cost`` (mean over the epoch's batches, with dropout, as Keras does) and
    ``accuracy`` or ``r2``/``mse``; with ``validation`` also ``val_cost`` and ``val_*`` in
    inference mode. ``optimizer="lbfgs"`` trains full-batch through scipy (see ``fit_lbfgs``).
    ``resume`` continues from a checkpoint written by the ``Checkpoint`` callback. ``engine``
    picks how each step is computed: "fast" (the default, ``vecprop.fast.FastPath``) reuses
    preallocated buffers and leaves ``net.cache`` alone; "readable" runs ``Network.forward``/
    ``backward`` line by line. Both compute the same numbers (to float rounding). ``comm`` (an mpi4py communicator, e.g.
    ``vecprop.distributed.world()``) trains data-parallel over its ranks on the same global
    batches (docs/distributed.md).
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None (full batch); got {batch_size!r}")
    X = as_columns(X, net.sizes[0], net.dtype)
    Y = as_targets(Y, net.sizes[-1], X.shape[1], net.dtype)
    net.loss.check_targets(Y)
    if validation is not None:
        X_val = as_columns(validation[0], net.sizes[0], net.dtype, name="validation X")
        validation = (X_val, as_targets(validation[1], net.sizes[-1], X_val.shape[1], net.dtype))
        net.loss.check_targets(validation[1])
    if optimizer == "lbfgs":
        optimizer = LBFGS(max_iter=max(epochs, 1))
    if isinstance(optimizer, LBFGS):
        if comm is not None:
            raise ValueError("L-BFGS trains full-batch in one process; with comm use a step optimizer such as 'adam'")
        return fit_lbfgs(net, X, Y, optimizer, l2=l2, validation=validation, callbacks=callbacks)
    opt = get_optimizer(optimizer, **({} if lr is None else {"lr": lr})) if isinstance(optimizer, str) else optimizer
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    history = History()
    # Checkpoints run last, so they save the epoch's final state of every other callback.
    ordered = sorted(callbacks, key=lambda cb: isinstance(cb, Checkpoint))
    cbs = [history, *([LRScheduler(schedule)] if schedule is not None else []), *ordered]
    state = TrainState(net=net, optimizer=opt, rng=rng, epochs=epochs, history=history,
                       n_batches=-(-X.shape[1] // (batch_size or X.shape[1])))
    start = _resume(resume, state, cbs) if resume is not None else 0
    dp = None if comm is None else _data_parallel(comm, net, rng, X, batch_size, epochs, shuffle, validation)

    # Rows of a C-ordered (m, n_0) copy gather fast; their transposes are the derivation's columns.
    X_rows, Y_rows = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
    task = task_of(net.loss, net.sizes[-1])
    labels = _labels(Y_rows, task)  # (m,) classes or (m, n_L) 0/1 outputs, once: n_correct reads only A[L] per step
    buffers: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # mini-batch (X, Y) rows per batch size, reused
    path = make_engine(net, engine)
    grad = np.empty_like(net.flat) if dp is None else dp.grad  # dp.grad: a view of its Allreduce buffer
    l2_r = l2 if dp is None else l2 / dp.size  # each rank's share of the L2 term; the Allreduce adds them
    last_good = np.empty_like(net.flat)
    for cb in cbs:
        cb.on_train_begin(state)
    for epoch in range(start, epochs):
        state.epoch, total_cost, correct = epoch, 0.0, 0
        drop_rng = rng if dp is None else dp.dropout_rng(epoch)  # ranks share rng (shuffle), not masks
        for cb in cbs:
            cb.on_epoch_begin(state)
        for state.batch, idx in enumerate(batches(X.shape[1], batch_size, rng, shuffle)):
            m_b = len(idx)
            if dp is not None:
                idx = dp.shard(idx)  # this rank's contiguous slice of the global batch
            Xb, Yb = _gather(X_rows, Y_rows, idx, buffers)  # (n_0, m_b), (n_L, m_b): columns again
            last_good[...] = net.flat
            try:
                A_L = path.forward(Xb, rng=drop_rng)  # forward (1)
                J = path.cached_cost(Yb, l2=l2_r)  # cost (2)
                path.backward_into(Yb, grad, l2=l2_r)  # backward (A)-(D), packed like net.flat
                n_ok = _n_correct(A_L, labels[idx], task) if task != "regression" else 0
                if dp is not None:
                    J, n_ok = dp.allreduce(J, n_ok, len(idx), m_b)  # grad: the global batch's mean
                _check_finite(J, grad)
                _clip(grad, clip_norm, clip_value)
                opt.step([net.flat], [grad])  # step
                _check_finite(0.0, net.flat, what="weights after the step")
            except FloatingPointError as err:  # also numpy's, under np.seterr(all="raise")
                net.flat[...] = last_good
                raise TrainingDiverged(f"training diverged at epoch {epoch}, batch {state.batch} "
                                       f"(lr={opt.lr:g}): {err}; the network keeps its last finite "
                                       f"weights. Try a smaller learning rate or clip_norm.") from None
            total_cost += J * m_b
            correct += n_ok
            state.batch_cost = J
            for cb in cbs:
                cb.on_batch_end(state)
        state.logs = {"cost": total_cost / X.shape[1], "lr": float(opt.lr)}  # the lr this epoch used
        if task != "regression":
            state.logs["accuracy"] = correct / X.shape[1]
        else:
            state.logs.update(evaluate(_outputs(net, X)[0] if dp is None else dp.outputs(net, X), Y, task))
        if validation is not None:
            logs_of = _validation_logs if dp is None else dp.validation_logs  # reduced over ranks
            state.logs.update(logs_of(net, *validation, l2=l2))
        for cb in cbs:
            cb.on_epoch_end(state)
        if dp is not None:
            state.stop = dp.agree(state.stop)  # rank 0 decides for all
        if state.stop:
            break
    for cb in cbs:
        cb.on_train_end(state)
    if dp is not None:
        dp.sync_weights(net)
    return history


class ReadablePath:
    """The engine that is the derivation: Network.forward and Network.backward, nothing else."""

    def __init__(self, net: Network) -> None:
        self.net = net

    def forward(self, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.net.forward(X, rng=rng)

    def cached_cost(self, Y: np.ndarray, l2: float = 0.0) -> float:
        return self.net.cached_cost(Y, l2=l2)

    def backward_into(self, Y: np.ndarray, out: np.ndarray, l2: float = 0.0) -> None:
        self.net.flatten(self.net.backward(Y, l2=l2), out=out)


ENGINES: dict[str, type] = {"readable": ReadablePath, "fast": FastPath}


def make_engine(net: Network, name: str) -> Any:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; valid names: {', '.join(ENGINES)}")
    return ENGINES[name](net)


def fit_lbfgs(net: Network, X: np.ndarray, Y: np.ndarray, lbfgs: LBFGS, *, l2: float = 0.0,
              validation: tuple[np.ndarray, np.ndarray] | None = None,
              callbacks: Sequence[Callback] = ()) -> History:
    """Full-batch L-BFGS on J (eq. 2): one history row per iteration; callbacks may stop it.

    scipy works in float64: the flat parameters are converted explicitly at this boundary
    and written back into the network in its own dtype.
    """
    history = History()
    cbs = [history, *callbacks]
    state = TrainState(net=net, optimizer=lbfgs, rng=np.random.default_rng(0), epochs=lbfgs.max_iter, history=history)
    task = task_of(net.loss, net.sizes[-1])

    def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        net.flat[...] = x
        J = net.cost(X, Y, l2=l2)  # forward (1), cost (2)
        return J, net.flatten(net.backward(Y, l2=l2)).astype(np.float64)  # backward (A)-(D)

    def on_iteration(n_iter: int, x: np.ndarray, J: float) -> bool:
        net.flat[...] = x
        state.epoch = n_iter - 1
        state.logs = {"cost": J, **evaluate(_outputs(net, X)[0], Y, task)}
        if validation is not None:
            state.logs.update(_validation_logs(net, *validation, l2=l2))
        for cb in cbs:
            cb.on_epoch_end(state)
        return state.stop

    for cb in cbs:
        cb.on_train_begin(state)
    result = lbfgs.minimize(fun_and_grad, net.flat.astype(np.float64), callback=on_iteration)
    if not state.stop:
        net.flat[...] = result.x
    for cb in cbs:
        cb.on_train_end(state)
    return history


def predict(net: Network, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """A[L] (n_L, m) for X (n_0, m) in inference mode (no dropout), in chunks to bound memory.

    X is checked once, here; the chunks run through the fast engine's preallocated buffers and
    give ``Network.forward``'s numbers (to float rounding).
    """
    _check_chunk("batch_size", batch_size)
    return _outputs(net, as_columns(X, net.sizes[0], net.dtype), chunk=batch_size)[0]


def validation_logs(net: Network, X: np.ndarray, Y: np.ndarray, *, l2: float = 0.0,
                    prefix: str = "val_", chunk: int = 4096) -> dict[str, float]:
    """Cost (eq. 2, through the logits like training) and metrics of one set, in inference mode."""
    _check_chunk("chunk", chunk)
    X = as_columns(X, net.sizes[0], net.dtype)
    Y = as_targets(Y, net.sizes[-1], X.shape[1], net.dtype)
    net.loss.check_targets(Y)
    return _validation_logs(net, X, Y, l2=l2, prefix=prefix, chunk=chunk)


def _validation_logs(net: Network, X: np.ndarray, Y: np.ndarray, *, l2: float = 0.0,
                     prefix: str = "val_", chunk: int = 4096) -> dict[str, float]:
    """``validation_logs`` for X, Y already checked (``fit`` checks them once, at its boundary)."""
    A_L, total = _outputs(net, X, Y, chunk)
    m = X.shape[1]
    cost = total / m
    if l2:
        cost += net.l2_term(l2, m)
    logs = {f"{prefix}cost": cost}
    logs.update({prefix + k: v for k, v in evaluate(A_L, Y, task_of(net.loss, net.sizes[-1])).items()})
    return logs


def _outputs(net: Network, X: np.ndarray, Y: np.ndarray | None = None,
             chunk: int = 4096) -> tuple[np.ndarray, float]:
    """A[L] (n_L, m) of a checked X, chunk columns at a time, and with Y the summed error m * J (no L2 term).

    Inference through a fresh ``FastPath``: one workspace per chunk size, reused by every chunk.
    """
    path, m = FastPath(net), X.shape[1]
    A_L, total = np.empty((net.sizes[-1], m), net.dtype), 0.0
    for s in range(0, m, chunk):
        A_L[:, s : s + chunk] = path.forward(X[:, s : s + chunk])  # (1) without rng: no dropout
        if Y is not None:
            total += path.cached_cost(Y[:, s : s + chunk]) * min(chunk, m - s)  # (2) for this chunk
    return A_L, total


def _check_chunk(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer (columns per chunk); got {value!r}")


def _data_parallel(comm: Any, net: Network, rng: np.random.Generator, X: np.ndarray, batch_size: int | None,
                   epochs: int, shuffle: bool, validation: tuple[np.ndarray, np.ndarray] | None) -> Any:
    from .distributed import DataParallel  # only data-parallel runs import MPI

    return DataParallel(comm, net, rng, m=X.shape[1], batch_size=batch_size, epochs=epochs, shuffle=shuffle,
                        m_val=0 if validation is None else validation[0].shape[1])


def _gather(X_rows: np.ndarray, Y_rows: np.ndarray, idx: np.ndarray,
            buffers: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The mini-batch X_rows[idx].T, Y_rows[idx].T, gathered into buffers kept per batch size."""
    if len(idx) not in buffers:
        buffers[len(idx)] = (np.empty((len(idx), X_rows.shape[1]), X_rows.dtype),
                             np.empty((len(idx), Y_rows.shape[1]), Y_rows.dtype))
    Xb, Yb = buffers[len(idx)]
    # idx slices a permutation of range(m): always in range, so "clip" only skips take's buffered bounds check
    np.take(X_rows, idx, axis=0, out=Xb, mode="clip")
    np.take(Y_rows, idx, axis=0, out=Yb, mode="clip")
    return Xb.T, Yb.T


def _labels(Y_rows: np.ndarray, task: str) -> np.ndarray | None:
    """What ``metrics.n_correct`` compares A[L] with, per example: the class (m,) or the 0/1 outputs (m, n_L)."""
    if task == "regression":
        return None
    return Y_rows.argmax(axis=1) if task == "multiclass" else Y_rows >= 0.5


def _n_correct(A_L: np.ndarray, labels: np.ndarray, task: str) -> int:
    """``metrics.n_correct(A_L, Y, task)`` for a batch's precomputed ``_labels`` rows."""
    if task == "multiclass":
        return int(np.count_nonzero(A_L.argmax(axis=0) == labels))
    return int(np.count_nonzero(((A_L >= 0.5) == labels.T).all(axis=0)))


def _check_finite(J: float, v: np.ndarray, what: str = "gradient") -> None:
    """One dot product: NaN or inf anywhere in v makes it non-finite."""
    if not math.isfinite(J):
        raise FloatingPointError(f"non-finite cost {J}")
    if not math.isfinite(float(np.dot(v, v))):
        raise FloatingPointError(f"non-finite {what}")


def _clip(grad: np.ndarray, clip_norm: float | None, clip_value: float | None) -> None:
    if clip_value is not None:
        clip_grad_value([grad], clip_value)
    if clip_norm is not None:
        clip_grad_norm([grad], clip_norm)


def _resume(path: str | Path, state: TrainState, cbs: Sequence[Callback]) -> int:
    """Restore weights, optimizer, schedule, callbacks and RNG; return the next epoch."""
    from .io import load_checkpoint

    ck = load_checkpoint(path)
    if ck.net.sizes != state.net.sizes:
        raise ValueError(f"checkpoint {path} holds a network of sizes {list(ck.net.sizes)}, "
                         f"not {list(state.net.sizes)}")
    state.net.flat[...] = ck.net.flat
    opt_state, cb_states = split_states(ck.optimizer_state)
    state.optimizer.load_state_dict(opt_state)
    for cb in cbs:
        name = type(cb).__name__
        if name in cb_states and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(cb_states[name])
        if isinstance(cb, LRScheduler) and ck.schedule_state is not None:
            cb.schedule.load_state_dict(ck.schedule_state)
        if isinstance(cb, History):
            cb.records = list(ck.extra.get("history", []))
    state.rng.bit_generator.state = ck.rng_state
    return ck.epoch + 1
