"""The fast engine: the derivation's equations on preallocated buffers, updated in place."""
from __future__ import annotations

import numpy as np

from . import _sparse as sparse
from ._workspace import Workspace
from .network import Cache, Network


class FastPath:
    """Equations (1), (2) and (A)-(D) for ``fit``, computed without per-step allocations.

    The same numbers as ``Network.forward``/``cached_cost``/``backward`` (a test says so: equal
    to float32 rounding, and to ~1e-12 in float64), computed differently:

    - one ``Workspace`` of buffers per batch size m, reused by every step of that size;
    - every product is one BLAS call writing into a buffer (``np.dot(..., out=)``, which
      reaches BLAS in ~1 us less than ``np.matmul``: a tenth of a tiny step); the mini-batch
      arrives as a transposed view of row-major data, which BLAS reads as is (an X that is
      neither C- nor F-contiguous goes through ``np.matmul``, which reads strides, not a copy);
    - bias add, activations and (C) run in place (``_kernels``: one kernel per built-in
      activation); ReLU's (C) multiplies by a boolean mask;
    - dZ[L] carries the 1/m of eq. 2, so (A) and (B) need no division; (B) is a product with
      a ones vector; dTheta[l] and db[l] are written straight into views of the flat gradient;
    - dA[0] is never computed (nothing reads the input's gradient).

    Notes
    -----
    The engine owns its buffers and never touches ``net.cache``. Its own ``cache`` is only
    partly filled: ``A[l]``, ``M[l]`` (dropout masks) and ``alpha_Z[l]`` of the last forward,
    as views of the buffers; ``Z[l]`` is None where the activation was computed over it (every
    built-in but GELU, the softmax's shift), and ``dZ``, ``dA`` are None (they share buffers). To
    inspect every matrix of a step use ``engine="readable"`` or ``net.gradients``. ``forward``
    returns A[L] as a buffer that the next ``forward`` with the same m overwrites, and it keeps
    a reference to X until ``backward_into``. Inputs (X, Y, sample weights) are trusted to be
    finite: ``fit`` checks them once, at its boundary, not on every mini-batch. A sparse X
    (scipy, CSC columns) enters only layer 1's (1) Theta[1] X and (A) dZ[1] X^T, as scipy's
    sparse products written row by row into the buffers (``_sparse.matmul``); everything after
    is dense.

    Examples
    --------
    >>> net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    >>> path = FastPath(net)
    >>> X, Y = np.zeros((4, 5), np.float32), np.eye(3, 5, dtype=np.float32)
    >>> path.forward(X).shape
    (3, 5)
    >>> grad = np.empty_like(net.flat); path.backward_into(Y, grad); grad.shape
    (67,)
    """

    _max_spaces = 4  # fit needs two batch sizes at most (the last batch may be smaller)

    def __init__(self, net: Network) -> None:
        self.net = net
        self._spaces: dict[tuple[int, bool], Workspace] = {}
        self._ws: Workspace | None = None
        self._grad: np.ndarray | None = None
        self._grad_views: list[tuple[np.ndarray, np.ndarray]] = []  # (dTheta (n_l, n_{l-1}), db (n_l,))
        self._decay: np.ndarray | None = None  # scratch for the L2 term of (A)
        self._X_product = np.dot  # the product with A[0] = X: np.dot for contiguous X, else np.matmul

    def __repr__(self) -> str:
        return f"FastPath({self.net!r}, batch sizes {sorted(m for m, _ in self._spaces)})"

    @property
    def cache(self) -> Cache:
        """The last forward's matrices that are still in the buffers (see Notes); empty before one."""
        return Cache() if self._ws is None else self._ws.cache

    def workspace(self, m: int, dropout: bool = False) -> Workspace:
        """The buffers for batch size m (created on first use; the oldest of 4 is dropped)."""
        key = (m, dropout)
        ws = self._spaces.get(key)
        if ws is None:
            if len(self._spaces) >= self._max_spaces:
                self._spaces.pop(next(iter(self._spaces)))
            ws = self._spaces[key] = Workspace(self.net, m, dropout)
        return ws

    # ---- forward (eq. 1) -------------------------------------------------------------
    def forward(self, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """A[L] (n_L, m) for X (n_0, m) of the network's dtype; dropout only when ``rng`` is given.

        The dropout masks come from ``rng`` exactly as in ``Network.forward`` (same shapes,
        same order), so both engines drop the same units.
        """
        net = self.net
        if X.ndim != 2 or X.shape[0] != net.sizes[0] or X.dtype != net.dtype:
            raise ValueError(f"X must be a {net.dtype.name} array of shape (n_0={net.sizes[0]}, m); "
                             f"got {X.dtype.name} {X.shape}")
        ws = self._ws = self.workspace(X.shape[1], rng is not None and any(net.dropout))
        ws.A[0] = ws.cache.A[0] = A = X
        if not isinstance(X, np.ndarray):  # a sparse X: scipy's product, layer 1 only (A[l] is dense from here on)
            self._X_product = sparse.matmul
        else:
            self._X_product = np.dot if X.flags.c_contiguous or X.flags.f_contiguous else np.matmul
        product = self._X_product
        for l, (Theta, b) in enumerate(net.params, start=1):
            Z = ws.Z[l]
            product(Theta, A, out=Z)  # (1) Z[l] = Theta[l] A[l-1] + b[l]   (n_l, m)
            np.add(Z, b, out=Z)
            product = np.dot
            ws.kernels[l].forward()  # (1) A[l] = alpha[l](Z[l])   (n_l, m), over Z[l] where it can
            A = ws.alpha_Z[l] if ws.M[l] is None else ws.drop(l, net.dropout[l - 1], rng)
        return A

    # ---- cost (eq. 2) ------------------------------------------------------------------
    def cached_cost(self, Y: np.ndarray, l2: float = 0.0, sample_weight: np.ndarray | None = None,
                    m: float | None = None) -> float:
        """J of the last forward pass against Y (n_L, m)  (eq. 2, plus the L2 term).

        ``sample_weight`` (m,) and ``m`` (the divisor) as in ``Network.cached_cost``.
        """
        ws, net, w = self._last(Y), self.net, sample_weight
        m = _divisor(ws.m, w) if m is None else m
        if ws.log_sum is not None:  # softmax + cross-entropy from the logits, like err_from_logits
            np.log(ws.col_sum, out=ws.log_sum)  # (1, m) log sum_i e^(Z_i - max Z)
            np.subtract(ws.Z[-1], ws.log_sum, out=ws.out_tmp)  # log softmax   (n_L, m)
            np.multiply(ws.out_tmp, Y, out=ws.out_tmp)
            E = ws.out_tmp  # -err
            J = -float(np.add.reduce(E, axis=None) if w is None else np.add.reduce(E, axis=0) @ w) / m
        else:
            E = net.loss.err_from_logits(ws.Z[-1], Y) if net.fused else net.loss.err(ws.A[-1], Y)
            J = float(E.sum() if w is None else np.add.reduce(E, axis=0) @ w) / m
        if l2:
            J += net.l2_term(l2, m)
        return J

    def _last(self, Y: np.ndarray) -> Workspace:
        ws = self._ws
        if ws is None:
            raise RuntimeError("the fast engine needs a forward pass first: call forward(X)")
        if Y.shape != (self.net.sizes[-1], ws.m):
            raise ValueError(f"Y must be (n_L={self.net.sizes[-1]}, m={ws.m}) to match A[L]; got {Y.shape}")
        return ws

    # ---- backward (A)-(D) -------------------------------------------------------------
    def backward_into(self, Y: np.ndarray, out: np.ndarray, l2: float = 0.0,
                      sample_weight: np.ndarray | None = None, m: float | None = None) -> None:
        """Write dTheta[l], db[l] (l = 1..L) of the last forward pass into ``out``, laid out like ``net.flat``.

        ``sample_weight`` (m,) and ``m`` (the divisor) as in ``Network.backward``.
        """
        ws, net, L = self._last(Y), self.net, self.net.L
        if out is not self._grad:
            if out.shape != net.flat.shape or out.dtype != net.dtype:
                raise ValueError(f"out must be a {net.dtype.name} vector of shape {net.flat.shape} "
                                 f"(like net.flat); got {out.dtype.name} {out.shape}")
            self._grad, self._grad_views = out, [(dT, db[:, 0]) for dT, db in net.views(out)]
        inv_m = 1.0 / (_divisor(ws.m, sample_weight) if m is None else m)
        scale = inv_m if sample_weight is None else sample_weight * inv_m  # the 1/m, per column w_c/m
        dZ = ws.dZ_L
        if net.fused:
            np.subtract(ws.A[L], Y, out=dZ)  # (C) fused with the loss: dZ[L] = A[L] - Y, with the 1/m
            dZ *= scale
        else:
            np.multiply(net.loss.derivative(ws.A[L], Y), scale, out=dZ)  # (5) dA[L] = err'(A[L], Y) / m
            dZ = ws.kernels[L].backward(dZ)  # (C)
        for l in range(L, 0, -1):
            Theta, _ = net.params[l - 1]
            dTheta, db = self._grad_views[l - 1]
            (np.dot if l > 1 else self._X_product)(dZ, ws.A[l - 1].T, out=dTheta)  # (A) dTheta[l] = 1/m dZ[l] A[l-1]^T
            if l2:
                decay = self._decay_like(Theta)
                np.multiply(Theta, l2 * inv_m, out=decay)
                dTheta += decay  # the L2 term's share of (A); biases are exempt
            np.dot(dZ, ws.ones, out=db)  # (B) db[l] = 1/m sum_c dZ[l]   (n_l, 1)
            if l == 1:
                break  # dA[0] = Theta[1]^T dZ[1] is never needed
            dA = ws.dA[l - 1]
            np.dot(Theta.T, dZ, out=dA)  # (D) dA[l-1] = Theta[l]^T dZ[l]   (n_{l-1}, m)
            if ws.M[l - 1] is not None:
                dA *= ws.M[l - 1]  # dropout: only kept units pass gradient, with their scale
            dZ = ws.kernels[l - 1].backward(dA)  # (C) dZ[l-1] = dA[l-1] * alpha'(Z[l-1])

    def _decay_like(self, Theta: np.ndarray) -> np.ndarray:
        if self._decay is None:
            self._decay = np.empty(max(T.size for T, _ in self.net.params), dtype=self.net.dtype)
        return self._decay[: Theta.size].reshape(Theta.shape)


def _divisor(n_cols: int, w: np.ndarray | None) -> float:
    """The m of eq. 2 when none is given: sum_c w_c with weights, else the number of columns."""
    return n_cols if w is None else float(w.sum(dtype=np.float64))
