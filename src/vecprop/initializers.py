"""Weight initialisers for Theta[l] (n_l, n_{l-1}); biases b[l] start at zero."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._registry import Registry

Initializer = Callable[[int, int, np.random.Generator], np.ndarray]


def he_normal(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2 / n_{l-1}): keeps the variance of ReLU-family activations layer to layer."""
    return rng.normal(0.0, np.sqrt(2.0 / n_prev), size=(n_l, n_prev))


def he_uniform(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    limit = np.sqrt(6.0 / n_prev)
    return rng.uniform(-limit, limit, size=(n_l, n_prev))


def glorot_normal(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2 / (n_{l-1} + n_l)): Glorot & Bengio's choice for tanh and sigmoid."""
    return rng.normal(0.0, np.sqrt(2.0 / (n_prev + n_l)), size=(n_l, n_prev))


def glorot_uniform(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    limit = np.sqrt(6.0 / (n_prev + n_l))
    return rng.uniform(-limit, limit, size=(n_l, n_prev))


def lecun_normal(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(1.0 / n_prev), size=(n_l, n_prev))


def lecun_uniform(n_l: int, n_prev: int, rng: np.random.Generator) -> np.ndarray:
    limit = np.sqrt(3.0 / n_prev)
    return rng.uniform(-limit, limit, size=(n_l, n_prev))


INITIALIZERS: Registry[Initializer] = Registry("initializer", {
    f.__name__: f for f in (he_normal, he_uniform, glorot_normal, glorot_uniform, lecun_normal, lecun_uniform)
})
INITIALIZERS["xavier_normal"] = glorot_normal
INITIALIZERS["xavier_uniform"] = glorot_uniform

def get_initializer(name: str) -> Initializer:
    return INITIALIZERS.lookup(name)
