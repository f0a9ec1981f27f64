"""Metrics on A[L] (n_L, m) against Y (n_L, m): labels and accuracy for classifiers, R^2 and MSE for regression.

Every metric takes optional per-example weights w (m,), as scikit-learn's metrics do.
"""
from __future__ import annotations

import numpy as np

from .losses import Loss

TASK_LOSSES: dict[str, str] = {"multiclass": "cross_entropy", "binary": "binary_cross_entropy",
                               "multilabel": "binary_cross_entropy", "regression": "squared_error"}
"""The loss each task trains with by default (its output activation: ``losses.output_activation``)."""


def task_of(loss: Loss, n_L: int) -> str:
    """What the loss says the network does: "multiclass", "binary", "multilabel" or "regression"."""
    if loss.name == "cross_entropy":
        return "multiclass"
    if loss.name == "binary_cross_entropy":
        return "binary" if n_L == 1 else "multilabel"
    return "regression"


def labels(A_L: np.ndarray, task: str) -> np.ndarray:
    """The one map from outputs (or targets) (n_L, m) to labels.

    "multiclass" (or "binary" with two outputs): the class index argmax_i A_i, shape (m,).
    "binary" (one sigmoid unit): the class index 1 where A > 0.5, else 0, shape (m,). "multilabel": 0/1 per output where
    A > 0.5, shape (m, n_L). The threshold is strict, scikit-learn's rule (LabelBinarizer):
    an output of exactly 0.5 is class 0.

    >>> labels(np.array([[0.2, 0.5, 0.9]]), "binary")
    array([0, 0, 1])
    """
    if task == "multiclass" or (task == "binary" and A_L.shape[0] == 2):  # two softmax outputs: argmax
        return A_L.argmax(axis=0)
    if task == "binary":
        return (A_L[0] > 0.5).astype(np.intp)
    if task == "multilabel":
        return (A_L.T > 0.5).astype(np.int64)
    raise ValueError(f"labels are for classification tasks (multiclass, binary, multilabel); got {task!r}")


def correct(A_L: np.ndarray, true: np.ndarray, task: str) -> np.ndarray:
    """Per example (m,): True where every output's label equals ``true`` (``labels`` of the targets)."""
    hit = labels(A_L, task) == true
    return hit.all(axis=1) if hit.ndim == 2 else hit


def n_correct(A_L: np.ndarray, Y: np.ndarray, task: str, sample_weight: np.ndarray | None = None) -> float:
    """Examples whose every output is right (subset accuracy for multi-label, as scikit-learn), or their weight."""
    hit = correct(A_L, labels(Y, task), task)
    return int(np.count_nonzero(hit)) if sample_weight is None else float(hit @ sample_weight)


def accuracy(A_L: np.ndarray, Y: np.ndarray, task: str, sample_weight: np.ndarray | None = None) -> float:
    total = A_L.shape[1] if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
    return n_correct(A_L, Y, task, sample_weight) / total


def r2(A_L: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Coefficient of determination, averaged uniformly over outputs (scikit-learn's r2_score)."""
    w = _weights(sample_weight, Y.shape[1])
    ss_res = (Y - A_L) ** 2 @ w  # (n_L,)
    ss_tot = (Y - (Y @ w / w.sum())[:, None]) ** 2 @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        per_output = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return float(per_output.mean())


def mse(A_L: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Mean over outputs and (weighted) examples of (A - Y)^2."""
    w = _weights(sample_weight, Y.shape[1])
    return float(((A_L - Y) ** 2).mean(axis=0, dtype=np.float64) @ w / w.sum())


def _weights(sample_weight: np.ndarray | None, m: int) -> np.ndarray:
    return np.ones(m) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


def evaluate(A_L: np.ndarray, Y: np.ndarray, task: str, sample_weight: np.ndarray | None = None) -> dict[str, float]:
    """The task's metrics for one set, without the cost."""
    if task == "regression":
        return {"r2": r2(A_L, Y, sample_weight), "mse": mse(A_L, Y, sample_weight)}
    return {"accuracy": accuracy(A_L, Y, task, sample_weight)}
