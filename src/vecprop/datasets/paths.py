"""Where vecprop keeps downloaded data: $VECPROP_DATA, else the user cache folder."""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "VECPROP_DATA"


def data_dir() -> Path:
    """The vecprop data folder (not created here).

    ``$VECPROP_DATA`` if set, else ``$XDG_CACHE_HOME/vecprop``, else ``~/.cache/vecprop``.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "vecprop"
