"""Model and checkpoint files: .npz arrays plus JSON metadata, checked in full on load, written atomically."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._archive import ModelFileError, TreeWriter, check_array_dtype, decode_tree, read_archive, write_archive
from ._atomic import atomic_write
from ._checks import check_sizes
from ._schema import SchemaError, load_schema, validate
from .activations import ACTIVATIONS, get_activation
from .initializers import INITIALIZERS
from .losses import LOSSES, get_loss
from .network import Network

__all__ = [
    "CHECKPOINT_FORMAT", "FORMAT_VERSION", "MODEL_FORMAT", "Checkpoint", "ModelFile", "ModelFileError",
    "atomic_write", "load", "load_checkpoint", "load_with_extras", "read_model", "save", "save_checkpoint",
    "write_model",
]

MODEL_FORMAT = "vecprop-model"
CHECKPOINT_FORMAT = "vecprop-checkpoint"
FORMAT_VERSION = 2  # both formats; bumped whenever a reader of the old version would misread a new file
READS = (1, 2)  # versions this vecprop reads: 1 (vecprop 0.1) has no 'model' key and no metadata digest

_NETWORK_KEYS = {"sizes", "activations", "loss", "dtype", "init", "dropout"}
_MODEL_KEYS = {1: {"format", "version", "written_by", "network", "extra", "arrays"},
               2: {"format", "version", "written_by", "network", "model", "extra", "arrays"}}
_CHECKPOINT_KEYS = {"format", "version", "written_by", "network", "epoch", "optimizer_state",
                    "schedule_state", "rng_state", "extra", "arrays"}
_STATE_TREES = (("optimizer_state", "optimizer"), ("schedule_state", "schedule"), ("rng_state", "rng"),
                ("extra", "extra"))  # metadata key, entry prefix of its arrays
_ARRAY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


# ---- model files -------------------------------------------------------------------------------
def save(
    net: Network,
    path: str | os.PathLike,
    *,
    extra: dict[str, Any] | None = None,
    arrays: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``net`` alone to a model file (format ``vecprop-model`` 2, see docs/file-format.md), atomically.

    A bare network: no task, classes or input preprocessing are stored (``vecprop.load_model``
    warns about that). To keep everything that turns raw rows into answers, save a
    ``vecprop.Model`` instead.

    Parameters
    ----------
    net : a Network with built-in activations and loss and finite weights.
    path : the file to write (used as given: no suffix is added; ``.npz`` is conventional).
    extra : user metadata stored as JSON: dicts with str keys, lists, tuples, str, int, float
        (non-finite too), bool, None; numpy scalars are stored as the Python value ``.item()``.
        Returned by ``load_with_extras``.
    arrays : extra named arrays (names ``[A-Za-z0-9_][A-Za-z0-9_.-]*``, at most 64 characters;
        bool/int/float/complex/bytes/str dtypes), e.g. a scaler's mean, class names.

    Returns
    -------
    The path written. Theta[l] (n_l, n_{l-1}) and b[l] (n_l, 1) are stored little-endian as
    entries ``Theta1, b1, ..., ThetaL, bL``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    >>> p = save(net, pathlib.Path(tempfile.mkdtemp()) / "iris.npz")
    >>> load(p).params[0][0].shape  # Theta1: (n_1, n_0)
    (8, 4)
    """
    return write_model(path, net, None, extra=extra, arrays=arrays)


def write_model(path: str | os.PathLike, net: Network, model: dict[str, Any] | None, *,
                extra: dict[str, Any] | None = None, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a model file: the network, the ``model`` metadata (``Model.metadata()``, or None) and extras."""
    config, entries = _network_entries(net)
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of JSON-able metadata; got {type(extra).__name__}")
    encoded_extra = TreeWriter("extra", {}, allow_arrays=False).encode(extra or {}, "extra")
    if arrays is not None and not isinstance(arrays, dict):
        raise TypeError(f"arrays must be a dict of name -> numpy array; got {type(arrays).__name__}")
    for name, a in (arrays or {}).items():
        if not (isinstance(name, str) and _ARRAY_NAME.fullmatch(name)):
            raise ValueError(f"array name {name!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]* (at most 64 characters)")
        if not isinstance(a, np.ndarray):
            raise TypeError(f"arrays[{name!r}] must be a numpy array; got {type(a).__name__}")
        check_array_dtype(a, f"arrays[{name!r}]")
        entries[f"extra/{name}"] = a
    metadata = {"format": MODEL_FORMAT, "version": FORMAT_VERSION, "written_by": _written_by(),
                "network": config, "model": model, "extra": encoded_extra}
    _check_own_schema(metadata)
    return atomic_write(path, lambda fh: write_archive(fh, metadata, entries))


def load(path: str | os.PathLike) -> Network:
    """Read the network of a model file (any vecprop model file, versions 1 and 2); every check applies."""
    return read_model(path).net


def load_with_extras(path: str | os.PathLike) -> tuple[Network, dict[str, Any], dict[str, np.ndarray]]:
    """Read a model file: (network, extra metadata, extra arrays by name); ``{}`` where none were saved."""
    f = read_model(path)
    return f.net, f.extra, f.arrays


@dataclass(frozen=True)
class ModelFile:
    """A model file as read: the network, the ``model`` metadata (None for a bare network or a
    version 1 file), the user's extra metadata and arrays, and the format version."""

    net: Network
    model: dict[str, Any] | None
    extra: dict[str, Any]
    arrays: dict[str, np.ndarray]
    version: int


def read_model(path: str | os.PathLike) -> ModelFile:
    """Read and check a model file (versions 1 and 2).

    Everything is checked before the network is built: bounded sizes (no compressed entry, a
    metadata size and nesting limit), the metadata's own digest (version 2), format and
    version, the metadata against the JSON Schema ``model.schema.json`` (version 2), the network
    config (through get_activation/get_loss), every array's presence, shape, dtype and SHA-256
    digest, finite weights. Any fault raises ``ModelFileError`` naming the path and the fault;
    numpy is never asked to unpickle, so loading never runs code from the file.
    """
    meta, arrays = read_archive(path, MODEL_FORMAT, READS, lambda m: _expect_model(path, m))
    try:
        extra = decode_tree(meta["extra"], "extra", "extra", {}, set())
    except ValueError as e:
        raise ModelFileError(path, f"bad extra metadata: {e}") from None
    if not isinstance(extra, dict):
        raise ModelFileError(path, f"extra metadata must be a JSON object; found {type(extra).__name__}")
    weights = _weight_shapes(_network_kwargs(path, meta["network"]))
    user = {}
    for name, a in arrays.items():
        if name in weights:
            continue
        if not (name.startswith("extra/") and _ARRAY_NAME.fullmatch(name[len("extra/"):])):
            raise ModelFileError(path, f"unexpected entry {name!r} in a {MODEL_FORMAT} file")
        user[name[len("extra/"):]] = a
    return ModelFile(_build(path, meta["network"], arrays), meta.get("model"), extra, user, meta["version"])


def _expect_model(path: str | os.PathLike, meta: dict[str, Any]) -> dict:
    if meta["version"] >= 2:
        try:
            validate(meta, load_schema())
        except SchemaError as e:
            raise ModelFileError(path, f"the metadata does not match the {MODEL_FORMAT} schema: {e}") from None
    return _expect(path, meta, _MODEL_KEYS[meta["version"]])


def _check_own_schema(metadata: dict[str, Any]) -> None:
    """What we write must pass what we read: a failure here is a vecprop bug or a bad argument."""
    try:
        validate({**metadata, "arrays": {}}, load_schema())
    except SchemaError as e:
        raise ValueError(f"cannot save this model: its metadata does not match the {MODEL_FORMAT} schema: {e}") from None


# ---- checkpoints ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """What resuming training needs: the network, optimizer and schedule state, RNG state, epoch.

    ``rng_state`` is a ``numpy.random.Generator``'s ``bit_generator.state``; resume with
    ``rng.bit_generator.state = ckpt.rng_state``. ``extra`` is ``{}`` when none was saved.
    """

    net: Network
    optimizer_state: dict[str, Any]
    schedule_state: dict[str, Any] | None
    rng_state: dict[str, Any]
    epoch: int
    extra: dict[str, Any]

    def __repr__(self) -> str:
        sched = None if self.schedule_state is None else sorted(self.schedule_state)
        return (f"Checkpoint(epoch={self.epoch}, net={self.net!r}, optimizer_state keys="
                f"{sorted(self.optimizer_state)}, schedule_state keys={sched}, "
                f"rng={self.rng_state.get('bit_generator')!r}, extra keys={sorted(self.extra)})")


def save_checkpoint(
    path: str | os.PathLike,
    *,
    net: Network,
    optimizer_state: dict[str, Any],
    schedule_state: dict[str, Any] | None,
    rng_state: dict[str, Any],
    epoch: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a training checkpoint (format ``vecprop-checkpoint`` 2), atomically.

    Parameters
    ----------
    path : the file to write (used as given).
    net : the network, as for ``save``.
    optimizer_state, schedule_state : str-keyed dicts whose values are numpy arrays, numpy
        scalars, lists/tuples of them, or JSON scalars (None, bool, int, float, str) and nested
        lists/dicts of those. Arrays become entries; the rest is JSON. The round trip is exact:
        array dtypes and bytes, int vs float, float bits (finite floats via ``repr``), tuples.
    rng_state : ``rng.bit_generator.state`` of a numpy Generator (PCG64, PCG64DXSM, MT19937,
        Philox or SFC64).
    epoch : the number of completed epochs (int >= 0).
    extra : more state of the same kinds as ``optimizer_state`` (arrays allowed).

    Returns
    -------
    The path written.
    """
    config, entries = _network_entries(net)
    for name, value in (("optimizer_state", optimizer_state), ("extra", extra or {})):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be a dict; got {type(value).__name__}")
    if schedule_state is not None and not isinstance(schedule_state, dict):
        raise TypeError(f"schedule_state must be a dict or None; got {type(schedule_state).__name__}")
    _check_rng_state(rng_state)
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0; got {epoch!r}")
    metadata: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION,
                                "written_by": _written_by(), "network": config, "epoch": int(epoch)}
    values = {"optimizer_state": optimizer_state, "schedule_state": schedule_state,
              "rng_state": rng_state, "extra": extra or {}}
    for key, prefix in _STATE_TREES:
        metadata[key] = TreeWriter(prefix, entries).encode(values[key], key)
    return atomic_write(path, lambda fh: write_archive(fh, metadata, entries))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``, with every check ``load`` makes.

    Also checked: each state array entry is referenced exactly once, the epoch is an int >= 0,
    and ``rng_state`` is accepted by a fresh bit generator of its kind.
    """
    meta, arrays = read_archive(path, CHECKPOINT_FORMAT, READS, lambda m: _expect(path, m, _CHECKPOINT_KEYS))
    epoch = meta["epoch"]
    if type(epoch) is not int or epoch < 0:
        raise ModelFileError(path, f"epoch must be an integer >= 0; found {epoch!r}")
    used = set(_weight_shapes(_network_kwargs(path, meta["network"])))
    try:
        state = {key: decode_tree(meta[key], key, prefix, arrays, used) for key, prefix in _STATE_TREES}
        for key in ("optimizer_state", "extra"):
            if not isinstance(state[key], dict):
                raise ValueError(f"{key} must be an object; found {type(state[key]).__name__}")
        if state["schedule_state"] is not None and not isinstance(state["schedule_state"], dict):
            raise ValueError(f"schedule_state must be an object or null; found {state['schedule_state']!r}")
        _check_rng_state(state["rng_state"])
    except (TypeError, ValueError) as e:
        raise ModelFileError(path, str(e)) from None
    unused = sorted(set(arrays) - used)
    if unused:
        raise ModelFileError(path, f"entry {unused[0]!r} is not referenced by the metadata")
    if meta["version"] == 1:  # vecprop 0.1 stored the index of the last epoch, not the completed count
        epoch += 1
    return Checkpoint(net=_build(path, meta["network"], arrays), epoch=epoch, **state)


# ---- helpers --------------------------------------------------------------------------------------
def _written_by() -> str:
    try:
        from . import __version__
    except ImportError:  # vecprop/__init__ still importing
        return "vecprop"
    return f"vecprop {__version__}"


def _network_entries(net: Network) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config, {"Theta1": ..., "b1": ...}) of a network that a model file can hold, or a clear error."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a vecprop.Network; got {type(net).__name__}")
    config = net.config()
    if set(config) != _NETWORK_KEYS:
        raise RuntimeError(f"Network.config() has keys {sorted(config)}, but {MODEL_FORMAT} version "
                           f"{FORMAT_VERSION} stores exactly {sorted(_NETWORK_KEYS)}: vecprop.io needs a new "
                           "format version before such a network can be saved")
    for l, act in enumerate(net.activations, start=1):
        if type(act) is not ACTIVATIONS.get(act.config().get("name")):
            raise ValueError(
                f"layer {l}'s activation {act.name!r} is custom ({type(act).__name__}); model files store only "
                f"the built-in activations ({', '.join(ACTIVATIONS)}), so this network cannot be saved. "
                "Use a built-in activation, or save net.flat and your own config yourself"
            )
    if type(net.loss) is not LOSSES.get(net.loss.config().get("name")):
        raise ValueError(f"the loss {net.loss.name!r} is custom ({type(net.loss).__name__}); model files store "
                         f"only the built-in losses ({', '.join(LOSSES)})")
    dtype = net.dtype.newbyteorder("<")
    arrays = {}
    for l, (Theta, b) in enumerate(net.params, start=1):
        for name, a in ((f"Theta{l}", Theta), (f"b{l}", b)):
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains NaN or inf; a network with non-finite weights cannot be saved")
            arrays[name] = np.ascontiguousarray(a, dtype=dtype)
    return config, arrays


def _expect(path: str | os.PathLike, meta: dict[str, Any], keys: set[str]) -> dict:
    """Check the metadata's keys and network config; the weight entries' (shape, dtype) it implies."""
    missing, unknown = sorted(keys - set(meta)), sorted(set(meta) - keys)
    if missing:
        raise ModelFileError(path, f"the metadata lacks {missing}")
    if unknown:
        raise ModelFileError(path, f"unknown metadata keys {unknown} for format version {meta['version']}")
    if not isinstance(meta["written_by"], str):
        raise ModelFileError(path, f"written_by must be a string; found {meta['written_by']!r}")
    return _weight_shapes(_network_kwargs(path, meta["network"]))


def _network_kwargs(path: str | os.PathLike, cfg: Any) -> dict[str, Any]:
    """The stored network config, validated through the same registries the Network uses."""
    def bad(problem: str) -> ModelFileError:
        return ModelFileError(path, f"invalid network config: {problem}")

    if not (isinstance(cfg, dict) and set(cfg) == _NETWORK_KEYS):
        found = sorted(cfg) if isinstance(cfg, dict) else type(cfg).__name__
        raise bad(f"it must have exactly the keys {sorted(_NETWORK_KEYS)}; found {found}")
    try:
        sizes = check_sizes(cfg["sizes"])
    except (TypeError, ValueError) as e:
        raise bad(str(e)) from None
    L = len(sizes) - 1
    acts, init, dropout = cfg["activations"], cfg["init"], cfg["dropout"]
    if not (isinstance(acts, list) and len(acts) == L):
        raise bad(f"activations must list L={L} activation configs; found {acts!r}")
    for l, c in enumerate(acts, start=1):
        try:
            act = get_activation(c) if isinstance(c, dict) else None
        except (TypeError, ValueError) as e:
            raise bad(f"layer {l}'s activation {c!r}: {e}") from None
        if act is None or act.config() != c:
            raise bad(f"layer {l}'s activation {c!r} is not a built-in activation config")
    try:
        loss = get_loss(cfg["loss"]) if isinstance(cfg["loss"], dict) else None
    except (TypeError, ValueError) as e:
        raise bad(f"loss {cfg['loss']!r}: {e}") from None
    if loss is None or loss.config() != cfg["loss"]:
        raise bad(f"loss {cfg['loss']!r} is not a built-in loss config")
    if cfg["dtype"] not in ("float32", "float64"):
        raise bad(f"dtype must be 'float32' or 'float64'; found {cfg['dtype']!r}")
    if not (isinstance(init, list) and len(init) == L and all(isinstance(i, str) and i in INITIALIZERS for i in init)):
        raise bad(f"init must list L={L} initializer names from {', '.join(INITIALIZERS)}; found {init!r}")
    if not (isinstance(dropout, list) and len(dropout) == L - 1 and all(
            type(p) in (int, float) and 0.0 <= p < 1.0 for p in dropout)):
        raise bad(f"dropout must list L-1={L - 1} rates in [0, 1); found {dropout!r}")
    return {"sizes": sizes, "activations": acts, "loss": cfg["loss"], "dtype": cfg["dtype"],
            "init": init, "dropout": dropout}


def _weight_shapes(kwargs: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    dtype = np.dtype(kwargs["dtype"]).newbyteorder("<")
    sizes = kwargs["sizes"]
    out = {}
    for l, (n_prev, n_l) in enumerate(zip(sizes, sizes[1:]), start=1):
        out[f"Theta{l}"] = ((n_l, n_prev), dtype)  # (n_l, n_{l-1})
        out[f"b{l}"] = ((n_l, 1), dtype)  # (n_l, 1)
    return out


def _build(path: str | os.PathLike, cfg: dict[str, Any], arrays: dict[str, np.ndarray]) -> Network:
    """The network, built only after its config and every weight passed their checks."""
    kwargs = _network_kwargs(path, cfg)
    for name in _weight_shapes(kwargs):
        finite = np.isfinite(arrays[name])
        if not finite.all():
            idx = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ModelFileError(path, f"array {name!r} holds a non-finite value {arrays[name][idx]} at {idx}")
    try:
        net = Network(kwargs["sizes"], kwargs["activations"], kwargs["loss"], dtype=kwargs["dtype"],
                      init=kwargs["init"], dropout=kwargs["dropout"])
    except (TypeError, ValueError) as e:
        raise ModelFileError(path, f"invalid network config: {e}") from None
    for l, (Theta, b) in enumerate(net.params, start=1):
        Theta[...] = arrays[f"Theta{l}"]
        b[...] = arrays[f"b{l}"]
    return net


def _check_rng_state(state: Any) -> None:
    """Raise unless ``state`` is a bit generator state dict that a fresh generator of its kind accepts."""
    if isinstance(state, np.random.Generator):
        raise TypeError("rng_state must be the dict rng.bit_generator.state, not the Generator itself")
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if not isinstance(kind, str) or kind not in _BIT_GENERATORS:
        raise ValueError(f"rng_state must be rng.bit_generator.state of one of {', '.join(_BIT_GENERATORS)}; "
                         f"got {kind if isinstance(state, dict) else type(state).__name__!r}")
    try:
        getattr(np.random, kind)().state = state
    except Exception as e:  # the bit generator's own validation of the state's fields
        raise ValueError(f"rng_state is not a valid {kind} state ({type(e).__name__}: {e})") from None
