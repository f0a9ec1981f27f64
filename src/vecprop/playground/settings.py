"""A playground setup: every choice on the page, validated, and its URL query form (what a link shares)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from ..activations import ACTIVATIONS
from ..datasets.synthetic import NOISE
from ..walkthrough import UPDATE_RULES
from .data import DATA_SETS
from .features import check_features

HEADS: dict[str, tuple[str, str]] = {
    "sigmoid_bce": ("sigmoid", "binary_cross_entropy"),
    "softmax_ce": ("softmax", "cross_entropy"),
    "identity_se": ("identity", "squared_error"),
}
"""The output activation + loss pairs the page offers: head name -> (alpha[L], err)."""

HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax")
OPTIMIZERS = tuple(UPDATE_RULES)  # the step optimizers; L-BFGS trains full-batch and cannot step
MAX_LAYERS, MAX_WIDTH = 6, 32
UPLOADED = "csv"  # the data name of uploaded points: they live in the session, never in a link


@dataclass(frozen=True)
class Setup:
    """Everything a link reproduces: data, input features, network, optimizer, view.

    ``noise`` and ``head`` may be None until ``resolve`` fills in the data set's defaults;
    ``layer`` (the layer whose matrices the page shows) and ``unfused`` (compute (5) and (C)
    apart) are part of the view a teacher shares.
    """

    data: str = "xor"
    n: int = 300
    noise: float | None = None
    ratio: float = 0.5
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 4)
    act: tuple[str, ...] = ("tanh", "tanh")
    head: str | None = None
    opt: str = "adam"
    lr: float = 0.03
    batch: int = 10
    l2: float = 0.0
    dropout: float = 0.0
    stop: int = 0
    layer: int = 1
    unfused: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> Setup:
        """Parse a URL query (str values); absent keys keep their defaults; a bad value names its key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(query) - known)
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; valid settings: {', '.join(sorted(known))}")
        kwargs: dict[str, Any] = {}
        for key, text in query.items():
            if not isinstance(text, str) or len(text) > 200:
                raise ValueError(f"setting {key!r} must be a short string; got {text!r:.60}")
            if key in ("noise", "head") and not text.strip():
                continue  # the data set's default
            try:
                kwargs[key] = _PARSE[key](text)
            except ValueError as e:
                raise ValueError(f"setting {key}={text!r}: {e}") from None
        if "hidden" in kwargs and "act" not in kwargs:
            kwargs["act"] = (cls.act[0],) if kwargs["hidden"] else ()
        return cls(**kwargs)

    def to_query(self) -> dict[str, str]:
        """The URL form: every key, canonical text (``from_query(to_query())`` gives the setup back)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = (",".join(map(str, v)) if isinstance(v, tuple) else str(int(v)) if isinstance(v, bool)
                           else "" if v is None else repr(v) if isinstance(v, float) else str(v))
        return out

    def checked(self) -> Setup:
        """Every check that does not depend on the data, with the data set's noise filled in."""
        _check(self.data in (*DATA_SETS, UPLOADED), "data", self.data, f"one of {', '.join(DATA_SETS)}")
        _check(20 <= self.n <= 2000, "n", self.n, "from 20 to 2000 points")
        _check(0.1 <= self.ratio <= 0.9, "ratio", self.ratio, "from 0.1 to 0.9 (the training share)")
        _check(0 <= self.seed < 2**31, "seed", self.seed, "from 0 to 2^31 - 1")
        check_features(self.features)
        _check(len(self.hidden) <= MAX_LAYERS and all(1 <= n <= MAX_WIDTH for n in self.hidden), "hidden",
               list(self.hidden), f"at most {MAX_LAYERS} hidden layers of 1 to {MAX_WIDTH} units")
        act = self.act * len(self.hidden) if len(self.act) == 1 else self.act
        _check(len(act) == len(self.hidden), "act", list(self.act), f"one activation, or one per hidden layer "
               f"({len(self.hidden)})")
        for a in act:
            _check(a in HIDDEN_ACTIVATIONS, "act", a, f"one of {', '.join(HIDDEN_ACTIVATIONS)}")
        _check(self.opt in OPTIMIZERS, "opt", self.opt, f"one of {', '.join(OPTIMIZERS)}")
        _check(0 < self.lr <= 10, "lr", self.lr, "in (0, 10]")
        _check(1 <= self.batch <= 2000, "batch", self.batch, "from 1 to 2000 examples")
        _check(0 <= self.l2 <= 10, "l2", self.l2, "from 0 to 10")
        _check(0 <= self.dropout <= 0.9, "dropout", self.dropout, "from 0 to 0.9")
        if self.dropout and not self.hidden:
            raise ValueError("dropout drops hidden units, and this network has no hidden layer")
        _check(0 <= self.stop <= 100_000, "stop", self.stop, "from 0 (never) to 100000 epochs")
        _check(1 <= self.layer <= len(self.hidden) + 1, "layer", self.layer, f"from 1 to L = {len(self.hidden) + 1}")
        noise = NOISE.get(self.data, 0.0) if self.noise is None else self.noise
        _check(0 <= noise <= 2, "noise", noise, "from 0 to 2")
        return replace(self, act=act, noise=noise)

    def resolve(self, task: str, n_classes: int) -> Setup:
        """This setup, checked, and checked against the data's task, with the head's default filled in."""
        head = self.head or default_head(task)
        _check(head in HEADS, "head", head, f"one of {', '.join(HEADS)}")
        if task == "regression" and head != "identity_se":
            raise ValueError(f"head {head} is for classes; regression needs identity_se (identity + squared error)")
        if head == "sigmoid_bce" and n_classes != 2:
            raise ValueError(f"head sigmoid_bce (one sigmoid output) needs 2 classes; the data has {n_classes}: "
                             f"use softmax_ce")
        return replace(self.checked(), head=head)


def default_head(task: str) -> str:
    return {"binary": "sigmoid_bce", "multiclass": "softmax_ce"}.get(task, "identity_se")


def _check(ok: bool, key: str, value: Any, want: str) -> None:
    if not ok:
        raise ValueError(f"setting {key} must be {want}; got {value!r}")


def _number(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


def _int(text: str) -> int:
    return int(text.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _bool(text: str) -> bool:
    if text.strip().lower() not in ("0", "1", "true", "false"):
        raise ValueError("must be 0 or 1")
    return text.strip().lower() in ("1", "true")


_PARSE = {
    "data": str.strip, "n": _int, "noise": _number, "ratio": _number, "seed": _int, "features": _names,
    "hidden": lambda t: tuple(_int(s) for s in _names(t)), "act": _names, "head": str.strip, "opt": str.strip,
    "lr": _number, "batch": _int, "l2": _number, "dropout": _number, "stop": _int, "layer": _int,
    "unfused": _bool,
}
assert set(_PARSE) == {f.name for f in fields(Setup)}
