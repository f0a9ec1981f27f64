"""Gradient checking: (A) and (B) against central differences of J, per layer and parameter."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ._checks import check_real
from .network import Network


class GradcheckWarning(UserWarning):
    """A check whose numbers may mislead (a ReLU-style kink inside the difference step)."""


@dataclass(frozen=True)
class GradcheckRow:
    """One parameter's verdict: ||analytic - numeric|| / (||analytic|| + ||numeric||)."""

    layer: int
    param: str  # "dTheta" or "db"
    rel_error: float
    worst_index: tuple[int, int]
    analytic: float  # the worst entry, analytic
    numeric: float  # the worst entry, by central differences
    ok: bool
    basis: str = "rel"  # why it passed: "rel" (relative error < tol), "noise" (a gradient below the rounding
    #                     noise of the slope) or "fd" (within the finite differences' own error, estimated)


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow]
    tol: float
    eps: float
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def worst(self) -> GradcheckRow:
        return max(self.rows, key=lambda r: math.inf if math.isnan(r.rel_error) else r.rel_error)

    @property
    def failures(self) -> list[GradcheckRow]:
        return [r for r in self.rows if not r.ok]

    def __str__(self) -> str:
        head = f"{'layer':>5}  {'param':<7}{'rel. error':>12}  {'worst entry':<12}{'analytic':>13}{'numeric':>13}  ok"
        lines = [head, "-" * len(head)]
        marks = {"rel": "yes", "noise": "yes*", "fd": "yes**"}
        for r in self.rows:
            idx = f"[{r.worst_index[0]},{r.worst_index[1]}]"
            lines.append(f"{r.layer:>5}  {r.param:<7}{r.rel_error:>12.2e}  {idx:<12}"
                         f"{r.analytic:>13.5e}{r.numeric:>13.5e}  {marks[r.basis] if r.ok else 'NO'}")
        verdict = "PASS" if self.ok else f"FAIL: {', '.join(f'{r.param}[{r.layer}]' for r in self.failures)}"
        lines.append(f"{verdict} (tolerance {self.tol:g}, step {self.eps:g}, float64)")
        if any(r.ok and r.basis == "noise" for r in self.rows):
            lines.append("* passes although its relative error is large: the gradient itself is below the rounding "
                         "noise of the numeric slope (~10 u |J| / eps), as on a trained model near a minimum; the "
                         "relative error of two noise-sized numbers says nothing")
        if any(r.ok and r.basis == "fd" for r in self.rows):
            lines.append("** passes within the finite differences' own error (estimated from a second step, 2 eps), "
                         "which is larger than the tolerance asks: central differences cannot resolve it here (on "
                         "a trained model near a minimum the gradient is small and their truncation error dominates)")
        if any(math.isnan(r.rel_error) for r in self.rows):
            lines.append("nan: the analytic or numeric gradient is not finite (NaN or inf): e.g. a cross-entropy of "
                         "outputs that are not probabilities (err' divides by A[L] = 0), or an overflow")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def gradcheck(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    l2: float = 0.0,
    sample_weight: np.ndarray | None = None,
    masks: Sequence[np.ndarray | None] | None = None,
    eps: float = 1e-5,
    tol: float = 1e-7,
) -> GradcheckReport:
    """Compare backward's dTheta[l], db[l] with (J(p + eps) - J(p - eps)) / 2 eps for every entry.

    The check runs on a float64 copy of ``net`` (the original is not touched). ``masks``
    replays fixed dropout masks (as ``net.cache.M`` holds them after a training forward);
    ``sample_weight`` (m,) checks the weighted cost and gradients (``Network.cached_cost``).
    A parameter passes when the relative error is below ``tol``, or when the gradient itself,
    analytic and numeric, is below the rounding noise of the numerical slope, ~|J| u / eps:
    there the relative error is noise over noise (a truly zero gradient would score 1). eps = 1e-5 balances
    truncation error (~eps^2) against that noise (~u/eps) better than 1e-6 (measured: a third
    of the spurious failures on random networks).
    """
    eps = check_real("eps", eps, 0.0, lo_open=True)
    tol = check_real("tol", tol, 0.0, lo_open=True)
    net64 = net.astype("float64")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    masks64 = None if masks is None else [None if M is None else np.asarray(M, np.float64) for M in masks]
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    analytic = net64.flatten(net64.gradients(X, Y, l2=l2, sample_weight=w, masks=masks64))
    found = _kinks(net64, Y, eps)
    noise = 10 * np.finfo(np.float64).eps * max(1.0, abs(net64.cached_cost(Y, l2=l2, sample_weight=w))) / eps

    p = net64.flat

    def slope(i: int, step: float) -> float:
        """dJ/dp[i] by central differences: (J(p + step) - J(p - step)) / (2 step)."""
        saved = p[i]
        p[i] = saved + step
        J_plus = net64.cost(X, Y, l2=l2, sample_weight=w, masks=masks64)
        p[i] = saved - step
        J_minus = net64.cost(X, Y, l2=l2, sample_weight=w, masks=masks64)
        p[i] = saved
        return (J_plus - J_minus) / (2 * step)

    numeric = np.array([slope(i, eps) for i in range(p.size)], dtype=np.float64).reshape(analytic.shape)

    rows = []
    offset = 0
    for l, ((aT, ab), (nT, nb)) in enumerate(zip(net64.views(analytic), net64.views(numeric)), start=1):
        for name, a, n in (("dTheta", aT, nT), ("db", ab, nb)):
            denom = np.linalg.norm(a) + np.linalg.norm(n)
            rel = float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0
            worst = np.unravel_index(int(np.argmax(np.abs(a - n))), a.shape)
            basis = "rel" if rel < tol else "noise" if max(float(np.abs(a).max()), float(np.abs(n).max())) <= noise \
                else None
            finite = bool(np.isfinite(a).all() and np.isfinite(n).all())
            if not finite:  # NaN compares false everywhere: without this, a NaN gradient would pass with error 0
                rel, basis = math.nan, None
                worst = np.unravel_index(int(np.argmax(~(np.isfinite(a) & np.isfinite(n)))), a.shape)
            elif basis is None:  # can central differences resolve tol here? Their error, from a second step (~eps^2)
                idx = range(offset, offset + a.size)
                n2 = np.array([slope(i, 2 * eps) for i in idx]).reshape(a.shape)
                fd_error = np.abs(n2 - n) / 3 + noise
                unresolvable = float(np.linalg.norm(fd_error)) > tol * denom
                basis = "fd" if unresolvable and bool((np.abs(a - n) <= 4 * fd_error).all()) else None
            rows.append(GradcheckRow(l, name, rel, (int(worst[0]), int(worst[1])), float(a[worst]), float(n[worst]),
                                     basis is not None, basis or "rel"))
            offset += a.size
    report = GradcheckReport(rows, tol, eps, found)
    for w in found:
        warnings.warn(w, GradcheckWarning, stacklevel=2)
    return report


def _kinks(net: Network, Y: np.ndarray, eps: float) -> list[str]:
    """Layers whose Z lies within the difference step of a kink, where numeric slopes straddle it."""
    out = []
    c = net.cache
    for l, act in enumerate(net.activations, start=1):
        if not act.kink:
            continue
        # A step eps in Theta[l] moves Z[l] by eps * |A[l-1]|; a step in a lower layer moves
        # it through the products above, so the margin is ten steps wide (a warning, not a verdict).
        reach = 10 * eps * max(1.0, float(np.abs(c.A[l - 1]).max()))
        near = int((np.abs(c.Z[l]) < reach).sum())
        if near:
            out.append(f"layer {l} ({act.name}): {near} entries of Z[{l}] lie within {reach:.1e} of the "
                       f"kink at 0; the numerical gradient may be wrong there, not the analytic one")
    distance = net.loss.kink_distance(c.A[-1], Y)
    if distance is not None:
        reach = 10 * eps * max(1.0, float(np.abs(c.A[-2]).max()))
        near = int((distance < reach).sum())
        if near:
            out.append(f"loss {net.loss.name}: {near} entries of A[L] lie within {reach:.1e} of a kink "
                       f"of err'; the numerical gradient may be wrong there")
    return out
