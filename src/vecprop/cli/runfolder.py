"""The run folder's life: a fresh or replaced folder, checkpoints, a graceful stop on Ctrl-C, resuming."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import Callback, TrainState
from .errors import UserError

RUN_FILES = ("model.npz", "config.toml", "metrics.json", "history.csv", "checkpoint.npz", "learning_curves.png",
             "confusion_matrix.png", "decision_regions.png", "predicted_vs_true.png", "regression_fit.png")
"""What ``vecprop train`` writes in a run folder (and ``--overwrite`` removes)."""
CHECKPOINT = "checkpoint.npz"


def fresh_folder(out: Path, overwrite: bool) -> None:
    """Make ``out`` ready for a new run: created, or emptied of an old run's files with ``--overwrite``.

    A non-empty folder without ``--overwrite`` is refused, so one run never replaces another's
    model or leaves its plots beside a new model. Files that are not a run's own are kept.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder; give a folder for the run")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"--out {out}: {parent} is a file, so no folder can be made under it")
    if out.is_dir() and any(out.iterdir()):
        ours = [p.name for p in out.iterdir() if p.name in RUN_FILES]
        if not overwrite:
            what = f"holds a run ({', '.join(ours)})" if ours else "is not empty"
            raise UserError(f"--out {out} {what}; give --overwrite to replace the run, --resume {out} to continue "
                            f"it, or another --out")
        for name in ours:
            (out / name).unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the folder ({err.strerror})") from None


def resume_folder(run: Path) -> tuple[Path, Path]:
    """(config.toml, checkpoint.npz) of a run folder to continue; refused when either is missing."""
    if not run.is_dir():
        what = "a file, not a run folder" if run.exists() else "no such run folder"
        raise UserError(f"--resume {run}: {what} (give the --out folder of the run to continue)")
    config, checkpoint = run / "config.toml", run / CHECKPOINT
    for path, why in ((config, "its configuration"), (checkpoint, "a checkpoint (written every --checkpoint-every "
                                                                   "epochs)")):
        if not path.is_file():
            raise UserError(f"--resume {run}: {path.name} is missing; a run folder to resume holds {why}")
    return config, checkpoint


class Interrupted(Exception):
    """Training stopped by SIGINT or SIGTERM after a finished step."""

    def __init__(self, signal_name: str, epoch: int, batch: int) -> None:
        super().__init__(f"{signal_name} during epoch {epoch + 1}")
        self.signal_name, self.epoch, self.batch = signal_name, epoch, batch


class GracefulStop(Callback):
    """Turns SIGINT (Ctrl-C) and SIGTERM into a clean stop after the current step.

    At each epoch end it keeps the weights the run would end with if it stopped there
    (``keep(state)``: the last epoch's, or early stopping's best). A first signal only sets a
    flag; the next batch end raises ``Interrupted``; a second signal ends the process at once.
    """

    def __init__(self, best: Any = None, checkpoint: Any = None) -> None:
        self.best, self.checkpoint = best, checkpoint
        self.signal: str | None = None
        self.completed, self.kept_epoch = 0, 0
        self.records: list[dict[str, float]] = []  # fit's History, read up to ``completed``
        self.flat: np.ndarray | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> GracefulStop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        self.uninstall()  # a second Ctrl-C is not gentle

    def on_epoch_end(self, state: TrainState) -> None:
        self.completed = state.epoch + 1
        self.records = state.history.records if state.history is not None else []  # history.csv's rows
        use_best = self.best is not None and self.best.restore_best and self.best.best_flat is not None
        self.flat = (self.best.best_flat if use_best else state.net.flat).copy()
        self.kept_epoch = self.best.best_epoch + 1 if use_best else self.completed

    def on_batch_end(self, state: TrainState) -> None:
        if self.signal is not None:
            raise Interrupted(self.signal, state.epoch, state.batch)

    def weights(self) -> np.ndarray | None:
        return self.flat
