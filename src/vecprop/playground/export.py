"""Export a playground's trained network as a vecprop Model (a model file, or ONNX): the one place it is built."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..model import Model
from ..model_files import natural_classes
from ..preprocessing import Column, Preprocessor
from .features import FEATURES
from .session import Session


def model_of(session: Session) -> Model:
    """The session's network with its input features recorded as preprocessing: the Model takes raw
    points (x1, x2) as rows, computes the features the network was trained on, and answers with the
    session's classes (or values)."""
    s, points = session.setup, session.points
    pre = Preprocessor([Column(), Column()], features=[FEATURES[name] for name in s.features])
    return Model(session.net, task=points.task, classes=natural_classes(points.classes), feature_names=["x1", "x2"],
                 preprocessing=pre, provenance={"data": {"name": f"playground {s.data}"},
                                                "playground": {"setup": s.to_query(), "epoch": session.epoch,
                                                               "steps": session.n_steps}})


def export_model(session: Session, fmt: str = "npz") -> bytes:
    """The session's Model as the bytes of a vecprop model file (``fmt="npz"``) or an ONNX graph ("onnx")."""
    if fmt not in ("npz", "onnx"):
        raise ValueError(f"format must be 'npz' or 'onnx'; got {fmt!r:.40}")
    model = model_of(session)
    with tempfile.TemporaryDirectory(prefix="vecprop-playground-") as folder:
        path = Path(folder) / f"model.{fmt}"
        if fmt == "npz":
            model.save(path)
        else:
            try:
                model.to_onnx(path)
            except ImportError as err:  # the server lacks the onnx extra: say so on the page
                raise ValueError(str(err)) from None
        return path.read_bytes()
