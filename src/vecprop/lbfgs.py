"""Full-batch L-BFGS through scipy's L-BFGS-B (optional extra: ``pip install vecprop[lbfgs]``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LBFGS", "LBFGSResult", "minimize_lbfgs"]

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
        True when a tolerance was met; False when stopped by ``max_iter``, the callback or a failure.
    message : str
        scipy's reason for stopping.
    n_evals : int
        Number of ``fun_and_grad`` calls.
    """

    x: np.ndarray
    n_iter: int
    cost: float
    converged: bool
    message: str
    n_evals: int


def _check_settings(max_iter: Any, tol: Any, history: Any) -> None:
    for name, value in (("max_iter", max_iter), ("history", history)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0.0 < tol < np.inf:
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")


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
                   *, history: int = 10) -> LBFGSResult:
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
        Stop when the relative decrease of ``J`` or the largest gradient entry is below ``tol``
        (scipy's ``ftol`` and ``gtol``, as in ``scipy.optimize.minimize(tol=...)``).
    callback : callable, optional
        ``callback(n_iter, x, J)`` after each iteration; returning True stops early.
    history : int
        Number of correction pairs kept (scipy's ``maxcor``).

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
    _check_settings(max_iter, tol, history)
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
            options={"maxiter": int(max_iter), "maxfun": int(max_iter) * (_MAX_LINE_SEARCH + 1),
                     "maxls": _MAX_LINE_SEARCH, "ftol": float(tol), "gtol": float(tol),
                     "maxcor": int(history)})
    return LBFGSResult(x=np.asarray(res.x, dtype=np.float64), n_iter=int(res.nit), cost=float(res.fun),
                       converged=bool(res.status == 0), message=str(res.message), n_evals=n_evals)


@dataclass(frozen=True)
class LBFGS:
    """Settings for full-batch L-BFGS, as returned by ``get_optimizer("lbfgs", ...)``.

    Unlike the step optimizers it owns the whole loop: the training code hands it a function of
    the flat float64 parameters and calls :meth:`minimize` once.
    """

    max_iter: int = 200
    tol: float = 1e-6
    history: int = 10

    def __post_init__(self) -> None:
        _check_settings(self.max_iter, self.tol, self.history)

    def minimize(self, fun_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
                 callback: Callable[[int, np.ndarray, float], bool | None] | None = None) -> LBFGSResult:
        """Run :func:`minimize_lbfgs` with these settings."""
        return minimize_lbfgs(fun_and_grad, x0, self.max_iter, self.tol, callback, history=self.history)
