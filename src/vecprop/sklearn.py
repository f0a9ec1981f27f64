"""scikit-learn estimators backed by vecprop: ``MLPClassifier`` and ``MLPRegressor`` (rows in, like scikit-learn).

A drop-in for ``sklearn.neural_network``'s MLPs (same parameters, fitted attributes, errors and
warnings; scikit-learn's own MLP test module passes against them), plus vecprop's own:
per-layer ``activations``, ``dropout``, more regression losses, any vecprop ``optimizer``
(AdamW, RMSprop, ...), ``lr_schedule``, ``class_weight``, early stopping on the loss or any
scorer (``scoring``), ``keep_optimizer``, ``dtype``, validation-loss curves and pickle-free model
files (``save``/``load``). Dense, CSR and CSC X. See docs/sklearn.md.

Examples
--------
>>> import numpy as np
>>> from vecprop.sklearn import MLPClassifier
>>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(int)
>>> clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
>>> clf.predict_proba(X).shape, clf.predict_proba(X).dtype, clf.coefs_[0].shape, clf.Theta_[0].shape
((40, 2), dtype('float32'), (3, 8), (8, 3))
"""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError as err:  # an optional extra
    raise ImportError("vecprop.sklearn needs scikit-learn: pip install 'vecprop[sklearn]'") from err
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call, check_classification_targets, type_of_target, unique_labels,
)
from sklearn.utils.validation import column_or_1d

from ._sklearn_base import BaseMLP, validate_data
from .metrics import TASK_LOSSES, labels

__all__ = ["MLPClassifier", "MLPRegressor"]


_NUMBER_DTYPES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
"""numpy dtype codes (after the byte order) that ``classes_`` may be restored to."""


@dataclass(eq=False, repr=False)
class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by vecprop: binary, multi-class and multi-label.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init,
    power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun :
        As in ``sklearn.neural_network.MLPClassifier``. ``activation`` also takes any vecprop
        hidden activation ("gelu", "silu", "elu", ...); ``solver`` also takes "adamw",
        "rmsprop", "momentum" and "nesterov" (``learning_rate`` rules the SGD family, as
        scikit-learn's rules "sgd"). ``alpha`` is the derivation's L2 lambda. An int
        ``random_state`` gives scikit-learn's initial weights and early-stopping split.
    activations : list of str or dict, optional
        One activation per hidden layer; replaces ``activation``.
    dropout : float or list of float
        Inverted-dropout rate per hidden layer (training only).
    optimizer : dict or vecprop optimizer, optional
        Replaces ``solver``: ``{"name": "adamw", "weight_decay": 0.05}`` (lr defaults to
        ``learning_rate_init``) or an optimizer object (deep-copied at fit).
    lr_schedule : str, dict or vecprop schedule, optional
        Per-epoch learning rate: "cosine" (over ``max_iter`` epochs), ``{"name": "step",
        "step_size": 30}``, ...; "plateau" watches the validation loss with early stopping,
        else the training loss. Replaces ``learning_rate`` (giving both is an error).
    class_weight : dict, "balanced" or None
        Multiplies each example's weight by its class's weight (not for multi-label y).
    scoring : None, "loss", a scorer name or callable
        What early stopping maximises on the validation set: None is scikit-learn's rule
        (``score``: accuracy or R^2), "loss" the negated validation cost, else any scikit-learn
        scorer (``"roc_auc"``, ``"neg_log_loss"``, ``make_scorer(...)``). The best weights are restored.
    keep_optimizer : bool
        With ``warm_start``, the next ``fit`` continues the optimizer (Adam's moments, momentum,
        step count, learning rate and schedule) instead of starting a new one.
    dtype : "auto", "float32" or "float64"
        The network's dtype; "auto" follows X at the first fit (float32 stays float32,
        anything else trains in float64, as scikit-learn does).

    Attributes
    ----------
    classes_ : (n_classes,) labels. For multi-label y, ``arange(n_labels)``.
    net_ : the trained ``vecprop.Network`` (output softmax for multi-class, sigmoid otherwise).
    coefs_, intercepts_ : scikit-learn's layout, ``coefs_[i] = Theta_[i].T`` (n_in, n_out) and
        ``intercepts_[i] = b_[i][:, 0]``; views of the network's weights.
    Theta_, b_ : the derivation's layout, Theta[l] (n_l, n_{l-1}), b[l] (n_l, 1); views.
    loss_, loss_curve_, best_loss_, n_iter_, t_, validation_scores_, best_validation_score_,
    n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_ :
        As in scikit-learn (``loss_curve_`` is also filled by lbfgs, one entry per iteration;
        ``validation_scores_`` holds what ``scoring`` measures).
    validation_loss_curve_ : list of float or None
        Validation cost per epoch (with ``early_stopping``).
    """

    _: KW_ONLY
    class_weight: Any = None

    _parameter_constraints: ClassVar[dict] = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,) or an indicator matrix.

        Parameters
        ----------
        X : array-like or CSR/CSC matrix (n_samples, n_features); float32 keeps a float32 network
            (dtype="auto"). A sparse X stays sparse: only the first layer multiplies it.
        y : (n_samples,) class labels, or (n_samples, n_labels) 0/1 indicators for multi-label.
        sample_weight : (n_samples,) non-negative weights, optional. With a full batch, weight k
            trains exactly like k copies of the example, weight 0 like dropping it.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_partial_fit())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y), continuing the optimizer; ``classes`` is required on the first call."""
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ---- targets -------------------------------------------------------------------------
    def _validate_xy(self, X, y, *, reset: bool, incremental: bool, classes: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        y_type = type_of_target(y)
        if y_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"{type(self).__name__} supports binary, multi-class and multi-label targets; "
                             f"got {y_type} y")
        if incremental:
            if _check_partial_fit_first_call(self, classes):
                self._set_classes(classes if y_type != "multilabel-indicator" else None, y, y_type)
        elif reset:
            self._set_classes(None, y, y_type)
        elif set(unique_labels(y)) != set(self.classes_):  # warm_start: the same classes again
            raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous "
                             f"call to fit. Previously got {self.classes_}, `y` has {unique_labels(y)}")
        return X, self._encode(y)

    def _set_classes(self, classes: Any, y: np.ndarray, y_type: str) -> None:
        if y_type == "multilabel-indicator":
            self.classes_, self._y_type = np.arange(y.shape[1]), y_type
            return
        self.classes_ = unique_labels(y if classes is None else classes)
        if len(self.classes_) < 2:
            raise ValueError(f"y contains only one class ({self.classes_[0]!r}); a classifier needs at least "
                             "two classes")
        self._y_type = "binary" if len(self.classes_) == 2 else "multiclass"

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Targets as rows (m, n_L): one-hot (multi-class), one 0/1 column (binary), indicators (multi-label)."""
        if self._y_type == "multilabel-indicator":
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(f"y must be a (n_samples, {len(self.classes_)}) indicator matrix; got {y.shape}")
            return np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels for a {self._y_type} classifier; got shape {y.shape}")
        idx = np.searchsorted(self.classes_, y)
        idx[idx == len(self.classes_)] = 0
        unknown = self.classes_[idx] != y
        if unknown.any():
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                             f"'y' has {unique_labels(y)}.")
        if self._y_type == "binary":
            return idx.reshape(-1, 1).astype(np.float64)
        Y = np.zeros((len(y), len(self.classes_)))
        Y[np.arange(len(y)), idx] = 1.0
        return Y

    @property
    def _task(self) -> str:
        """vecprop's name of the task (``metrics``): "multiclass", "binary" or "multilabel"."""
        return "multilabel" if self._y_type == "multilabel-indicator" else self._y_type

    def _labels(self, Y_rows: np.ndarray) -> np.ndarray:
        """Class index (m,) or 0/1 indicators (m, n_L) of output or target rows: ``metrics.labels``."""
        return labels(Y_rows.T, self._task)

    def _check_weights(self, Y_rows, w, incremental):
        if self.class_weight is not None:
            if self._task == "multilabel":
                raise ValueError("class_weight is not supported for multi-label y; use sample_weight")
            if incremental and self.class_weight == "balanced":
                raise ValueError("class_weight='balanced' is not supported by partial_fit (a batch does not "
                                 "see the class frequencies); pass a dict")
            cw = compute_sample_weight(self.class_weight, self.classes_[self._labels(Y_rows)])  # per example
            w = cw if w is None else w * cw
        if w is not None and not incremental and self._task != "multilabel":
            if len(np.unique(self._labels(Y_rows)[w > 0])) < 2:
                raise ValueError("sample_weight leaves only one class with a positive weight; a classifier "
                                 "needs at least two classes")
        return w

    def _stratify_labels(self, Y_rows):
        """scikit-learn stratifies on its encoded targets when they are one column (binary), not otherwise."""
        return Y_rows.astype(bool) if Y_rows.shape[1] == 1 else None

    def _loss(self) -> str:
        return TASK_LOSSES[self._task]

    def _targets_of(self, Y_rows: np.ndarray) -> np.ndarray:
        """y back from encoded target rows: labels, or indicators for multi-label."""
        return self._decode(Y_rows)

    # ---- predictions -----------------------------------------------------------------------
    def _decode(self, P: np.ndarray) -> np.ndarray:
        """Labels from output rows (m, n_L): the classes, or 0/1 indicators for multi-label (``metrics.labels``)."""
        return self._labels(P) if self._task == "multilabel" else self.classes_[self._labels(P)]

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (n_samples,), or indicators (n_samples, n_labels) for multi-label."""
        return self._decode(self._forward_rows(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities (n_samples, n_classes), columns in ``classes_`` order, in the network's dtype."""
        P = self._forward_rows(X)
        if self._y_type == "binary":
            return np.hstack([1 - P, P])
        return np.ascontiguousarray(P)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``; an underflowed probability gives -inf."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def _score_outputs(self, P_rows, Y_rows, w) -> float:
        """scikit-learn's validation score: accuracy of the outputs' labels, NaN for non-finite outputs."""
        if not np.isfinite(P_rows).all():
            return np.nan
        return float(accuracy_score(self._labels(Y_rows), self._labels(P_rows), sample_weight=w))

    def _extra_state(self):
        classes = np.asarray(self.classes_)  # numbers keep their dtype (uint8, float32...), as pickle keeps it
        kind = "object" if classes.dtype == object else classes.dtype.str if classes.dtype.kind in "biuf" else "native"
        return {"y_type": self._y_type, "classes_dtype": kind}

    def _restore_extra_state(self, fitted, model):
        self._y_type = fitted["y_type"]
        classes, kind = np.asarray(model.classes), fitted["classes_dtype"]
        if kind == "object":
            classes = classes.astype(object)
        elif kind != "native":
            dtype = np.dtype(kind) if isinstance(kind, str) and kind[1:] in _NUMBER_DTYPES else None
            if dtype is None or not np.array_equal(classes.astype(dtype), classes):
                raise ValueError(f"classes_dtype {kind!r} is not a numeric dtype that holds the classes")
            classes = classes.astype(dtype)
        self.classes_ = classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multilabel": True}


@dataclass(eq=False, repr=False)
class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor trained by vecprop: single- and multi-output.

    Parameters
    ----------
    loss : "squared_error", "poisson", "absolute_error", "huber" or a dict such as ``{"name": "huber", "delta": 2.0}``
        The per-entry error err{a, y}; squared_error is err = (a - y)^2 / 2, summed over the
        outputs (scikit-learn reports the mean over outputs; the gradients are the same);
        poisson is half the Poisson deviance with an exp output (the log link), y >= 0.
    Other parameters : as :class:`MLPClassifier` (without ``class_weight``).

    Attributes
    ----------
    As :class:`MLPClassifier`, without ``classes_``; the output activation is the identity
    ("exp" for poisson).
    """

    _: KW_ONLY
    loss: Any = "squared_error"

    _parameter_constraints: ClassVar[dict] = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "absolute_error", "huber"}), dict],
    }

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on X (n_samples, n_features), dense or CSR/CSC, and y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda est: est._check_partial_fit())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing the optimizer."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_xy(self, X, y, *, reset: bool, incremental: bool, classes: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y_rows = y.reshape(-1, 1) if y.ndim == 1 else y
        if not reset and hasattr(self, "n_outputs_") and Y_rows.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y_rows.shape[1]} outputs, but {type(self).__name__} was fitted with "
                             f"{self.n_outputs_}")
        return X, Y_rows

    def _loss(self) -> Any:
        return self.loss

    def _targets_of(self, Y_rows: np.ndarray) -> np.ndarray:
        """y back from target rows: (m,) for one output, as scikit-learn's scorers get it."""
        return Y_rows[:, 0] if Y_rows.shape[1] == 1 else Y_rows

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples,) for one output, else (n_samples, n_outputs), in the network's dtype."""
        P = self._forward_rows(X)
        return P[:, 0].copy() if P.shape[1] == 1 else np.ascontiguousarray(P)

    def _score_outputs(self, P_rows, Y_rows, w) -> float:
        """scikit-learn's validation score: R^2 of the outputs, NaN for non-finite outputs."""
        if not np.isfinite(P_rows).all():
            return np.nan
        return float(r2_score(Y_rows, P_rows, sample_weight=w))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}
