"""Learning-rate schedules: ``current_lr`` for this epoch, ``step(metric=None)`` at its end returns the next one."""

from __future__ import annotations

import inspect
import math
from typing import Any

from ._checks import check_choice, check_int, check_real
from ._registry import Registry

__all__ = ["Schedule", "Constant", "StepLR", "ExponentialLR", "CosineLR", "ReduceOnPlateau", "SCHEDULES",
           "get_schedule"]

_PLATEAU_EPS = 1e-8  # torch ReduceLROnPlateau's eps: smaller lr changes are ignored


class Schedule:
    """Base class. ``current_lr`` is the learning rate of epoch ``epoch`` (0 before any ``step``).

    Use with any optimizer: ``opt.lr = sched.current_lr`` before training, then
    ``opt.lr = sched.step(metric)`` at the end of every epoch.
    """

    _state_keys: tuple[str, ...] = ("epoch", "current_lr")

    def __init__(self, lr: float) -> None:
        self.lr = check_real("lr", lr, 0.0)
        self.epoch = 0
        self.current_lr = self._initial_lr()

    def __repr__(self) -> str:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch`` (closed form)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed form: its lr depends on the metrics")

    def _initial_lr(self) -> float:
        return self.lr_at(0)

    def step(self, metric: float | None = None) -> float:
        """End the current epoch; return the learning rate of the next one. ``metric`` is ignored
        except by :class:`ReduceOnPlateau`."""
        self.epoch += 1
        self.current_lr = self._next_lr(metric)
        return self.current_lr

    def _next_lr(self, metric: float | None) -> float:
        return self.lr_at(self.epoch)

    def state_dict(self) -> dict[str, float | int | None]:
        """The schedule's position: JSON-able scalars only."""
        return {key: getattr(self, key) for key in self._state_keys}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; the following ``step`` calls repeat the original run."""
        if set(d) != set(self._state_keys):
            raise ValueError(f"state_dict keys must be {sorted(self._state_keys)}; got {sorted(d)}")
        self._check_state(d)
        for key in self._state_keys:
            setattr(self, key, d[key])

    def _check_state(self, d: dict[str, Any]) -> None:
        check_int("state_dict['epoch']", d["epoch"], 0)
        check_real("state_dict['current_lr']", d["current_lr"], 0.0)


class Constant(Schedule):
    """``lr`` at every epoch."""

    def lr_at(self, epoch: int) -> float:
        return self.lr


class StepLR(Schedule):
    """``lr * gamma ** (epoch // step_size)`` (torch ``StepLR``)."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_real("gamma", gamma, 0.0, 1.0, lo_open=True)
        super().__init__(lr)

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Schedule):
    """``lr * gamma ** epoch`` (torch ``ExponentialLR``)."""

    def __init__(self, lr: float, gamma: float) -> None:
        self.gamma = check_real("gamma", gamma, 0.0, 1.0, lo_open=True)
        super().__init__(lr)

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.gamma ** epoch


class CosineLR(Schedule):
    """Linear warm-up to ``lr`` over ``warmup_epochs``, then cosine annealing to ``min_lr`` at ``total_epochs``.

    Notes
    -----
    With W = warmup_epochs and T = total_epochs::

        lr_e = lr * (e + 1) / (W + 1)                                           e < W
        lr_e = min_lr + (lr - min_lr) * (1 + cos(pi * (e - W) / (T - W))) / 2    W <= e <= T
        lr_e = min_lr                                                           e > T

    For e <= T this is torch's ``SequentialLR([LinearLR(start_factor=1/(W+1), total_iters=W),
    CosineAnnealingLR(T_max=T-W, eta_min=min_lr)], milestones=[W])``; past T torch's cosine rises
    again, this one stays at ``min_lr``.

    >>> [round(CosineLR(1.0, total_epochs=4, warmup_epochs=1).lr_at(e), 4) for e in range(6)]
    [0.5, 1.0, 0.75, 0.25, 0.0, 0.0]
    """

    def __init__(self, lr: float, total_epochs: int, warmup_epochs: int = 0, min_lr: float = 0.0) -> None:
        self.total_epochs = check_int("total_epochs", total_epochs, 1)
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 0)
        if warmup_epochs >= total_epochs:
            raise ValueError(f"warmup_epochs must be < total_epochs={total_epochs}; got {warmup_epochs}")
        self.min_lr = check_real("min_lr", min_lr, 0.0)
        if isinstance(lr, (int, float)) and min_lr > lr:
            raise ValueError(f"min_lr must be <= lr={lr}; got {min_lr}")
        super().__init__(lr)

    def lr_at(self, epoch: int) -> float:
        W, T = self.warmup_epochs, self.total_epochs
        if epoch < W:
            return self.lr * (epoch + 1) / (W + 1)
        if epoch >= T:
            return self.min_lr
        return self.min_lr + (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * (epoch - W) / (T - W))) / 2.0


class ReduceOnPlateau(Schedule):
    """Multiply the lr by ``factor`` after ``patience`` epochs without improvement of the metric.

    Notes
    -----
    torch ``ReduceLROnPlateau`` semantics: a metric improves when it beats ``best`` by
    ``threshold`` (relative: ``best * (1 -+ threshold)``, or absolute); after more than
    ``patience`` bad epochs the lr becomes ``max(lr * factor, min_lr)`` (changes below 1e-8 are
    skipped) and ``cooldown`` epochs follow in which bad epochs are not counted. ``best`` is None
    until the first metric (torch's +-inf).
    """

    _state_keys = ("epoch", "current_lr", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, lr: float, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 mode: str = "min", min_lr: float = 0.0, cooldown: int = 0, threshold_mode: str = "rel") -> None:
        self.factor = check_real("factor", factor, 0.0, 1.0, lo_open=True, hi_open=True)
        self.patience = check_int("patience", patience, 0)
        self.threshold = check_real("threshold", threshold, 0.0)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.min_lr = check_real("min_lr", min_lr, 0.0)
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.best: float | None = None
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(lr)

    def _initial_lr(self) -> float:
        return self.lr

    def step(self, metric: float | None = None) -> float:
        """End the epoch whose monitored value was ``metric``; return the next epoch's lr."""
        if metric is None:
            raise ValueError("ReduceOnPlateau.step needs the monitored metric: call step(metric=value)")
        return super().step(metric)

    def _is_better(self, metric: float) -> bool:
        if self.best is None:
            best = math.inf if self.mode == "min" else -math.inf
        else:
            best = self.best
        if self.mode == "min":
            return metric < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return metric > (best * (1.0 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def _next_lr(self, metric: float | None) -> float:
        metric = float(metric)  # type: ignore[arg-type]
        if self._is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        lr = self.current_lr
        if self.num_bad_epochs > self.patience:
            reduced = max(lr * self.factor, self.min_lr)
            if lr - reduced > _PLATEAU_EPS:
                lr = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return lr

    def _check_state(self, d: dict[str, Any]) -> None:
        super()._check_state(d)
        if d["best"] is not None:
            check_real("state_dict['best']", d["best"], -math.inf)
        check_int("state_dict['num_bad_epochs']", d["num_bad_epochs"], 0)
        check_int("state_dict['cooldown_counter']", d["cooldown_counter"], 0)


SCHEDULES: Registry[type[Schedule]] = Registry("schedule", {
    "constant": Constant, "step": StepLR, "exponential": ExponentialLR,
    "cosine": CosineLR, "plateau": ReduceOnPlateau,
})


def get_schedule(name: str, **kwargs: Any) -> Schedule:
    """Build a schedule from its registry name.

    >>> get_schedule("cosine", lr=0.1, total_epochs=10, warmup_epochs=2)
    CosineLR(lr=0.1, total_epochs=10, warmup_epochs=2, min_lr=0.0)
    """
    return SCHEDULES.build(name, **kwargs)
