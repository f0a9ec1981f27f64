"""Training callbacks for people and machines: a tqdm progress bar and a JSON-lines epoch log."""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Any

from ..callbacks import Callback, TrainState
from .outputs import plain_json

SHORT = {"cost": "cost", "accuracy": "acc", "r2": "r2", "mse": "mse", "val_cost": "val_cost",
         "val_accuracy": "val_acc", "val_r2": "val_r2", "val_mse": "val_mse", "lr": "lr"}
"""Log keys shown on the bar, in this order, with their short labels."""


def progress_enabled(quiet: bool, stream: IO[str] | None = None) -> bool:
    """Bars only for a person watching: not under --quiet, and only when the stream is a terminal."""
    stream = sys.stderr if stream is None else stream
    return not quiet and hasattr(stream, "isatty") and stream.isatty()


def format_logs(logs: dict[str, float]) -> dict[str, str]:
    """The epoch's numbers as short ``label: text`` pairs for the bar's postfix."""
    out = {}
    for key, label in SHORT.items():
        if key in logs:
            v = logs[key]
            out[label] = f"{v:.3g}" if key == "lr" else f"{v:.4f}"
    return out


class ProgressBar(Callback):
    """One bar over the epochs (kept), and one over the current epoch's batches (cleared when done).

    Parameters
    ----------
    n_batches : mini-batches per epoch (the inner bar's length; 0 hides the inner bar).
    stream : where the bars go (stderr by default, so stdout stays clean for results).
    """

    def __init__(self, n_batches: int, stream: IO[str] | None = None, desc: str = "train") -> None:
        self.n_batches, self.stream, self.desc = n_batches, stream or sys.stderr, desc
        self.epoch_bar: Any = None
        self.batch_bar: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        # A terminal that reports no size (0 x 0) would hide the bars: assume 100 x 24 then.
        size = shutil.get_terminal_size((100, 24))
        self.size = {"ncols": min(size.columns or 100, 160), "nrows": size.lines or 24}
        self.epoch_bar = tqdm(total=state.epochs, desc=self.desc, unit="epoch", file=self.stream,
                              position=0, **self.size)

    def on_epoch_begin(self, state: TrainState) -> None:
        if self.n_batches > 1:
            self.batch_bar = self._tqdm(total=self.n_batches, desc=f"epoch {state.epoch + 1}",
                                        unit="batch", leave=False, file=self.stream, position=1,
                                        mininterval=0.2, **self.size)

    def on_batch_end(self, state: TrainState) -> None:
        if self.batch_bar is not None:
            self.batch_bar.update(1)
            if state.batch % 10 == 0 and math.isfinite(state.batch_cost):
                self.batch_bar.set_postfix(cost=f"{state.batch_cost:.4f}", refresh=False)

    def on_epoch_end(self, state: TrainState) -> None:
        if self.batch_bar is not None:
            self.batch_bar.close()
            self.batch_bar = None
        self.epoch_bar.set_postfix(format_logs(state.logs), refresh=False)
        self.epoch_bar.update(1)

    def on_train_end(self, state: TrainState) -> None:
        if self.batch_bar is not None:
            self.batch_bar.close()
        if self.epoch_bar is not None:
            self.epoch_bar.close()


class JSONLinesLogger(Callback):
    """Writes one JSON object per epoch to ``path``, flushed at once (``tail -f`` works).

    Each line is ``{"epoch": e, "cost": ..., "accuracy": ..., "val_cost": ..., "lr": ...,
    "elapsed_seconds": t}`` with ``epoch`` counted from 1 and every metric the epoch logged;
    non-finite numbers are written as null so every line is strict JSON.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fh: IO[bytes] | None = None
        self.t0 = 0.0

    def on_train_begin(self, state: TrainState) -> None:
        self.fh = open(self.path, "ab", buffering=0)  # appended: a resumed run continues the log
        self.t0 = time.perf_counter()

    def on_epoch_end(self, state: TrainState) -> None:
        record: dict[str, Any] = {"epoch": state.epoch + 1}
        record.update(plain_json(state.logs))
        record["elapsed_seconds"] = round(time.perf_counter() - self.t0, 6)
        assert self.fh is not None
        try:
            append_line(self.fh, self.path, json.dumps(record, allow_nan=False) + "\n")
        except OSError:  # training stops with this error: close the log now, not when collected
            self.on_train_end(state)
            raise

    def on_train_end(self, state: TrainState) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def append_line(fh: IO[bytes], path: Path, line: str) -> None:
    """Append a whole line or nothing: a failed write (a full disk) is cut back off the file, so the log
    never ends in half a JSON object; the error then names the file."""
    try:
        start = fh.seek(0, os.SEEK_END)
    except OSError:  # a pipe (--log-jsonl /dev/stdout): nothing to cut back
        start = None
    data = memoryview(line.encode("utf-8"))
    try:
        while data:
            data = data[fh.write(data) or 0:]
    except OSError as err:
        if start is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fh.fileno(), start)
        raise OSError(err.errno, err.strerror, str(path)) from None


def open_log(path: str, run_folder: Path | None = None, inputs: dict[str, str | None] | None = None) -> Path:
    """--log-jsonl's file, checked before training: a folder, or a file in a missing folder (other than
    the run folder about to be made), is refused; call it again once the run folder exists."""
    from .errors import UserError
    from .runfolder import RUN_FILES

    p = Path(path)
    if p.is_dir():
        raise UserError(f"--log-jsonl {path} is a folder; give a file name such as run.jsonl")
    if run_folder is not None and p.name in RUN_FILES and p.parent.resolve() == run_folder.resolve():
        raise UserError(f"--log-jsonl {path} is one of the run's own files, which the run writes over; give another "
                        "name such as run.jsonl")
    for flag, other in (inputs or {}).items():  # appending to the data or the config would corrupt it
        if other and p.exists() and os.path.exists(other) and os.path.samefile(p, other):
            raise UserError(f"--log-jsonl {path} is the {flag} file; give another name such as run.jsonl")
    if not p.parent.is_dir():
        if run_folder is not None and p.parent.resolve() == run_folder.resolve():
            return p  # in the run folder, which fresh_folder makes
        raise UserError(f"--log-jsonl {path}: the folder {p.parent} does not exist (vecprop does not create it)")
    try:  # non-blocking: a named pipe without a reader would hang here (ENXIO instead)
        os.close(os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666))
    except OSError as err:
        why = "a pipe with no reader" if err.errno == errno.ENXIO else err.strerror
        raise UserError(f"--log-jsonl {path}: cannot write it ({why})") from None
    return p


def download_progress(stream: IO[str] | None = None):
    """A ``progress(done, total)`` function for ``vecprop.datasets.fetch``: one tqdm bar per file."""
    from tqdm.auto import tqdm

    state: dict[str, Any] = {"bar": None, "last": -1}

    def progress(done: int, total: int | None) -> None:
        bar = state["bar"]
        if bar is None or done < state["last"] or (total is not None and bar.total != total):
            if bar is not None:
                bar.close()
            bar = state["bar"] = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                      file=stream or sys.stderr, initial=0, leave=True)
        bar.update(done - bar.n)
        state["last"] = done
        if total is not None and done >= total:
            bar.close()
            state["bar"] = None
            state["last"] = -1

    return progress
