"""The training loop: mini-batches -> forward -> cost -> backward -> step -> callbacks."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ._checks import check_int, check_real, make_rng
from ._sparse import is_sparse, sparse_rows
from .callbacks import (
    Callback, CallbackList, Checkpoint, History, LRScheduler, TrainState, optimizer_config, split_states,
)
from .engines import ENGINES, make_engine
from .inference import checked_set, checked_validation, outputs, predict, set_logs, validation_logs
from .lbfgs import LBFGS, fit_lbfgs
from .metrics import correct, evaluate, labels, task_of
from .network import Network
from .optimizers import Optimizer, clip_grad_norm, clip_grad_value, get_optimizer

__all__ = ["fit", "predict", "validation_logs", "batches", "TrainingDiverged", "TrainingSet", "OneProcess",
           "ENGINES"]


class TrainingDiverged(FloatingPointError):
    """A non-finite cost, gradient or weight; the network keeps its last finite weights.

    ``epoch`` and ``batch`` count from 1; ``lr`` is the learning rate of the step; ``cause`` what
    went non-finite.
    """

    def __init__(self, message: str, *, epoch: int = 0, batch: int = 0, lr: float = 0.0, cause: str = "") -> None:
        super().__init__(message)
        self.epoch, self.batch, self.lr, self.cause = epoch, batch, lr, cause


def batches(m: int, batch_size: int | None, rng: np.random.Generator, shuffle: bool = True) -> Iterator[np.ndarray]:
    """Index arrays of one epoch: a seeded permutation cut into batches; the last may be smaller."""
    order = rng.permutation(m) if shuffle else np.arange(m)
    size = m if batch_size is None else batch_size
    for start in range(0, m, size):
        yield order[start : start + size]


def fit(net: Network, X: np.ndarray, Y: np.ndarray, *, sample_weight: np.ndarray | None = None,
        optimizer: str | Any = "adam", lr: float | None = None, epochs: int = 10, batch_size: int | None = 32,
        l2: float = 0.0, clip_norm: float | None = None, clip_value: float | None = None,
        validation: tuple[np.ndarray, ...] | None = None, schedule: Any = None, callbacks: Sequence[Callback] = (),
        seed: int | np.random.Generator = 0, shuffle: bool = True, resume: str | Path | None = None,
        engine: str = "fast", comm: Any = None, task: str | None = None) -> History:
    """Train ``net`` on X (n_0, m), Y (n_L, m); return the per-epoch History.

    Every epoch logs ``cost`` (mean over the epoch's batches, with dropout, as Keras does), ``lr``
    and ``accuracy`` or ``r2``/``mse``; with ``validation`` = (X_val, Y_val[, w_val]) also
    ``val_cost`` and ``val_*`` in inference mode. ``sample_weight`` (m,) makes each batch's J
    sum_c w_c err_c / sum_c w_c, scikit-learn's weighted objective (metrics are weighted too; a
    batch whose weights are all 0 is skipped). ``optimizer="lbfgs"`` or an ``LBFGS`` trains
    full-batch (``lbfgs.fit_lbfgs``). ``resume`` continues from a ``Checkpoint``. ``engine``:
    "fast" (``FastPath``, preallocated buffers) or "readable" (``Network.forward``/``backward``),
    the same numbers to float rounding. ``comm`` (e.g. ``distributed.world()``) trains
    data-parallel over its ranks on the same global batches (docs/distributed.md). ``task``
    ("binary", "multiclass", "multilabel", "regression") chooses the metrics; by default the loss
    implies it (``metrics.task_of``), so pass it for a classifier trained with squared error.
    """
    l2 = check_real("l2", l2, 0.0)
    _check_hooks(net, optimizer, schedule, callbacks)
    if optimizer == "lbfgs" or isinstance(optimizer, LBFGS):  # full batch: its own loop, the same callbacks
        return fit_lbfgs(net, X, Y, optimizer, sample_weight=sample_weight, epochs=epochs, l2=l2,
                         validation=validation, callbacks=callbacks, engine=engine, comm=comm,
                         schedule=schedule, resume=resume, clip_norm=clip_norm, clip_value=clip_value, task=task)
    data = TrainingSet(net, X, Y, sample_weight, validation, epochs=epochs, batch_size=batch_size, task=task)
    opt = get_optimizer(optimizer, **({} if lr is None else {"lr": lr})) if isinstance(optimizer, str) else optimizer
    rng = make_rng(seed)
    cbs = _callbacks(schedule, callbacks)
    path = make_engine(net, engine)
    state = TrainState(net=net, optimizer=opt, rng=rng, epochs=epochs, history=cbs.callbacks[0], engine=path,
                       fingerprint=data.fingerprint, optimizer_config=optimizer_config(opt),
                       settings={"batch_size": batch_size, "l2": l2, "shuffle": shuffle,
                                 "clip_norm": None if clip_norm is None else float(clip_norm),
                                 "clip_value": None if clip_value is None else float(clip_value)})
    first = _resume(resume, state, cbs.callbacks) if resume is not None else 0
    procs = OneProcess(net, rng) if comm is None else _data_parallel(comm, net, rng, data, epochs, batch_size, shuffle)
    l2_share, step = l2 / procs.size, _Step(net, opt, state, clip_norm, clip_value)
    cbs.on_train_begin(state)
    for state.epoch in range(first, epochs):
        drop_rng, sums = procs.dropout_rng(state.epoch), _EpochSums()
        cbs.on_epoch_begin(state)
        for state.batch, idx in enumerate(batches(data.m, batch_size, rng, shuffle)):
            m = data.batch_m(idx)  # the m of eq. 2: the batch's size, or its examples' total weight
            if not m:
                continue  # every example of this batch weighs 0: nothing to learn from it
            mine = procs.shard(idx)  # the examples this process computes: all, in one process
            Xb, Yb, wb = data.gather(mine)  # as columns: (n_0, m_p), (n_L, m_p) and weights (m_p,) or None
            with step:  # a non-finite number restores the weights from before the step and raises
                A_L = path.forward(Xb, rng=drop_rng)  # forward (1)
                J = path.cached_cost(Yb, l2=l2_share, sample_weight=wb, m=m)  # cost (2)
                path.backward_into(Yb, procs.grad, l2=l2_share, sample_weight=wb, m=m)  # backward (A)-(D)
                J, n_ok = procs.reduce(J, procs.grad, data.n_correct(A_L, mine))  # sums over processes
                step(J, procs.grad)  # clip, step, check
            sums.add(J, n_ok, m)
            state.batch_cost = J
            for hook in cbs.batch_hooks:  # only the callbacks that do something per step
                hook(state)
        state.logs = sums.logs(net, opt, data, procs, l2)
        cbs.on_epoch_end(state)
        state.stop = procs.agree(state.stop)  # one process decides for all
        if state.stop:
            break
    cbs.on_train_end(state)
    procs.finish(net)
    return state.history


class TrainingSet:
    """``fit``'s data (and its ``epochs`` and ``batch_size``), checked once at its boundary, and its mini-batches.

    Rows of C-ordered (m, n_0) and (m, n_L) copies gather fast; their transposes are the
    derivation's columns. A sparse X keeps its rows as CSR, and a batch is scipy's row gather
    (its transpose is CSC columns). The labels ``metrics.labels`` gives the targets are kept per
    example, so that a batch's accuracy reads only A[L].
    """

    def __init__(self, net: Network, X: Any, Y: Any, sample_weight: Any = None, validation: Any = None, *,
                 epochs: int = 1, batch_size: int | None = None, task: str | None = None) -> None:
        check_int("epochs", epochs, 0)
        if batch_size is not None:
            check_int("batch_size", batch_size, 1, hint=" or None (full batch)")
        self.X, self.Y, self.w = checked_set(net, X, Y, sample_weight)
        self.validation = checked_validation(net, validation)
        self.m, self.task = self.X.shape[1], task or task_of(net.loss, net.sizes[-1])
        self.sparse = is_sparse(self.X)
        self.X_rows = sparse_rows(self.X) if self.sparse else np.ascontiguousarray(self.X.T)
        self.Y_rows = np.ascontiguousarray(self.Y.T)
        self.true = None if self.task == "regression" else labels(self.Y, self.task)  # (m,) or (m, n_L)
        self._buffers: dict[int, tuple[np.ndarray | None, np.ndarray]] = {}  # mini-batch rows per batch size
        self._sha256: str | None = None  # fingerprint(), once asked

    def fingerprint(self) -> str:
        """SHA-256 of the training data as fit sees it (X, Y and the weights): what a resumed run must share.

        Computed once (resume and the checkpoint both ask; the data does not change). A sparse X
        is hashed by its CSR arrays (data, indices, indptr)."""
        if self._sha256 is None:
            X = (self.X_rows.data, self.X_rows.indices, self.X_rows.indptr) if self.sparse else (self.X_rows,)
            h = hashlib.sha256()
            for a in (*X, self.Y_rows, *(() if self.w is None else (self.w,))):
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
            self._sha256 = h.hexdigest()
        return self._sha256

    def batch_m(self, idx: np.ndarray) -> float:
        """The divisor of eq. 2 for a batch: its number of examples, or the sum of their weights."""
        return float(len(idx)) if self.w is None else float(self.w[idx].sum(dtype=np.float64))

    def gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """X[:, idx] (n_0, m_b), Y[:, idx] (n_L, m_b) and w[idx] (m_b,), gathered into reused buffers."""
        if len(idx) not in self._buffers:
            Xb = None if self.sparse else np.empty((len(idx), self.X_rows.shape[1]), self.X_rows.dtype)
            self._buffers[len(idx)] = (Xb, np.empty((len(idx), self.Y_rows.shape[1]), self.Y_rows.dtype))
        Xb, Yb = self._buffers[len(idx)]
        # idx slices a permutation of range(m): always in range, so "clip" only skips take's buffered bounds
        # check; the ndarray method skips np.take's two Python wrappers (a tenth of a tiny step's overhead)
        if self.sparse:
            Xb = self.X_rows[idx]  # the batch's rows, CSR (m_b, n_0)
        else:
            self.X_rows.take(idx, axis=0, out=Xb, mode="clip")
        self.Y_rows.take(idx, axis=0, out=Yb, mode="clip")
        return Xb.T, Yb.T, None if self.w is None else self.w[idx]

    def n_correct(self, A_L: np.ndarray, idx: np.ndarray) -> float:
        """How many of the batch's examples A[L] labels right (their weight, with weights); 0 for regression."""
        if self.true is None:
            return 0
        hit = correct(A_L, self.true[idx], self.task)
        return int(np.count_nonzero(hit)) if self.w is None else float(hit @ self.w[idx])


class OneProcess:
    """The processes that train together, when there is one: each hook of data-parallel training is the identity.

    ``vecprop.distributed.DataParallel`` has the same attributes for N processes, so ``fit``
    calls them without asking which it has.
    """

    size = 1

    def __init__(self, net: Network, rng: np.random.Generator) -> None:
        self.rng = rng
        self.grad = np.empty_like(net.flat)  # the gradient, laid out like net.flat

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """The examples of a global batch that this process computes: all of them."""
        return idx

    def dropout_rng(self, epoch: int) -> np.random.Generator:
        """The generator of the epoch's dropout masks: fit's own, which also shuffles."""
        return self.rng

    def reduce(self, J: float, grad: np.ndarray, n_correct: float) -> tuple[float, float]:
        """Sum the cost, ``grad`` (in place) and the correct count over the processes: nothing to add."""
        return J, n_correct

    def outputs(self, net: Network, X: np.ndarray, Y: np.ndarray | None = None,
                w: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """A[L] of a whole set (and its summed error), in inference mode: ``inference.outputs``."""
        return outputs(net, X, Y, w)

    def agree(self, stop: bool) -> bool:
        return stop

    def finish(self, net: Network) -> None:
        """Nothing to synchronise."""


class _EpochSums:
    """The epoch's running sums: cost and correct examples weighted like the batches, and their m."""

    def __init__(self) -> None:
        self.cost, self.correct, self.m = 0.0, 0.0, 0.0

    def add(self, J: float, n_correct: float, m: float) -> None:
        self.cost += J * m
        self.correct += n_correct
        self.m += m

    def logs(self, net: Network, opt: Any, data: TrainingSet, procs: Any, l2: float) -> dict[str, float]:
        """The epoch's history row: training cost, lr and metrics; validation cost and metrics."""
        logs = {"cost": self.cost / self.m, "lr": float(opt.lr)}  # the lr this epoch used
        if data.task != "regression":
            logs["accuracy"] = self.correct / self.m
        else:  # regression metrics need every output: one inference pass over the training set
            logs.update(evaluate(procs.outputs(net, data.X)[0], data.Y, data.task, data.w))
        if data.validation is not None:
            logs.update(set_logs(procs.outputs, net, *data.validation, l2=l2, task=data.task))
        return logs


class _Step:
    """Clip, step and check one update; as a context, it turns a non-finite number into TrainingDiverged.

    The guarantee: on a FloatingPointError (ours, or numpy's under ``np.seterr(all="raise")``)
    anywhere in the ``with`` block, the network keeps the weights it had before the step. A
    vecprop optimizer makes its step all or nothing (``Optimizer.step(keep=)``: each block of
    weights copied while it is in the cache and checked after its update), so no step starts
    with a copy of every weight or ends with a pass over them; any other optimizer object gets
    that copy and that pass.
    """

    def __init__(self, net: Network, opt: Any, state: TrainState, clip_norm: float | None,
                 clip_value: float | None) -> None:
        self.net, self.opt, self.state, self.clip_norm, self.clip_value = net, opt, state, clip_norm, clip_value
        self.last_good = np.empty_like(net.flat)
        self.all_or_nothing = isinstance(opt, Optimizer) and type(opt).step is Optimizer.step

    def __call__(self, J: float, grad: np.ndarray) -> None:
        if not math.isfinite(J):
            raise FloatingPointError(f"non-finite cost {J}")
        if self.clip_value is not None:
            _check_finite(grad)  # clipping would turn an infinite gradient into a finite one
            clip_grad_value([grad], self.clip_value)
        if self.clip_norm is not None:
            clip_grad_norm([grad], self.clip_norm)
        if self.all_or_nothing:  # a non-finite gradient makes non-finite weights, which the step undoes
            try:
                self.opt.step([self.net.flat], [grad], keep=[self.last_good])
            except FloatingPointError:
                _check_finite(grad)  # name the cause when it was the gradient
                raise
        else:
            _check_finite(grad)
            self.opt.step([self.net.flat], [grad])
            _check_finite(self.net.flat, what="weights after the step")

    def __enter__(self) -> None:
        if not self.all_or_nothing:
            self.last_good[...] = self.net.flat

    def __exit__(self, kind: Any, err: Any, tb: Any) -> None:
        if kind is not None and issubclass(kind, FloatingPointError):
            if not self.all_or_nothing:
                self.net.flat[...] = self.last_good
            epoch, batch, lr = self.state.epoch + 1, self.state.batch + 1, float(self.opt.lr)
            raise TrainingDiverged(f"training diverged at epoch {epoch}, batch {batch} (lr {lr:g}): {err}; the network "
                                   f"keeps its last finite weights. Try a smaller learning rate"
                                   f"{'' if self.clip_norm else ' or gradient clipping'}",
                                   epoch=epoch, batch=batch, lr=lr, cause=str(err)) from None


def _finite(v: np.ndarray) -> bool:
    """One dot product: NaN or inf anywhere in v makes it non-finite (so may finite entries above ~1e19)."""
    return math.isfinite(float(np.dot(v, v)))


def _check_finite(v: np.ndarray, what: str = "gradient") -> None:
    if not _finite(v):
        raise FloatingPointError(f"non-finite {what}")


def _check_hooks(net: Any, optimizer: Any, schedule: Any, callbacks: Any) -> None:
    """fit's objects, checked before anything runs: a bad one would fail deep in the loop."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a vecprop.Network; got {type(net).__name__}")
    if not isinstance(optimizer, (str, LBFGS)) and not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be a name (e.g. 'adam') or an optimizer with step(params, grads); "
                        f"got {type(optimizer).__name__}")
    if schedule is not None and not (hasattr(schedule, "current_lr") and callable(getattr(schedule, "step", None))):
        raise TypeError(f"schedule must be a vecprop schedule (e.g. get_schedule('cosine', ...)) or None; "
                        f"got {type(schedule).__name__}")
    if isinstance(callbacks, (str, Callback)) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Callback objects; got {type(callbacks).__name__}")
    odd = next((cb for cb in callbacks if not isinstance(cb, Callback)), None)
    if odd is not None:
        raise TypeError(f"callbacks must be Callback objects (subclass vecprop.callbacks.Callback); got "
                        f"{type(odd).__name__} {odd!r}")


def _callbacks(schedule: Any, callbacks: Sequence[Callback]) -> CallbackList:
    """History first, then the schedule, then the caller's; checkpoints last, so that they save
    the epoch's final state of every other callback."""
    ordered = sorted(callbacks, key=lambda cb: isinstance(cb, Checkpoint))
    return CallbackList([History(), *([LRScheduler(schedule)] if schedule is not None else []), *ordered])


def _data_parallel(comm: Any, net: Network, rng: np.random.Generator, data: TrainingSet, epochs: int,
                   batch_size: int | None, shuffle: bool) -> Any:
    from .distributed import DataParallel  # only data-parallel runs import MPI

    if data.sparse:
        raise ValueError("a sparse X trains in one process: densify it (X.toarray()) for data-parallel training")

    return DataParallel(comm, net, rng, m=data.m, batch_size=batch_size, epochs=epochs, shuffle=shuffle,
                        m_val=0 if data.validation is None else data.validation[0].shape[1], sample_weight=data.w)


def _differences(theirs: dict[str, Any], mine: dict[str, Any]) -> str:
    """The settings two runs disagree on, "key theirs there, mine here", in key order."""
    keys = sorted(k for k in {**theirs, **mine} if theirs.get(k) != mine.get(k))
    return "; ".join(f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in keys)


def _resume(path: str | Path, state: TrainState, cbs: Sequence[Callback]) -> int:
    """Restore weights, optimizer, schedule, callbacks and RNG; return the number of completed epochs.

    The checkpoint must come from the same run: the same network (sizes, activations, loss,
    dtype, dropout), optimizer and settings, and training data; any difference is an error that
    names it (a checkpoint of vecprop 0.1 records only the network).
    """
    from .io import load_checkpoint

    ck = load_checkpoint(path)
    mine, theirs = state.net.config(), ck.net.config()
    for key in ("sizes", "activations", "loss", "dtype", "dropout"):
        if mine[key] != theirs[key]:
            raise ValueError(f"checkpoint {path} is of another network: its {key} is {theirs[key]}, this run's "
                             f"is {mine[key]}")
    run = ck.extra.get("run") or {}
    theirs_opt, mine_opt = run.get("optimizer"), state.optimizer_config
    if theirs_opt and theirs_opt != mine_opt:
        if theirs_opt.get("name") != mine_opt.get("name"):
            raise ValueError(f"checkpoint {path} was trained with another optimizer: {theirs_opt.get('name')}, "
                             f"where this run uses {mine_opt.get('name')}")
        raise ValueError(f"checkpoint {path} was trained with another optimizer setting: "
                         f"{_differences(theirs_opt, mine_opt)}")
    theirs_set = run.get("settings")
    if theirs_set is not None and theirs_set != state.settings:  # None: a checkpoint of before they were kept
        raise ValueError(f"checkpoint {path} was trained with other fit settings: "
                         f"{_differences(theirs_set, state.settings)}")
    if run.get("data_sha256") and state.fingerprint is not None and run["data_sha256"] != state.fingerprint():
        raise ValueError(f"checkpoint {path} was trained on other data (its SHA-256 differs from this run's X, Y "
                         "and weights)")
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
    if ck.extra.get("stopped"):  # early stopping ended that run: resuming finishes it, it does not train on
        state.stop = True
        return max(ck.epoch, state.epochs)
    return ck.epoch
