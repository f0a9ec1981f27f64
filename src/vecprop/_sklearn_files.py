"""The estimators' model files: a ``vecprop.Model`` plus the estimator's parameters, JSON only (no pickle)."""
from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import io

MODEL_KIND = "vecprop.sklearn"  # marks a model file written by an estimator's save()
_PAIRS = "__pairs__"


def _from_json(value: Any) -> Any:
    """Inverse of ``_jsonable`` for dicts with non-string keys."""
    if isinstance(value, dict):
        if set(value) == {_PAIRS}:
            return {(tuple(k) if isinstance(k, list) else k): _from_json(v) for k, v in value[_PAIRS]}
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _jsonable(name: str, value: Any) -> Any:
    """A parameter as JSON for a model file, or TypeError naming it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (Integral, Real)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(name, v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value) and _PAIRS not in value:
        return {k: _jsonable(name, v) for k, v in value.items()}
    if isinstance(value, dict):  # e.g. class_weight {label: weight}: JSON keys must be strings
        return {_PAIRS: [[_jsonable(name, k), _jsonable(name, v)] for k, v in value.items()]}
    raise TypeError(f"cannot store parameter {name}={value!r} in a model file: only JSON values "
                    "(names, numbers, lists, dicts with str keys) are stored; pass it as a name or dict")


class ModelFiles:
    """``save`` and ``load`` for the estimators; the classifier adds its classes through the ``_extra_state`` pair."""

    _SAVED_ATTRIBUTES = ("n_features_in_", "n_outputs_", "n_layers_", "n_iter_", "t_", "loss_", "loss_curve_",
                         "best_loss_", "validation_scores_", "validation_loss_curve_", "best_validation_score_")

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator as a vecprop model file (no pickle): a ``vecprop.Model`` that
        ``vecprop predict`` and ``vecprop.load_model`` read too, plus the estimator's parameters.

        The input preprocessing stored is "none": the estimator feeds rows to its network as given,
        so a scaler in front of it (a Pipeline) must be saved by the caller. The optimizer's state
        is not stored: ``partial_fit`` after ``load`` starts a new optimizer.
        """
        from .model import Model

        check_is_fitted(self)
        params = {k: _jsonable(k, v) for k, v in self.get_params(deep=False).items() if k != "random_state"}
        rs = self.random_state
        params["random_state"] = rs if rs is None or isinstance(rs, Integral) else None
        fitted = {k: _jsonable(k, getattr(self, k)) for k in self._SAVED_ATTRIBUTES if hasattr(self, k)}
        fitted.update(self._extra_state())
        names = getattr(self, "feature_names_in_", None)
        model = Model(self.net_, task=self._task, classes=getattr(self, "classes_", None), scaler="none",
                      feature_names=None if names is None else [str(n) for n in names],
                      provenance={"estimator": type(self).__name__})
        extra = {"kind": MODEL_KIND, "estimator": type(self).__name__, "params": params, "fitted": fitted}
        return model.save(path, extra=extra)

    @property
    def _task(self) -> str:
        """vecprop's name of the task (``metrics``, ``vecprop.Model``); the classifier overrides it."""
        return "regression"

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, fitted: dict[str, Any], model: Any) -> None:
        pass

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Read an estimator written by ``save`` (vecprop 0.1's files too); loading never runs code from the file.

        Parameters the file predates (``learning_rate``, ``max_fun``, ...) take their defaults.
        """
        from .model_files import from_file

        f = io.read_model(path)
        extra = f.extra
        if extra.get("kind") != MODEL_KIND or extra.get("estimator") != cls.__name__:
            found = extra.get("estimator", "a vecprop model (not an estimator's file)")
            raise ValueError(f"{path} holds {found}, not a {cls.__name__}; use "
                             f"{found if extra.get('kind') == MODEL_KIND else 'vecprop.load_model'} to read it")
        model = from_file(f, path)
        params = _from_json(dict(extra["params"]))
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        est = cls(**params)
        fitted = dict(extra["fitted"])
        for key in cls._SAVED_ATTRIBUTES:
            if key in fitted:
                setattr(est, key, fitted.pop(key))
        if model.feature_names is not None:
            est.feature_names_in_ = np.asarray(model.feature_names, dtype=object)
        est._restore_extra_state(fitted, model)
        est.net_ = model.network
        est._reset_solver_state()
        return est
