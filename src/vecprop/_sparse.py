"""A sparse X (scipy's CSR/CSC): checked at the boundary, then only layer 1's (1) and (A) multiply it.

The core never imports scipy: a sparse X can only come from a caller who has it, so the
products are the matrix's own ``@`` (scipy's sparse-times-dense kernels). Everything from Z[1]
on is dense, as in the derivation.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array, without importing scipy (no scipy loaded: no sparse X)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def sparse_columns(X: Any, n_0: int, dtype: np.dtype, name: str = "X") -> Any:
    """A sparse X (n_0, m) as CSC (columns = examples, contiguous) of the network's dtype, with finite entries."""
    if X.ndim != 2 or X.shape[0] != n_0 or X.shape[1] < 1:
        hint = f" Examples are columns: did you mean {name}.T?" if X.ndim == 2 and X.shape[1] == n_0 else ""
        raise ValueError(f"{name} must be (n_0={n_0}, m) with m >= 1; got a sparse {X.shape}.{hint}")
    X = X.tocsc().astype(dtype, copy=False)  # tocsc: no copy when X is already CSC (a CSR of rows, transposed)
    if not np.isfinite(X.data).all():
        raise ValueError(f"{name} contains a non-finite stored value ({X.data[~np.isfinite(X.data)][0]})")
    return X


def sparse_rows(X: Any) -> Any:
    """The rows (m, n_0) of a sparse X of columns, as CSR: a mini-batch is a cheap row gather."""
    return X.T.tocsr()


def matmul(P: np.ndarray, Q: Any, out: np.ndarray) -> np.ndarray:
    """``out = P @ Q`` for a dense P and a sparse Q: layer 1's (1) Theta[1] X and (A) dZ[1] X^T.

    Row by row, ``out[j] = Q^T P[j]``: scipy's sparse matrix times one contiguous row, written
    into out's contiguous row. scipy's own ``P @ Q`` computes ``(Q^T P^T)^T``, copying P^T and the
    result across memory: 5x slower for dTheta[1] of a 200-example batch at 100 x 100,000, and
    no faster for a 4096-example inference chunk. The other layers keep ``np.matmul(..., out=)``.
    """
    Qt = Q.T  # CSR (m, n_0) for (1), CSC (n_0, m) for (A): a view
    for j in range(out.shape[0]):
        out[j] = Qt @ P[j]
    return out
