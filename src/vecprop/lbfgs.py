"""Full-batch L-BFGS through scipy's L-BFGS-B (optional extra: ``pip install vecprop[lbfgs]``), and its loop."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ._checks import check_int, check_real
from .callbacks import Callback, CallbackList, History, TrainState
from .engines import make_engine
from .inference import checked_set, checked_validation, outputs, set_logs
from .metrics import evaluate, task_of

if TYPE_CHECKING:
    from .network import Network

__all__ = ["LBFGS", "LBFGSResult", "minimize_lbfgs", "fit_lbfgs"]

_MAX_LINE_SEARCH = 20  # scipy's maxls default: at most this many evaluations per iteration


@dataclass(frozen=True)
class LBFGSResult:
    """Outcome of :func:`minimize_lbfgs`.

    Attributes
    ----------
    x : ndarray, shape (n,), float64
        Final flat parameters.
    n_iter : int
        L-BFGS iterations done.
    cost : float
        ``J`` at ``x``.
    converged : bool
        True when a tolerance was met; False when stopped by ``max_iter``, ``max_fun``, the
        callback or a failure.
    message : str
        scipy's reason for stopping.
    n_evals : int
        Number of ``fun_and_grad`` calls.
    status : int
        scipy's code: 0 converged, 1 ``max_iter`` or ``max_fun`` reached, 2 a failure (e.g. the
        line search); others from scipy (99: the callback stopped it).
    """

    x: np.ndarray
    n_iter: int
    cost: float
    converged: bool
    message: str
    n_evals: int
    status: int = 0


def _check_settings(max_iter: Any, tol: Any, history: Any, max_fun: Any = None, ftol: Any = None) -> None:
    check_int("max_iter", max_iter, 1)
    check_int("history", history, 1)
    check_real("tol", tol, 0.0)
    if max_fun is not None:
        check_int("max_fun", max_fun, 1, hint=" or None (max_iter * 21)")
    if ftol is not None:
        check_real("ftol", ftol, 0.0)


def _import_scipy() -> tuple[Any, Any]:
    try:
        import scipy
        import scipy.optimize
        import threadpoolctl
    except ImportError as err:
        raise ImportError("L-BFGS needs scipy and threadpoolctl: pip install vecprop[lbfgs]") from err
    return scipy, threadpoolctl


def _scipy_blas_limits(scipy: Any, threadpoolctl: Any) -> dict[str, int]:
    """``{filepath: 1}`` for each BLAS that scipy vendors (wheels put it in scipy.libs / scipy/.dylibs).

    numpy's wheel vendors a separate OpenBLAS with the same prefix (``libscipy_openblas``), so only
    the file path tells them apart. A BLAS shared with numpy (conda, system) is left alone.
    """
    pkg = os.path.dirname(os.path.realpath(scipy.__file__))
    roots = (pkg + os.sep, os.path.join(os.path.dirname(pkg), "scipy.libs") + os.sep)
    return {info["filepath"]: 1 for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas" and os.path.realpath(info["filepath"]).startswith(roots)}


def minimize_lbfgs(fun_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
                   max_iter: int, tol: float,
                   callback: Callable[[int, np.ndarray, float], bool | None] | None = None,
                   *, history: int = 10, max_fun: int | None = None, ftol: float | None = None) -> LBFGSResult:
    """Minimise ``J(x)`` over flat float64 parameters with scipy's L-BFGS-B (no bounds).

    Parameters
    ----------
    fun_and_grad : callable
        ``x (n,) float64 -> (J, dJ/dx (n,) float64)`` over the full batch. ``x`` is scipy's
        buffer: copy it if you keep it after returning.
    x0 : ndarray, shape (n,), float64
        Start point; not modified. Other dtypes are refused, never converted silently.
    max_iter : int
        Iteration limit (>= 1).
    tol : float
        Stop when the largest gradient entry (scipy's ``gtol``) or, unless ``ftol`` is given,
        the relative decrease of ``J`` (``ftol``) is below ``tol``, as in
        ``scipy.optimize.minimize(tol=...)``. 0 never stops on them.
    callback : callable, optional
        ``callback(n_iter, x, J)`` after each iteration; returning True stops early.
    history : int
        Number of correction pairs kept (scipy's ``maxcor``).
    max_fun : int, optional
        Limit on ``fun_and_grad`` calls (scipy's ``maxfun``); None: ``max_iter * 21``, so that
        ``max_iter`` binds (each iteration's line search makes at most 20 calls).
    ftol : float, optional
        The relative-decrease tolerance on its own (scipy's ``ftol``); None: ``tol``.
        scikit-learn's MLP leaves it at scipy's default, ``1e7 * eps`` (``factr=1e7``).

    Returns
    -------
    LBFGSResult

    Notes
    -----
    scipy's own OpenBLAS is limited to one thread during the call; numpy's BLAS, used by
    ``fun_and_grad``, keeps its threads. See docs/optimizers.md.

    Examples
    --------
    >>> r = minimize_lbfgs(lambda x: (float(x @ x), 2 * x), np.ones(3), max_iter=50, tol=1e-10)
    >>> r.x.shape, r.converged, bool(np.allclose(r.x, 0.0))
    ((3,), True, True)
    """
    if not isinstance(x0, np.ndarray) or x0.ndim != 1 or x0.dtype != np.float64 or x0.size == 0:
        got = f"{x0.shape} {x0.dtype}" if isinstance(x0, np.ndarray) else type(x0).__name__
        raise ValueError(f"x0 must be a non-empty flat float64 array (n,); got {got}. "
                         "Convert explicitly, e.g. x0.astype(np.float64).ravel()")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 contains non-finite values")
    _check_settings(max_iter, tol, history, max_fun, ftol)
    scipy, threadpoolctl = _import_scipy()

    n_evals = 0

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal n_evals
        n_evals += 1
        J, grad = fun_and_grad(x)
        if not isinstance(grad, np.ndarray) or grad.shape != x0.shape or grad.dtype != np.float64:
            got = f"{grad.shape} {grad.dtype}" if isinstance(grad, np.ndarray) else type(grad).__name__
            raise ValueError(f"fun_and_grad must return a float64 gradient of shape {x0.shape}; got {got}")
        return float(J), grad

    n_iter = 0

    def on_iteration(intermediate_result: Any) -> None:  # scipy's keyword; StopIteration ends the run
        nonlocal n_iter
        n_iter += 1
        if callback is not None and callback(n_iter, intermediate_result.x, float(intermediate_result.fun)):
            raise StopIteration

    limits = _scipy_blas_limits(scipy, threadpoolctl)
    guard = threadpoolctl.threadpool_limits(limits=limits) if limits else contextlib.nullcontext()
    with guard:
        res = scipy.optimize.minimize(
            fg, x0, jac=True, method="L-BFGS-B", callback=on_iteration,
            options={"maxiter": int(max_iter),
                     "maxfun": int(max_iter) * (_MAX_LINE_SEARCH + 1) if max_fun is None else int(max_fun),
                     "maxls": _MAX_LINE_SEARCH, "ftol": float(tol if ftol is None else ftol), "gtol": float(tol),
                     "maxcor": int(history)})
    return LBFGSResult(x=np.asarray(res.x, dtype=np.float64), n_iter=int(res.nit), cost=float(res.fun),
                       converged=bool(res.status == 0), message=str(res.message), n_evals=n_evals,
                       status=int(res.status))


@dataclass(frozen=True)
class LBFGS:
    """Settings for full-batch L-BFGS: ``fit(net, X, Y, optimizer=LBFGS(max_iter=100))``.

    Unlike the step optimizers (``vecprop.optimizers``) it owns the whole loop: ``fit_lbfgs``
    hands it a function of the flat float64 parameters and calls :meth:`minimize` once. The
    settings are :func:`minimize_lbfgs`'s.
    """

    max_iter: int = 200
    tol: float = 1e-6
    history: int = 10
    max_fun: int | None = None
    ftol: float | None = None

    def __post_init__(self) -> None:
        _check_settings(self.max_iter, self.tol, self.history, self.max_fun, self.ftol)

    def minimize(self, fun_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
                 callback: Callable[[int, np.ndarray, float], bool | None] | None = None) -> LBFGSResult:
        """Run :func:`minimize_lbfgs` with these settings."""
        return minimize_lbfgs(fun_and_grad, x0, self.max_iter, self.tol, callback, history=self.history,
                              max_fun=self.max_fun, ftol=self.ftol)


def fit_lbfgs(net: "Network", X: np.ndarray, Y: np.ndarray, lbfgs: LBFGS | str = "lbfgs", *,
              sample_weight: np.ndarray | None = None, epochs: int = 200, l2: float = 0.0,
              validation: tuple[np.ndarray, ...] | None = None, callbacks: Sequence[Callback] = (),
              engine: str = "fast", task: str | None = None, **step_only: Any) -> History:
    """Full-batch L-BFGS on J (eq. 2): one history row per iteration, the callbacks of ``fit``.

    ``fit(optimizer="lbfgs")`` comes here (``lbfgs="lbfgs"`` runs at most ``epochs``
    iterations). Every iteration is an epoch of one full batch: ``on_epoch_begin``,
    ``on_batch_end`` and ``on_epoch_end`` fire in that order once scipy reports it done, between
    ``on_train_begin`` and ``on_train_end``; a callback that sets ``state.stop`` ends the run
    with the weights it last saw. scipy works in float64: the flat parameters are converted
    explicitly at this boundary and written back into the network in its own dtype. The
    returned History's ``result`` is scipy's outcome (an :class:`LBFGSResult`: converged or why not).
    ``step_only`` holds ``fit``'s arguments that need mini-batch steps (comm, schedule, resume,
    clip_norm, clip_value): any of them set is an error, never silently ignored.
    """
    given = sorted(k for k, v in step_only.items() if v is not None)
    if given:
        raise ValueError(f"L-BFGS trains full-batch in one process and takes no {', '.join(given)}; "
                         "use a step optimizer such as 'adam' for that")
    if any(net.dropout):  # its cost must be a deterministic function of the weights
        raise ValueError(f"L-BFGS trains without dropout, and this network has dropout={list(net.dropout[:-1])}; "
                         "use a step optimizer such as 'adam', or no dropout")
    check_int("epochs", epochs, 0)
    lbfgs = LBFGS(max_iter=max(epochs, 1)) if isinstance(lbfgs, str) and lbfgs == "lbfgs" else lbfgs
    if not isinstance(lbfgs, LBFGS):
        raise TypeError(f"lbfgs must be an LBFGS or 'lbfgs'; got {lbfgs!r}")
    X, Y, w = checked_set(net, X, Y, sample_weight)
    val = checked_validation(net, validation)
    path, grad = make_engine(net, engine), np.empty_like(net.flat)
    task = task or task_of(net.loss, net.sizes[-1])  # the metrics: the data's task, or what the loss implies
    cbs = CallbackList([History(), *callbacks])
    state = TrainState(net=net, optimizer=lbfgs, rng=np.random.default_rng(0), epochs=lbfgs.max_iter,
                       history=cbs.callbacks[0], engine=path)

    def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        net.flat[...] = x
        path.forward(X)  # forward (1), the whole set
        J = path.cached_cost(Y, l2=l2, sample_weight=w)  # cost (2)
        path.backward_into(Y, grad, l2=l2, sample_weight=w)  # backward (A)-(D)
        return J, grad.astype(np.float64)

    def on_iteration(n_iter: int, x: np.ndarray, J: float) -> bool:
        net.flat[...] = x
        state.epoch, state.batch, state.batch_cost = n_iter - 1, 0, J
        cbs.on_epoch_begin(state)
        cbs.on_batch_end(state)
        state.logs = {"cost": J, **evaluate(outputs(net, X)[0], Y, task, w)}
        if val is not None:
            state.logs.update(set_logs(outputs, net, *val, l2=l2, task=task))
        cbs.on_epoch_end(state)
        return state.stop

    cbs.on_train_begin(state)
    result = lbfgs.minimize(fun_and_grad, net.flat.astype(np.float64), callback=on_iteration)
    if not state.stop:
        net.flat[...] = result.x
    state.history.result = result
    cbs.on_train_end(state)
    return state.history
