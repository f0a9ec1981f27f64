"""scikit-learn's stochastic solvers on ``vecprop.fit``: the learning-rate rules, the validation split, the stopping rule."""
from __future__ import annotations

import copy
import math
import sys
import warnings
from typing import Any, Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split

from .callbacks import Callback
from .inference import outputs
from .optimizers import OPTIMIZERS, SGD, Momentum, get_optimizer
from .optimizers import defaults as optimizer_defaults
from .schedules import get_schedule
from .training import fit

_SMALLEST_ADAPTIVE_LR = 1e-6  # scikit-learn's "adaptive" stops instead of going below this


def as_columns(rows: Any) -> Any:
    """The one place rows become the derivation's columns: (m, n) -> (n, m), a view (no copy; CSR -> CSC)."""
    return rows.T


class Solver:
    """The estimator's ``_optimizer`` (scikit-learn's name and role): a vecprop step optimizer and the
    rule that sets its learning rate after each epoch.

    The rule is scikit-learn's ``learning_rate`` ("constant"; "invscaling":
    ``learning_rate_init / (t + 1) ** power_t`` after each epoch, t the examples seen so far;
    "adaptive": divided by 5 each time the stopping rule fires, stopping once it is <= 1e-6),
    or a vecprop ``lr_schedule`` stepped once per epoch.
    """

    def __init__(self, optimizer: Any, rule: str = "constant", power_t: float = 0.5, schedule: Any = None) -> None:
        self.optimizer, self.rule, self.power_t, self.schedule = optimizer, rule, power_t, schedule
        self.learning_rate_init = float(optimizer.lr)
        if schedule is not None:
            optimizer.lr = schedule.current_lr

    def __repr__(self) -> str:
        return f"Solver({self.optimizer!r}, rule={self.rule!r}, schedule={self.schedule!r})"

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (scikit-learn's attribute name)."""
        return self.optimizer.lr

    def iteration_ends(self, t: int, metric: float) -> None:
        """After an epoch: set the next epoch's learning rate (``metric`` feeds a plateau schedule)."""
        if self.schedule is not None:
            self.optimizer.lr = self.schedule.step(metric)
        elif self.rule == "invscaling":
            self._set_rate(self.learning_rate_init / (t + 1) ** self.power_t)

    def trigger_stopping(self, message: str, say: Callable[[str], None]) -> bool:
        """The stopping rule fired: True to stop; "adaptive" divides the learning rate by 5 and goes on."""
        if self.rule != "adaptive":
            say(message + " Stopping.")
            return True
        if self.optimizer.lr <= _SMALLEST_ADAPTIVE_LR:
            say(message + " Learning rate too small. Stopping.")
            return True
        self._set_rate(self.optimizer.lr / 5.0)
        say(message + f" Setting learning rate to {self.optimizer.lr:f}")
        return False

    def _set_rate(self, lr: float) -> None:
        """A new rate as scikit-learn's momentum SGD takes it: its velocity holds lr * gradient, vecprop's (torch's)
        the gradient, so the velocity is scaled by old/new lr and the next steps stay scikit-learn's."""
        opt = self.optimizer
        if isinstance(opt, Momentum) and opt.t:
            state = opt.state_dict()
            state["velocity"] = [v * (opt.lr / lr) for v in state["velocity"]]
            opt.load_state_dict({**state, "lr": lr})
        else:
            opt.lr = lr


class _EndOfEpoch(Callback):
    """Calls ``epoch_ended(cost) -> stop`` after every epoch of ``fit`` and stops it when told to."""

    def __init__(self, epoch_ended: Callable[[float], bool]) -> None:
        self._epoch_ended, self.stopped = epoch_ended, False

    def on_epoch_end(self, state: Any) -> None:
        state.stop = self.stopped = bool(self._epoch_ended(state.logs["cost"]))


class StochasticFit:
    """The estimators' mini-batch training: one ``vecprop.fit`` call, scikit-learn's rules at each epoch's end.

    Used by ``BaseMLP``, whose ``_fit`` sets up the network and the fitted attributes; the
    classifier provides ``_stratify_labels``, ``_score_outputs`` and ``_targets_of``.
    """

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

    def _make_solver(self) -> Solver:
        if self.learning_rate != "constant" and self.lr_schedule is not None:
            raise ValueError(f"learning_rate={self.learning_rate!r} and lr_schedule={self.lr_schedule!r} both set "
                             "the learning rate; pass one of them")
        optimizer = self._make_optimizer()
        # as in scikit-learn, learning_rate rules plain gradient descent (solver "sgd", with or without momentum)
        rule = self.learning_rate if self.optimizer is None and isinstance(optimizer, SGD) else "constant"
        return Solver(optimizer, rule, float(self.power_t), self._make_schedule(optimizer.lr))

    def _fit_stochastic(self, X_rows: Any, Y_rows: np.ndarray, w: np.ndarray | None, incremental: bool,
                        rs: np.random.RandomState) -> None:
        if self._optimizer is None or not (incremental or self.keep_optimizer):  # warm starts: scikit-learn's new one
            self._optimizer = self._make_solver()
        val = None
        if self.early_stopping:
            X_rows, Y_rows, w, val = self._split_validation(X_rows, Y_rows, w, rs)
        if self._rng is None:  # shuffles and dropout masks, seeded from scikit-learn's stream after its draws
            self._rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        n = X_rows.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else int(min(self.batch_size, n))
        if self.batch_size != "auto" and self.batch_size > n:
            warnings.warn("Got `batch_size` larger than the sample size. It is going to be clipped")
        self.n_iter_ = 0
        end = _EndOfEpoch(lambda cost: self._end_epoch(cost, n, val))  # scikit-learn's rules, per epoch
        try:
            fit(self.net_, as_columns(X_rows), as_columns(Y_rows), sample_weight=w, optimizer=self._optimizer.optimizer,
                epochs=1 if incremental else int(self.max_iter), batch_size=batch_size, l2=float(self.alpha),
                shuffle=self.shuffle, seed=self._rng, callbacks=[end])
        except FloatingPointError as err:  # TrainingDiverged: the weights are the last finite ones
            if not self.early_stopping:
                raise
            end.stopped = True
            self._diverged(err)
        if not (incremental or end.stopped) and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            self.net_.flat[...] = self._best_flat

    def _end_epoch(self, cost: float, n: int, val: tuple | None) -> bool:
        """scikit-learn's end-of-epoch bookkeeping; True when the stopping rule ends training."""
        self.loss_ = float(cost)
        self.n_iter_ += 1
        self.t_ += n
        self.loss_curve_.append(self.loss_)
        self._say(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        metric = self._update_no_improvement_count(val)
        self._optimizer.iteration_ends(self.t_, metric)
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                       "consecutive epochs.")
            if self._optimizer.trigger_stopping(message, self._say):
                return True
            self._no_improvement_count = 0
        return False

    def _diverged(self, err: FloatingPointError) -> None:
        """With early stopping a diverged epoch scores NaN and the best weights stay (scikit-learn raises nothing)."""
        self.n_iter_ += 1
        self.loss_ = math.nan
        self.loss_curve_.append(math.nan)
        self.validation_scores_.append(math.nan)
        self.validation_loss_curve_.append(math.nan)
        warnings.warn(f"training diverged in epoch {self.n_iter_} ({err}); the best weights so far (validation "
                      f"score {self.best_validation_score_:g}) are kept", ConvergenceWarning)

    def _split_validation(self, X_rows, Y_rows, w, rs):
        """scikit-learn's split: its random stream, stratified on the encoded targets when they are one column."""
        parts = train_test_split(X_rows, Y_rows, *([] if w is None else [w]), random_state=rs,
                                 test_size=self.validation_fraction, stratify=self._stratify_labels(Y_rows))
        X_tr, X_val, Y_tr, Y_val = parts[:4]
        w_tr, w_val = (None, None) if w is None else parts[4:]
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
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
        P_rows, val_cost = self._validation_outputs(X_val, Y_val, w_val)
        self.validation_loss_curve_.append(val_cost)
        score = self._validation_score(X_val, Y_val, w_val, P_rows, val_cost)
        self.validation_scores_.append(score)
        self._say(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_flat = self.net_.flat.copy()
        return val_cost

    def _validation_outputs(self, X_val, Y_val, w_val) -> tuple[np.ndarray, float]:
        """A[L] as rows and the cost (eq. 2 with the L2 term) of the validation set; NaN once it overflows."""
        with np.errstate(over="ignore", invalid="ignore"):
            A_L, total = outputs(self.net_, as_columns(X_val), as_columns(Y_val), w_val)
        m = X_val.shape[0] if w_val is None else float(w_val.sum())
        cost = total / m + self.net_.l2_term(float(self.alpha), m)
        return A_L.T, float(cost) if math.isfinite(cost) else math.nan

    def _validation_score(self, X_val, Y_val, w_val, P_rows, val_cost) -> float:
        """What early stopping maximises: scikit-learn's score (None), minus the loss ("loss"), or a scorer's."""
        if self.scoring is None:
            return self._score_outputs(P_rows, Y_val, w_val)
        if self.scoring == "loss":
            return -val_cost
        scorer = check_scoring(self, scoring=self.scoring)
        with warnings.catch_warnings():  # X_val holds the rows whose feature names fit already checked
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            weights = {} if w_val is None else {"sample_weight": w_val}
            return float(scorer(self, X_val, self._targets_of(Y_val), **weights))

    def _say(self, message: str) -> None:
        if self.verbose:  # scikit-learn's verbose contract: progress lines on stdout
            sys.stdout.write(message + "\n")
