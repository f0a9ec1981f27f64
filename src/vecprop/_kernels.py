"""The fast engine's activation kernels: alpha(Z) (1) and (C) for one layer, in place over preallocated buffers.

Chosen by measuring numpy's ufuncs on (n_l, m) float32 blocks (ns per element, AVX2): + - * / and
comparisons 0.1-0.2, ``maximum`` with two arrays 0.15, with a (1, m) row of zeros 0.28, but with a
scalar 0.55, a bool-times-float multiply 0.3, exp 1.4, tanh 2.9, log 3.0, but expm1 and log1p 14
(no SIMD) and any ufunc with ``where=`` 5-13. So the kernels form each alpha and
alpha' from the fast ufuncs only, at the price of exp(x) - 1 for expm1(x) and log(1 + x) for
log1p(x): the same numbers to float rounding, in absolute terms.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import ACTIVATIONS, GELU, Activation


class Scratch(NamedTuple):
    """Buffers (n_l, m) that every layer's kernel may use and that no kernel keeps between calls."""

    F: np.ndarray | None  # float; allocated only when a kernel of the network needs it (``floats``)
    G: np.ndarray | None  # float
    mask: np.ndarray  # bool
    zeros: np.ndarray  # (1, m) zeros, read only: max(Z, zeros) is twice as fast as max(Z, 0)


class Kernel:
    """The allocating fallback for any activation: alpha(Z) and (C) copied into the buffers.

    A kernel is built per layer and workspace with the buffers it may use: ``Z`` (n_l, m), ``A``
    (the same array as Z for ``in_place`` kernels, whose (C) then reads only A), ``S`` (a buffer
    of its own kept from forward to backward, for kernels that ``save`` a factor of alpha') and
    the shared ``Scratch``.
    """

    in_place = False  # A[l] = alpha(Z[l]) is written over Z[l]
    saves = False  # needs S[l]: a factor of alpha' computed by the forward pass, read by (C)
    floats = 0  # how many of the float scratch buffers (F, G) it uses

    def __init__(self, act: Activation, Z: np.ndarray, A: np.ndarray, S: np.ndarray | None, scratch: Scratch) -> None:
        self.act, self.Z, self.A, self.S = act, Z, A, S
        self.F, self.G, self.mask, self.zeros = scratch

    def forward(self) -> None:
        """A = alpha(Z)  (1)."""
        self.A[...] = self.act.value(self.Z)

    def backward(self, dA: np.ndarray) -> np.ndarray:
        """dZ = dA * alpha'(Z)  (C), written over dA (n_l, m) and returned."""
        dA[...] = self.act.backward(self.Z, self.A, dA)
        return dA

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.act.name}, {self.Z.shape})"


class IdentityKernel(Kernel):
    """alpha(z) = z: nothing to do either way (alpha' = 1)."""

    in_place = True

    def forward(self):
        pass

    def backward(self, dA):
        return dA


class ReLUKernel(Kernel):
    """A = max(Z, 0); (C) multiplies dA by the boolean mask A > 0, which equals Z > 0."""

    in_place = True

    def forward(self):
        np.maximum(self.Z, self.zeros, out=self.A)

    def backward(self, dA):
        np.greater(self.A, 0, out=self.mask)  # boolean mask: faster than np.where or a float mask
        return np.multiply(dA, self.mask, out=dA)


class LeakyReLUKernel(Kernel):
    """A = max(Z, slope Z) (min for a slope above 1); alpha' = max(A > 0, slope) (min above 1)."""

    floats = 1
    in_place = True

    def forward(self):
        F = np.multiply(self.Z, self.act.slope, out=self.F)
        (np.maximum if self.act.slope <= 1 else np.minimum)(self.Z, F, out=self.A)

    def backward(self, dA):
        np.greater(self.A, 0, out=self.mask)  # A > 0 exactly where Z > 0
        F = np.multiply(self.mask, self.A.dtype.type(1.0), out=self.F)
        (np.maximum if self.act.slope <= 1 else np.minimum)(F, self.act.slope, out=F)  # 1 where Z > 0, else slope
        return np.multiply(dA, F, out=dA)


class ELUKernel(Kernel):
    """A = max(Z, 0) + alpha (e^min(Z, 0) - 1); alpha' = min(A, 0) + alpha where Z <= 0 (alpha e^Z), else 1."""

    floats = 2
    in_place = True

    def forward(self):
        F = np.minimum(self.Z, self.zeros, out=self.F)
        np.exp(F, out=F)
        F -= 1
        if self.act.alpha != 1.0:
            F *= self.act.alpha
        np.maximum(self.Z, self.zeros, out=self.A)
        self.A += F

    def backward(self, dA):
        F = np.minimum(self.A, self.zeros, out=self.F)
        F += self.act.alpha  # alpha e^Z where Z <= 0; alpha where Z > 0, which must be 1
        if self.act.alpha != 1.0:
            np.greater(self.A, 0, out=self.mask)
            G = np.multiply(self.mask, self.A.dtype.type(1.0 - self.act.alpha), out=self.G)
            F += G
        return np.multiply(dA, F, out=dA)


class SigmoidKernel(Kernel):
    """A = sigmoid(Z), only e^-|Z| formed (no overflow); alpha' = A (1 - A)."""

    floats = 1
    in_place = True

    def forward(self):
        _sigmoid_into(self.Z, self.A, self.F, self.mask)

    def backward(self, dA):
        F = np.subtract(1, self.A, out=self.F)
        F *= self.A
        return np.multiply(dA, F, out=dA)


class TanhKernel(Kernel):
    """A = tanh(Z); alpha' = 1 - A^2."""

    floats = 1
    in_place = True

    def forward(self):
        np.tanh(self.Z, out=self.A)

    def backward(self, dA):
        F = np.multiply(self.A, self.A, out=self.F)
        np.subtract(1, F, out=F)
        return np.multiply(dA, F, out=dA)


class ExpKernel(Kernel):
    """A = e^Z; alpha' = A."""

    in_place = True

    def forward(self):
        np.exp(self.Z, out=self.A)

    def backward(self, dA):
        return np.multiply(dA, self.A, out=dA)


class SoftplusKernel(Kernel):
    """A = max(Z, 0) + log(1 + e^-|Z|); alpha' = sigmoid(Z) = 1 - e^-A."""

    floats = 1
    in_place = True

    def forward(self):
        F = np.abs(self.Z, out=self.F)
        np.negative(F, out=F)
        np.exp(F, out=F)
        F += 1
        np.log(F, out=F)
        np.maximum(self.Z, self.zeros, out=self.A)
        self.A += F

    def backward(self, dA):
        F = np.negative(self.A, out=self.F)
        np.exp(F, out=F)
        np.subtract(1, F, out=F)
        return np.multiply(dA, F, out=dA)


class SiLUKernel(Kernel):
    """A = Z s with s = sigmoid(Z) kept in S; alpha' = s (1 + Z (1 - s)) = s + A (1 - s)."""

    floats = 1
    in_place, saves = True, True

    def forward(self):
        _sigmoid_into(self.Z, self.S, self.F, self.mask)
        np.multiply(self.Z, self.S, out=self.A)

    def backward(self, dA):
        F = np.subtract(1, self.S, out=self.F)
        F *= self.A
        F += self.S
        return np.multiply(dA, F, out=dA)


class GELUKernel(Kernel):
    """GELU's tanh form: A = Z h with h = (1 + tanh(u)) / 2 kept in S, u = c (Z + k Z^3).

    alpha' = h + Z h' = h + 4 h (1 - h) Z (c/2 + 3 c k Z^2 / 2), as (1 - tanh^2) / 2 = 2 h (1 - h).
    """

    floats = 2
    saves = True  # A needs its own buffer: alpha' reads Z

    def forward(self):
        k, c = GELU._k, GELU._c
        F = np.multiply(self.Z, self.Z, out=self.F)
        F *= c * k
        F += c
        F *= self.Z  # u = Z (c + c k Z^2)
        S = np.tanh(F, out=self.S)
        S *= 0.5
        S += 0.5  # h
        np.multiply(self.Z, S, out=self.A)

    def backward(self, dA):
        k, c = GELU._k, GELU._c
        F = np.multiply(self.Z, self.Z, out=self.F)
        F *= 6 * c * k
        F += 2 * c
        F *= self.Z  # 4 (c/2 + 3 c k Z^2 / 2) Z
        G = np.subtract(1, self.S, out=self.G)
        G *= self.S  # h (1 - h)
        F *= G
        F += self.S
        return np.multiply(dA, F, out=dA)


class SoftmaxKernel(Kernel):
    """Column-wise softmax over the shifted logits (Z becomes Z - max Z); (C) is its Jacobian-vector product.

    ``col_max`` and ``col_sum`` (1, m) are the workspace's: the fused cost reads them.
    """

    floats = 1
    in_place = True

    def __init__(self, act, Z, A, S, scratch, col_max: np.ndarray, col_sum: np.ndarray) -> None:
        super().__init__(act, Z, A, S, scratch)
        self.col_max, self.col_sum = col_max, col_sum
        self.ones = np.ones(len(Z), Z.dtype)  # column sums as a product: 1^T A (a BLAS call, not a reduction)

    def forward(self):
        # ufunc.reduce is np.max without its Python wrapper (half the cost at small m)
        np.maximum.reduce(self.Z, axis=0, keepdims=True, out=self.col_max)  # (1, m)
        np.subtract(self.Z, self.col_max, out=self.Z)  # shifted logits: softmax is unchanged, e^z cannot overflow
        np.exp(self.Z, out=self.A)
        np.dot(self.ones, self.A, out=self.col_sum[0])
        np.divide(self.A, self.col_sum, out=self.A)

    def backward(self, dA):
        F = np.multiply(self.A, dA, out=self.F)  # column c: dZ = a * (dA - <a, dA>)
        np.dot(self.ones, F, out=self.col_max[0])  # col_max is free after the forward
        np.subtract(dA, self.col_max, out=dA)
        return np.multiply(dA, self.A, out=dA)


def _sigmoid_into(Z: np.ndarray, out: np.ndarray, F: np.ndarray, mask: np.ndarray) -> None:
    """out = sigmoid(Z) = N / (1 + e) with e = e^-|Z| and N = 1 where Z >= 0, else e (``activations._sigmoid``).

    N = max(e, Z >= 0), as e <= 1; ``out`` may be Z.
    """
    np.greater_equal(Z, 0, out=mask)
    E = np.abs(Z, out=F)
    np.negative(E, out=E)
    np.exp(E, out=E)  # e^-|z| <= 1
    np.add(E, 1, out=out)
    np.maximum(E, mask, out=E)  # N
    np.divide(E, out, out=out)


KERNELS: dict[str, type[Kernel]] = {
    "identity": IdentityKernel, "relu": ReLUKernel, "leaky_relu": LeakyReLUKernel, "elu": ELUKernel,
    "sigmoid": SigmoidKernel, "tanh": TanhKernel, "softplus": SoftplusKernel, "silu": SiLUKernel,
    "gelu": GELUKernel, "softmax": SoftmaxKernel, "exp": ExpKernel,
}


def kernel_for(act: Activation) -> type[Kernel]:
    """The in-place kernel class for a built-in activation, else the allocating fallback."""
    builtin = type(act) is ACTIVATIONS.get(act.name)  # not a user subclass that reuses the name
    return KERNELS.get(act.name, Kernel) if builtin else Kernel
