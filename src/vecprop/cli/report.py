"""After training: final metrics per part, and the run folder (model, config, metrics, history, plots)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..datasets import Dataset
from ..model import Model
from ..model_files import natural_classes
from ..network import Network
from ..inference import predict
from ..metrics import labels
from . import config as C
from .outputs import history_csv, write_bytes, write_json, write_text
from .prepare import Prepared


def build_model(net: Network, prep: Prepared, ds: Dataset, provenance: dict[str, Any]) -> Model:
    """The run's Model: the network with the scaler fitted on the training rows, classes, names."""
    return Model(net, task=ds.task, classes=natural_classes(ds.classes), feature_names=ds.feature_names,
                 preprocessing=prep.preprocessor, target_scaler=prep.target_scaler, provenance=provenance)


def answers(ds: Dataset, y: np.ndarray) -> np.ndarray:
    """Targets in the user's terms: label values for classes (codes -> names), values for regression."""
    return y if ds.classes is None else np.asarray(natural_classes(ds.classes), dtype=object)[y]


def final_metrics(model: Model, prep: Prepared, ds: Dataset) -> dict[str, Any]:
    """train_*, val_* and test_* metrics (cost, accuracy or r2 and mse) of the final weights, computed
    from the raw rows through the Model exactly as ``vecprop evaluate`` computes them."""
    out: dict[str, Any] = {}
    for name in ("test", "val", "train"):
        part = getattr(prep, name)
        if part is not None:
            logs = model.evaluate(part.X_rows, answers(ds, part.y), feature_names=ds.feature_names)
            out.update({f"{name}_{k}": v for k, v in logs.items() if k != "m"})
    return out


CONFIG_HEADER = """\
vecprop {version}: the fully resolved configuration of the run in this folder.
Reproduce it bit for bit:   vecprop train --config {path}
Change anything with a flag of the same name, e.g. --seed 1 or --hidden 256,128.
"""


def write_run_folder(out: Path, cfg: C.TrainConfig, model: Model, records: list[dict[str, float]],
                     metrics: dict[str, Any], prep: Prepared, ds: Dataset, best_epoch: int | None, *,
                     plots: bool) -> list[Path]:
    """Write every file of the run folder atomically; return the paths written."""
    files = [model.save(out / "model.npz")]
    files.append(write_text(out / "config.toml",
                            C.dumps(cfg, CONFIG_HEADER.format(version=__version__, path=out / "config.toml"))))
    files.append(write_text(out / "history.csv", history_csv(records)))
    pngs = draw_plots(out, model, records, prep, ds, best_epoch) if plots and records else []
    metrics = {**metrics, "files": [f.name for f in files + pngs] + ["metrics.json"]}
    files.append(write_json(out / "metrics.json", metrics))
    return files + pngs


def draw_plots(out: Path, model: Model, records: list[dict[str, float]], prep: Prepared, ds: Dataset,
               best_epoch: int | None) -> list[Path]:
    """Learning curves always; then confusion matrix, decision regions (2-D) or regression plots."""
    try:
        from . import plots
        import matplotlib  # noqa: F401
    except ImportError:
        print("vecprop: plots skipped: matplotlib is not installed (pip install 'vecprop[cli]')", file=sys.stderr)
        return []
    net = model.network
    title = f"{ds.name}: {' -> '.join(map(str, net.sizes))}"
    written = [write_bytes(out / "learning_curves.png", plots.learning_curves(records, title=title,
                                                                              best_epoch=best_epoch))]
    shown = prep.test or prep.val or prep.train
    which = "test" if prep.test is not None else ("validation" if prep.val is not None else "training")
    if ds.task != "regression":
        y_pred = labels(predict(net, shown.X), model.task)  # class indices, as shown.y
        written.append(write_bytes(out / "confusion_matrix.png", plots.confusion_matrix(
            shown.y, y_pred, ds.classes, title=f"{title} ({which} set)")))
        if ds.n_features == 2:
            test = prep.test
            written.append(write_bytes(out / "decision_regions.png", plots.decision_regions(
                lambda rows: _scores(model, rows), prep.train.X_rows, prep.train.y, None if test is None else test.X_rows,
                None if test is None else test.y, ds.classes, feature_names=ds.feature_names, title=title)))
    else:
        value = lambda rows: model.predict(rows).reshape(len(rows), -1)  # noqa: E731
        y_true = shown.y.reshape(len(shown.y), -1)
        y_hat = value(shown.X_rows)
        written.append(write_bytes(out / "predicted_vs_true.png", plots.predicted_vs_true(
            y_true, y_hat, title=title, which=which, y_train=prep.train.y.reshape(prep.train.m, -1),
            y_train_pred=value(prep.train.X_rows), names=_target_names(ds))))
        if ds.n_features == 1:
            name = ds.feature_names[0] if ds.feature_names else "x"
            written.append(write_bytes(out / "regression_fit.png", plots.regression_curve(
                value, ds.X, ds.y, title=f"{title}: the learned function", feature_name=name)))
    return written


def stop_reason(cfg: Any, stopper: Any, n_epochs: int) -> str:
    """Why training ended, in one clause: early stopping, the epoch cap, or L-BFGS's own end."""
    if cfg.optimizer == "lbfgs":
        return f"L-BFGS ended after {n_epochs} iterations" + (" (the cap)" if n_epochs >= cfg.epochs else "")
    if stopper is not None and stopper.stopped_epoch >= 0:
        after, best = stopper.improved_epoch + 1, stopper.best_epoch + 1
        if best == after:
            return f"{stopper.monitor} did not improve for {stopper.patience} epochs after epoch {after}; kept epoch {best}'s weights"
        return (f"{stopper.monitor} did not improve by more than --min-delta {stopper.min_delta:g} for {stopper.patience} "
                f"epochs after epoch {after}; kept epoch {best}'s weights, its best value")
    kept = f"; kept epoch {stopper.best_epoch + 1}'s weights (best {stopper.monitor})" if stopper is not None else ""
    if n_epochs >= cfg.epochs:
        return f"reached the cap of {cfg.epochs} epochs{kept}"
    return f"stopped after {n_epochs} epochs{kept}"


def _target_names(ds: Dataset) -> list[str] | None:
    """The regression targets' column names, when the source names them ("target columns 'a', 'b'")."""
    import re

    found = re.findall(r"'([^']*)'", ds.source.split("target column", 1)[1]) if "target column" in ds.source else []
    k = 1 if ds.y.ndim == 1 else ds.y.shape[1]
    return found if len(found) == k else None


def _scores(model: Model, rows: np.ndarray) -> np.ndarray:
    """Class probabilities (m, k), or the raw outputs of a classifier whose outputs are scores."""
    A_L = model.outputs(rows)
    if model.network.activations[-1].name in ("softmax", "sigmoid"):
        return model.proba(A_L)
    S = A_L.T.astype(np.float64)
    return np.hstack([1 - S, S]) if S.shape[1] == 1 else S
