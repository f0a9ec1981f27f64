"""Reading a Model from any vecprop model file: format 2, vecprop 0.1's files, bare networks."""
from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from . import io as _io
from ._archive import ModelFileError
from .datasets.scaling import scaler_from_dict
from .model import Model, ModelWarning, task_of_network
from .network import Network
from .preprocessing import Preprocessor


def natural_classes(names: Sequence[str] | None) -> list[Any] | None:
    """Class names read as text (a data set's, a CSV's) in the user's own values: "7" is the integer 7."""
    if names is None:
        return None
    if all(c.lstrip("-").isdigit() and str(int(c)) == c for c in names):
        return [int(c) for c in names]
    return list(names)


def load_model(path: str | os.PathLike) -> Model:
    """Read any vecprop model file as a Model: files of ``Model.save``, ``vecprop train``, the
    scikit-learn estimators' ``save``, ``vecprop.save`` and vecprop 0.1 (format version 1).

    Every check of ``vecprop.io.read_model`` applies, and the model part is checked against the
    network (task, outputs, classes, preprocessing sizes): any fault is a ``ModelFileError``.
    A file that stores no input preprocessing loads with a ``ModelWarning`` saying so.
    """
    model = from_file(_io.read_model(path), path)
    if model.preprocessing is None:
        warnings.warn(f"{path} stores no input preprocessing (it holds a bare network): rows are fed to the network "
                      "as given. If it was trained on scaled inputs its answers are wrong: save it as "
                      "vecprop.Model(net, scaler=...) to record the scaler", ModelWarning, stacklevel=2)
    return model


def from_file(f: _io.ModelFile, path: str | os.PathLike) -> Model:
    """The Model of a file read by ``vecprop.io.read_model``; a fault is a ``ModelFileError`` naming ``path``."""
    try:
        return _from_metadata(f.net, f.model) if f.version >= 2 else _from_version_1(f.net, f.extra, f.arrays)
    except (TypeError, ValueError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise ModelFileError(path, f"invalid model metadata: {message}") from None


def _from_metadata(net: Network, meta: dict[str, Any] | None) -> Model:
    if meta is None:
        return Model(net)
    if meta["n_outputs"] != net.sizes[-1]:
        raise ValueError(f"n_outputs is {meta['n_outputs']} but the network has {net.sizes[-1]} outputs")
    pre = None if meta["preprocessing"] is None else Preprocessor.from_dict(meta["preprocessing"])
    tsc = None if meta["target_scaler"] is None else scaler_from_dict(meta["target_scaler"])
    if tsc is not None and not (np.isfinite(tsc.mean_).all() and np.isfinite(tsc.std_).all()):
        raise ValueError("the target scaler holds a non-finite value")
    return Model(net, task=meta["task"], classes=meta["classes"], feature_names=meta["feature_names"],
                 preprocessing=pre, target_scaler=tsc, provenance=meta["provenance"])  # type: ignore[arg-type]


def _from_version_1(net: Network, extra: dict[str, Any], arrays: dict[str, np.ndarray]) -> Model:
    """vecprop 0.1 wrote the model's context into ``extra``: the CLI's layout, the estimators', or none."""
    task = task_of_network(net)
    if extra.get("kind") == "vecprop.sklearn":  # MLPClassifier/MLPRegressor.save
        fitted = extra.get("fitted", {})
        classes = None
        if "classes" in arrays and fitted.get("y_type") != "multilabel-indicator":
            classes = [c.item() if isinstance(c, np.generic) else c for c in arrays["classes"]]
        names = arrays.get("feature_names_in")
        return Model(net, task=task, classes=classes, scaler="none",
                     feature_names=None if names is None else [str(n) for n in names],
                     provenance={"written_by": "vecprop 0.1 " + str(extra.get("estimator"))})
    if "scaler" in extra and "task" in extra:  # vecprop train's run folder
        cfg_task = extra["task"]
        sc, tsc = extra.get("scaler"), extra.get("target_scaler")
        if cfg_task == "regression" and task != "regression":
            task = "regression"
        elif cfg_task == "binary" and task == "multiclass":
            task = "binary"  # 0.1 trained binary data with softmax + cross-entropy when asked to
        provenance = {k: extra[k] for k in ("data", "split", "config", "vecprop_version") if k in extra}
        return Model(net, task=task, classes=extra.get("classes"), feature_names=extra.get("feature_names"),
                     scaler="none" if sc is None else scaler_from_dict(sc),
                     target_scaler=None if tsc is None else scaler_from_dict(tsc), provenance=provenance)
    return Model(net, task=task)
