"""The fast engine's buffers for one batch size m, and its in-place activation kernels."""
from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS, Activation
from .network import Cache, Network


class Kernel:
    """The allocating fallback for any activation: alpha(Z) and (C) copied into the buffers.

    ``in_place`` kernels write A[l] = alpha(Z[l]) over Z[l] itself: their (C) reads only A.
    """

    in_place = False

    def __init__(self, act: Activation) -> None:
        self.act = act

    def forward(self, Z: np.ndarray, A: np.ndarray) -> None:
        """A = alpha(Z)  (1), into the (n_l, m) buffer A (which is Z for in-place kernels)."""
        A[...] = self.act.value(Z)

    def backward(self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dZ = dA * alpha'(Z)  (C), written over dA and returned; ``scratch`` is a bool (n_l, m) buffer."""
        dA[...] = self.act.backward(Z, A, dA)
        return dA

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.act.name})"


class IdentityKernel(Kernel):
    """alpha(z) = z: nothing to do either way (alpha' = 1)."""

    in_place = True

    def forward(self, Z, A):
        pass

    def backward(self, Z, A, dA, scratch):
        return dA


class ReLUKernel(Kernel):
    """A = max(Z, 0) in place; (C) multiplies dA by the boolean mask A > 0, which equals Z > 0."""

    in_place = True

    def forward(self, Z, A):
        np.maximum(Z, 0, out=A)

    def backward(self, Z, A, dA, scratch):
        np.greater(A, 0, out=scratch)  # boolean mask: faster than np.where or a float mask
        np.multiply(dA, scratch, out=dA)
        return dA


class TanhKernel(Kernel):
    """A = tanh(Z) in place; (C) dZ = dA * (1 - A * A)."""

    in_place = True

    def forward(self, Z, A):
        np.tanh(Z, out=A)

    def backward(self, Z, A, dA, scratch):
        tmp = np.multiply(A, A)  # (n_l, m); rare enough in the hot path not to need a buffer
        np.subtract(1, tmp, out=tmp)
        np.multiply(dA, tmp, out=dA)
        return dA


class SoftmaxCrossEntropyKernel(Kernel):
    """Softmax fused with cross-entropy: Z becomes the shifted logits, A = e^Z / sum e^Z.

    The column maxima and sums are kept in the workspace for the cost; (C) is never called
    (dZ[L] = A[L] - Y comes from the loss).
    """

    def __init__(self, act: Activation, col_max: np.ndarray, col_sum: np.ndarray) -> None:
        super().__init__(act)
        self.col_max, self.col_sum = col_max, col_sum

    def forward(self, Z, A):
        # ufunc.reduce is np.max / np.sum without their Python wrappers (half the cost at small m)
        np.maximum.reduce(Z, axis=0, keepdims=True, out=self.col_max)  # (1, m)
        np.subtract(Z, self.col_max, out=Z)  # shifted logits: softmax is unchanged, e^z cannot overflow
        np.exp(Z, out=A)
        np.add.reduce(A, axis=0, keepdims=True, out=self.col_sum)
        np.divide(A, self.col_sum, out=A)


KERNELS: dict[str, type[Kernel]] = {"identity": IdentityKernel, "relu": ReLUKernel, "tanh": TanhKernel}


def kernel_for(act: Activation) -> type[Kernel]:
    """The in-place kernel class for a built-in activation, else the allocating fallback."""
    builtin = type(act) is ACTIVATIONS.get(act.name)  # not a user subclass that reuses the name
    return KERNELS.get(act.name, Kernel) if builtin else Kernel


class Workspace:
    """Every buffer one training step of batch size m needs, allocated once.

    ``Z[l]``, ``A[l]`` are (n_l, m) C-ordered; ``A[l] is Z[l]`` for in-place kernels without
    dropout. The (D) results dA[l] alternate between two buffers (dA[l-1] is computed from
    dZ[l], which sits in dA[l]'s buffer), and (C) overwrites dA[l] with dZ[l]. ``scratch[l]``
    is a boolean (n_l, m) view of one buffer shared by all layers (ReLU's mask, dropout's keep).
    """

    def __init__(self, net: Network, m: int, dropout: bool) -> None:
        self.m, dtype, L, sizes = m, net.dtype, net.L, net.sizes
        fused_softmax = net.fused and net.loss.name == "cross_entropy"
        self.col_max = np.empty((1, m), dtype)
        self.col_sum = np.empty((1, m), dtype)
        self.log_sum = np.empty((1, m), dtype) if fused_softmax else None
        self.out_tmp = np.empty((sizes[-1], m), dtype) if fused_softmax else None
        self.ones = np.ones(m, dtype)  # (B) as a product: sum_c dZ[:, c] = dZ @ 1
        self.dZ_L = np.empty((sizes[-1], m), dtype)

        self.kernels: list[Kernel | None] = [None]
        self.Z: list[np.ndarray | None] = [None]
        self.alpha_Z: list[np.ndarray | None] = [None]
        self.A: list[np.ndarray | None] = [None]
        self.M: list[np.ndarray | None] = [None]
        for l, (n_l, act) in enumerate(zip(sizes[1:], net.activations), start=1):
            if l == L and fused_softmax:
                kernel: Kernel = SoftmaxCrossEntropyKernel(act, self.col_max, self.col_sum)
            else:
                kernel = kernel_for(act)(act)
            Z = np.empty((n_l, m), dtype)
            alpha_Z = Z if kernel.in_place else np.empty_like(Z)
            p = net.dropout[l - 1]
            M = np.empty_like(Z) if dropout and p > 0 else None
            self.kernels.append(kernel)
            self.Z.append(Z)
            self.alpha_Z.append(alpha_Z)
            self.M.append(M)
            self.A.append(alpha_Z if M is None else np.empty_like(Z))

        n_max = max(sizes[1:L], default=0)
        self._dA = [np.empty(n_max * m, dtype) for _ in range(2)]
        self.dA: list[np.ndarray | None] = [None] + [
            self._dA[l % 2][: n * m].reshape(n, m) for l, n in enumerate(sizes[1:L], start=1)
        ] + [None]
        self._mask = np.empty(max(sizes[1:]) * m, dtype=bool)
        self.scratch = [None] + [self._mask[: n * m].reshape(n, m) for n in sizes[1:]]  # bool (n_l, m), shared
        # What net.cache shows after a fast step: the views that stay true until the next forward.
        # Z[l] is gone where alpha(Z) or the softmax shift overwrote it; dZ and dA share buffers.
        kept_Z = [None] + [None if self.alpha_Z[l] is self.Z[l] or isinstance(self.kernels[l],
                           SoftmaxCrossEntropyKernel) else self.Z[l] for l in range(1, L + 1)]
        self.cache = Cache(A=list(self.A), Z=kept_Z, M=list(self.M), alpha_Z=list(self.alpha_Z),
                           dZ=[None] * (L + 1), dA=[None] * (L + 1))

    def drop(self, l: int, p: float, rng: np.random.Generator) -> np.ndarray:
        """A[l] = alpha(Z[l]) * M[l], with M drawn like ``Network._mask`` (same draws, same order)."""
        M, keep, dtype = self.M[l], self.scratch[l], self.Z[l].dtype
        rng.random(dtype=dtype, out=M)  # uniform [0, 1) draws, C order, like rng.random((n_l, m))
        np.greater_equal(M, p, out=keep)
        np.multiply(keep, dtype.type(1.0 / (1.0 - p)), out=M)  # inverted dropout keeps the scale
        return np.multiply(self.alpha_Z[l], M, out=self.A[l])
