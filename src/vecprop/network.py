"""The L-layer network of the derivation: forward (eq. 1), cost (eq. 2), backward (A)-(D)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._checks import as_columns, as_targets, check_dtype, check_real, check_sample_weight, check_sizes, make_rng
from ._memory import check_network_fits
from .activations import Activation, get_activation
from .initializers import get_initializer
from .losses import Loss, get_loss, is_fused

Params = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Cache:
    """Every matrix of the last forward and backward pass, indexed by layer l = 0..L.

    ``A[0]`` is X; ``Z[0]``, ``dZ[0]`` and ``dA[0]`` are None (the input has no Z, and nothing
    reads the input's gradient, so it is never computed). ``M[l]`` is layer l's dropout mask
    (None without dropout); then ``A[l] = alpha(Z[l]) * M[l]`` and ``alpha_Z[l]`` keeps
    ``alpha(Z[l])`` for (C). ``dA[L]`` is None when the output layer is fused with its loss
    (``backward(Y, fused=False)`` computes and keeps it).
    """

    A: list[np.ndarray | None] = field(default_factory=list)
    Z: list[np.ndarray | None] = field(default_factory=list)
    M: list[np.ndarray | None] = field(default_factory=list)
    alpha_Z: list[np.ndarray | None] = field(default_factory=list)
    dZ: list[np.ndarray | None] = field(default_factory=list)
    dA: list[np.ndarray | None] = field(default_factory=list)

    def __repr__(self) -> str:
        shapes = lambda xs: [None if x is None else x.shape for x in xs]  # noqa: E731
        return f"Cache(A={shapes(self.A)}, Z={shapes(self.Z)}, dZ={shapes(self.dZ)})"


def dropout_keep(rng: np.random.Generator, p: float, keep: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Fill the boolean array ``keep`` with the units a dropout of rate p keeps, and return it.

    Unit c is kept when the uniform draw u_c in [0, 1) that ``rng.random(dtype=dtype)`` would
    make from the generator's next raw bits is at least p, in C order. The raw 64-bit words are
    compared as integers instead (float32 draws use 32 bits, two per word, and keep their top
    24; float64 draws keep the top 53 of a word): the same units at a fraction of the cost of
    forming floats. Both engines draw here, so they drop the same units.
    """
    n, wide = keep.size, np.dtype(dtype) == np.float64
    bits, width = (53, 64) if wide else (24, 32)
    raw = rng.bit_generator.random_raw(n if wide else (n + 1) // 2)
    words = raw if wide else raw.view(np.uint32)[:n]
    k = math.ceil(float(np.dtype(dtype).type(p)) * 2**bits)  # u_c = (word >> (width - bits)) / 2^bits >= p
    if k >= 2**bits:  # p rounds to 1 in this dtype: nothing is kept
        keep[...] = False
        return keep
    return np.greater_equal(words.reshape(keep.shape), k << (width - bits), out=keep)


class Network:
    """A feed-forward network ``X = A[0] -> Z[l] = Theta[l] A[l-1] + b[l] -> A[l] = alpha[l](Z[l])``.

    Parameters
    ----------
    sizes : [n_0, n_1, ..., n_L], L >= 1.
    activations : L activations (names, config dicts, or objects with value/derivative).
    loss : the error err{A, y} of eq. 2.
    seed : int or numpy Generator for the initial weights.
    dtype : "float32" (default, fast) or "float64" (for checking); fixed for the network's life.
    init : initialiser name for all layers, or one per layer; default by activation.
    dropout : drop probability per hidden layer (a float for all, or L-1 floats); used only
        when ``forward`` is given an ``rng`` (training), never at inference.

    Notes
    -----
    All parameters live in one flat buffer (``flat``); ``params[l-1] = (Theta[l], b[l])`` are
    views into it, so writing into them changes the network, and an optimizer or an allreduce
    can treat the whole network as one vector.

    Examples
    --------
    >>> net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    >>> net.forward(np.zeros((4, 5))).shape
    (3, 5)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[str | dict | Activation | Any],
        loss: str | dict | Loss = "squared_error",
        *,
        seed: int | np.random.Generator = 0,
        dtype: str | np.dtype = "float32",
        init: str | Sequence[str] | None = None,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        self.sizes = check_sizes(sizes)
        self.L = len(self.sizes) - 1
        listed = isinstance(activations, (Sequence, np.ndarray)) and not isinstance(activations, str)
        if not listed or len(activations) != self.L:
            raise ValueError(
                f"activations must list one activation per layer (L={self.L}); got {activations!r}"
            )
        self.activations = [get_activation(a) for a in activations]
        self.loss = get_loss(loss)
        self.dtype = check_dtype(dtype)
        self.dropout = self._check_dropout(dropout)
        self.fused = is_fused(self.activations[-1], self.loss)
        inits = [init] * self.L if init is None or isinstance(init, str) else init
        if not (isinstance(inits, (Sequence, np.ndarray)) and len(inits) == self.L
                and all(i is None or isinstance(i, str) for i in inits)):
            raise ValueError(f"init must be one initializer name or L={self.L} names (None: by activation); "
                             f"got {init!r}")
        self.init = [i or a.default_init for i, a in zip(inits, self.activations)]
        rng = make_rng(seed)
        check_network_fits(self.sizes, self.dtype.itemsize, self.dtype.name)  # before allocating anything

        n_params = sum(n * (p + 1) for p, n in zip(self.sizes, self.sizes[1:]))
        self.flat = np.zeros(n_params, dtype=self.dtype)
        self.params: Params = self.views(self.flat)
        for (Theta, _), name, n_l, n_prev in zip(self.params, self.init, self.sizes[1:], self.sizes):
            Theta[...] = get_initializer(name)(n_l, n_prev, rng)  # drawn in float64, then rounded
        self.cache = Cache()

    def _check_dropout(self, dropout: float | Sequence[float]) -> tuple[float, ...]:
        if np.isscalar(dropout) and dropout and self.L == 1:
            raise ValueError(f"dropout={dropout!r} drops hidden units, and this network (L=1) has none")
        rates = [dropout] * (self.L - 1) if np.isscalar(dropout) else dropout
        if not isinstance(rates, (Sequence, np.ndarray)) or len(rates) != self.L - 1:
            raise ValueError(f"dropout must be one rate or L-1={self.L - 1} rates (hidden layers); got {dropout!r}")
        rates = [check_real(f"dropout rate for layer {l}", p, 0.0, 1.0, hi_open=True) for l, p in enumerate(rates, 1)]
        return tuple(rates) + (0.0,)  # the output layer never drops

    def views(self, flat: np.ndarray) -> Params:
        """Split a vector laid out like ``flat`` (a gradient, say) into (Theta[l], b[l]) views, layer by layer."""
        out, start = [], 0
        for n_prev, n_l in zip(self.sizes, self.sizes[1:]):
            Theta = flat[start : start + n_l * n_prev].reshape(n_l, n_prev)
            start += n_l * n_prev
            b = flat[start : start + n_l].reshape(n_l, 1)
            start += n_l
            out.append((Theta, b))
        return out

    # ---- forward (eq. 1) -------------------------------------------------------------
    def forward(
        self,
        X: np.ndarray,
        *,
        rng: np.random.Generator | None = None,
        masks: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """A[L] for X of shape (n_0, m); every Z[l], A[l] is kept in ``self.cache``.

        Dropout is applied only when ``rng`` is given (training) or ``masks`` are (to replay
        a mask, e.g. in a gradient check): inverted dropout, so A keeps its expected scale.
        """
        A = as_columns(X, self.sizes[0], self.dtype)
        c = self.cache = Cache(A=[A], Z=[None], M=[None], alpha_Z=[None])
        for l, ((Theta, b), act) in enumerate(zip(self.params, self.activations), start=1):
            Z = Theta @ A + b  # (1) Z[l] = Theta[l] A[l-1] + b[l]   (n_l, m)
            A = act.value(Z)  # (1) A[l] = alpha[l](Z[l])            (n_l, m)
            c.alpha_Z.append(A)
            M = self._mask(l, A.shape, rng, masks)
            if M is not None:
                A = A * M
            c.Z.append(Z)
            c.A.append(A)
            c.M.append(M)
        return A

    def _mask(self, l: int, shape: tuple[int, int], rng, masks) -> np.ndarray | None:
        if masks is not None:
            return masks[l]
        p = self.dropout[l - 1]
        if rng is None or p == 0.0:
            return None
        keep = dropout_keep(rng, p, np.empty(shape, bool), self.dtype)
        return keep * self.dtype.type(1.0 / (1.0 - p))

    # ---- cost (eq. 2) ------------------------------------------------------------------
    def cost(self, X: np.ndarray, Y: np.ndarray, *, l2: float = 0.0, sample_weight: np.ndarray | None = None,
             **forward_kwargs: Any) -> float:
        """J = 1/m sum_c sum_i err{A[L], Y} (+ l2/(2m) sum_l ||Theta[l]||^2); see ``cached_cost``."""
        self.forward(X, **forward_kwargs)
        return self.cached_cost(Y, l2=l2, sample_weight=sample_weight)

    def cached_cost(self, Y: np.ndarray, *, l2: float = 0.0, sample_weight: np.ndarray | None = None,
                    m: float | None = None) -> float:
        """The cost (eq. 2) of the last forward pass against Y (n_L, m).

        With ``sample_weight`` w (m,) each example's error counts w_c times and m becomes
        sum_c w_c: J = (sum_c w_c err_c + l2/2 sum_l ||Theta[l]||^2) / sum_c w_c, scikit-learn's
        weighted objective. ``m`` overrides the divisor (a data-parallel rank's columns are a
        share of a larger batch).
        """
        A_L, Z_L = self.cache.A[-1], self.cache.Z[-1]
        Y = self._targets(Y, A_L.shape[1])
        w, m = self._weights(sample_weight, m, A_L.shape[1])
        E = self.loss.err_from_logits(Z_L, Y) if self.fused else self.loss.err(A_L, Y)
        J = float(E.sum() if w is None else (E @ w).sum()) / m  # (2) 1/m sum_c [w_c] sum_i err
        if l2:
            J += self.l2_term(l2, m)
        return J

    def l2_term(self, l2: float, m: float) -> float:
        """The L2 share of the cost: l2/(2m) sum_l ||Theta[l]||^2 (biases exempt)."""
        return l2 / (2 * m) * sum(float(np.vdot(Theta, Theta)) for Theta, _ in self.params)

    def _targets(self, Y: np.ndarray, m: int) -> np.ndarray:
        Y = as_targets(Y, self.sizes[-1], m, self.dtype)
        self.loss.check_targets(Y)
        return Y

    def _weights(self, sample_weight: np.ndarray | None, m: float | None,
                 n_cols: int) -> tuple[np.ndarray | None, float]:
        """The checked weights (or None) and the divisor m of eq. 2: n_cols, sum(w), or the given m."""
        if sample_weight is None:
            return None, n_cols if m is None else m
        w = check_sample_weight(sample_weight, n_cols, self.dtype, some_positive=m is None)
        return w, float(w.sum(dtype=np.float64)) if m is None else m

    # ---- backward (A)-(D) -------------------------------------------------------------
    def backward(self, Y: np.ndarray, *, l2: float = 0.0, sample_weight: np.ndarray | None = None,
                 m: float | None = None, fused: bool = True) -> Params:
        """dTheta[l], db[l] for l = 1..L from the last forward pass; dZ[l], dA[l] kept in the cache.

        Like the derivation, dA and dZ are per-example derivatives (dA[L] = err', eq. 5) and
        the 1/m of eq. 2 enters in (A) and (B). With ``sample_weight`` w, column c of dA[L]
        (or of the fused dZ[L]) is multiplied by w_c and m is sum_c w_c (see ``cached_cost``).

        ``fused=False`` is for seeing the derivation, not for training: when the output and the
        loss fuse (``self.fused``), it still computes (5) ``dA[L] = err'{A[L], Y}`` and then (C)
        through the output activation (softmax's Jacobian-vector product), keeping ``dA[L]`` in
        the cache. The result equals the fused ``A[L] - Y`` to rounding, but (5) divides by A[L]
        (and 1 - A[L]), so saturated outputs give inf or NaN where the fused form stays exact.
        """
        c, L = self.cache, self.L
        if not c.Z:
            raise RuntimeError("backward needs a forward pass first: call forward(X) or gradients(X, Y)")
        Y = self._targets(Y, c.A[-1].shape[1])
        w, m = self._weights(sample_weight, m, c.A[-1].shape[1])
        c.dZ, c.dA = [None] * (L + 1), [None] * (L + 1)
        grads: Params = [None] * L  # type: ignore[list-item]
        shortcut = self.fused and fused
        if shortcut:
            dZ = c.A[L] - Y  # (C) fused with the loss: dA[L] * alpha'(Z[L]) = A[L] - Y
            if w is not None:
                dZ *= w  # weighted (C): w_c (A[L] - Y)
        else:
            dA = self.loss.derivative(c.A[L], Y)  # (5) dA[L] = err'{A[L], Y}
            if w is not None:
                dA = dA * w  # weighted (5): w_c err'{A[L], Y}
        for l in range(L, 0, -1):
            Theta, _ = self.params[l - 1]
            if l < L or not shortcut:
                c.dA[l] = dA
                if c.M[l] is not None:
                    dA = dA * c.M[l]  # dropout: only kept units pass gradient, with their scale
                dZ = self.activations[l - 1].backward(c.Z[l], c.alpha_Z[l], dA)  # (C) dZ = dA * alpha'(Z)
            c.dZ[l] = dZ
            dTheta = (dZ @ c.A[l - 1].T) / m  # (A) dTheta[l] = 1/m dZ[l] A[l-1]^T   (n_l, n_{l-1})
            if l2:
                dTheta += (l2 / m) * Theta  # the L2 term's share of (A); biases are exempt
            db = dZ.sum(axis=1, keepdims=True) / m  # (B) db[l] = 1/m sum_c dZ[l]     (n_l, 1)
            grads[l - 1] = (dTheta, db)
            if l > 1:
                dA = Theta.T @ dZ  # (D) dA[l-1] = Theta[l]^T dZ[l]                (n_{l-1}, m)
        return grads

    def gradients(self, X: np.ndarray, Y: np.ndarray, *, l2: float = 0.0, sample_weight: np.ndarray | None = None,
                  fused: bool = True, **forward_kwargs: Any) -> Params:
        """Forward then backward: the list of (dTheta[l], db[l]), same shapes as ``params``.

        ``fused=False`` computes (5) and (C) separately at the output (see ``backward``).
        """
        self.forward(X, **forward_kwargs)
        return self.backward(Y, l2=l2, sample_weight=sample_weight, fused=fused)

    def flatten(self, grads: Params, out: np.ndarray | None = None) -> np.ndarray:
        """Pack (dTheta, db) pairs into one vector laid out like ``flat``."""
        out = np.empty_like(self.flat) if out is None else out
        for (dst_T, dst_b), (dT, db) in zip(self.views(out), grads):
            dst_T[...] = dT
            dst_b[...] = db
        return out

    # ---- copies and description -----------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything but the weights, as JSON-able values (what a model file stores)."""
        return {
            "sizes": list(self.sizes),
            "activations": [a.config() for a in self.activations],
            "loss": self.loss.config(),
            "dtype": self.dtype.name,
            "init": list(self.init),
            "dropout": list(self.dropout[:-1]),
        }

    def astype(self, dtype: str | np.dtype) -> Network:
        """A copy in another dtype (an explicit conversion; nothing changes dtype silently)."""
        twin = Network(self.sizes, self.activations, self.loss, dtype=dtype, init=self.init,
                       dropout=self.dropout[:-1])
        twin.flat[...] = self.flat
        return twin

    def copy(self) -> Network:
        return self.astype(self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and deepcopy (joblib, scikit-learn's clone of a fitted estimator): ``params`` are
        views of ``flat``, which a pickle would store as separate copies, so they are rebuilt instead."""
        return {k: v for k, v in vars(self).items() if k not in ("params", "cache")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self.params, self.cache = self.views(self.flat), Cache()

    def __repr__(self) -> str:
        acts = ", ".join(a.name for a in self.activations)
        return (f"Network(sizes={list(self.sizes)}, activations=[{acts}], loss={self.loss.name!r}, "
                f"dtype={self.dtype.name!r}, params={self.flat.size})")
