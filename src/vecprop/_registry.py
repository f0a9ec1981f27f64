"""Names become objects in one place: one ``Registry`` per kind (activation, loss, optimizer, ...)."""
from __future__ import annotations

import difflib
from typing import Any, TypeVar

T = TypeVar("T")


class Registry(dict[str, T]):
    """The valid names of one kind, each mapped to its class (or function), in the order listed.

    A plain dict (``list(ACTIVATIONS)`` lists the names) with the two ways a name becomes an
    object, ``lookup`` and ``build``. An unknown name is an error that lists the valid ones.

    >>> colours = Registry("colour", {"red": dict})
    >>> colours.lookup("red") is dict
    True
    >>> colours.lookup("rde")
    Traceback (most recent call last):
    ValueError: unknown colour 'rde'; valid names: red (did you mean 'red'?)
    """

    def __init__(self, kind: str, entries: dict[str, T] | None = None) -> None:
        super().__init__(entries or {})
        self.kind = kind

    def lookup(self, name: Any) -> T:
        """The entry registered as ``name``; ValueError listing the valid names otherwise."""
        if not isinstance(name, str) or name not in self:
            raise ValueError(self.unknown(name))
        return self[name]

    def unknown(self, name: Any) -> str:
        """The message for a name that is not registered, with the nearest valid one if any."""
        close = difflib.get_close_matches(name, list(self), n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {self.kind} {name!r}; valid names: {', '.join(self)}{hint}"

    def build(self, spec: str | dict[str, Any], **kwargs: Any) -> Any:
        """``lookup(name)(**params)`` for a name or a config dict ``{"name": ..., **params}``.

        Parameters the entry does not take are a ValueError naming the kind and the name.
        """
        if isinstance(spec, dict):
            params = dict(spec)
            spec = params.pop("name", None)
            kwargs = {**kwargs, **params}
        factory: Any = self.lookup(spec)
        try:
            return factory(**kwargs)
        except TypeError as err:
            raise ValueError(f"bad parameters for {self.kind} {spec!r}: {kwargs} ({err})") from None
