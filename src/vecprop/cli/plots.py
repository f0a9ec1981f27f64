"""Run-folder plots as PNG bytes (matplotlib's Agg canvas, imported only when a plot is drawn)."""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..metrics import labels

DPI = 110
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#d62728"


def _figure(width: float, height: float) -> Any:
    """A Figure on its own Agg canvas: no pyplot, no global backend, nothing shown."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def learning_curves(records: Sequence[dict[str, float]], *, title: str, best_epoch: int | None = None) -> bytes:
    """Train and validation cost, then accuracy (or R^2), per epoch; the lr too when it changes.

    ``records`` are History rows with 1-based ``epoch``; ``best_epoch`` (1-based) is marked,
    as the epoch whose weights early stopping kept.
    """
    epochs = np.array([r["epoch"] for r in records])
    metric = "accuracy" if "accuracy" in records[-1] else "r2"
    lrs = [r["lr"] for r in records if "lr" in r]
    show_lr = len(set(lrs)) > 1
    panels = [("cost", "cost J (eq. 2)"), (metric, "accuracy" if metric == "accuracy" else "R²")]
    fig = _figure(4.6 * (len(panels) + show_lr), 3.8)
    axes = fig.subplots(1, len(panels) + show_lr)
    for ax, (key, label) in zip(axes, panels):
        for prefix, name, colour in (("", "train", TRAIN_COLOUR), ("val_", "validation", VAL_COLOUR)):
            values = [r.get(prefix + key) for r in records]
            if all(v is not None for v in values):
                ax.plot(epochs, values, color=colour, marker="o" if len(epochs) <= 30 else None,
                        markersize=3, linewidth=1.6, label=name)
        if key == "cost":
            costs = [r[k] for r in records for k in ("cost", "val_cost") if k in r and r[k] > 0]
            if costs and max(costs) / min(costs) > 30:
                from matplotlib.ticker import NullFormatter

                ax.set_yscale("log")
                ax.yaxis.set_minor_formatter(NullFormatter())
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1.2, label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    axes[0].set_title("cost (train: mean over the epoch's batches)", fontsize=9)
    axes[1].set_title("accuracy (share classified correctly)" if metric == "accuracy"
                      else "R² (1 is a perfect fit)", fontsize=9)
    if show_lr:
        ax = axes[-1]
        ax.plot(epochs[: len(lrs)], lrs, color="0.2", linewidth=1.6)
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate of each epoch (the schedule)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _png(fig)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], *, title: str) -> bytes:
    """Counts of (true class, predicted class), coloured by the share of each true class (row)."""
    k = len(classes)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(10.0, max(4.8, 0.45 * k + 2.8))
    fig = _figure(size + 1.0, size)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8 if k > 12 else 10,
                            color="white" if share[i, j] > 0.5 else "black")
    labels = [str(c) for c in classes]
    ax.set_xticks(range(k), labels, rotation=45 if max(map(len, labels)) > 3 else 0, ha="right"
                  if max(map(len, labels)) > 3 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}\naccuracy {accuracy:.4f} on {counts.sum()} examples")
    return _png(fig)


def decision_regions(proba: Callable[[np.ndarray], np.ndarray], X_train: np.ndarray, y_train: np.ndarray,
                     X_test: np.ndarray | None, y_test: np.ndarray | None, classes: Sequence[str], *,
                     feature_names: Sequence[str] | None, title: str, resolution: int = 300) -> bytes:
    """The network's class over a grid of the 2-D input plane, with the data points on top.

    ``proba(rows)`` maps raw input rows (n, 2) to class probabilities (n, k).
    """
    from matplotlib.colors import ListedColormap

    pts = X_train if X_test is None else np.vstack([X_train, X_test])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.08 * (hi - lo) + 1e-9
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    G0, G1 = np.meshgrid(g0, g1)
    P = proba(np.column_stack([G0.ravel(), G1.ravel()]))  # (resolution^2, k)
    k = len(classes)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    colours = [palette[i % len(palette)] for i in range(k)]
    fig = _figure(6.4, 5.6)
    ax = fig.subplots()
    label = labels(P.T, "multiclass").reshape(G0.shape)  # the most probable class, as everywhere
    confidence = P.max(axis=1).reshape(G0.shape)
    ax.contourf(G0, G1, label, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap(colours), alpha=0.25)
    shade = ax.contourf(G0, G1, confidence, levels=np.linspace(1 / k, 1, 6), cmap="Greys_r", alpha=0.25)
    ax.contour(G0, G1, label, levels=np.arange(k) + 0.5, colors="k", linewidths=1.0)
    bar = fig.colorbar(shade, ax=ax, fraction=0.046, pad=0.04, label="confidence (largest probability)")
    bar.ax.yaxis.set_major_formatter("{x:.2f}")
    for c in range(k):
        sel = y_train == c
        ax.scatter(X_train[sel, 0], X_train[sel, 1], s=14, color=colours[c], edgecolors="white",
                   linewidths=0.4, label=f"class {classes[c]} (train)")
        if X_test is not None:
            sel = y_test == c
            ax.scatter(X_test[sel, 0], X_test[sel, 1], s=26, marker="^", color=colours[c], edgecolors="k",
                       linewidths=0.6, label=f"class {classes[c]} (test)")
    names = list(feature_names) if feature_names else ["x0", "x1"]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_xlim(g0[0], g0[-1])
    ax.set_ylim(g1[0], g1[-1])
    ax.legend(fontsize=7, loc="best", framealpha=0.8, ncol=2 if k > 2 else 1)
    ax.set_title(f"{title}\ndecision regions (black lines: boundaries)", fontsize=10)
    return _png(fig)


def predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, *, title: str, which: str,
                      y_train: np.ndarray | None = None, y_train_pred: np.ndarray | None = None,
                      names: Sequence[str] | None = None) -> bytes:
    """One panel per output: each example at (true, predicted), on the diagonal is perfect, with
    its R^2; the shown set in colour, the training set in grey behind it. Original units."""
    from ..metrics import r2

    k = y_true.shape[1]
    cols = min(k, 3)
    rows = -(-k // cols)
    fig = _figure(4.6 * cols + 0.6, 4.4 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for j in range(k):
        ax = axes[j]
        if y_train is not None and y_train_pred is not None:
            ax.scatter(y_train[:, j], y_train_pred[:, j], s=8, color="0.65", alpha=0.6, label="training set")
        ax.scatter(y_true[:, j], y_pred[:, j], s=16, color=TRAIN_COLOUR, edgecolors="white", linewidths=0.4,
                   label=f"{which} set")
        both = np.concatenate([y_true[:, j], y_pred[:, j]])
        lo, hi = float(both.min()), float(both.max())
        ax.plot([lo, hi], [lo, hi], color="k", linestyle="--", linewidth=1, label="predicted = true")
        ax.set_xlabel(f"true {names[j] if names else 'value'}")
        ax.set_ylabel("predicted")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        name = f"{names[j]}: " if names and k > 1 else (f"output {j}: " if k > 1 else "")
        ax.set_title(f"{name}{which} R² = {r2(y_pred[:, [j]].T, y_true[:, [j]].T):.4f}", fontsize=10)
    for ax in axes[k:]:
        ax.set_visible(False)
    fig.suptitle(f"{title}: predicted vs true, {which} set (training set in grey)")
    return _png(fig)


def regression_curve(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, *,
                     title: str, feature_name: str = "x") -> bytes:
    """For one input feature: the data and the network's function y = f(x) over its range."""
    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    x = X[:, 0]
    grid = np.linspace(x.min(), x.max(), 400)
    ax.scatter(x, y.reshape(len(y), -1)[:, 0], s=10, color="0.55", alpha=0.7, label="data")
    ax.plot(grid, predict(grid[:, None])[:, 0], color=VAL_COLOUR, linewidth=2, label="network")
    ax.set_xlabel(feature_name)
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title(title)
    return _png(fig)
