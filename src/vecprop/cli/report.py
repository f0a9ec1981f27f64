"""After training: final metrics per part, and the run folder (model, config, metrics, history, plots)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, io as vio
from ..datasets import Dataset
from ..metrics import mse, r2
from ..network import Network
from ..training import predict, validation_logs
from . import config as C
from .outputs import history_csv, write_bytes, write_json, write_text
from .prepare import ModelInfo, Prepared, forward_rows


def part_metrics(net: Network, X: np.ndarray, Y: np.ndarray, y: np.ndarray, info: ModelInfo,
                 prefix: str) -> dict[str, float]:
    """Cost and metrics of one part in inference mode; regression metrics in the target's own units."""
    logs = validation_logs(net, X, Y, prefix=prefix)
    if info.task == "regression":
        pred = info.decode(predict(net, X))["value"]
        truth = y.reshape(len(y), -1).astype(np.float64)
        logs[f"{prefix}r2"] = r2(pred.T, truth.T)
        logs[f"{prefix}mse"] = mse(pred.T, truth.T)
    return {k: float(v) for k, v in logs.items()}


def final_metrics(net: Network, prep: Prepared, ds: Dataset) -> dict[str, Any]:
    """train_*, val_* and test_* metrics (cost, accuracy or r2 and mse) of the final weights."""
    info = ModelInfo(ds.task, ds.classes, ds.feature_names, ds.name, prep.scaler, prep.target_scaler, {})
    out: dict[str, Any] = {}
    for name in ("test", "val", "train"):
        part = getattr(prep, name)
        if part is not None:
            out.update(part_metrics(net, part.X, part.Y, part.y, info, f"{name}_"))
    return out


CONFIG_HEADER = """\
vecprop {version}: the fully resolved configuration of the run in this folder.
Reproduce it bit for bit:   vecprop train --config {path}
Change anything with a flag of the same name, e.g. --seed 1 or --hidden 256,128.
"""


def write_run_folder(out: Path, cfg: C.TrainConfig, net: Network, extra: dict[str, Any],
                     records: list[dict[str, float]], metrics: dict[str, Any], prep: Prepared, ds: Dataset,
                     best_epoch: int | None, *, plots: bool) -> list[Path]:
    """Write every file of the run folder atomically; return the paths written."""
    files = [vio.save(net, out / "model.npz", extra=extra)]
    files.append(write_text(out / "config.toml",
                            C.dumps(cfg, CONFIG_HEADER.format(version=__version__, path=out / "config.toml"))))
    files.append(write_text(out / "history.csv", history_csv(records)))
    pngs = draw_plots(out, net, records, prep, ds, best_epoch) if plots and records else []
    metrics = {**metrics, "files": [f.name for f in files + pngs] + ["metrics.json"]}
    files.append(write_json(out / "metrics.json", metrics))
    return files + pngs


def draw_plots(out: Path, net: Network, records: list[dict[str, float]], prep: Prepared, ds: Dataset,
               best_epoch: int | None) -> list[Path]:
    """Learning curves always; then confusion matrix, decision regions (2-D) or regression plots."""
    try:
        from . import plots
        import matplotlib  # noqa: F401
    except ImportError:
        print("vecprop: plots skipped: matplotlib is not installed (pip install 'vecprop[cli]')", file=sys.stderr)
        return []
    title = f"{ds.name}: {' -> '.join(map(str, net.sizes))}"
    written = [write_bytes(out / "learning_curves.png", plots.learning_curves(records, title=title,
                                                                              best_epoch=best_epoch))]
    shown = prep.test or prep.val or prep.train
    which = "test" if prep.test is not None else ("validation" if prep.val is not None else "training")
    if ds.task != "regression":
        info = ModelInfo(ds.task, ds.classes, ds.feature_names, ds.name, prep.scaler, None, {})
        y_pred = info.decode(predict(net, shown.X))["label"]
        written.append(write_bytes(out / "confusion_matrix.png", plots.confusion_matrix(
            shown.y, y_pred, ds.classes, title=f"{title} ({which} set)")))
        if ds.n_features == 2:
            proba = lambda rows: info.decode(forward_rows(net, rows, prep.scaler))["proba"]  # noqa: E731
            test = prep.test
            written.append(write_bytes(out / "decision_regions.png", plots.decision_regions(
                proba, prep.train.X_rows, prep.train.y, None if test is None else test.X_rows,
                None if test is None else test.y, ds.classes, feature_names=ds.feature_names, title=title)))
    else:
        info = ModelInfo(ds.task, None, ds.feature_names, ds.name, prep.scaler, prep.target_scaler, {})
        value = lambda rows: info.decode(forward_rows(net, rows, prep.scaler))["value"]  # noqa: E731
        y_true = shown.y.reshape(len(shown.y), -1)
        y_hat = value(shown.X_rows)
        written.append(write_bytes(out / "predicted_vs_true.png", plots.predicted_vs_true(
            y_true, y_hat, title=f"{title} ({which} set)", r2=r2(y_hat.T, y_true.T),
            y_train=prep.train.y.reshape(prep.train.m, -1), y_train_pred=value(prep.train.X_rows))))
        if ds.n_features == 1:
            name = ds.feature_names[0] if ds.feature_names else "x"
            written.append(write_bytes(out / "regression_fit.png", plots.regression_curve(
                value, ds.X, ds.y, title=f"{title}: the learned function", feature_name=name)))
    return written
