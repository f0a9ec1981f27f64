"""Gradient clipping (torch.nn.utils semantics): by the global 2-norm, or entry by entry."""
from __future__ import annotations

import math

import numpy as np

from ._checks import check_real


def clip_grad_norm(grads: list[np.ndarray], max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale all grads in place so that their global 2-norm is at most ``max_norm``; return the norm before.

    Notes
    -----
    As ``torch.nn.utils.clip_grad_norm_``: ``N = sqrt(sum_i ||dTheta_i||^2)`` and every grad is
    multiplied by ``min(1, max_norm / (N + 1e-6))``. A non-finite ``N`` raises if
    ``error_if_nonfinite``, else propagates into the grads as in torch.
    """
    max_norm = check_real("max_norm", max_norm, 0.0, lo_open=True)
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if not math.isfinite(total) and error_if_nonfinite:
        raise ValueError(f"the global gradient norm is {total}; cannot clip non-finite gradients")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # also true for a NaN coefficient, which torch propagates
        for g in grads:
            g *= coef
    return total


def clip_grad_value(grads: list[np.ndarray], clip_value: float) -> None:
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]`` (``torch.nn.utils.clip_grad_value_``)."""
    clip_value = check_real("clip_value", clip_value, 0.0, lo_open=True)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
