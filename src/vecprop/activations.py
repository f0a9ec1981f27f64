"""Activation functions alpha[l]: value, derivative alpha'[l], and the backward step (C)."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._checks import check_real
from ._registry import Registry


@runtime_checkable
class ActivationLike(Protocol):
    """What a user-defined activation must provide: alpha(Z) and alpha'(Z), element-wise."""

    def value(self, Z: np.ndarray) -> np.ndarray: ...

    def derivative(self, Z: np.ndarray) -> np.ndarray: ...


class Configurable:
    """Described by a JSON-able ``config()``: it drives repr, equality and model files."""

    name: str = ""

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({extra})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))


class Activation(Configurable):
    """An element-wise activation alpha with its derivative alpha'.

    Subclasses override ``value`` and ``derivative``; ``backward`` is equation (C),
    ``dZ = dA * alpha'(Z)``, which holds only for element-wise activations. Softmax
    overrides ``backward`` with its Jacobian-vector product.
    """

    name: str = ""
    elementwise: bool = True
    kink: bool = False  # derivative is discontinuous at 0: central differences straddling it mislead
    default_init: str = "glorot_uniform"  # Theta[l]'s initialiser unless one is named: Glorot; He for the ReLU family

    def value(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, Z: np.ndarray, A: np.ndarray | None = None) -> np.ndarray:
        """alpha'(Z), element-wise; ``A = alpha(Z)`` may be passed to avoid recomputing it."""
        raise NotImplementedError

    def backward(self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """dZ = dA * alpha'(Z)  (C), with the prime the derivation's (C) leaves out."""
        return dA * self.derivative(Z, A)


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow: only e^-|z| is ever formed."""
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(Z.dtype, copy=False)


class Identity(Activation):
    name = "identity"

    def value(self, Z):
        return Z.copy()

    def derivative(self, Z, A=None):
        return np.ones_like(Z)

    def backward(self, Z, A, dA):
        return dA.copy()  # alpha' = 1


class Sigmoid(Activation):
    name = "sigmoid"

    def value(self, Z):
        return _sigmoid(Z)

    def derivative(self, Z, A=None):
        A = _sigmoid(Z) if A is None else A
        return A * (1 - A)


class Tanh(Activation):
    name = "tanh"

    def value(self, Z):
        return np.tanh(Z)

    def derivative(self, Z, A=None):
        A = np.tanh(Z) if A is None else A
        return 1 - A * A


class ReLU(Activation):
    name = "relu"
    default_init = "he_normal"
    kink = True

    def value(self, Z):
        return np.maximum(Z, 0)

    def derivative(self, Z, A=None):
        return (Z > 0).astype(Z.dtype)

    def backward(self, Z, A, dA):
        return dA * (Z > 0)  # multiply by a boolean mask: the fastest numpy form


class LeakyReLU(Activation):
    name = "leaky_relu"
    default_init = "he_normal"
    kink = True

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = check_real("leaky_relu slope", slope, 0.0)

    def value(self, Z):
        return np.where(Z > 0, Z, self.slope * Z)

    def derivative(self, Z, A=None):
        return np.where(Z > 0, 1.0, self.slope).astype(Z.dtype)

    def config(self):
        return {"name": self.name, "slope": self.slope}


class ELU(Activation):
    name = "elu"
    default_init = "he_normal"
    kink = True  # alpha' jumps at 0 unless alpha == 1

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_real("elu alpha", alpha, 0.0, lo_open=True)

    def value(self, Z):
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0)))

    def derivative(self, Z, A=None):
        return np.where(Z > 0, 1.0, self.alpha * np.exp(np.minimum(Z, 0))).astype(Z.dtype)

    def config(self):
        return {"name": self.name, "alpha": self.alpha}


class Softplus(Activation):
    name = "softplus"

    def value(self, Z):
        return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))  # log(1 + e^z), stable

    def derivative(self, Z, A=None):
        return _sigmoid(Z)


class Exp(Activation):
    """alpha(z) = e^z = alpha'(z): the inverse of the log link, a positive rate (Poisson regression's output)."""

    name = "exp"

    def value(self, Z):
        return np.exp(Z)

    def derivative(self, Z, A=None):
        return np.exp(Z) if A is None else A.copy()


class GELU(Activation):
    """GELU in its tanh form (PyTorch's ``approximate='tanh'``): numpy has no erf."""

    name = "gelu"
    default_init = "he_normal"
    _c = float(np.sqrt(2.0 / np.pi))  # a Python float: a numpy float64 scalar would promote float32 Z
    _k = 0.044715

    def value(self, Z):
        return 0.5 * Z * (1 + np.tanh(self._c * (Z + self._k * (Z * Z * Z))))  # Z**3 is ~200x slower (pow)

    def derivative(self, Z, A=None):
        t = np.tanh(self._c * (Z + self._k * (Z * Z * Z)))
        return 0.5 * (1 + t) + 0.5 * Z * (1 - t * t) * self._c * (1 + 3 * self._k * Z * Z)


class SiLU(Activation):
    name = "silu"
    default_init = "he_normal"

    def value(self, Z):
        return Z * _sigmoid(Z)

    def derivative(self, Z, A=None):
        s = _sigmoid(Z)
        return s * (1 + Z * (1 - s))


class Softmax(Activation):
    """Column-wise softmax: A[:, c] = e^{Z[:, c]} / sum_i e^{Z[i, c]}. Not element-wise."""

    name = "softmax"
    elementwise = False

    def value(self, Z):
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        return E / E.sum(axis=0, keepdims=True)

    def derivative(self, Z, A=None):
        raise TypeError(
            "softmax is not element-wise: alpha'(Z) is a Jacobian per column, so (C) does not "
            "apply; use Softmax.backward(Z, A, dA), its Jacobian-vector product"
        )

    def backward(self, Z, A, dA):
        # Column c: dZ = J^T dA with J = diag(a) - a a^T, i.e. a * (dA - <a, dA>).
        return A * (dA - (A * dA).sum(axis=0, keepdims=True))


class _Custom(Activation):
    """Wraps a user object that has value(Z) and derivative(Z)."""

    def __init__(self, obj: ActivationLike) -> None:
        self.obj = obj
        self.name = getattr(obj, "name", type(obj).__name__)

    def value(self, Z):
        return self.obj.value(Z)

    def derivative(self, Z, A=None):
        return self.obj.derivative(Z)

    def config(self):
        return {"name": self.name, "custom": True}


ACTIVATIONS: Registry[type[Activation]] = Registry("activation", {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Exp, GELU, SiLU, Softmax)
})


def get_activation(spec: str | dict[str, Any] | Activation | ActivationLike) -> Activation:
    """Turn a name, a config dict or an object into an Activation: the one place strings become objects."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, (str, dict)):
        return ACTIVATIONS.build(spec)
    if isinstance(spec, ActivationLike):
        return _Custom(spec)
    raise TypeError(
        f"an activation must be a name ({', '.join(ACTIVATIONS)}) or an object with "
        f"value(Z) and derivative(Z); got {type(spec).__name__}"
    )
