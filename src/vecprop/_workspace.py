"""The fast engine's buffers for one batch size m: Z, A, dropout masks, dA and the kernels' scratch."""
from __future__ import annotations

import numpy as np

from ._kernels import Kernel, Scratch, SoftmaxKernel, kernel_for
from .network import Cache, Network, dropout_keep


class Workspace:
    """Every buffer one training step of batch size m needs, allocated once.

    ``Z[l]``, ``A[l]`` are (n_l, m) C-ordered; ``alpha_Z[l] is Z[l]`` for in-place kernels (except
    at a fused output, whose cost reads the logits), and ``A[l] is alpha_Z[l]`` without dropout.
    The (D) results dA[l] alternate between two buffers (dA[l-1] is computed from dZ[l], which
    sits in dA[l]'s buffer), and (C) overwrites dA[l] with dZ[l]. The kernels share up to two
    float and one boolean scratch buffer (n_l, m) across layers; ``S[l]`` is a kernel's own.
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
        n_max, classes = max(sizes[1:]), [kernel_for(act) for act in net.activations]
        # the kernels' float scratch, shared by every layer, only if one needs it: allocated memory that
        # is never written still raised the peak RSS of a 784-2048x3-10 benchmark process by 26 MiB
        used = classes[:-1] if net.fused else classes  # a fused output's (C) never runs
        floats = max((cls.floats for cls in used), default=0)
        F, G = (np.empty(n_max * m, dtype) if floats > k else None for k in (0, 1))
        mask, zeros = np.empty(n_max * m, bool), np.zeros((1, m), dtype)
        self.keep = [None] + [mask[: n * m].reshape(n, m) for n in sizes[1:]]  # dropout's keep, bool

        self.kernels: list[Kernel | None] = [None]
        self.Z: list[np.ndarray | None] = [None]
        self.alpha_Z: list[np.ndarray | None] = [None]
        self.A: list[np.ndarray | None] = [None]
        self.M: list[np.ndarray | None] = [None]
        for l, (n_l, act, cls) in enumerate(zip(sizes[1:], net.activations, classes), start=1):
            Z = np.empty((n_l, m), dtype)
            alpha_Z = Z if cls.in_place and not (l == L and net.fused) else np.empty_like(Z)
            S = np.empty_like(Z) if cls.saves else None
            scratch = Scratch(*(None if buf is None else buf[: n_l * m].reshape(n_l, m) for buf in (F, G, mask)),
                              zeros)
            extra = (self.col_max, self.col_sum) if cls is SoftmaxKernel else ()
            M = np.empty_like(Z) if dropout and net.dropout[l - 1] > 0 else None
            self.kernels.append(cls(act, Z, alpha_Z, S, scratch, *extra))
            self.Z.append(Z)
            self.alpha_Z.append(alpha_Z)
            self.M.append(M)
            self.A.append(alpha_Z if M is None else np.empty_like(Z))

        n_max = max(sizes[1:L], default=0)
        self._dA = [np.empty(n_max * m, dtype) for _ in range(2)]
        self.dA: list[np.ndarray | None] = [None] + [
            self._dA[l % 2][: n * m].reshape(n, m) for l, n in enumerate(sizes[1:L], start=1)
        ] + [None]
        # What the engine's cache shows after a step: the views that stay true until the next forward.
        # Z[l] is gone where alpha(Z) or the softmax shift overwrote it; dZ and dA share buffers.
        kept_Z = [None] + [None if self.alpha_Z[l] is self.Z[l] or isinstance(self.kernels[l], SoftmaxKernel)
                           else self.Z[l] for l in range(1, L + 1)]
        self.cache = Cache(A=list(self.A), Z=kept_Z, M=list(self.M), alpha_Z=list(self.alpha_Z),
                           dZ=[None] * (L + 1), dA=[None] * (L + 1))

    def drop(self, l: int, p: float, rng: np.random.Generator) -> np.ndarray:
        """A[l] = alpha(Z[l]) * M[l], with M drawn like ``Network._mask`` (same draws, same order)."""
        M, keep = self.M[l], self.keep[l]
        dropout_keep(rng, p, keep, M.dtype)
        np.multiply(keep, M.dtype.type(1.0 / (1.0 - p)), out=M)  # inverted dropout keeps the scale
        return np.multiply(self.alpha_Z[l], M, out=self.A[l])
