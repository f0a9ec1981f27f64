"""The training configuration: defaults <- TOML file <- command-line flags, resolved once and saved."""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TASK_DEFAULTS: dict[str, tuple[str, str]] = {
    "multiclass": ("softmax", "cross_entropy"),
    "binary": ("sigmoid", "binary_cross_entropy"),
    "regression": ("identity", "squared_error"),
}
"""task -> (output activation, loss) when the user names neither."""

DEFAULT_LR: dict[str, float] = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3,
                                "adam": 1e-3, "adamw": 1e-3, "lbfgs": 1.0}
"""optimizer -> learning rate when ``lr`` is not given (L-BFGS has no learning rate; 1.0 is recorded)."""

SCALES = ("standardize", "global", "minmax", "none")
TARGET_SCALES = ("standardize", "none")

SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("data", "target", "n_samples", "val_fraction", "test_fraction", "scale", "target_scale"),
    "model": ("hidden", "activation", "output_activation", "loss", "dropout", "dtype", "init"),
    "training": ("optimizer", "lr", "epochs", "batch_size", "l2", "weight_decay", "clip_norm",
                 "schedule", "warmup", "min_lr", "schedule_options", "early_stopping", "seed", "engine"),
    "output": ("out", "plots"),
}
"""Where each field lives in config.toml (the file is sectioned for people; the fields are flat)."""

TOML_NAMES = {"data": "name"}
"""Fields spelled differently in the file: ``[data] name = "digits"`` is the ``data`` field."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one ``vecprop train`` run; None means "derive it from the data or optimizer".

    ``resolve`` fills the derived values, so a saved config has none left and reproduces the run.
    ``batch_size = 0`` means full batch; ``clip_norm = 0`` and ``early_stopping = 0`` mean off.
    """

    data: str = ""
    target: str | None = None
    n_samples: int | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    scale: str = "standardize"
    target_scale: str = "standardize"
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    output_activation: str | None = None
    loss: str | None = None
    dropout: float = 0.0
    dtype: str = "float32"
    init: tuple[str, ...] | None = None
    optimizer: str = "adam"
    lr: float | None = None
    epochs: int = 30
    batch_size: int = 32
    l2: float = 0.0
    weight_decay: float | None = None
    clip_norm: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    min_lr: float = 0.0
    schedule_options: dict[str, Any] = field(default_factory=dict)
    early_stopping: int = 0
    seed: int = 0
    engine: str = "fast"
    out: str | None = None
    plots: bool = True

    def __post_init__(self) -> None:
        if not self.data:
            raise UserError("no data: give --data NAME_OR_FILE (see `vecprop datasets`) or "
                            "[data] name = ... in the config file")
        _check_fraction("val_fraction", self.val_fraction)
        _check_fraction("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(f"val_fraction + test_fraction must be < 1; got {self.val_fraction} + "
                            f"{self.test_fraction}")
        _check_choice("scale", self.scale, SCALES)
        _check_choice("target_scale", self.target_scale, TARGET_SCALES)
        _check_choice("dtype", self.dtype, ("float32", "float64"))
        from ..training import ENGINES

        _check_choice("engine", self.engine, tuple(ENGINES))
        if any(n < 1 for n in self.hidden):
            raise UserError(f"hidden layer sizes must be positive; got {list(self.hidden)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1); got {self.dropout}")
        for name in ("epochs", "batch_size", "warmup", "early_stopping"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in ("l2", "clip_norm", "min_lr"):
            if getattr(self, name) < 0 or not math.isfinite(getattr(self, name)):
                raise UserError(f"{name} must be a finite number >= 0; got {getattr(self, name)}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"lr must be a finite number > 0; got {self.lr}")
        if self.n_samples is not None and self.n_samples < 2:
            raise UserError(f"n_samples must be >= 2; got {self.n_samples}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_toml_dict(self) -> dict[str, dict[str, Any]]:
        """Sectioned, TOML-ready values: None entries are left out (TOML has no null)."""
        out: dict[str, dict[str, Any]] = {}
        for section, names in SECTIONS.items():
            table = {}
            for name in names:
                value = getattr(self, name)
                if value is None:
                    continue
                table[TOML_NAMES.get(name, name)] = list(value) if isinstance(value, tuple) else value
            out[section] = table
        return out


def _check_fraction(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise UserError(f"{name} must be in [0, 1); got {value}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}

# field -> the Python type a file value must have, and how to coerce it.
_KINDS: dict[str, str] = {
    "data": "str", "target": "str", "n_samples": "int", "val_fraction": "float",
    "test_fraction": "float", "scale": "str", "target_scale": "str", "hidden": "int_list",
    "activation": "str", "output_activation": "str", "loss": "str", "dropout": "float",
    "dtype": "str", "init": "str_list", "optimizer": "str", "lr": "float", "epochs": "int",
    "batch_size": "int", "l2": "float", "weight_decay": "float", "clip_norm": "float",
    "schedule": "str", "warmup": "int", "min_lr": "float", "schedule_options": "table",
    "early_stopping": "int", "seed": "int", "engine": "str", "out": "str", "plots": "bool",
}
assert set(_KINDS) == set(FIELDS) == {n for names in SECTIONS.values() for n in names}


def _coerce(where: str, kind: str, value: Any) -> Any:
    """A file value as the field's type; a wrong type raises UserError naming ``where``."""
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "int_list": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                                    for v in value),
        "str_list": isinstance(value, str) or (isinstance(value, list)
                                               and all(isinstance(v, str) for v in value)),
        "table": isinstance(value, dict),
    }[kind]
    if kind == "str" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a CSV target given as a column index
    if not ok:
        wanted = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                  "int_list": "a list of integers", "str_list": "a string or a list of strings",
                  "table": "a table"}[kind]
        raise UserError(f"{where} must be {wanted}; got {value!r}")
    if kind == "float":
        return float(value)
    if kind == "int_list":
        return tuple(value)
    if kind == "str_list":
        return (value,) if isinstance(value, str) else tuple(value)
    return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The flat field values a TOML file sets, type-checked; unknown keys are errors with a suggestion."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"--config: no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"--config: {path} is a folder; give the config.toml inside it") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from None
    values: dict[str, Any] = {}
    for section, table in doc.items():
        if section not in SECTIONS:
            raise UserError(f"{path}: unknown section [{section}]{_nearest(section, list(SECTIONS))}; "
                            f"sections: {', '.join(f'[{s}]' for s in SECTIONS)}")
        if not isinstance(table, dict):
            raise UserError(f"{path}: {section} must be a [{section}] table; got {table!r}")
        keys = {TOML_NAMES.get(n, n): n for n in SECTIONS[section]}
        for key, value in table.items():
            if key not in keys:
                raise UserError(f"{path}: unknown key {key!r} in [{section}]{_nearest(key, list(keys))}; "
                                f"valid keys: {', '.join(keys)}")
            name = keys[key]
            values[name] = _coerce(f"{path}: [{section}] {key}", _KINDS[name], value)
    return values


def _nearest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def merge(file_values: dict[str, Any], flag_values: dict[str, Any]) -> TrainConfig:
    """Defaults, then the file's values, then every flag the user gave (a flag is None when not given)."""
    values = dict(file_values)
    values.update({k: v for k, v in flag_values.items() if v is not None})
    return TrainConfig(**values)


def resolve(cfg: TrainConfig, task: str) -> TrainConfig:
    """Fill every derived value (output activation and loss from the task, lr from the optimizer)."""
    out_act, loss = TASK_DEFAULTS[task]
    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR.get(cfg.optimizer, 1e-3)
    decay = cfg.weight_decay if cfg.weight_decay is not None else (0.01 if cfg.optimizer == "adamw" else 0.0)
    return cfg.replace(output_activation=cfg.output_activation or out_act, loss=cfg.loss or loss,
                       lr=lr, weight_decay=decay)


_INLINE_ARRAY = re.compile(r"= \[\n((?:    [^\n\[\]{}]+,\n)+)\]")
"""tomli-w writes every array one item per line; short arrays of scalars read better inline."""


def toml_writer() -> Any:
    """The tomli-w module; checked before training so a missing package does not waste a run."""
    try:
        import tomli_w
    except ModuleNotFoundError:
        raise UserError("writing config.toml needs the tomli-w package: pip install 'vecprop[cli]' "
                        "(or pip install tomli-w)") from None
    return tomli_w


def dumps(cfg: TrainConfig, header: str = "") -> str:
    """config.toml text: an optional comment header, then the sections (written by tomli-w)."""
    tomli_w = toml_writer()
    doc = cfg.to_toml_dict()
    doc["output"].pop("out", None)  # a rerun writes a new run folder instead of overwriting this one
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    text = _INLINE_ARRAY.sub(lambda mt: "= [" + ", ".join(
        item.strip().rstrip(",") for item in mt.group(1).splitlines()) + "]", tomli_w.dumps(doc))
    assert tomllib.loads(text) == doc, "inlining arrays changed the TOML document"
    return comments + text


# ---- argparse value types (a bad value exits 2 with argparse's usage line) ------------------------
def int_list(text: str) -> tuple[int, ...]:
    """``"128,64"`` -> (128, 64); ``""`` or ``"none"`` -> () (no hidden layer)."""
    import argparse

    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 128,64; got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive; got {text!r}")
    return sizes


def name_list(text: str) -> tuple[str, ...]:
    """``"relu,softmax"`` -> ("relu", "softmax")."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def key_value(text: str) -> tuple[str, Any]:
    """``"gamma=0.5"`` -> ("gamma", 0.5): the value is read as TOML (numbers, booleans, "strings")."""
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as step_size=10; got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip(), parsed
