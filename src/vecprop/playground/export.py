"""Export a playground's trained network as a vecprop model file: the one place the format is chosen."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..io import save
from .session import Session


def export_model(session: Session) -> bytes:
    """The session's network as a ``vecprop-model`` file (format 1, ``vecprop.load`` reads it), as bytes.

    The inputs are the playground's features of the raw point (x1, x2), so ``extra`` records
    their names in X's row order; ``vecprop.playground.features.features(P, names)`` recomputes
    them. Switch point: once ``vecprop.Model`` (issue 11) lands, build a Model here (network,
    feature names, task, classes) and return ``Model.save``'s bytes, and offer ``Model.to_onnx``
    beside it; nothing else in the playground writes model files.
    """
    s = session.setup
    extra = {
        "task": session.points.task,
        "classes": None if session.points.classes is None else list(session.points.classes),
        "feature_names": list(s.features),
        "scaler": None,
        "target_scaler": None,
        "data": f"playground {s.data}",
        "raw_inputs": ["x1", "x2"],
        "features": "X = vecprop.playground.features.features(P, feature_names), P = raw (x1, x2) columns (2, m)",
        "playground": {"setup": s.to_query(), "epoch": session.epoch, "steps": session.n_steps},
    }
    with tempfile.TemporaryDirectory(prefix="vecprop-playground-") as folder:
        path = save(session.net, Path(folder) / "model.npz", extra=extra)
        return path.read_bytes()
