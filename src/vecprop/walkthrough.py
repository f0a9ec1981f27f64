"""One update of the derivation in order: forward (1), cost (2), (5), (C), (A), (B), (D), the update."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._registry import Registry
from .network import Network, Params

UPDATE_RULES: Registry[str] = Registry("optimizer", {
    "sgd": "{P} <- {P} - lr d{P}",
    "momentum": "v <- momentum v + d{P}; {P} <- {P} - lr v",
    "nesterov": "v <- momentum v + d{P}; {P} <- {P} - lr (d{P} + momentum v)",
    "rmsprop": "s <- rho s + (1 - rho) d{P}^2; {P} <- {P} - lr d{P} / (sqrt(s) + eps)",
    "adam": "v1 <- b1 v1 + (1 - b1) d{P}; v2 <- b2 v2 + (1 - b2) d{P}^2; "
            "{P} <- {P} - lr v1^ / (sqrt(v2^) + eps)  (^: bias-corrected)",
    "adamw": "{P} <- {P} (1 - lr wd), then adam's step",
})
"""Each optimizer's update of one parameter P (Theta[l] or b[l]), as ``vecprop.optimizers`` computes it."""


@dataclass(frozen=True)
class Step:
    """One equation of one update: its tag, the layer and symbol it computes, the equation itself.

    ``name`` (``"Z[1]"``, ``"dTheta[2]"``, ``"J"``, ``"Theta_new[1]"``) is the key of the value
    in ``values(...)``; an update step's symbol is ``Theta_new`` or ``b_new``, the parameter after it.
    """

    tag: str  # "(1)", "(2)", "(5)", "(C)", "(A)", "(B)", "(D)" or "update"
    layer: int
    symbol: str  # "Z", "A", "J", "dA", "dZ", "dTheta", "db", "Theta_new", "b_new"
    equation: str
    note: str = ""

    @property
    def name(self) -> str:
        return self.symbol if self.symbol == "J" else f"{self.symbol}[{self.layer}]"


def steps(net: Network, *, fused: bool = True, l2: float = 0.0, optimizer: str = "sgd") -> list[Step]:
    """Every step of one update of ``net`` in the order it runs; ``fused`` as in ``Network.backward``."""
    rule = UPDATE_RULES.lookup(optimizer)
    L, acts = net.L, net.activations
    out: list[Step] = []
    for l in range(1, L + 1):
        out.append(Step("(1)", l, "Z", f"Z[{l}] = Theta[{l}] A[{l - 1}] + b[{l}]",
                        "b is added to every column (example): one bias per unit" if l == 1 else ""))
        mask = f" * M[{l}]" if net.dropout[l - 1] else ""
        note = f"dropout: M[{l}] keeps a unit with probability {1 - net.dropout[l - 1]:g}, scaled" if mask else ""
        out.append(Step("(1)", l, "A", f"A[{l}] = {acts[l - 1].name}(Z[{l}]){mask}", note))
    l2_term = f" + {l2:g}/(2m) sum_l ||Theta[l]||^2" if l2 else ""
    out.append(Step("(2)", L, "J", f"J = 1/m sum_c sum_i err(A[{L}], Y){l2_term}", f"err is {net.loss.name}"))
    shortcut = net.fused and fused
    for l in range(L, 0, -1):
        act = acts[l - 1]
        if l == L and shortcut:
            out.append(Step("(C)", L, "dZ", f"dZ[{L}] = A[{L}] - Y",
                            f"{act.name} + {net.loss.name} fuse: (5) and (C) multiplied out"))
        else:
            if l == L:
                out.append(Step("(5)", L, "dA", f"dA[{L}] = err'(A[{L}], Y)",
                                f"{net.loss.name}'s derivative, entry by entry: where back-propagation starts"))
            dA = f"(dA[{l}] * M[{l}])" if net.dropout[l - 1] else f"dA[{l}]"
            if act.elementwise:
                out.append(Step("(C)", l, "dZ", f"dZ[{l}] = {dA} * {act.name}'(Z[{l}])",
                                "* multiplies entry by entry"))
            else:
                out.append(Step("(C)", l, "dZ", f"dZ[{l}] = A[{l}] * ({dA} - sum_i A[{l}] * {dA})",
                                "softmax is not element-wise: (C) is its Jacobian-vector product"))
        decay = f" + {l2:g}/m Theta[{l}]" if l2 else ""
        out.append(Step("(A)", l, "dTheta", f"dTheta[{l}] = 1/m dZ[{l}] A[{l - 1}]^T{decay}",
                        "entry (i, j) is eq. (10): 1/m sum_c dZ[l]_i^(c) A[l-1]_j^(c)"))
        out.append(Step("(B)", l, "db", f"db[{l}] = 1/m sum_c dZ[{l}]", "the row sums of dZ"))
        if l > 1:
            out.append(Step("(D)", l - 1, "dA", f"dA[{l - 1}] = Theta[{l}]^T dZ[{l}]",
                            "the error flows back through the same weights, transposed"))
    for l in range(1, L + 1):
        for P in (f"Theta[{l}]", f"b[{l}]"):
            out.append(Step("update", l, P.split("[")[0] + "_new", rule.format(P=P),
                            f"optimizer {optimizer}"))
    return out


def values(net: Network, grads: Params, J: float,
           new_params: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, np.ndarray | float]:
    """Every matrix of the last ``net.gradients`` by its step name, plus ``A[0]`` (X) and the parameters.

    ``Theta[l]``, ``b[l]`` are copies of the parameters the pass used (call it before the
    update); ``new_params`` (after the update) fill ``Theta_new[l]``, ``b_new[l]``. Entries the
    pass did not form (a fused ``dA[L]``) are absent; the cache's matrices are not copied.
    """
    c = net.cache
    out: dict[str, np.ndarray | float] = {"J": J, "A[0]": c.A[0]}
    for l in range(1, net.L + 1):
        for symbol, value in (("Z", c.Z[l]), ("A", c.A[l]), ("dA", c.dA[l]), ("dZ", c.dZ[l]),
                              ("dTheta", grads[l - 1][0]), ("db", grads[l - 1][1]),
                              ("Theta", net.params[l - 1][0].copy()), ("b", net.params[l - 1][1].copy())):
            if value is not None:
                out[f"{symbol}[{l}]"] = value
        if new_params is not None:
            out[f"Theta_new[{l}]"], out[f"b_new[{l}]"] = (p.copy() for p in new_params[l - 1])
    return out
