"""Gradient-descent optimizers (torch.optim semantics), gradient clipping and the optimizer registry."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from vecprop.lbfgs import LBFGS

StateDict = dict[str, "np.ndarray | float | int | list[np.ndarray]"]

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "RMSprop", "Adam", "AdamW",
    "get_optimizer", "clip_grad_norm", "clip_grad_value",
]


def _check_range(name: str, value: Any, lo: float, hi: float = math.inf, *,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``float(value)`` if it is a real number in the interval, else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    below = v <= lo if lo_open else v < lo
    above = v >= hi if hi_open else v > hi
    if not math.isfinite(v) or below or above:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be in {interval}; got {value!r}")
    return v


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool; got {value!r}")
    return bool(value)


class Optimizer:
    """Base class: learning rate ``lr``, step counter ``t`` and per-parameter state in aligned lists.

    Subclasses implement ``_update(Theta, dTheta, state, work)`` on one block of a parameter.
    ``step`` reads ``lr`` every call, so a schedule changes it by plain assignment:
    ``opt.lr = sched.step()``. State is allocated on the first step, in the parameters' dtype,
    with two block-sized scratch buffers per parameter; afterwards a step allocates no arrays.

    Notes
    -----
    Every update is elementwise, so ``step`` applies it block by block along the first axis,
    about ``_block_bytes`` of each array at a time: the several passes of an update (Adam makes
    twelve) then run on data that is still in the CPU cache instead of streaming every array
    through memory once per pass. The numbers are the same bits whatever the blocking.
    """

    _coupled_decay = True  # weight decay is added to dTheta (L2); AdamW overrides this
    _block_bytes = 1 << 20  # per array and block: a few arrays of this size stay in the L2/L3 cache

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _check_range("lr", lr, 0.0)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0)
        self.t = 0
        self._state: dict[str, list[np.ndarray]] = {key: [] for key in self._state_keys()}
        self._work: list[tuple[np.ndarray, np.ndarray]] = []  # per param: two scratch buffers of one block
        self._param_state: list[dict[str, np.ndarray]] = []  # per param: its state arrays by key

    def _state_keys(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]`` (same shape and dtype).

        Parameters
        ----------
        params : list of ndarray
            ``Theta`` and ``b`` arrays of any shapes, or one flat 1-D buffer; updated in place.
        grads : list of ndarray
            ``dTheta``, ``db`` aligned with ``params``; never modified.
        """
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} params but {len(grads)} grads")
        for i, (Theta, dTheta) in enumerate(zip(params, grads)):
            if Theta.shape != dTheta.shape or Theta.dtype != dTheta.dtype:
                raise ValueError(f"grads[{i}] is {dTheta.shape} {dTheta.dtype}; params[{i}] is "
                                 f"{Theta.shape} {Theta.dtype}: they must match")
        if len(self._work) != len(params):  # first step, after load_state_dict, or a new param list
            self._allocate(params)
        self.t += 1
        for i, (Theta, dTheta) in enumerate(zip(params, grads)):
            state, work = self._param_state[i], self._work[i]
            if work[0].shape == Theta.shape:  # the whole parameter is one block
                self._update(Theta, dTheta, state, work)
                continue
            rows = len(work[0])
            for a in range(0, len(Theta), rows):
                blk, n = slice(a, a + rows), min(rows, len(Theta) - a)
                self._update(Theta[blk], dTheta[blk], {key: s[blk] for key, s in state.items()},
                             (work[0][:n], work[1][:n]))

    def _update(self, Theta: np.ndarray, dTheta: np.ndarray, state: dict[str, np.ndarray],
                work: tuple[np.ndarray, np.ndarray]) -> None:
        """Update one block of a parameter in place; ``state`` and ``work`` are views of the same block."""
        raise NotImplementedError

    def _allocate(self, params: list[np.ndarray]) -> None:
        for i, Theta in enumerate(params):
            if not np.issubdtype(Theta.dtype, np.floating):
                raise ValueError(f"params[{i}] must be a floating array; got dtype {Theta.dtype}")
        for key, arrays in self._state.items():
            if not arrays:  # fresh optimizer; after load_state_dict the lists are already filled
                arrays.extend(np.zeros_like(Theta) for Theta in params)
            shapes = [(a.shape, a.dtype) for a in arrays]
            if shapes != [(p.shape, p.dtype) for p in params]:
                raise ValueError(f"state {key!r} holds {shapes}, which does not match the params")
        self._param_state = [{key: arrays[i] for key, arrays in self._state.items()} for i in range(len(params))]
        self._work = []
        for Theta in params:  # scratch for one block: `rows` entries along the first axis
            row_bytes = Theta.itemsize * math.prod(Theta.shape[1:])
            rows = max(1, min(len(Theta), self._block_bytes // max(row_bytes, 1))) if Theta.ndim else 0
            shape = (rows, *Theta.shape[1:]) if Theta.ndim else ()
            self._work.append((np.empty(shape, Theta.dtype), np.empty(shape, Theta.dtype)))

    def _gradient(self, Theta: np.ndarray, dTheta: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The gradient the update follows, after weight decay.

        Coupled (L2, torch's default): ``dTheta + weight_decay * Theta``, written into ``d``.
        Decoupled (AdamW): ``Theta *= 1 - lr * weight_decay`` here, and ``dTheta`` itself is followed.
        """
        if not self.weight_decay:
            return dTheta
        if not self._coupled_decay:  # AdamW: decay Theta itself, outside the adaptive scaling
            Theta *= 1.0 - self.lr * self.weight_decay
            return dTheta
        np.multiply(Theta, self.weight_decay, out=d)
        d += dTheta
        return d

    def state_dict(self) -> StateDict:
        """Copies of ``t``, ``lr`` and the state arrays: numpy arrays and JSON-able scalars only."""
        d: StateDict = {"t": self.t, "lr": self.lr}
        d.update({key: [a.copy() for a in arrays] for key, arrays in self._state.items()})
        return d

    def load_state_dict(self, d: StateDict) -> None:
        """Restore a ``state_dict()`` so that the next steps are bit-identical to an unbroken run."""
        expected = {"t", "lr", *self._state}
        if set(d) != expected:
            raise ValueError(f"state_dict keys must be {sorted(expected)}; got {sorted(d)}")
        t = d["t"]
        if not all(isinstance(d[key], (list, tuple)) for key in self._state):
            raise ValueError(f"state_dict entries {sorted(self._state)} must be lists of arrays")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"state_dict['t'] must be an int >= 0; got {t!r}")
        lengths = {len(d[key]) for key in self._state}  # type: ignore[arg-type]
        if len(lengths) > 1 or (self._state and t > 0 and 0 in lengths):
            raise ValueError(f"state_dict lists have lengths {sorted(lengths)} at t={t}")
        self.t = int(t)
        self.lr = _check_range("state_dict['lr']", d["lr"], 0.0)
        self._state = {key: [np.array(a, copy=True) for a in d[key]] for key in self._state}  # type: ignore[union-attr]
        self._work = []


class SGD(Optimizer):
    """Plain gradient descent: ``Theta <- Theta - lr * (dTheta + weight_decay * Theta)``.

    Notes
    -----
    Same as ``torch.optim.SGD(lr=lr, weight_decay=weight_decay)``.

    Examples
    --------
    >>> Theta, dTheta = np.ones((2, 3)), np.full((2, 3), 0.5)
    >>> SGD(lr=0.1).step([Theta], [dTheta]); Theta.shape, float(Theta[0, 0])
    ((2, 3), 0.95)
    """

    def _update(self, Theta, dTheta, state, work):
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        np.multiply(g, self.lr, out=w)
        Theta -= w


class Momentum(SGD):
    """SGD with heavy-ball momentum: ``v <- momentum * v + (1 - dampening) * g``; ``Theta <- Theta - lr * v``.

    Notes
    -----
    Same as ``torch.optim.SGD(lr, momentum, dampening, weight_decay)``, including torch's first
    step, where ``v = g`` without dampening.
    """

    _nesterov = False

    def __init__(self, lr: float, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, hi_open=True)
        self.dampening = _check_range("dampening", dampening, 0.0, 1.0)

    def _state_keys(self) -> tuple[str, ...]:
        return ("velocity",)

    def _update(self, Theta, dTheta, state, work):
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        v = state["velocity"]
        if self.t == 1:
            np.copyto(v, g)
        else:
            v *= self.momentum
            if self.dampening:
                np.multiply(g, 1.0 - self.dampening, out=w)
                v += w
            else:
                v += g
        if self._nesterov:  # step along g + momentum * v, the look-ahead gradient
            np.multiply(v, self.momentum, out=w)
            w += g
            w *= self.lr
        else:
            np.multiply(v, self.lr, out=w)
        Theta -= w


class Nesterov(Momentum):
    """Nesterov momentum: ``Momentum`` that steps along ``g + momentum * v`` (torch ``nesterov=True``)."""

    _nesterov = True

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        _check_range("momentum", momentum, 0.0, 1.0, lo_open=True, hi_open=True)
        super().__init__(lr, momentum, 0.0, weight_decay)


class RMSprop(Optimizer):
    """RMSprop: divide g by a running root-mean-square of past gradients.

    Notes
    -----
    Same as ``torch.optim.RMSprop``: no bias correction and ``eps`` added outside the square root::

        s <- alpha * s + (1 - alpha) * g**2
        c <- alpha * c + (1 - alpha) * g            (centered only; then s - c**2 replaces s)
        D  = sqrt(s) + eps
        v <- momentum * v + g / D; Theta <- Theta - lr * v     (momentum > 0)
        Theta <- Theta - lr * g / D                            (momentum == 0)
    """

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, centered: bool = False, weight_decay: float = 0.0) -> None:
        self.alpha = _check_range("alpha", alpha, 0.0, 1.0, hi_open=True)
        self.eps = _check_range("eps", eps, 0.0, lo_open=True)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, hi_open=True)
        self.centered = _check_bool("centered", centered)
        super().__init__(lr, weight_decay)

    def _state_keys(self) -> tuple[str, ...]:
        return ("square_avg",) + ("grad_avg",) * self.centered + ("velocity",) * (self.momentum > 0)

    def _update(self, Theta, dTheta, state, work):
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        s = state["square_avg"]
        s *= self.alpha
        np.multiply(g, g, out=w)
        w *= 1.0 - self.alpha
        s += w
        if self.centered:
            c = state["grad_avg"]
            np.subtract(g, c, out=w)  # c.lerp_(g, 1 - alpha) in torch
            w *= 1.0 - self.alpha
            c += w
            np.multiply(c, c, out=w)
            np.subtract(s, w, out=w)
            np.sqrt(w, out=w)
        else:
            np.sqrt(s, out=w)
        w += self.eps
        np.divide(g, w, out=w)
        if self.momentum:
            v = state["velocity"]
            v *= self.momentum
            v += w
            np.multiply(v, self.lr, out=w)
        else:
            w *= self.lr
        Theta -= w


class Adam(Optimizer):
    """Adam with bias correction, optional AMSGrad and coupled (L2) weight decay.

    Notes
    -----
    Same as ``torch.optim.Adam`` (``eps`` is added after the bias-corrected square root)::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2         (AMSGrad: v_max <- max(v_max, v), used for v)
        Theta <- Theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (_check_range("betas[0]", betas[0], 0.0, 1.0, hi_open=True),
                      _check_range("betas[1]", betas[1], 0.0, 1.0, hi_open=True))
        self.eps = _check_range("eps", eps, 0.0, lo_open=True)
        self.amsgrad = _check_bool("amsgrad", amsgrad)
        super().__init__(lr, weight_decay)

    def _state_keys(self) -> tuple[str, ...]:
        return ("m", "v") + ("v_max",) * self.amsgrad

    def _update(self, Theta, dTheta, state, work):
        beta1, beta2 = self.betas
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        m, v = state["m"], state["v"]
        np.subtract(g, m, out=w)  # m.lerp_(g, 1 - beta1) in torch
        w *= 1.0 - beta1
        m += w
        v *= beta2
        np.square(g, out=w)
        w *= 1.0 - beta2
        v += w
        if self.amsgrad:
            v = np.maximum(state["v_max"], v, out=state["v_max"])
        # The bias corrections folded into two scalars, one pass fewer than torch's form:
        # lr / (1 - beta1^t) * m / (sqrt(v) / s + eps) = c * m / (sqrt(v) + eps * s),  s = sqrt(1 - beta2^t)
        s = math.sqrt(1.0 - beta2 ** self.t)
        np.sqrt(v, out=w)
        w += self.eps * s
        np.divide(m, w, out=w)
        w *= self.lr * s / (1.0 - beta1 ** self.t)
        Theta -= w


class AdamW(Adam):
    """Adam with decoupled weight decay: ``Theta <- Theta * (1 - lr * weight_decay)`` before the Adam step.

    Notes
    -----
    Same as ``torch.optim.AdamW``; the gradient entering ``m`` and ``v`` is the bare ``dTheta``.
    """

    _coupled_decay = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


_OPTIMIZERS: dict[str, type] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
    "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "lbfgs": LBFGS,
}


def get_optimizer(name: str, **kwargs: Any) -> Optimizer | LBFGS:
    """Build an optimizer from its registry name; ``"lbfgs"`` gives the full-batch :class:`LBFGS` settings.

    >>> get_optimizer("adam", lr=0.01)
    Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    """
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(_OPTIMIZERS)}")
    return _OPTIMIZERS[name](**kwargs)


def clip_grad_norm(grads: list[np.ndarray], max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale all grads in place so that their global 2-norm is at most ``max_norm``; return the norm before.

    Notes
    -----
    As ``torch.nn.utils.clip_grad_norm_``: ``N = sqrt(sum_i ||dTheta_i||^2)`` and every grad is
    multiplied by ``min(1, max_norm / (N + 1e-6))``. A non-finite ``N`` raises if
    ``error_if_nonfinite``, else propagates into the grads as in torch.
    """
    max_norm = _check_range("max_norm", max_norm, 0.0, lo_open=True)
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if not math.isfinite(total) and error_if_nonfinite:
        raise ValueError(f"the global gradient norm is {total}; cannot clip non-finite gradients")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # also true for a NaN coefficient, which torch propagates
        for g in grads:
            g *= coef
    return total


def clip_grad_value(grads: list[np.ndarray], clip_value: float) -> None:
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]`` (``torch.nn.utils.clip_grad_value_``)."""
    clip_value = _check_range("clip_value", clip_value, 0.0, lo_open=True)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
