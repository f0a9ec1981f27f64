"""Losses err{A, y} and err'{A, y} (eq. 2 and eq. 5), with the fused, stable output gradients."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_real
from ._registry import Registry
from .activations import Activation, Configurable, Exp, Sigmoid, Softmax


class Loss(Configurable):
    """An element-wise error err{a, y}; J = 1/m sum_c sum_i err{A_i^(c), y_i^(c)}  (eq. 2).

    ``derivative`` is err', the entries of dA[L]  (eq. 5). ``fuses_with`` names the output
    activation for which err(alpha(z)) simplifies: then the cost is computed from the logits
    Z[L] and dZ[L] = A[L] - Y directly, which never divides by A or forms log(0).
    """

    name: str = ""
    fuses_with: type[Activation] | None = None

    def err(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def err_from_logits(self, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_targets(self, Y: np.ndarray) -> None:
        """Raise ValueError when Y lies outside the loss's domain."""

    def kink_distance(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
        """How far each entry of A lies from a jump in err' or err'' (None: err is smooth)."""
        return None


class SquaredError(Loss):
    """err = (a - y)^2 / 2, err' = a - y."""

    name = "squared_error"

    def err(self, A, Y):
        return 0.5 * (A - Y) ** 2

    def derivative(self, A, Y):
        return A - Y


class AbsoluteError(Loss):
    """err = |a - y|, err' = sign(a - y) (0 at the kink, as in PyTorch)."""

    name = "absolute_error"

    def kink_distance(self, A, Y):
        return np.abs(A - Y)

    def err(self, A, Y):
        return np.abs(A - Y)

    def derivative(self, A, Y):
        return np.sign(A - Y)


class Huber(Loss):
    """err = d^2/2 for |d| <= delta, else delta (|d| - delta/2), with d = a - y (PyTorch's HuberLoss)."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = check_real("huber delta", delta, 0.0, lo_open=True)

    def err(self, A, Y):
        d = np.abs(A - Y)
        return np.where(d <= self.delta, 0.5 * d * d, self.delta * (d - 0.5 * self.delta))

    def derivative(self, A, Y):
        return np.clip(A - Y, -self.delta, self.delta)

    def kink_distance(self, A, Y):
        return np.abs(np.abs(A - Y) - self.delta)  # err'' jumps where |a - y| = delta

    def config(self):
        return {"name": self.name, "delta": self.delta}


class BinaryCrossEntropy(Loss):
    """err = -(y log a + (1 - y) log(1 - a)); with sigmoid: softplus(z) - y z, dZ = a - y."""

    name = "binary_cross_entropy"
    fuses_with = Sigmoid

    def err(self, A, Y):
        tiny = np.finfo(A.dtype).tiny
        return -(Y * np.log(np.maximum(A, tiny)) + (1 - Y) * np.log(np.maximum(1 - A, tiny)))

    def derivative(self, A, Y):
        return (A - Y) / (A * (1 - A))

    def err_from_logits(self, Z, Y):
        return np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))

    def check_targets(self, Y):
        if Y.size and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(
                f"binary_cross_entropy needs targets in [0, 1]; got values from {Y.min():g} to {Y.max():g}"
            )


class CrossEntropy(Loss):
    """err = -y log a for one-hot (or probability) columns y; with softmax: dZ = A - Y."""

    name = "cross_entropy"
    fuses_with = Softmax

    def err(self, A, Y):
        return -Y * np.log(np.maximum(A, np.finfo(A.dtype).tiny))

    def derivative(self, A, Y):
        return -Y / A

    def err_from_logits(self, Z, Y):
        shifted = Z - Z.max(axis=0, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        return -Y * log_softmax

    def check_targets(self, Y):
        if not Y.size:
            return
        if Y.min() < 0:
            raise ValueError(f"cross_entropy needs probability columns in Y; found a negative entry {Y.min():g}")
        sums = Y.sum(axis=0)
        bad = np.flatnonzero(np.abs(sums - 1) > 1e-3 if Y.dtype == np.float32 else np.abs(sums - 1) > 1e-6)
        if bad.size:
            raise ValueError(
                f"cross_entropy needs each column of Y (one example) to be a probability vector "
                f"(one-hot); column {bad[0]} sums to {sums[bad[0]]:g}. "
                f"For integer labels y use vecprop.one_hot(y, n_classes)"
            )


class Poisson(Loss):
    """Half the Poisson deviance: err = y log(y/a) - y + a, err' = 1 - y/a; with exp (the log link): dZ = a - y.

    The output a is a positive rate and y a count (or any y >= 0); err is 0 at a = y. From the
    logits, err(e^z) = e^z - y z + y log y - y never divides by a. This is scikit-learn's
    ``loss="poisson"`` for MLPRegressor (y log y is 0 at y = 0).
    """

    name = "poisson"
    fuses_with = Exp

    def err(self, A, Y):
        tiny = np.finfo(A.dtype).tiny
        return Y * (np.log(np.maximum(Y, tiny)) - np.log(np.maximum(A, tiny))) - Y + A

    def derivative(self, A, Y):
        return 1 - Y / A

    def err_from_logits(self, Z, Y):
        return np.exp(Z) - Y * Z + Y * np.log(np.maximum(Y, np.finfo(Z.dtype).tiny)) - Y

    def check_targets(self, Y):
        if Y.size and Y.min() < 0:
            raise ValueError(f"poisson needs targets >= 0 (counts or rates); got a minimum of {Y.min():g}")


LOSSES: Registry[type[Loss]] = Registry("loss", {
    cls.name: cls for cls in (SquaredError, BinaryCrossEntropy, CrossEntropy, AbsoluteError, Huber, Poisson)
})


def get_loss(spec: str | dict[str, Any] | Loss) -> Loss:
    """Turn a name or config dict into a Loss; an unknown name lists the valid ones."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, (str, dict)):
        raise TypeError(f"loss must be a name ({', '.join(LOSSES)}) or a Loss; got {type(spec).__name__}")
    return LOSSES.build(spec)


def is_fused(activation: Activation, loss: Loss) -> bool:
    """True when dZ[L] = A[L] - Y: softmax + cross-entropy, sigmoid + binary cross-entropy."""
    return loss.fuses_with is not None and type(activation) is loss.fuses_with


PROBABILITY_LOSSES = ("cross_entropy", "binary_cross_entropy")
"""Losses whose err takes probabilities: after an output that is not one (softmax, sigmoid) they only diverge."""


def output_activation(loss: str | dict[str, Any] | Loss) -> str:
    """The output activation a loss is made for: the one it fuses with, else the identity.

    The one place this mapping lives: softmax for cross-entropy, sigmoid for binary
    cross-entropy, exp for poisson, identity for the other regression losses.
    """
    fuses_with = get_loss(loss).fuses_with
    return "identity" if fuses_with is None else fuses_with.name
