"""The scikit-learn adapter's hooks into ``vecprop.fit``: per-example weights and the end-of-epoch rule."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from .activations import Identity, Sigmoid, Softmax
from .callbacks import Callback
from .losses import Loss
from .network import Network


class SampleWeighted(Loss):
    """``w_c * err{z, y}`` for the current mini-batch's per-example weights ``w`` (1, m).

    The network's fused output gradient ``dZ[L] = A[L] - Y`` cannot carry a weight, so while a
    weighted epoch runs the output layer is the identity (A[L] = Z[L], the logits) and this loss
    applies the output function itself, stably from the logits:

    - ``out="softmax"``: err = -y log softmax(z), err' = w (softmax(z) - y)
    - ``out="sigmoid"``: err = softplus(z) - y z, err' = w (sigmoid(z) - y)
    - ``out="identity"``: the base loss's err and err', times w

    ``w`` is set before every batch by :class:`BatchWeights`; a batch of another size is an error.
    """

    def __init__(self, out: str, base: Loss) -> None:
        self.out, self.base = out, base
        self.name = f"sample_weighted_{base.name}"
        self.w: np.ndarray | None = None

    def _batch_weights(self, m: int) -> np.ndarray:
        if self.w is None or self.w.shape != (1, m):
            got = None if self.w is None else self.w.shape
            raise RuntimeError(f"sample weights for a batch of m={m} examples were not set (have {got})")
        return self.w

    def err(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        w = self._batch_weights(A.shape[1])
        E = self.base.err(A, Y) if self.out == "identity" else self.base.err_from_logits(A, Y)
        return E * w

    def derivative(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        w = self._batch_weights(A.shape[1])
        if self.out == "softmax":
            G = Softmax().value(A) - Y  # d/dz of -y log softmax(z), for probability columns y
        elif self.out == "sigmoid":
            G = Sigmoid().value(A) - Y  # d/dz of softplus(z) - y z
        else:
            G = self.base.derivative(A, Y)
        G *= w
        return G

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "out": self.out, "base": self.base.config()}


class BatchWeights(Callback):
    """Hands ``loss`` the weights of each mini-batch of an epoch run with ``shuffle=False``.

    Without shuffling ``fit`` cuts the epoch into consecutive batches of ``batch_size``, in order;
    batch 0's weights are set at the epoch's start and batch b+1's after batch b.
    """

    def __init__(self, loss: SampleWeighted, w: np.ndarray, batch_size: int) -> None:
        self.loss, self.w, self.batch_size = loss, w, batch_size

    def _set(self, batch: int) -> None:
        start = batch * self.batch_size
        self.loss.w = self.w[start : start + self.batch_size].reshape(1, -1)

    def on_epoch_begin(self, state: Any) -> None:
        self._set(0)

    def on_batch_end(self, state: Any) -> None:
        self._set(state.batch + 1)


class EndOfEpoch(Callback):
    """Calls ``epoch_ended(cost) -> stop`` after every epoch and stops ``fit`` when it says so."""

    def __init__(self, epoch_ended: Callable[[float], bool]) -> None:
        self._epoch_ended, self.stopped = epoch_ended, False

    def epoch_ended(self, cost: float) -> bool:
        self.stopped = bool(self._epoch_ended(cost))
        return self.stopped

    def on_epoch_end(self, state: Any) -> None:
        state.stop = self.epoch_ended(state.logs["cost"])


@contextmanager
def weighted_head(net: Network, loss: SampleWeighted) -> Iterator[SampleWeighted]:
    """Temporarily train ``net`` with an identity output and ``loss`` (see SampleWeighted)."""
    saved = net.activations[-1], net.loss, net.fused
    net.activations[-1], net.loss, net.fused = Identity(), loss, False
    try:
        yield loss
    finally:
        net.activations[-1], net.loss, net.fused = saved


def normalised(w: np.ndarray | None, alpha: float, dtype: np.dtype) -> tuple[np.ndarray | None, float]:
    """Weights (m,) rescaled to mean 1, in the network's dtype, and the L2 lambda that goes with them.

    With w' = w / mean(w) the cost 1/m sum_c w'_c err_c is scikit-learn's weighted mean
    sum_c w_c err_c / sum_c w_c, and lambda = alpha / mean(w) makes the L2 term
    alpha / (2 sum_c w_c) ||Theta||^2: a full batch with weight k trains like k copies.
    """
    if w is None:
        return None, alpha
    mean = float(w.mean())
    return (w / mean).astype(dtype), alpha / mean
