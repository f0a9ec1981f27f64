"""Metrics on A[L] (n_L, m) against Y (n_L, m): accuracy for classifiers, R^2 and MSE for regression."""
from __future__ import annotations

import numpy as np

from .losses import Loss


def task_of(loss: Loss, n_L: int) -> str:
    """What the loss says the network does: "multiclass", "binary", "multilabel" or "regression"."""
    if loss.name == "cross_entropy":
        return "multiclass"
    if loss.name == "binary_cross_entropy":
        return "binary" if n_L == 1 else "multilabel"
    return "regression"


def labels(A_L: np.ndarray, task: str) -> np.ndarray:
    """A[L] (n_L, m) -> answers: the class index (m,) (argmax, or ``p > 0.5`` for one output), or
    0/1 indicators (m, n_L) for multilabel. ``> 0.5`` is scikit-learn's rule: p = 0.5 is class 0."""
    if task == "multilabel":
        return (A_L > 0.5).T.astype(np.int64)
    if A_L.shape[0] == 1:
        return (A_L[0] > 0.5).astype(np.int64)
    return A_L.argmax(axis=0)


def n_correct(A_L: np.ndarray, Y: np.ndarray, task: str) -> int:
    """Examples whose every output is right (subset accuracy for multi-label, as scikit-learn)."""
    if task == "multiclass":
        return int((A_L.argmax(axis=0) == Y.argmax(axis=0)).sum())
    return int(((A_L >= 0.5) == (Y >= 0.5)).all(axis=0).sum())


def accuracy(A_L: np.ndarray, Y: np.ndarray, task: str) -> float:
    return n_correct(A_L, Y, task) / A_L.shape[1]


def r2(A_L: np.ndarray, Y: np.ndarray) -> float:
    """Coefficient of determination, averaged uniformly over outputs (scikit-learn's r2_score)."""
    ss_res = ((Y - A_L) ** 2).sum(axis=1, dtype=np.float64)
    ss_tot = ((Y - Y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_output = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return float(per_output.mean())


def mse(A_L: np.ndarray, Y: np.ndarray) -> float:
    return float(((A_L - Y) ** 2).mean(dtype=np.float64))


def evaluate(A_L: np.ndarray, Y: np.ndarray, task: str) -> dict[str, float]:
    """The task's metrics for one set, without the cost."""
    if task == "regression":
        return {"r2": r2(A_L, Y), "mse": mse(A_L, Y)}
    return {"accuracy": accuracy(A_L, Y, task)}
