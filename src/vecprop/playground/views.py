"""JSON views of a session for the page: the step's matrices with shapes, the maps, weights and history."""
from __future__ import annotations

import base64
import functools
import math
from typing import Any, Sequence

import numpy as np

from .features import FEATURES, features
from .session import Session
from .settings import HIDDEN_ACTIVATIONS, MAX_LAYERS, MAX_WIDTH

MAX_COLS = 64  # columns of an (n_l, m) matrix sent to the page; its "shape" still says the whole size
GRID = 48  # the output map is GRID x GRID points of the plane
UNIT_GRID = 20  # each unit's small map


def floats(a: np.ndarray) -> list:
    """Nested lists of Python floats, None where not finite (JSON has no NaN or inf)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        v = float(a)
        return v if math.isfinite(v) else None  # type: ignore[return-value]
    return [floats(row) for row in a] if a.ndim > 1 else [v if math.isfinite(v) else None for v in a.tolist()]


def matrix_view(a: np.ndarray) -> dict[str, Any]:
    """A matrix for the page: its true shape and at most MAX_COLS columns of its values, row by row."""
    a = np.atleast_2d(np.asarray(a))
    return {"shape": list(a.shape), "values": floats(a[:, :MAX_COLS])}


def quantized(a: np.ndarray, lo: float, hi: float) -> str:
    """A map as base64 bytes: 0 at ``lo``, 255 at ``hi`` (clipped; non-finite drawn as ``lo``)."""
    span = hi - lo if hi > lo else 1.0
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf is NaN, drawn as lo
        q = np.clip(np.nan_to_num((np.asarray(a) - lo) / span * 255.0, nan=0.0), 0, 255)
    return base64.b64encode(np.rint(q).astype(np.uint8).tobytes()).decode("ascii")


@functools.lru_cache(maxsize=64)
def grid(domain: tuple[float, float, float, float], n: int) -> np.ndarray:
    """(2, n*n) raw points at pixel centres, row by row from the top (x2 high) as a canvas draws."""
    x1lo, x1hi, x2lo, x2hi = domain
    u = x1lo + (np.arange(n) + 0.5) / n * (x1hi - x1lo)
    v = x2hi - (np.arange(n) + 0.5) / n * (x2hi - x2lo)
    G1, G2 = np.meshgrid(u, v)
    P = np.stack([G1.ravel(), G2.ravel()])
    P.flags.writeable = False  # cached: shared by every frame of the same plane
    return P


@functools.lru_cache(maxsize=64)
def feature_maps(domain: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Every feature of FEATURES over the plane (the page greys out those not in use)."""
    return [unit_map(row) for row in features(grid(domain, UNIT_GRID), list(FEATURES))]


def maps(session: Session) -> dict[str, Any]:
    """The output over the plane (GRID^2) and every unit's A[l] over it (UNIT_GRID^2), l = 0..L, quantized."""
    net, feats = session.net.copy(), session.setup.features  # a twin: the step's net.cache stays as it is
    with np.errstate(all="ignore"):
        A_L = net.forward(features(grid(session.domain, GRID), feats))
        net.forward(features(grid(session.domain, UNIT_GRID), feats))
    if session.points.classes is None:
        lo, hi = float(session.points.y.min()), float(session.points.y.max())
        output = {"kind": "value", "lo": lo, "hi": hi, "maps": [quantized(A_L[0], lo, hi)]}
    else:
        output = {"kind": "binary" if A_L.shape[0] == 1 else "classes", "lo": 0.0, "hi": 1.0,
                  "maps": [quantized(row, 0.0, 1.0) for row in A_L]}
    units = [[unit_map(row) for row in A] for A in net.cache.A]  # layer 0 (the features in use) to L
    return {"n": GRID, "unit_n": UNIT_GRID, "domain": list(session.domain), "output": output, "units": units,
            "features": feature_maps(session.domain)}


def unit_map(row: np.ndarray) -> dict[str, Any]:
    """One unit over the plane, on a scale symmetric around 0 (its largest finite |value|)."""
    finite = row[np.isfinite(row)]
    s = float(np.abs(finite).max()) if finite.size else 0.0
    s = s if s > 0 else 1.0
    return {"lo": -s, "hi": s, "map": quantized(row, -s, s)}


def step_view(session: Session, layers: Sequence[int]) -> dict[str, Any] | None:
    """The last step: its batch and cost, and for each layer l asked for the matrices of (1)-(D) and the update."""
    rec = session.last
    if rec is None:
        return None
    v, net = rec.values, session.net
    matrices: dict[str, Any] = {}
    for l in layers:
        names = [f"A[{l - 1}]", f"Z[{l}]", f"A[{l}]", f"dA[{l}]", f"dZ[{l}]", f"dTheta[{l}]", f"db[{l}]",
                 f"Theta[{l}]", f"b[{l}]", f"Theta_new[{l}]", f"b_new[{l}]", f"dA[{l - 1}]"]
        matrices.update({name: matrix_view(v[name]) for name in names if name in v})
        act = net.activations[l - 1]
        if act.elementwise:  # alpha'(Z[l]), the factor of (C) the page writes out
            with np.errstate(all="ignore"):
                matrices[f"alpha'[{l}]"] = matrix_view(act.derivative(v[f"Z[{l}]"]))
        if rec.masks[l] is not None:
            matrices[f"M[{l}]"] = matrix_view(rec.masks[l])
    return {"epoch": rec.epoch, "batch": rec.batch, "m": int(rec.idx.size), "J": floats(np.float64(v["J"])),
            "idx": rec.idx[:MAX_COLS].tolist(), "Y": matrix_view(rec.Y), "matrices": matrices,
            "step_ms": rec.seconds * 1e3}


def points_view(session: Session) -> dict[str, Any]:
    def one(p):
        return {"x1": p.P[0].tolist(), "x2": p.P[1].tolist(), "y": p.y.tolist()}

    return {"version": session.points_version, "train": one(session.train_set), "test": one(session.test_set)}


def frame(session: Session, *, layers: Sequence[int], have: dict[str, Any], with_steps: bool) -> dict[str, Any]:
    """Everything the page draws after an action; points, history rows and the step list only when new to it."""
    s, net = session.setup, session.net
    train = session.evaluate(session.X_train, session.Y_train, session.train_set)
    test = session.evaluate(session.X_test, session.Y_test, session.test_set)
    start = have.get("history_from", 0) if have.get("run") == session.run else 0
    out: dict[str, Any] = {
        "setup": s.to_query(), "all_features": list(FEATURES), "hidden_activations": list(HIDDEN_ACTIVATIONS),
        "limits": {"layers": MAX_LAYERS, "width": MAX_WIDTH}, "task": session.points.task, "classes": session.points.classes,
        "data_name": s.data, "epoch": session.epoch, "steps": session.n_steps, "stopped": session.stopped,
        "diverged": session.diverged,
        "train": {"cost": floats(np.float64(train.cost)), "metric": floats(np.float64(train.metric)),
                  "metric_name": train.metric_name},
        "test": {"cost": floats(np.float64(test.cost)), "metric": floats(np.float64(test.metric)),
                 "metric_name": test.metric_name},
        "history": {"run": session.run, "from": start, "rows": [floats(np.array(r)) for r in session.history[start:]]},
        "network": {"sizes": list(net.sizes), "activations": [a.name for a in net.activations],
                    "loss": net.loss.name, "fused": net.fused,
                    "Theta": [floats(T) for T, _ in net.params], "b": [floats(b[:, 0]) for _, b in net.params]},
        "maps": maps(session),
        "step": step_view(session, layers),
    }
    if have.get("points") != session.points_version:
        out["points"] = points_view(session)
    if with_steps:
        out["walk"] = [{"tag": st.tag, "layer": st.layer, "symbol": st.symbol, "name": st.name,
                        "equation": st.equation, "note": st.note} for st in session.walk()]
    return out
