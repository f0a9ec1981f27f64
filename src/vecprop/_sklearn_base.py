"""The scikit-learn adapter's engine room: the network, one ``fit`` for every solver, inference and weight views."""
from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._sklearn_files import ModelFiles
from ._sklearn_params import SKLEARN_ACTIVATIONS, MLPParameters
from ._sklearn_stochastic import StochasticFit, as_columns
from ._sparse import is_sparse
from .lbfgs import LBFGS
from .losses import output_activation
from .network import Network
from .training import fit, predict

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None

NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and "
              "need to be preprocessed.")
"""scikit-learn's ValueError when training ends with NaN or inf weights (vecprop detects it at the step)."""

SCIPY_FTOL = 1e7 * np.finfo(float).eps
"""scipy's default L-BFGS-B ``ftol`` (factr=1e7), which scikit-learn leaves in place: its ``tol`` is ``gtol``."""

_SKLEARN_OUTPUT_NAMES = {"softmax": "softmax", "sigmoid": "logistic", "identity": "identity", "exp": "exp"}


def validate_data(est: Any, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
    """scikit-learn's input validation (feature names, n_features_in_, dtype, finiteness); CSR/CSC X accepted."""
    kwargs.setdefault("accept_sparse", ["csr", "csc"])
    if _sk_validate_data is not None:
        return _sk_validate_data(est, X, y, **kwargs)
    return est._validate_data(X, y, **kwargs)  # pragma: no cover - scikit-learn < 1.6


def as_rows(X: Any, dtype: np.dtype) -> Any:
    """Validated X as rows in the network's dtype: C-ordered, or CSR when sparse (copies only to convert)."""
    if is_sparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


class BaseMLP(StochasticFit, ModelFiles, MLPParameters):
    """Training, inference and weight views shared by MLPClassifier and MLPRegressor (rows in, columns inside).

    The parameters are ``MLPParameters``' fields. Subclasses add their own (``class_weight``,
    ``loss``) and provide ``_validate_xy`` (rows in, encoded target rows (m, n_L) out),
    ``_loss`` (the loss; its output activation comes from ``losses.output_activation``),
    ``_score_outputs`` (scikit-learn's ``score`` from output rows) and ``_targets_of`` (target
    rows back to y); the classifier also overrides ``_check_weights``, ``_stratify_labels`` and
    the ``_extra_state`` pair for its classes. Mini-batch training is ``StochasticFit``'s,
    model files ``ModelFiles``'.
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

    def _make_network(self, n_features: int, n_outputs: int, X_dtype: np.dtype, rs: np.random.RandomState) -> Network:
        hidden = self._hidden_sizes()
        loss = self._loss()
        dtype = X_dtype if self.dtype == "auto" else np.dtype(self.dtype)
        dtype = dtype if dtype == np.float32 else np.dtype(np.float64)
        acts = [*self._hidden_activations(len(hidden)), output_activation(loss)]
        sizes = [n_features, *hidden, n_outputs]
        if self.init != "sklearn":
            seed = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
            return Network(sizes, acts, loss, seed=seed, dtype=dtype, init=self.init, dropout=self.dropout)
        net = Network(sizes, acts, loss, seed=0, dtype=dtype, dropout=self.dropout)
        for l, (Theta, b) in enumerate(net.params):
            # scikit-learn's MLP, draw for draw: U(-r, r) for coefs_ (n_in, n_out) = Theta.T, then the
            # intercepts; r = sqrt(f / (n_in + n_out)), f = 2 for activation="logistic", else 6, in
            # every layer (the output layer's too, and with no hidden layer at all).
            r = np.sqrt((2.0 if self.activation == "logistic" else 6.0) / (Theta.shape[0] + Theta.shape[1]))
            Theta[...] = rs.uniform(-r, r, Theta.shape[::-1]).T
            b[...] = rs.uniform(-r, r, b.shape[0])[:, None]
        return net

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
        rs = check_random_state(self.random_state)  # scikit-learn's stream: initial weights, validation split
        if first:
            self._initialize(X.shape[1], Y_rows.shape[1], X.dtype, rs)
        X_rows, Y_rows = as_rows(X, self.net_.dtype), np.ascontiguousarray(Y_rows, dtype=self.net_.dtype)
        try:
            if self._uses_lbfgs():
                self._fit_lbfgs(X_rows, Y_rows, w)
            else:
                self._fit_stochastic(X_rows, Y_rows, w, incremental, rs)
        except FloatingPointError as err:  # TrainingDiverged, or numpy's under np.seterr(all="raise")
            raise ValueError(f"{NON_FINITE} ({err})") from err
        if not np.isfinite(self.net_.flat).all():
            raise ValueError(NON_FINITE)
        return self

    def _initialize(self, n_features: int, n_outputs: int, X_dtype: np.dtype, rs: np.random.RandomState) -> None:
        """A new network and scikit-learn's fitted attributes at their start."""
        self.net_ = self._make_network(n_features, n_outputs, X_dtype, rs)
        self.n_outputs_, self.n_layers_ = n_outputs, self.net_.L + 1
        self.t_, self.loss_curve_ = 0, []
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.validation_loss_curve_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._reset_solver_state()

    def _reset_solver_state(self) -> None:
        """The private training state a new network (or one read from a file) starts with: no optimizer
        or shuffling stream yet (the next fit makes them), no epochs without improvement, the best
        weights so far its own."""
        self._optimizer, self._rng, self._no_improvement_count = None, None, 0
        self._best_flat = self.net_.flat.copy()

    def _sample_weights(self, X: Any, Y_rows: np.ndarray, sample_weight: Any,
                        incremental: bool) -> np.ndarray | None:
        """Per-example weights (m,), or None when every example counts once; ``fit`` checks their values."""
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        return self._check_weights(Y_rows, w, incremental)

    def _check_weights(self, Y_rows: np.ndarray, w: np.ndarray | None, incremental: bool) -> np.ndarray | None:
        """Hook for the classifier's class_weight; returns the weights to use."""
        return w

    def _fit_lbfgs(self, X_rows: Any, Y_rows: np.ndarray, w: np.ndarray | None) -> None:
        """scipy's L-BFGS-B with scikit-learn's settings: maxiter, maxfun and gtol from max_iter, max_fun and tol."""
        solver = LBFGS(max_iter=int(self.max_iter), tol=float(self.tol), ftol=SCIPY_FTOL, max_fun=int(self.max_fun))
        history = fit(self.net_, as_columns(X_rows), as_columns(Y_rows), sample_weight=w, optimizer=solver,
                      l2=float(self.alpha))  # one history row per iteration
        result = history.result
        self.n_iter_ = min(result.n_iter, int(self.max_iter))
        self.loss_ = result.cost
        self.loss_curve_.extend(float(c) for c in history["cost"])
        self.t_ += X_rows.shape[0] * self.n_iter_
        if result.status != 0:  # scikit-learn's warning (sklearn.utils.optimize._check_optimize_result)
            message = f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n" \
                      f"{result.message}\n"
            if self.n_iter_ == self.max_iter:
                message += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            message += "\nYou might also want to scale the data as shown in:\n" \
                       "    https://scikit-learn.org/stable/modules/preprocessing.html"
            warnings.warn(message, ConvergenceWarning)

    # ---- inference -------------------------------------------------------------------------
    def _forward_rows(self, X: Any) -> np.ndarray:
        """A[L] for the rows of X (dense, CSR or CSC), as rows (m, n_L), in the network's dtype (inference mode)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return predict(self.net_, as_columns(as_rows(X, self.net_.dtype))).T  # (m, n_L)

    @property
    def out_activation_(self) -> str:
        """scikit-learn's name of the output activation: "softmax", "logistic", "identity" or "exp"."""
        return _SKLEARN_OUTPUT_NAMES[self._net().activations[-1].name]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR and CSC X: layer 1 multiplies it sparse
        return tags

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
