"""The scikit-learn adapter's engine room: parameters, training through ``vecprop.fit``, weight views, model files."""
from __future__ import annotations

import copy
import sys
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import io
from ._sklearn_params import SKLEARN_ACTIVATIONS, MLPParameters
from .callbacks import Callback
from .lbfgs import LBFGS
from .losses import output_activation
from .network import Network
from .optimizers import OPTIMIZERS, SGD, get_optimizer
from .optimizers import defaults as optimizer_defaults
from .schedules import get_schedule
from .training import fit, predict, validation_logs

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None

MODEL_KIND = "vecprop.sklearn"  # marks a model file written by an estimator's save()


def validate_data(est: BaseEstimator, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
    """scikit-learn's input validation (feature names, n_features_in_, dtype, finiteness)."""
    if _sk_validate_data is not None:
        return _sk_validate_data(est, X, y, **kwargs)
    return est._validate_data(X, y, **kwargs)  # pragma: no cover - scikit-learn < 1.6


def as_columns(rows: np.ndarray) -> np.ndarray:
    """The one place rows become the derivation's columns: (m, n) -> (n, m), a view (no copy)."""
    return rows.T


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


class _EndOfEpoch(Callback):
    """Calls ``epoch_ended(cost) -> stop`` after every epoch of ``fit`` and stops it when told to."""

    def __init__(self, epoch_ended: Any) -> None:
        self._epoch_ended, self.stopped = epoch_ended, False

    def on_epoch_end(self, state: Any) -> None:
        state.stop = self.stopped = bool(self._epoch_ended(state.logs["cost"]))


class BaseMLP(MLPParameters):
    """Training, inference and weight views shared by MLPClassifier and MLPRegressor (rows in, columns inside).

    The parameters are ``MLPParameters``' fields. Subclasses add their own (``class_weight``,
    ``loss``) and provide ``_validate_xy`` (rows in, encoded target rows (m, n_L) out),
    ``_loss`` (the loss; its output activation comes from ``losses.output_activation``) and
    ``_score_rows`` (scikit-learn's ``score`` on validated rows); the classifier also overrides
    ``_check_weights``, ``_stratify_labels`` and the ``_extra_state`` pair for its classes.
    """

    # ---- building blocks ---------------------------------------------------------------------
    def _hidden_sizes(self) -> list[int]:
        h = self.hidden_layer_sizes
        sizes = [h] if isinstance(h, Integral) else list(h)
        if any(not isinstance(n, Integral) or n < 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers; got {self.hidden_layer_sizes!r}")
        return [int(n) for n in sizes]

    def _hidden_activations(self, n_hidden: int) -> list[Any]:
        if self.activations is None:
            return [SKLEARN_ACTIVATIONS.get(self.activation, self.activation)] * n_hidden
        acts = list(self.activations)
        if len(acts) != n_hidden:
            raise ValueError(f"activations must name one activation per hidden layer ({n_hidden}); "
                             f"got {len(acts)}: {self.activations!r}")
        return [SKLEARN_ACTIVATIONS.get(a, a) if isinstance(a, str) else a for a in acts]

    def _make_network(self, n_features: int, n_outputs: int, X_dtype: np.dtype) -> Network:
        hidden = self._hidden_sizes()
        loss = self._loss()
        out_act = output_activation(loss)
        dtype = X_dtype if self.dtype == "auto" else np.dtype(self.dtype)
        dtype = dtype if dtype == np.float32 else np.dtype(np.float64)
        acts = [*self._hidden_activations(len(hidden)), out_act]
        sizes = [n_features, *hidden, n_outputs]
        if self.init != "sklearn":
            return Network(sizes, acts, loss, seed=self._rng, dtype=dtype, init=self.init, dropout=self.dropout)
        net = Network(sizes, acts, loss, seed=0, dtype=dtype, dropout=self.dropout)
        for l, (Theta, b) in enumerate(net.params):
            # scikit-learn's MLP: U(-r, r) for Theta and b, r = sqrt(f / (n_in + n_out)); f = 2 after a
            # sigmoid layer (the hidden activation's rule also sets the output layer's), else 6.
            act = net.activations[min(l, len(hidden) - 1)].name if hidden else ""
            r = np.sqrt((2.0 if act == "sigmoid" else 6.0) / (Theta.shape[0] + Theta.shape[1]))
            Theta[...] = self._rng.uniform(-r, r, Theta.shape)
            b[...] = self._rng.uniform(-r, r, b.shape)
        return net

    def _make_optimizer(self) -> Any:
        lr = float(self.learning_rate_init)
        if isinstance(self.optimizer, dict):
            spec = dict(self.optimizer)
            return get_optimizer(spec.pop("name", None), **{"lr": lr, **spec})
        if self.optimizer is not None:
            return copy.deepcopy(self.optimizer)  # fit never changes a parameter
        name = self.solver
        if name == "sgd" and self.momentum > 0:  # scikit-learn's sgd: heavy-ball or Nesterov momentum
            name = "nesterov" if self.nesterovs_momentum else "momentum"
        given = {"lr": lr, "betas": (float(self.beta_1), float(self.beta_2)), "eps": float(self.epsilon)}
        if issubclass(OPTIMIZERS.lookup(name), SGD):
            given["momentum"] = float(self.momentum)  # scikit-learn's momentum is gradient descent's
        accepted = optimizer_defaults(name)  # each solver takes the settings it has a parameter for
        return get_optimizer(name, **{k: v for k, v in given.items() if k in accepted})

    def _make_schedule(self, lr: float) -> Any:
        spec = self.lr_schedule
        if spec is None or not isinstance(spec, (str, dict)):
            return copy.deepcopy(spec)
        kwargs = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = kwargs.pop("name", None)
        if name == "cosine":
            kwargs.setdefault("total_epochs", int(self.max_iter))
        return get_schedule(name, **{"lr": float(lr), **kwargs})

    def _uses_lbfgs(self) -> bool:
        return self.optimizer is None and self.solver == "lbfgs"

    def _check_partial_fit(self) -> bool:
        if self._uses_lbfgs():
            raise AttributeError(f"partial_fit is only available for stochastic optimizers; "
                                 f"solver={self.solver!r} is not stochastic")
        return True

    def _validate_params_if_supported(self) -> None:
        if hasattr(self, "_validate_params"):
            self._validate_params()

    # ---- fit -----------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool, classes: Any = None) -> BaseMLP:
        self._validate_params_if_supported()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "net_") or (not self.warm_start and not incremental)
        X, Y_rows = self._validate_xy(X, y, reset=first, incremental=incremental, classes=classes)
        w = self._sample_weights(X, Y_rows, sample_weight, incremental)
        if first or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(self._seed())
        if first:
            self.net_ = self._make_network(X.shape[1], Y_rows.shape[1], X.dtype)
            self.n_outputs_, self.n_layers_ = Y_rows.shape[1], self.net_.L + 1
            self.t_, self.loss_curve_, self._no_improvement_count = 0, [], 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.validation_loss_curve_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self._optimizer = None
        dtype = self.net_.dtype
        X_rows = np.ascontiguousarray(X, dtype=dtype)  # copies only to change dtype or order
        Y_rows = np.ascontiguousarray(Y_rows, dtype=dtype)
        if self._uses_lbfgs():
            self._fit_lbfgs(X_rows, Y_rows, w)
        else:
            self._fit_stochastic(X_rows, Y_rows, w, incremental)
        return self

    def _seed(self) -> int | None:
        rs = self.random_state
        if rs is None or isinstance(rs, Integral):
            return None if rs is None else int(rs)
        return int(rs.randint(np.iinfo(np.int32).max))  # a RandomState: draw a seed from it

    def _sample_weights(self, X: np.ndarray, Y_rows: np.ndarray, sample_weight: Any,
                        incremental: bool) -> np.ndarray | None:
        """Per-example weights (m,), or None when every example counts once; ``fit`` checks their values."""
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        return self._check_weights(Y_rows, w, incremental)

    def _check_weights(self, Y_rows: np.ndarray, w: np.ndarray | None, incremental: bool) -> np.ndarray | None:
        """Hook for the classifier's class_weight; returns the weights to use."""
        return w

    def _fit_stochastic(self, X_rows: np.ndarray, Y_rows: np.ndarray, w: np.ndarray | None,
                        incremental: bool) -> None:
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
            self._schedule = self._make_schedule(self._optimizer.lr)
        val = None
        if self.early_stopping:
            X_rows, Y_rows, w, val = self._split_validation(X_rows, Y_rows, w)
        n = X_rows.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else int(min(self.batch_size, n))
        if self.batch_size != "auto" and self.batch_size > n:
            warnings.warn("Got `batch_size` larger than the sample size. It is going to be clipped")
        self.n_iter_ = 0
        if self._schedule is not None:
            self._optimizer.lr = self._schedule.current_lr
        end = _EndOfEpoch(lambda cost: self._end_epoch(cost, n, val))  # scikit-learn's rules, per epoch
        fit(self.net_, as_columns(X_rows), as_columns(Y_rows), sample_weight=w, optimizer=self._optimizer,
            epochs=1 if incremental else int(self.max_iter), batch_size=batch_size, l2=float(self.alpha),
            shuffle=self.shuffle, seed=self._rng, callbacks=[end])
        if not (incremental or end.stopped) and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            self.net_.flat[...] = self._best_flat

    def _end_epoch(self, cost: float, n: int, val: tuple | None) -> bool:
        """scikit-learn's end-of-epoch bookkeeping; True when the stopping rule fires."""
        self.loss_ = float(cost)
        self.n_iter_ += 1
        self.t_ += n
        self.loss_curve_.append(self.loss_)
        self._say(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        metric = self._update_no_improvement_count(val)
        if self._schedule is not None:
            self._optimizer.lr = self._schedule.step(metric)
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            self._say(f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                      "consecutive epochs. Stopping.")
            return True
        return False

    def _split_validation(self, X_rows, Y_rows, w):
        stratify = self._stratify_labels(Y_rows)
        parts = train_test_split(X_rows, Y_rows, *([] if w is None else [w]),
                                 random_state=int(self._rng.integers(np.iinfo(np.int32).max)),
                                 test_size=self.validation_fraction, stratify=stratify)
        X_tr, X_val, Y_tr, Y_val = parts[:4]
        w_tr, w_val = (None, None) if w is None else parts[4:]
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        self._best_flat = self.net_.flat.copy()
        return X_tr, Y_tr, w_tr, (X_val, Y_val, w_val)

    def _stratify_labels(self, Y_rows: np.ndarray) -> np.ndarray | None:
        return None

    def _update_no_improvement_count(self, val: tuple | None) -> float:
        """scikit-learn's stopping rule; returns the metric a schedule watches (val. or training loss)."""
        if val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return self.loss_curve_[-1]
        X_val, Y_val, w_val = val
        logs = validation_logs(self.net_, as_columns(X_val), as_columns(Y_val), sample_weight=w_val,
                               l2=float(self.alpha))
        self.validation_loss_curve_.append(logs["val_cost"])
        score = self._score_rows(X_val, Y_val, w_val)
        self.validation_scores_.append(score)
        self._say(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_flat = self.net_.flat.copy()
        return logs["val_cost"]

    def _fit_lbfgs(self, X_rows: np.ndarray, Y_rows: np.ndarray, w: np.ndarray | None) -> None:
        solver = LBFGS(max_iter=int(self.max_iter), tol=max(float(self.tol), np.finfo(float).tiny))
        X, Y, l2 = as_columns(X_rows), as_columns(Y_rows), float(self.alpha)
        history = fit(self.net_, X, Y, sample_weight=w, optimizer=solver, l2=l2)  # one row per iteration
        costs = [float(c) for c in history["cost"]]
        self.n_iter_ = max(len(costs), 1)
        self.loss_curve_.extend(costs)
        self.loss_ = costs[-1] if costs else validation_logs(self.net_, X, Y, sample_weight=w, l2=l2)["val_cost"]
        self.t_ += X_rows.shape[0] * self.n_iter_
        if len(costs) >= self.max_iter:
            warnings.warn(f"lbfgs failed to converge after {self.max_iter} iteration(s): increase "
                          "max_iter or scale the data.", ConvergenceWarning)

    def _say(self, message: str) -> None:
        if self.verbose:  # scikit-learn's verbose contract: progress lines on stdout
            sys.stdout.write(message + "\n")

    # ---- inference -------------------------------------------------------------------------
    def _forward_rows(self, X: Any) -> np.ndarray:
        """A[L] for the rows of X, as rows (m, n_L), in the network's dtype (inference mode)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self._forward_rows_trusted(np.asarray(X, dtype=self.net_.dtype))

    def _forward_rows_trusted(self, X_rows: np.ndarray) -> np.ndarray:
        """A[L] as rows (m, n_L) for rows (m, n_0) already validated and in the network's dtype."""
        return predict(self.net_, as_columns(X_rows)).T  # (m, n_L)

    # ---- the derivation's and scikit-learn's views of the weights ----------------------------
    @property
    def Theta_(self) -> list[np.ndarray]:
        """Theta[l] (n_l, n_{l-1}), l = 1..L: views of the network's weights (the derivation's layout)."""
        return [Theta for Theta, _ in self._net().params]

    @property
    def b_(self) -> list[np.ndarray]:
        """b[l] (n_l, 1), l = 1..L: views of the network's biases."""
        return [b for _, b in self._net().params]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """scikit-learn's layout: ``coefs_[i] = Theta[i+1].T`` (n_in, n_out), a view."""
        return [Theta.T for Theta, _ in self._net().params]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """scikit-learn's layout: ``intercepts_[i] = b[i+1][:, 0]`` (n_out,), a view."""
        return [b[:, 0] for _, b in self._net().params]

    def _net(self) -> Network:
        if "net_" not in vars(self):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return self.net_

    # ---- model files -----------------------------------------------------------------------
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
        model = Model(self.net_, task=self._task, classes=self._model_classes(), scaler="none",
                      feature_names=None if names is None else [str(n) for n in names],
                      provenance={"estimator": type(self).__name__})
        extra = {"kind": MODEL_KIND, "estimator": type(self).__name__, "params": params, "fitted": fitted}
        return model.save(path, extra=extra)

    _SAVED_ATTRIBUTES = ("n_features_in_", "n_outputs_", "n_layers_", "n_iter_", "t_", "loss_", "loss_curve_",
                         "best_loss_", "validation_scores_", "validation_loss_curve_", "best_validation_score_")

    @property
    def _task(self) -> str:
        """vecprop's name of the task (``metrics``, ``vecprop.Model``); the classifier overrides it."""
        return "regression"

    def _model_classes(self) -> list[Any] | None:
        return None

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, fitted: dict[str, Any], model: Any) -> None:
        pass

    @classmethod
    def load(cls, path: str | Path) -> BaseMLP:
        """Read an estimator written by ``save`` (vecprop 0.1's files too); loading never runs code from the file."""
        from .model_files import from_file

        f = io.read_model(path)
        extra = f.extra
        if extra.get("kind") != MODEL_KIND or extra.get("estimator") != cls.__name__:
            found = extra.get("estimator", "a plain vecprop network")
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
        est._optimizer, est._no_improvement_count = None, 0
        return est
