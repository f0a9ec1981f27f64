"""The playground's actions: JSON in, a frame out; what the page can ask the server to do, and nothing else."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from .data import generate, parse_csv
from .export import export_model
from .session import Session
from .sessions import SessionStore
from .settings import UPLOADED, Setup
from .views import frame

MAX_STEPS_PER_REQUEST = 10_000
MAX_SECONDS_PER_REQUEST = 0.5


class Playground:
    """Sessions and the actions on them. ``act(name, body)`` returns a JSON-able dict (or bytes for export);
    bad input raises ValueError with a message for the page, a gone session ``SessionExpired``."""

    def __init__(self, store: SessionStore | None = None) -> None:
        self.store = store or SessionStore()
        self.actions: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
            "state": lambda s, body: None,
            "setup": self._setup,
            "step": lambda s, body: s.step(),
            "train": self._train,
            "reset": lambda s, body: s.reset(),
            "point": self._point,
            "upload": self._upload,
        }

    def act(self, name: str, body: dict[str, Any]) -> dict[str, Any] | bytes:
        if name == "new":
            session = Session.create(Setup.from_query(_field(body, "setup", dict, {})))
            sid = self.store.add(session)
            with session.lock:
                return {"session": sid, **self._frame(session, body, with_steps=True)}
        if name not in (*self.actions, "gradcheck", "export"):
            raise LookupError(name)
        session = self.store.get(body.get("session"))
        with session.lock:
            if name == "gradcheck":
                return {"rows": session.check_gradients()}
            if name == "export":
                return export_model(session, _field(body, "format", str, "npz"))
            self.actions[name](session, body)
            # the step list changes with the network, the optimizer, L2 and (5)/(C) fused or not
            return self._frame(session, body, with_steps=name in ("setup", "upload") or bool(body.get("with_steps")))

    def _frame(self, session: Session, body: dict[str, Any], with_steps: bool) -> dict[str, Any]:
        L = session.net.L
        layers = _field(body, "layers", list, [session.setup.layer])
        if not all(isinstance(l, int) and 1 <= l <= L for l in layers) or len(layers) > L:
            raise ValueError(f"layers must list layer numbers from 1 to L = {L}; got {layers!r:.80}")
        t0 = time.perf_counter()
        out = frame(session, layers=sorted(set(layers)), have=_field(body, "have", dict, {}), with_steps=with_steps)
        out["frame_ms"] = (time.perf_counter() - t0) * 1e3
        return out

    def _setup(self, session: Session, body: dict[str, Any]) -> None:
        """A new setup; the points are generated again only when the data's own settings changed."""
        new = Setup.from_query(_field(body, "setup", dict, {})).checked()
        old = session.setup
        same_data = all(getattr(new, k) == getattr(old, k) for k in ("data", "n", "noise", "seed"))
        if new.data == UPLOADED and old.data != UPLOADED:
            raise ValueError("data=csv means uploaded points: upload a CSV file to use it")
        if same_data or new.data == UPLOADED:
            if not session.tune(new):
                session.apply(new, session.points)
        else:
            session.apply(new, generate(new.data, new.n, new.noise, new.seed))

    def _train(self, session: Session, body: dict[str, Any]) -> None:
        steps = _field(body, "steps", int, 1)
        if not 1 <= steps <= MAX_STEPS_PER_REQUEST:
            raise ValueError(f"steps must be from 1 to {MAX_STEPS_PER_REQUEST}; got {steps}")
        session.train(steps, MAX_SECONDS_PER_REQUEST)

    def _point(self, session: Session, body: dict[str, Any]) -> None:
        x1, x2, label = (_field(body, k, float, None) for k in ("x1", "x2", "label"))
        session.add_point(x1, x2, label)

    def _upload(self, session: Session, body: dict[str, Any]) -> None:
        points = parse_csv(_field(body, "csv", str, None), _field(body, "task", str, None))
        session.apply(replace(session.setup, data=UPLOADED, head=None, noise=None), points)


def _field(body: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    """body[key] of the expected JSON type (an int is a float too), or ``default`` when absent."""
    if key not in body:
        if default is None:
            raise ValueError(f"the request needs {key!r}")
        return default
    value = body[key]
    ok = isinstance(value, kind) and not isinstance(value, bool) or (kind is float and isinstance(value, int)
                                                                     and not isinstance(value, bool))
    if not ok:
        raise ValueError(f"{key!r} must be a JSON {kind.__name__}; got {type(value).__name__}")
    return float(value) if kind is float else value
