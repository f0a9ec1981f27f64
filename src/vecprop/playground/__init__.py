"""The learners' playground: a local page that shows vecprop's own matrices of (1) and (A)-(D) as it trains.

``vecprop playground`` serves it (``vecprop.playground.server.serve``); the page only draws, the
server trains with ``Network.forward``/``backward`` (docs/playground.md).
"""
from .export import export_model
from .features import FEATURES, features
from .session import Session
from .settings import Setup

__all__ = ["FEATURES", "Session", "Setup", "export_model", "features"]
