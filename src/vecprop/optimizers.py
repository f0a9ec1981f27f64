"""Gradient-descent optimizers (torch.optim semantics) and their registry; clipping lives in ``clipping``."""
from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np

from ._checks import check_bool, check_int, check_real
from ._registry import Registry
from .clipping import clip_grad_norm, clip_grad_value

StateDict = dict[str, "np.ndarray | float | int | list[np.ndarray]"]

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "RMSprop", "Adam", "AdamW", "OPTIMIZERS",
    "get_optimizer", "defaults", "default_lr", "clip_grad_norm", "clip_grad_value",
]


class Optimizer:
    """Base class: learning rate ``lr``, step counter ``t`` and per-parameter state in aligned lists.

    Subclasses implement ``_update(Theta, dTheta, state, work)`` on one block of a parameter; their
    ``__init__`` defaults (``lr`` included) are the only copy of them (``defaults(name)`` reads
    them). ``step`` reads ``lr`` every call, so a schedule changes it by plain assignment:
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
    _renamed: dict[str, str] = {}  # state keys of vecprop 0.1 checkpoints -> today's names

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = check_real("lr", lr, 0.0)
        self.weight_decay = check_real("weight_decay", weight_decay, 0.0)
        self.t = 0
        self._state: dict[str, list[np.ndarray]] = {key: [] for key in self._state_keys()}
        self._work: list[tuple[np.ndarray, np.ndarray]] = []  # per param: two scratch buffers of one block
        self._param_state: list[dict[str, np.ndarray]] = []  # per param: its state arrays by key
        self._shapes: list[tuple] | None = None  # (shape, dtype) of the params the state is for
        self._zeros: list[np.ndarray] = []  # per param: a block of zeros, for step(keep=)'s check

    def _state_keys(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], keep: list[np.ndarray] | None = None) -> None:
        """Update every ``params[i]`` in place from ``grads[i]`` (same shape and dtype).

        Parameters
        ----------
        params : list of ndarray
            ``Theta`` and ``b`` arrays of any shapes, or one flat 1-D buffer; updated in place.
        grads : list of ndarray
            ``dTheta``, ``db`` aligned with ``params``; never modified.
        keep : list of ndarray, optional
            Buffers like ``params`` that make the step all or nothing: each block of a parameter
            is copied there just before its update (while it is in the CPU cache) and checked just
            after it. If a weight became NaN or inf, or numpy raised FloatingPointError, the blocks
            this step updated are restored and FloatingPointError is raised: the parameters hold
            their values from before the step (the state arrays do not).
        """
        shapes = [(p.shape, p.dtype) for p in params]
        if shapes != self._shapes or [(g.shape, g.dtype) for g in grads] != shapes:
            self._check(params, grads)
            if shapes != self._shapes:  # first step, after load_state_dict, or other params
                self._allocate(params)
                self._shapes = shapes
        if keep is not None:
            if [(k.shape, k.dtype) for k in keep] != shapes:
                raise ValueError("keep must hold one buffer like each parameter (same shapes and dtypes)")
            if not self._zeros:  # a block of zeros per parameter: finiteness in one dot product
                self._zeros = [np.zeros(math.prod(w.shape), w.dtype) for w, _ in self._work]
        self.t += 1
        done = 0  # blocks updated so far, in the order of _blocks
        try:
            for T, dT, state, work, K, zeros in self._blocks(params, grads, keep):
                if K is not None:
                    np.copyto(K, T)
                done += 1
                self._update(T, dT, state, work)
                # one dot with zeros: NaN iff an entry is not finite (T . T could overflow for finite T)
                if K is not None and not math.isfinite(float(np.dot(T.reshape(-1) if T.ndim != 1 else T, zeros))):
                    raise FloatingPointError("non-finite weights after the step")
        except FloatingPointError:
            if keep is not None:
                for T, _, _, _, K, _ in itertools.islice(self._blocks(params, grads, keep), done):
                    np.copyto(T, K)
            raise

    @staticmethod
    def _check(params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} params but {len(grads)} grads")
        for i, (Theta, dTheta) in enumerate(zip(params, grads)):
            if Theta.shape != dTheta.shape or Theta.dtype != dTheta.dtype:
                raise ValueError(f"grads[{i}] is {dTheta.shape} {dTheta.dtype}; params[{i}] is "
                                 f"{Theta.shape} {Theta.dtype}: they must match")

    def _blocks(self, params: list[np.ndarray], grads: list[np.ndarray], keep: list[np.ndarray] | None):
        """(Theta, dTheta, state, work, keep, zeros) views, about ``_block_bytes`` of each array at a time."""
        for i, (Theta, dTheta) in enumerate(zip(params, grads)):
            state, work, zeros = self._param_state[i], self._work[i], self._zeros[i] if self._zeros else None
            K = None if keep is None else keep[i]
            if work[0].shape == Theta.shape:  # the whole parameter is one block
                yield Theta, dTheta, state, work, K, zeros
                continue
            rows = len(work[0])
            for a in range(0, len(Theta), rows):
                blk, n = slice(a, a + rows), min(rows, len(Theta) - a)
                yield (Theta[blk], dTheta[blk], {key: s[blk] for key, s in state.items()}, (work[0][:n], work[1][:n]),
                       None if K is None else K[blk], None if zeros is None else zeros[: Theta[blk].size])

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
        self._zeros = []

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
        """Restore a ``state_dict()`` so that the next steps are bit-identical to an unbroken run.

        Checkpoints of vecprop 0.1 load too: their Adam state keys ``m``, ``v``, ``v_max`` are read
        as ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (``m`` is the number of examples).
        """
        d = {self._renamed.get(key, key): value for key, value in d.items()}
        expected = {"t", "lr", *self._state}
        if set(d) != expected:
            raise ValueError(f"state_dict keys must be {sorted(expected)}; got {sorted(d)}")
        if not all(isinstance(d[key], (list, tuple)) for key in self._state):
            raise ValueError(f"state_dict entries {sorted(self._state)} must be lists of arrays")
        t = check_int("state_dict['t']", d["t"], 0)
        lengths = {len(d[key]) for key in self._state}  # type: ignore[arg-type]
        if len(lengths) > 1 or (self._state and t > 0 and 0 in lengths):
            raise ValueError(f"state_dict lists have lengths {sorted(lengths)} at t={t}")
        self.t = t
        self.lr = check_real("state_dict['lr']", d["lr"], 0.0)
        self._state = {key: [np.array(a, copy=True) for a in d[key]] for key in self._state}  # type: ignore[union-attr]
        self._work, self._shapes = [], None


class SGD(Optimizer):
    """Plain gradient descent: ``Theta <- Theta - lr * (dTheta + weight_decay * Theta)``.

    Notes
    -----
    Same as ``torch.optim.SGD(lr=lr, weight_decay=weight_decay)``; the default lr is 0.1.

    Examples
    --------
    >>> Theta, dTheta = np.ones((2, 3)), np.full((2, 3), 0.5)
    >>> SGD(lr=0.1).step([Theta], [dTheta]); Theta.shape, float(Theta[0, 0])
    ((2, 3), 0.95)
    """

    def __init__(self, lr: float = 0.1, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)

    def _update(self, Theta, dTheta, state, work):
        w, d = work
        np.multiply(self._gradient(Theta, dTheta, d), self.lr, out=w)
        Theta -= w


class Momentum(SGD):
    """SGD with heavy-ball momentum: ``v <- momentum * v + (1 - dampening) * g``; ``Theta <- Theta - lr * v``.

    Notes
    -----
    Same as ``torch.optim.SGD(lr, momentum, dampening, weight_decay)``, including torch's first
    step, where ``v = g`` without dampening.
    """

    _nesterov = False

    def __init__(self, lr: float = 0.05, momentum: float = 0.9, dampening: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_real("momentum", momentum, 0.0, 1.0)  # 1: no decay (torch and scikit-learn allow it)
        self.dampening = check_real("dampening", dampening, 0.0, 1.0)

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

    def __init__(self, lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        check_real("momentum", momentum, 0.0, 1.0, lo_open=True)
        super().__init__(lr, momentum, 0.0, weight_decay)


class RMSprop(Optimizer):
    """RMSprop: divide g by a running root-mean-square of past gradients.

    Notes
    -----
    Same as ``torch.optim.RMSprop`` (its ``alpha`` is ``rho`` here: alpha[l] is an activation), with
    no bias correction and ``eps`` outside the square root. The default lr is Adam's 1e-3 (torch:
    0.01): both scale each entry's step to about lr::

        s <- rho * s + (1 - rho) * g**2
        c <- rho * c + (1 - rho) * g                (centered only; then s - c**2 replaces s)
        D  = sqrt(s) + eps
        v <- momentum * v + g / D; Theta <- Theta - lr * v     (momentum > 0)
        Theta <- Theta - lr * g / D                            (momentum == 0)
    """

    def __init__(self, lr: float = 1e-3, rho: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, centered: bool = False, weight_decay: float = 0.0) -> None:
        self.rho = check_real("rho", rho, 0.0, 1.0, hi_open=True)
        self.eps = check_real("eps", eps, 0.0, lo_open=True)
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, hi_open=True)
        self.centered = check_bool("centered", centered)
        super().__init__(lr, weight_decay)

    def _state_keys(self) -> tuple[str, ...]:
        return ("square_avg",) + ("grad_avg",) * self.centered + ("velocity",) * (self.momentum > 0)

    def _update(self, Theta, dTheta, state, work):
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        s = state["square_avg"]
        s *= self.rho
        np.multiply(g, g, out=w)
        w *= 1.0 - self.rho
        s += w
        if self.centered:
            c = state["grad_avg"]
            np.subtract(g, c, out=w)  # c.lerp_(g, 1 - alpha) in torch
            w *= 1.0 - self.rho
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
    Same as ``torch.optim.Adam`` (``eps`` is added after the bias-corrected square root), with
    torch's names for the state (``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``)::

        avg    <- beta1 * avg + (1 - beta1) * g
        avg_sq <- beta2 * avg_sq + (1 - beta2) * g**2     (AMSGrad: its running maximum is used)
        Theta  <- Theta - lr / (1 - beta1**t) * avg / (sqrt(avg_sq) / sqrt(1 - beta2**t) + eps)
    """

    _renamed = {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"}

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (check_real("betas[0]", betas[0], 0.0, 1.0, hi_open=True),
                      check_real("betas[1]", betas[1], 0.0, 1.0, hi_open=True))
        self.eps = check_real("eps", eps, 0.0, lo_open=True)
        self.amsgrad = check_bool("amsgrad", amsgrad)
        super().__init__(lr, weight_decay)

    def _state_keys(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + ("max_exp_avg_sq",) * self.amsgrad

    def _update(self, Theta, dTheta, state, work):
        beta1, beta2 = self.betas
        w, d = work
        g = self._gradient(Theta, dTheta, d)
        avg, avg_sq = state["exp_avg"], state["exp_avg_sq"]
        np.subtract(g, avg, out=w)  # exp_avg.lerp_(g, 1 - beta1) in torch
        w *= 1.0 - beta1
        avg += w
        avg_sq *= beta2
        np.square(g, out=w)
        w *= 1.0 - beta2
        avg_sq += w
        if self.amsgrad:
            avg_sq = np.maximum(state["max_exp_avg_sq"], avg_sq, out=state["max_exp_avg_sq"])
        # The bias corrections folded into two scalars, one pass fewer than torch's form, s = sqrt(1 - beta2^t):
        # lr / (1 - beta1^t) * avg / (sqrt(avg_sq) / s + eps) = c * avg / (sqrt(avg_sq) + eps * s)
        s = math.sqrt(1.0 - beta2 ** self.t)
        np.sqrt(avg_sq, out=w)
        w += self.eps * s
        np.divide(avg, w, out=w)
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


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer", {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
})
"""The step optimizers. Full-batch L-BFGS is not one of them: it owns its loop (``vecprop.lbfgs``)."""


def get_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """Build a step optimizer from its registry name.

    >>> get_optimizer("adam", lr=0.01)
    Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    """
    return OPTIMIZERS.build(name, **kwargs)


def defaults(name: str) -> dict[str, Any]:
    """The keyword defaults of optimizer ``name``: its ``__init__``'s, the one place they are written."""
    params = inspect.signature(OPTIMIZERS.lookup(name)).parameters.values()
    return {p.name: p.default for p in params if p.default is not p.empty}


def default_lr(name: str) -> float:
    """The learning rate ``get_optimizer(name)`` uses when none is given."""
    return float(defaults(name)["lr"])
