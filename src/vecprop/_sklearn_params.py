"""The scikit-learn estimators' shared parameters, declared once: names, defaults and constraints."""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions

from .activations import ACTIVATIONS
from .initializers import INITIALIZERS
from .optimizers import OPTIMIZERS

SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}
"""scikit-learn's activation names that differ from vecprop's."""


@dataclass(eq=False, repr=False)
class MLPParameters(BaseEstimator):
    """The parameters MLPClassifier and MLPRegressor share (documented on those classes).

    Dataclass fields: the generated ``__init__`` has the explicit signature that scikit-learn's
    ``get_params`` reads, and it only stores its arguments, as scikit-learn requires. The
    estimators add their own fields (``class_weight``, ``loss``) the same way.
    """

    hidden_layer_sizes: Any = (100,)
    activation: str = "relu"
    _: KW_ONLY
    solver: str = "adam"
    alpha: float = 0.0001
    batch_size: Any = "auto"
    learning_rate: str = "constant"
    learning_rate_init: float = 0.001
    power_t: float = 0.5
    max_iter: int = 200
    shuffle: bool = True
    random_state: Any = None
    tol: float = 1e-4
    verbose: bool = False
    warm_start: bool = False
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    early_stopping: bool = False
    validation_fraction: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    n_iter_no_change: Any = 10
    max_fun: int = 15000
    activations: Any = None
    dropout: Any = 0.0
    optimizer: Any = None
    lr_schedule: Any = None
    dtype: str = "auto"
    init: str = "sklearn"
    scoring: Any = None
    keep_optimizer: bool = False

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions((set(ACTIVATIONS) - {"softmax"}) | set(SKLEARN_ACTIVATIONS))],
        "solver": [StrOptions({*OPTIMIZERS, "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],  # scikit-learn's interval; 1 never decays
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "activations": [None, list, tuple],
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "optimizer": [None, dict, HasMethods(["step", "state_dict"])],
        "lr_schedule": [None, str, dict, HasMethods(["step", "state_dict"])],
        "dtype": [StrOptions({"auto", "float32", "float64"})],
        "init": [StrOptions({"sklearn", *INITIALIZERS})],
        "scoring": [None, StrOptions({"loss", *get_scorer_names()}), callable],
        "keep_optimizer": ["boolean"],
    }
