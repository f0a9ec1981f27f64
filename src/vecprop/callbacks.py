"""Callbacks: everything that watches the training loop (history, early stopping, schedules, checkpoints)."""
from __future__ import annotations

import math
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

    def _each(self, hook: str, state: TrainState) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(state)

    def on_train_begin(self, state: TrainState) -> None:
        self._each("on_train_begin", state)

    def on_epoch_begin(self, state: TrainState) -> None:
        self._each("on_epoch_begin", state)

    def on_batch_end(self, state: TrainState) -> None:
        self._each("on_batch_end", state)

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
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; restore the best weights."""

    def __init__(self, monitor: str = "val_cost", patience: int = 10, min_delta: float = 0.0,
                 mode: str | None = None, restore_best: bool = True) -> None:
        self.monitor, self.patience = monitor, check_int("patience", patience, 0)
        self.min_delta = abs(check_real("min_delta", min_delta))
        check_choice("mode", mode, (None, "min", "max"))
        self.mode = mode or ("max" if monitor.endswith(("accuracy", "r2")) else "min")
        self.restore_best = restore_best
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self.best_flat: np.ndarray | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state: TrainState) -> None:
        if self.monitor not in state.logs:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which is not logged "
                             f"(logged: {', '.join(state.logs)}); pass validation data for val_* metrics")
        value = state.logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_flat = state.net.flat.copy()
        else:
            self.wait += 1
            if self.wait > self.patience:
                state.stop = True

    def on_train_end(self, state: TrainState) -> None:
        if self.restore_best and self.best_flat is not None:
            state.net.flat[...] = self.best_flat

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_flat": self.best_flat}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = float(d["best"]), int(d["best_epoch"]), int(d["wait"])
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
    """Writes a resumable checkpoint (weights, optimizer, schedule, RNG, epoch) every ``every`` epochs."""

    def __init__(self, path: str | Path, every: int = 1, callbacks: Sequence[Callback] = ()) -> None:
        self.path, self.every = Path(path), check_int("every", every, 1)
        self.stateful = list(callbacks)

    def on_epoch_end(self, state: TrainState) -> None:
        if (state.epoch + 1) % self.every == 0 or state.stop or state.epoch + 1 == state.epochs:
            save_state(self.path, state, self.stateful)


def save_state(path: Path, state: TrainState, stateful: Sequence[Callback] = ()) -> None:
    """Everything needed to continue bit-identically after ``state.epoch``."""
    from .io import save_checkpoint

    extra_state = {type(cb).__name__: cb.state_dict() for cb in stateful if hasattr(cb, "state_dict")}
    save_checkpoint(
        path,
        net=state.net,
        optimizer_state=_flatten_states(state.optimizer.state_dict(), extra_state),
        schedule_state=None if state.schedule is None else state.schedule.state_dict(),
        rng_state=state.rng.bit_generator.state,
        epoch=state.epoch,
        extra={"history": state.history.records if state.history else []},
    )


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
