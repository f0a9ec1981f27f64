"""The training configuration: defaults <- TOML file <- command-line flags, resolved once and saved."""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .._checks import check_choice, check_int, check_real
from .._registry import Registry
from .._schema import load_schema
from ..activations import ACTIVATIONS
from ..engines import ENGINES
from ..lbfgs import LBFGS
from ..losses import LOSSES, output_activation
from ..metrics import TASK_LOSSES
from ..optimizers import OPTIMIZERS, default_lr
from ..optimizers import defaults as optimizer_init_defaults
from ..schedules import SCHEDULES
from .errors import UserError, user_errors

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SCALES = ("standardize", "global", "minmax", "none")
TARGET_SCALES = ("standardize", "none")
TASKS = ("auto", "classification", "regression")
MISSING = ("error", "drop", "mean", "median")
HEADERS = ("auto", "yes", "no")
MONITORS = ("auto", "val_cost", "val_accuracy", "val_r2", "cost")
MAX_HIDDEN = load_schema()["$defs"]["network"]["properties"]["sizes"]["maxItems"] - 2
"""The most hidden layers a model file can hold (its schema's limit on sizes, less n_0 and n_L)."""
MAX_CONFIG_BYTES = 2**20
"""--config files are read up to this size (a config.toml is a few hundred bytes)."""
CHECKPOINT_SECONDS = 10.0
"""Checkpoints are written at most this often (each is an fsync'ed file); Ctrl-C writes the last epoch's."""

SOLVERS: Registry[type] = Registry("optimizer", {**OPTIMIZERS, "lbfgs": LBFGS})
"""What --optimizer accepts: the step optimizers and full-batch L-BFGS."""


def setting(default: Any, section: str, kind: str, help: str = "", *, metavar: str | None = None,
            choices: Sequence[str] | None = None, toml: str | None = None, flag: bool = True) -> Any:
    """A TrainConfig field, declared once: its default, its [section] and value kind in config.toml,
    its name there (``toml``, when not the field's), and its --flag (help, metavar, choices)."""
    meta = {"section": section, "kind": kind, "help": help, "metavar": metavar, "choices": choices,
            "toml": toml or "", "flag": flag}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one ``vecprop train`` run; None means "derive it from the data or optimizer".

    ``resolve`` fills the derived values, so a saved config has none left and reproduces the run.
    ``batch_size = 0`` means full batch; ``clip_norm = 0`` and ``early_stopping = 0`` mean off.
    """

    data: str = setting("", "data", "str", "a data set name (see `vecprop datasets`) or a .csv/.npz/.npy/IDX "
                        "file", metavar="DATA", toml="name")
    target: str | None = setting(None, "data", "str", "CSV target column(s), by name or index; a,b for several "
                                 "regression outputs (default: the last column)", metavar="COL[,COL...]")
    task: str = setting("auto", "data", "str", "auto: text labels and integers with <= 20 values are classes, other "
                        "numbers regression; or say which", choices=TASKS)
    header: str = setting("auto", "data", "str", "CSV: does the first row name the columns? (auto: a row of text "
                          "above numbers, or of text that never repeats below, is a header)", choices=HEADERS)
    missing: str = setting("error", "data", "str", "missing feature values (empty or NA cells, NaN): refuse, drop "
                           "their rows, or fill them with the training mean or median (text: a category of its own)",
                           choices=MISSING)
    weight_column: str | None = setting(None, "data", "str", "CSV column of per-example weights (not a feature)",
                                        metavar="COL")
    class_weight: str | None = setting(None, "data", "str", "weigh classes: 'balanced' (n / (k n_c)) or JSON such "
                                       "as '{\"yes\": 5}'", metavar="balanced|JSON")
    n_samples: int | None = setting(None, "data", "int", "use N examples (synthetic sets: generate N; others: a "
                                    "seeded subset)", metavar="N")
    val_fraction: float = setting(0.1, "data", "float", "validation share, carved from the training rows",
                                  metavar="F")
    test_fraction: float = setting(0.2, "data", "float", "test share (ignored when the data ships a test set)",
                                   metavar="F")
    scale: str = setting("standardize", "data", "str", "input scaling fitted on the training rows", choices=SCALES)
    target_scale: str = setting("standardize", "data", "str", "regression targets: standardized for training, "
                                "or none", choices=TARGET_SCALES)
    hidden: tuple[int, ...] = setting((128,), "model", "int_list", "hidden layer sizes", metavar="N,N,...")
    activation: str = setting("relu", "model", "str", f"hidden activation: {', '.join(ACTIVATIONS)}",
                              metavar="NAME")
    output_activation: str | None = setting(None, "model", "str", "default from the task: softmax, sigmoid or "
                                            "identity", metavar="NAME")
    loss: str | None = setting(None, "model", "str", f"the error err{{A, y}}: {', '.join(LOSSES)} (default from "
                               "the task: cross_entropy, binary_cross_entropy or squared_error)", metavar="NAME")
    dropout: float = setting(0.0, "model", "float", "drop probability of hidden units", metavar="P")
    dtype: str = setting("float32", "model", "str", "the network's numbers", choices=("float32", "float64"))
    init: tuple[str, ...] | None = setting(None, "model", "str_list", "initialiser, one for all layers or one per "
                                           "layer (default by activation)", metavar="NAME[,NAME...]")
    optimizer: str = setting("adam", "training", "str", ", ".join(SOLVERS), metavar="NAME")
    lr: float | None = setting(None, "training", "float", "learning rate (default by optimizer: "
                               + ", ".join(f"{name} {default_lr(name):g}" for name in OPTIMIZERS) + ")")
    epochs: int = setting(1000, "training", "int", "at most this many passes over the training rows (early "
                          "stopping usually ends sooner)", metavar="N")
    batch_size: int = setting(64, "training", "int", "0 = full batch", metavar="N")
    l2: float = setting(0.0, "training", "float", "L2 penalty lambda/(2m) sum ||Theta||^2", metavar="LAMBDA")
    weight_decay: float | None = setting(None, "training", "float", "optimizer weight decay (default the "
                                         "optimizer's: adamw 0.01, else 0; decoupled for adamw)", metavar="W")
    clip_norm: float = setting(0.0, "training", "float", "clip the gradient norm; 0 = off", metavar="C")
    schedule: str = setting("constant", "training", "str", ", ".join(SCHEDULES), metavar="NAME")
    warmup: int = setting(0, "training", "int", "cosine schedule: linear warm-up epochs", metavar="N")
    min_lr: float = setting(0.0, "training", "float", "cosine/plateau: lowest lr", metavar="LR")
    schedule_options: dict[str, Any] = setting({}, "training", "table", flag=False)  # --schedule-arg KEY=VALUE
    early_stopping: int = setting(10, "training", "int", "stop after PATIENCE epochs without a better --monitor "
                                  "value and keep the best epoch's weights; 0 = off", metavar="PATIENCE")
    min_delta: float = setting(1e-4, "training", "float", "early stopping: a smaller change of --monitor is no "
                               "improvement (scikit-learn's tol)", metavar="D")
    monitor: str = setting("auto", "training", "str", "what early stopping (and the plateau schedule) watch; auto: "
                           "val_cost, or cost without a validation split", choices=MONITORS)
    seed: int = setting(0, "training", "int", "seeds data generation, split, weights and batches")
    engine: str = setting("fast", "training", "str", "how each step is computed: fast (preallocated buffers) or "
                          "readable (Network.forward/backward line by line); same numbers", choices=tuple(ENGINES))
    out: str | None = setting(None, "output", "str", "run folder (default runs/<data>-<date>-<time>); an existing "
                              "non-empty one needs --overwrite", metavar="DIR")
    checkpoint_every: int = setting(1, "output", "int", "write DIR/checkpoint.npz every N epochs, at most every "
                                    f"{CHECKPOINT_SECONDS:g} s (for --resume; Ctrl-C writes the last epoch's); 0 = never",
                                    metavar="N")
    plots: bool = setting(True, "output", "bool", flag=False)  # --no-plots

    def __post_init__(self) -> None:
        if not self.data:
            raise UserError("no data: give --data NAME_OR_FILE (see `vecprop datasets`) or "
                            "[data] name = ... in the config file")
        check_real("val_fraction", self.val_fraction, 0.0, 1.0, hi_open=True)
        check_real("test_fraction", self.test_fraction, 0.0, 1.0, hi_open=True)
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(f"val_fraction + test_fraction must be < 1; got {self.val_fraction} + "
                            f"{self.test_fraction}")
        for name in ("scale", "target_scale", "dtype", "engine", "task", "missing", "monitor"):
            check_choice(name, getattr(self, name), FIELDS[name].metadata["choices"])
        if any(n < 1 for n in self.hidden):
            raise UserError(f"hidden layer sizes must be positive; got {list(self.hidden)}")
        if len(self.hidden) > MAX_HIDDEN:
            raise UserError(f"hidden lists {len(self.hidden)} layers; a model file holds at most {MAX_HIDDEN} hidden "
                            "layers")
        check_real("dropout", self.dropout, 0.0, 1.0, hi_open=True)
        for name in ("epochs", "batch_size", "warmup", "early_stopping", "checkpoint_every"):
            check_int(name, getattr(self, name), 0)
        for name in ("l2", "clip_norm", "min_lr", "min_delta"):
            check_real(name, getattr(self, name), 0.0)
        if self.lr is not None:
            check_real("lr", self.lr, 0.0, lo_open=True)
        if self.n_samples is not None:
            check_int("n_samples", self.n_samples, 2)
        check_int("seed", self.seed, 0)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_toml_dict(self) -> dict[str, dict[str, Any]]:
        """Sectioned, TOML-ready values: None entries are left out (TOML has no null)."""
        out: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.metadata["section"]][f.metadata["toml"] or f.name] = (
                    list(value) if isinstance(value, tuple) else value)
        return out


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}
SECTIONS: dict[str, dict[str, str]] = {}
"""config.toml's [sections]: each maps the keys written there to the fields they set."""
for _f in FIELDS.values():
    SECTIONS.setdefault(_f.metadata["section"], {})[_f.metadata["toml"] or _f.name] = _f.name

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float}


def add_flags(groups: dict[str, Any]) -> None:
    """One --flag per TrainConfig field (in its section's argparse group), from the field's declaration.

    A flag left out is None, so that ``merge`` keeps the file's value or the default; the help
    shows the default.
    """
    for name, f in FIELDS.items():
        meta = f.metadata
        if not meta["flag"]:
            continue
        default = "" if f.default in (None, "", dataclasses.MISSING) else f" (default {_shown(f.default)})"
        groups[meta["section"]].add_argument(
            "--" + name.replace("_", "-"), dest=name, metavar=meta["metavar"], choices=meta["choices"],
            type={"int_list": int_list, "str_list": name_list}.get(meta["kind"], _TYPES.get(meta["kind"])),
            help=(meta["help"] + default).strip())


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else f"{value}"


def _coerce(where: str, kind: str, value: Any, column: bool = False) -> Any:
    """A file value as the field's type; a wrong type raises UserError naming ``where``. Only a ``column``
    (a CSV column: a name or an index) may be an integer where a string is expected."""
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
    if kind == "str" and column and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a CSV column given by its index
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
        if path.exists() and not path.is_file():  # a FIFO would block, a device never end
            raise UserError(f"--config: {path} is {'a folder' if path.is_dir() else 'not a regular file'}; give a "
                            "config.toml file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"--config: no such file: {path}") from None
    except PermissionError:
        raise UserError(f"--config: permission denied: {path}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UserError(f"--config: {path} is larger than {MAX_CONFIG_BYTES // 2**20} MiB; a config file is a few "
                        "dozen lines (is it the right file?)")
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))  # a byte-order mark (Windows editors) is not TOML
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                        "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from None
    except RecursionError:
        raise UserError(f"{path}: arrays or tables nest too deeply to read; a config file nests a few levels "
                        "at most") from None
    values: dict[str, Any] = {}
    for section, table in doc.items():
        if section not in SECTIONS:
            raise UserError(f"{path}: unknown section [{section}]{_nearest(section, list(SECTIONS))}; "
                            f"sections: {', '.join(f'[{s}]' for s in SECTIONS)}")
        if not isinstance(table, dict):
            raise UserError(f"{path}: {section} must be a [{section}] table; got {table!r}")
        keys = SECTIONS[section]
        for key, value in table.items():
            if key not in keys:
                raise UserError(f"{path}: unknown key {key!r} in [{section}]{_nearest(key, list(keys))}; "
                                f"valid keys: {', '.join(keys)}")
            name = keys[key]
            values[name] = _coerce(f"{path}: [{section}] {key}", FIELDS[name].metadata["kind"], value,
                                   column=name in ("target", "weight_column"))
    return values


def _nearest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def merge(file_values: dict[str, Any], flag_values: dict[str, Any]) -> TrainConfig:
    """Defaults, then the file's values, then every flag the user gave (a flag is None when not given)."""
    values = dict(file_values)
    values.update({k: v for k, v in flag_values.items() if v is not None})
    with user_errors():
        return TrainConfig(**values)


def resolve(cfg: TrainConfig, task: str, has_validation: bool = True) -> TrainConfig:
    """Fill every derived value: loss and output activation from the task, lr and weight decay from the
    optimizer, what early stopping watches."""
    with user_errors():
        defaults = optimizer_defaults(cfg.optimizer)
    monitor = cfg.monitor
    if monitor == "auto":
        monitor = "val_cost" if has_validation else "cost"
    elif monitor.startswith("val_") and not has_validation:
        raise UserError(f"--monitor {monitor} needs a validation split; --val-fraction is 0")
    elif monitor == "val_accuracy" and task == "regression" or monitor == "val_r2" and task != "regression":
        raise UserError(f"--monitor {monitor} does not apply to {task} data; use "
                        f"{'val_r2' if task == 'regression' else 'val_accuracy'} or val_cost")
    return cfg.replace(output_activation=cfg.output_activation or output_activation(TASK_LOSSES[task]),
                       loss=cfg.loss or TASK_LOSSES[task],
                       lr=defaults["lr"] if cfg.lr is None else cfg.lr,
                       weight_decay=defaults["weight_decay"] if cfg.weight_decay is None else cfg.weight_decay,
                       monitor=monitor)


def optimizer_defaults(name: str) -> dict[str, Any]:
    """The optimizer's own defaults (its ``__init__``'s). L-BFGS has no lr nor weight decay (its line
    search sizes the steps): a run records 1.0 and 0."""
    return {"lr": 1.0, "weight_decay": 0.0} if SOLVERS.lookup(name) is LBFGS else optimizer_init_defaults(name)


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
