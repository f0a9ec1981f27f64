"""Callbacks: everything that watches the training loop (history, early stopping, schedules, checkpoints)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ._checks import check_choice, check_int, check_real

if TYPE_CHECKING:
    from .network import Network


@dataclass
class TrainState:
    """What the loop shares with callbacks; a callback stops training by setting ``stop``.

    ``engine`` computes the steps: ``state.engine.cache`` shows the matrices of the last one
    (every matrix with ``engine="readable"``; see ``FastPath.cache`` for the fast engine's).
    """

    net: "Network"
    optimizer: Any
    rng: np.random.Generator
    epochs: int
    epoch: int = 0
    batch: int = 0
    batch_cost: float = math.nan
    logs: dict[str, float] = field(default_factory=dict)
    history: "History | None" = None
    stop: bool = False
    schedule: Any = None
    engine: Any = None
    fingerprint: Any = None  # () -> str: the SHA-256 of the training data (X, Y, weights), computed when asked
    optimizer_config: dict[str, Any] = field(default_factory=dict)  # as built, before a schedule or resume
    settings: dict[str, Any] = field(default_factory=dict)  # fit's batch_size, l2, clipping, shuffle


class Callback:
    """Hooks called by ``fit`` in order; all optional."""

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_epoch_begin(self, state: TrainState) -> None: ...

    def on_batch_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class CallbackList(Callback):
    """Several callbacks called as one, in order: ``fit`` puts History first and checkpoints last."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)
        # the on_batch_end methods that do something, in order: fit calls them every step
        self.batch_hooks = [cb.on_batch_end for cb in self.callbacks
                            if type(cb).on_batch_end is not Callback.on_batch_end]

    def _each(self, hook: str, state: TrainState) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(state)

    def on_train_begin(self, state: TrainState) -> None:
        self._each("on_train_begin", state)

    def on_epoch_begin(self, state: TrainState) -> None:
        self._each("on_epoch_begin", state)

    def on_batch_end(self, state: TrainState) -> None:
        for hook in self.batch_hooks:
            hook(state)

    def on_epoch_end(self, state: TrainState) -> None:
        self._each("on_epoch_end", state)

    def on_train_end(self, state: TrainState) -> None:
        self._each("on_train_end", state)


class History(Callback):
    """Per-epoch logs: ``history["val_cost"]`` is the list over epochs; ``history.records`` the rows.

    ``result`` is how a full-batch optimizer ended (L-BFGS's ``LBFGSResult``), None for step optimizers.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, float]] = []
        self.result: Any = None

    def on_epoch_end(self, state: TrainState) -> None:
        self.records.append({"epoch": state.epoch, **state.logs})

    def __getitem__(self, key: str) -> list[float]:
        if self.records and key not in self.records[-1]:
            raise KeyError(f"no metric {key!r}; recorded: {', '.join(self.records[-1])}")
        return [r[key] for r in self.records]

    def keys(self) -> list[str]:
        return list(self.records[-1]) if self.records else []

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        return f"History(epochs={len(self)}, last={last})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; restore the best weights.

    Exactly ``patience`` epochs without improvement: with patience 10 and the last improvement at
    epoch 5 (``improved_epoch``), the last epoch trained is 15. ``stopped_epoch`` is that epoch (-1
    while training goes on). An epoch improves when it beats the best value so far by more than
    ``min_delta``; the best value and weights (``best_epoch``) still follow smaller gains
    (scikit-learn's rule for ``tol``), so a run that only creeps forward stops, keeping its best
    epoch, which may come after ``improved_epoch``.
    """

    def __init__(self, monitor: str = "val_cost", patience: int = 10, min_delta: float = 0.0,
                 mode: str | None = None, restore_best: bool = True) -> None:
        self.monitor, self.patience = monitor, check_int("patience", patience, 0)
        self.min_delta = abs(check_real("min_delta", min_delta))
        check_choice("mode", mode, (None, "min", "max"))
        self.mode = mode or ("max" if monitor.endswith(("accuracy", "r2")) else "min")
        self.restore_best = restore_best
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.improved_epoch = -1  # the last epoch that beat the best by more than min_delta
        self.stopped_epoch = -1
        self.wait = 0
        self.best_flat: np.ndarray | None = None

    def _improved(self, value: float, delta: float) -> bool:
        if self.mode == "min":
            return value < self.best - delta
        return value > self.best + delta

    def on_epoch_end(self, state: TrainState) -> None:
        if self.monitor not in state.logs:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which is not logged "
                             f"(logged: {', '.join(state.logs)}); pass validation data for val_* metrics")
        value = state.logs[self.monitor]
        improved = self._improved(value, self.min_delta)
        if self._improved(value, 0.0):  # the best so far, however small the gain
            self.best, self.best_epoch = value, state.epoch
            if self.restore_best:
                self.best_flat = state.net.flat.copy()
        if improved:
            self.wait, self.improved_epoch = 0, state.epoch
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop, self.stopped_epoch = True, state.epoch

    def on_train_end(self, state: TrainState) -> None:
        if self.restore_best and self.best_flat is not None:
            state.net.flat[...] = self.best_flat

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "improved_epoch": self.improved_epoch, "wait": self.wait,
                "best_flat": self.best_flat, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = float(d["best"]), int(d["best_epoch"]), int(d["wait"])
        self.stopped_epoch = int(d.get("stopped_epoch", -1))
        self.improved_epoch = int(d.get("improved_epoch", self.best_epoch))  # absent from 0.2.0 checkpoints
        self.best_flat = None if d.get("best_flat") is None else np.array(d["best_flat"])


class LRScheduler(Callback):
    """Sets ``optimizer.lr`` from a schedule at every epoch end (and at the start)."""

    def __init__(self, schedule: Any, monitor: str = "val_cost") -> None:
        self.schedule, self.monitor = schedule, monitor

    def on_train_begin(self, state: TrainState) -> None:
        state.optimizer.lr = self.schedule.current_lr
        state.schedule = self.schedule

    def on_epoch_end(self, state: TrainState) -> None:
        metric = state.logs.get(self.monitor, state.logs.get("cost"))
        state.optimizer.lr = self.schedule.step(metric)  # for the next epoch


class Checkpoint(Callback):
    """Writes a resumable checkpoint (weights, optimizer, schedule, RNG, epoch) every ``every`` epochs.

    It also records what the run trains (the optimizer's settings and the training data's
    fingerprint), so that ``fit(resume=...)`` refuses to continue a different run. ``extra``
    (JSON-able) is stored too, for the caller's own checks (the CLI stores its config).

    ``min_seconds`` spaces the writes out (a checkpoint is an fsync'ed file: ~30 ms, more than
    an epoch of a small data set): a due checkpoint is written only when that long has passed
    since the last write, else kept in memory, and ``flush()`` writes the one kept (the CLI does
    on Ctrl-C). The last epoch's is always written. Either way a resumed run continues to the
    same bits: it only starts from another epoch.
    """

    def __init__(self, path: str | Path, every: int = 1, callbacks: Sequence[Callback] = (),
                 extra: dict[str, Any] | None = None, min_seconds: float = 0.0) -> None:
        self.path, self.every = Path(path), check_int("every", every, 1)
        self.min_seconds = check_real("min_seconds", min_seconds, 0.0)
        self.stateful = list(callbacks)
        self.extra = dict(extra or {})
        self._run: dict[str, Any] = {}
        self._pending: tuple[Any, dict[str, Any]] | None = None
        self._written_at = -math.inf
        self.written_epoch = 0  # completed epochs of the last checkpoint written

    def on_train_begin(self, state: TrainState) -> None:
        self._run, self._net = run_identity(state), state.net
        self._written_at = time.perf_counter()

    def on_epoch_end(self, state: TrainState) -> None:
        last = state.stop or state.epoch + 1 == state.epochs
        if (state.epoch + 1) % self.every and not last:
            return
        fields = checkpoint_fields(state, self.stateful, {**self.extra, "run": self._run})
        if last or time.perf_counter() - self._written_at >= self.min_seconds:
            self._write(state.net, fields)
        else:  # kept in memory: the weights copied, the network rebuilt only if flush() writes them
            self._pending = (state.net.flat.copy(), fields)

    def flush(self) -> None:
        """Write the checkpoint kept in memory, if any."""
        if self._pending is None:
            return
        flat, fields = self._pending
        net = self._net.copy()
        net.flat[...] = flat
        self._write(net, fields)

    def _write(self, net: Any, fields: dict[str, Any]) -> None:
        from .io import save_checkpoint

        save_checkpoint(self.path, net=net, **fields)
        self._pending, self._written_at, self.written_epoch = None, time.perf_counter(), fields["epoch"]


def run_identity(state: TrainState) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint's: optimizer and its settings, fit's settings, the data."""
    return {"optimizer": state.optimizer_config, "settings": state.settings,
            "data_sha256": state.fingerprint() if state.fingerprint is not None else None}


def optimizer_config(opt: Any) -> dict[str, Any]:
    """The optimizer's class and constructor settings (call it before a schedule changes ``lr``)."""
    import inspect

    names = list(inspect.signature(type(opt).__init__).parameters)[1:]
    config: dict[str, Any] = {"name": type(opt).__name__}
    for n in names:
        value = getattr(opt, n, None)
        config[n] = list(value) if isinstance(value, tuple) else value
    return config


def checkpoint_fields(state: TrainState, stateful: Sequence[Callback] = (),
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``save_checkpoint``'s arguments but the network: copies of everything needed to continue
    bit-identically after ``state.epoch`` (epoch + 1 epochs completed)."""
    extra_state = {type(cb).__name__: cb.state_dict() for cb in stateful if hasattr(cb, "state_dict")}
    return dict(optimizer_state=_flatten_states(state.optimizer.state_dict(), extra_state),
                schedule_state=None if state.schedule is None else state.schedule.state_dict(),
                rng_state=state.rng.bit_generator.state, epoch=state.epoch + 1,
                extra={**(extra or {}), "history": list(state.history.records if state.history else []),
                       "stopped": bool(state.stop)})  # a callback ended the run here: resuming must not go on


def _flatten_states(opt_state: dict[str, Any], extra_state: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Callbacks' states ride in the optimizer state under prefixed keys (arrays stay arrays)."""
    out = dict(opt_state)
    for name, d in extra_state.items():
        for k, v in d.items():
            out[f"callback.{name}.{k}"] = v
    return out


def split_states(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Inverse of ``_flatten_states``."""
    opt, extra = {}, {}
    for k, v in state.items():
        if k.startswith("callback."):
            _, name, key = k.split(".", 2)
            extra.setdefault(name, {})[key] = v
        else:
            opt[k] = v
    return opt, extra
