"""The two ways to compute a training step, by name: "readable" (the derivation) and "fast" (its buffers)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import Registry
from .fast import FastPath
from .network import Cache, Network


class ReadablePath:
    """The engine that is the derivation: ``Network.forward`` and ``Network.backward``, nothing else.

    It has FastPath's interface (``forward``, ``cached_cost``, ``backward_into``, ``cache``) and
    keeps every matrix of the last step in ``net.cache``.
    """

    def __init__(self, net: Network) -> None:
        self.net = net

    @property
    def cache(self) -> Cache:
        return self.net.cache

    def forward(self, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.net.forward(X, rng=rng)

    def cached_cost(self, Y: np.ndarray, l2: float = 0.0, sample_weight: np.ndarray | None = None,
                    m: float | None = None) -> float:
        return self.net.cached_cost(Y, l2=l2, sample_weight=sample_weight, m=m)

    def backward_into(self, Y: np.ndarray, out: np.ndarray, l2: float = 0.0,
                      sample_weight: np.ndarray | None = None, m: float | None = None) -> None:
        self.net.flatten(self.net.backward(Y, l2=l2, sample_weight=sample_weight, m=m), out=out)


ENGINES: Registry[type] = Registry("engine", {"fast": FastPath, "readable": ReadablePath})
"""Both compute the same numbers (to float rounding); "fast" is fit's default."""


def make_engine(net: Network, name: str) -> Any:
    """The engine ``name`` for ``net``."""
    return ENGINES.lookup(name)(net)
