"""Whole sets in inference mode (no dropout), a chunk of columns at a time through the fast engine."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._checks import as_columns, as_targets, check_int, check_sample_weight
from .fast import FastPath
from .metrics import evaluate, task_of
from .network import Network

Outputs = Callable[..., "tuple[np.ndarray, float]"]
"""``outputs`` or a data-parallel twin: (net, X, Y=None, w=None) -> (A[L], summed error)."""


def chunk_size(net: Network) -> int:
    """Columns per chunk of inference: 4096, or 2048 for a network whose every matrix fits in the cache anyway.

    Measured with two BLAS threads (the default) on 16384-32768 examples: 64-32-10 is 10-20%
    faster in 2048-column chunks than in 4096; 784-256-128-10 and 784-1024-1024-10 are fastest
    at 4096 and 2-4x slower at 256 (each product wakes both BLAS threads; on a busy machine one
    is often descheduled), although 256 was 13% faster for 784-256-128-10 on one thread.
    """
    return 2048 if sum(net.sizes) * net.dtype.itemsize <= 1024 else 4096


def outputs(net: Network, X: np.ndarray, Y: np.ndarray | None = None, w: np.ndarray | None = None,
            chunk: int | None = None) -> tuple[np.ndarray, float]:
    """A[L] (n_L, m) of a checked X and, with Y, the summed error sum_c [w_c] sum_i err (eq. 2 times m).

    One fresh ``FastPath``: its workspace for the chunk size (default ``chunk_size(net)``) is
    reused by every chunk, and ``net.cache`` is not touched.
    """
    chunk = chunk_size(net) if chunk is None else chunk
    path, m = FastPath(net), X.shape[1]
    A_L, total = np.empty((net.sizes[-1], m), net.dtype), 0.0
    for s in range(0, m, chunk):
        cols = slice(s, s + chunk)
        A_L[:, cols] = path.forward(X[:, cols])  # (1) without rng: no dropout
        if Y is not None:  # (2) summed, not averaged: divided by 1
            total += path.cached_cost(Y[:, cols], sample_weight=None if w is None else w[cols], m=1.0)
    return A_L, total


def set_logs(outputs_of: Outputs, net: Network, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None = None, *,
             l2: float = 0.0, prefix: str = "val_", task: str | None = None) -> dict[str, float]:
    """Cost (eq. 2, with the L2 term) and metrics of one checked set, computed by ``outputs_of``.

    The metrics follow ``task`` (default: what the loss implies, ``metrics.task_of``): a classifier
    trained with squared error still reports accuracy when told its task.
    """
    A_L, total = outputs_of(net, X, Y, w)
    m = X.shape[1] if w is None else float(w.sum(dtype=np.float64))
    logs = {f"{prefix}cost": total / m + (net.l2_term(l2, m) if l2 else 0.0)}
    task = task or task_of(net.loss, net.sizes[-1])
    logs.update({prefix + k: v for k, v in evaluate(A_L, Y, task, w).items()})
    return logs


def predict(net: Network, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """A[L] (n_L, m) for X (n_0, m) in inference mode (no dropout), in chunks to bound memory.

    X is checked once, here; the chunks (``batch_size`` columns, default ``chunk_size(net)``)
    run through the fast engine's preallocated buffers and give ``Network.forward``'s numbers
    (to float rounding).
    """
    if batch_size is not None:
        check_int("batch_size", batch_size, 1, hint=" (columns per chunk)")
    return outputs(net, as_columns(X, net.sizes[0], net.dtype), chunk=batch_size)[0]


def validation_logs(net: Network, X: np.ndarray, Y: np.ndarray, *, sample_weight: np.ndarray | None = None,
                    l2: float = 0.0, prefix: str = "val_", chunk: int | None = None, task: str | None = None
                    ) -> dict[str, float]:
    """Cost (eq. 2, through the logits like training) and metrics of one set, in inference mode.

    With ``sample_weight`` (m,) the cost and the metrics are weighted as in ``fit``.
    """
    if chunk is not None:
        check_int("chunk", chunk, 1, hint=" (columns per chunk)")
    X, Y, w = checked_set(net, X, Y, sample_weight)
    return set_logs(lambda *args: outputs(*args, chunk=chunk), net, X, Y, w, l2=l2, prefix=prefix, task=task)


def checked_set(net: Network, X: Any, Y: Any, sample_weight: Any = None,
                name: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """X (n_0, m), Y (n_L, m) and weights (m,) or None, checked and in the network's dtype (the boundary)."""
    X = as_columns(X, net.sizes[0], net.dtype, name=f"{name}X".strip())
    Y = as_targets(Y, net.sizes[-1], X.shape[1], net.dtype)
    net.loss.check_targets(Y)
    w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[1], net.dtype,
                                                               name=f"{name}sample_weight".strip())
    return X, Y, w


def checked_validation(net: Network, validation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """``fit``'s ``validation``, (X_val, Y_val) or (X_val, Y_val, sample_weight), checked like the training set."""
    if validation is None:
        return None
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        got = f"a {len(validation)}-tuple" if isinstance(validation, (tuple, list)) else type(validation).__name__
        raise ValueError(f"validation must be a pair (X_val, Y_val) or a triple (X_val, Y_val, sample_weight); got {got}")
    return checked_set(net, *validation, name="validation ")
