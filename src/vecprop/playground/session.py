"""One browser tab's playground: data, network, optimizer, trained a step at a time by the readable engine."""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..encoding import one_hot
from ..gradcheck import gradcheck
from ..metrics import accuracy, r2
from ..network import Network
from ..optimizers import get_optimizer
from ..inference import checked_set, outputs
from ..training import batches
from ..walkthrough import Step, steps, values
from .data import Points, domain, generate, split
from .features import features
from .settings import HEADS, UPLOADED, Setup

MAX_GRADCHECK_PARAMS = 2000
LIVE = ("lr", "opt", "batch", "l2", "stop", "layer", "unfused")
"""Settings that change training from the next step on; any other change starts again from new weights."""
SETTINGS = tuple(f.name for f in fields(Setup))


@dataclass
class StepRecord:
    """What one training step computed, kept for the page: its batch, every matrix, the time it took.

    ``values`` holds ``walkthrough.values`` of the step: the parameters it used (``Theta[l]``,
    ``b[l]``), every matrix of (1)-(D), the cost ``J`` and the parameters after it (``Theta_new[l]``).
    """

    epoch: int
    batch: int
    idx: np.ndarray  # the training points of the mini-batch, (m,)
    Y: np.ndarray  # (n_L, m)
    values: dict[str, Any]
    masks: list[np.ndarray | None]
    flat_before: np.ndarray
    seconds: float


@dataclass
class Evaluation:
    """Cost J (eq. 2, with the L2 term) and the task's metric on one set, in inference mode."""

    cost: float
    metric: float
    metric_name: str  # "accuracy" or "r2"


def n_outputs(points: Points, head: str) -> int:
    """n_L: one sigmoid or identity unit for two classes or a value, one unit per class otherwise."""
    if points.classes is None or (head != "softmax_ce" and len(points.classes) == 2):
        return 1
    return len(points.classes)


def targets(points: Points, head: str) -> np.ndarray:
    """Y (n_L, m): one-hot columns for one unit per class, else the label or value as one row."""
    if n_outputs(points, head) > 1:
        return one_hot(points.y, len(points.classes), dtype="float64")
    return points.y.astype(np.float64)[None, :]


class Session:
    """The state behind one tab. Every method runs under ``lock`` (the server takes it per request)."""

    def __init__(self, setup: Setup, points: Points) -> None:
        self.lock = threading.Lock()
        self.points_version = 0  # bumped when the points change: the page fetches them again
        self.run = 0  # bumped by every reset: the page's cost curves start again
        self.apply(setup, points)

    @classmethod
    def create(cls, setup: Setup, points: Points | None = None) -> Session:
        """A session on ``points`` (default: the setup's generated data set), its network freshly initialised."""
        setup = setup.checked()
        if points is None:
            if setup.data == UPLOADED:
                raise ValueError("uploaded points (data=csv) are not part of a link: choose a data set, then "
                                 "upload the file again")
            points = generate(setup.data, setup.n, setup.noise, setup.seed)
        return cls(setup, points)

    def __repr__(self) -> str:
        return (f"Session(data={self.setup.data!r}, sizes={list(self.net.sizes)}, epoch={self.epoch}, "
                f"steps={self.n_steps})")

    def apply(self, setup: Setup, points: Points) -> None:
        """Take a new setup (and data): resolve it against the data, split, and reset the network."""
        setup = setup.resolve(points.task, 0 if points.classes is None else len(points.classes))
        self.train_set, self.test_set = split(points, setup.ratio, setup.seed)
        self.setup, self.points = setup, points
        self.domain = domain(points.P)  # the plane the page draws, fixed until the data change
        self.points_version += 1
        self.reset()

    def tune(self, new: Setup) -> bool:
        """Take a setup that differs only in LIVE settings without a reset; False when it differs in others."""
        new = new.resolve(self.points.task, 0 if self.points.classes is None else len(self.points.classes))
        if any(getattr(new, f) != getattr(self.setup, f) for f in SETTINGS if f not in LIVE):
            return False
        old, self.setup = self.setup, new
        if new.opt != old.opt:
            self.optimizer = get_optimizer(new.opt, lr=new.lr)  # a fresh state: another method's is meaningless
        self.optimizer.lr = new.lr
        if new.batch != old.batch and self._next:  # the rest of this epoch's examples, cut anew
            rest = np.concatenate(self._epoch_batches[self._next:])
            self._epoch_batches = [rest[i : i + new.batch] for i in range(0, rest.size, new.batch)]
            self._next = 0
        elif new.batch != old.batch:
            self._epoch_batches = list(batches(self.X_train.shape[1], new.batch, self.rng))
        return True

    def reset(self) -> None:
        """Fresh weights (seeded by the setup), optimizer, epoch 0; the data stay."""
        s = self.setup
        act_L, loss = HEADS[s.head]
        self.X_train = features(self.train_set.P, s.features)  # (n_0, m_train): rows become columns once, here
        self.X_test = features(self.test_set.P, s.features)
        self.Y_train, self.Y_test = targets(self.train_set, s.head), targets(self.test_set, s.head)
        sizes = [len(s.features), *s.hidden, self.Y_train.shape[0]]
        self.net = Network(sizes, [*s.act, act_L], loss, seed=s.seed, dtype="float64",
                           dropout=s.dropout if s.hidden else 0.0)
        self.optimizer = get_optimizer(s.opt, lr=s.lr)
        self.rng = np.random.default_rng([s.seed, 3])
        self.epoch, self.n_steps = 0, 0
        self.run += 1
        self.last: StepRecord | None = None
        self.diverged: str | None = None
        self.history: list[tuple[int, float, float, float, float]] = []
        self._epoch_batches = list(batches(self.X_train.shape[1], s.batch, self.rng))
        self._next = 0
        self._record_epoch()

    # ---- training ---------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return bool(self.setup.stop) and self.epoch >= self.setup.stop

    def train(self, max_steps: int, seconds: float) -> int:
        """Up to ``max_steps`` steps in about ``seconds`` (at least one), until the stop epoch or a divergence."""
        start, done = time.perf_counter(), 0
        while done < max_steps and not (self.stopped or self.diverged):
            self.step()
            done += 1
            if time.perf_counter() - start >= seconds:
                break
        return done

    def step(self) -> None:
        """One mini-batch: forward (1), cost (2), backward (5)/(C)-(D), the optimizer's update."""
        if self.diverged or self.stopped:
            return
        s, net = self.setup, self.net
        idx = self._epoch_batches[self._next]
        Xb, Yb = self.X_train[:, idx], self.Y_train[:, idx]  # (n_0, m), (n_L, m)
        flat_before = net.flat.copy()
        with np.errstate(all="ignore"):  # a blow-up is found below, by name, not as a numpy warning
            t0 = time.perf_counter()
            net.forward(Xb, rng=self.rng if s.dropout else None)  # (1)
            J = net.cached_cost(Yb, l2=s.l2)  # (2)
            grads = net.backward(Yb, l2=s.l2, fused=not s.unfused)  # (5), (C), (A), (B), (D)
            t1 = time.perf_counter()
            vals = values(net, grads, J)  # copies Theta[l], b[l] as this pass used them
            t2 = time.perf_counter()
            self.optimizer.step([net.flat], [net.flatten(grads)])  # the update
            seconds = time.perf_counter() - t2 + (t1 - t0)
        for l, (Theta, b) in enumerate(net.params, start=1):
            vals[f"Theta_new[{l}]"], vals[f"b_new[{l}]"] = Theta.copy(), b.copy()
        self.last = StepRecord(self.epoch, self._next, idx, Yb, vals, list(net.cache.M), flat_before, seconds)
        self.n_steps += 1
        bad = self._first_non_finite(vals)
        if bad is not None:
            net.flat[...] = flat_before
            self.optimizer = get_optimizer(s.opt, lr=s.lr)  # its running averages hold the blow-up too
            self.diverged = divergence_message(bad, self)
            return
        self._next += 1
        if self._next == len(self._epoch_batches):
            self.epoch += 1
            self._epoch_batches, self._next = list(batches(self.X_train.shape[1], s.batch, self.rng)), 0
            self._record_epoch()

    def walk(self) -> list[Step]:
        """The steps of one update of this network, in order (what the page's step-through walks)."""
        return steps(self.net, fused=not self.setup.unfused, l2=self.setup.l2, optimizer=self.setup.opt)

    def _first_non_finite(self, vals: dict[str, Any]) -> Step | None:
        for step in self.walk():
            v = vals.get(step.name)
            if v is not None and not np.isfinite(v).all():
                return step
        return None

    # ---- what the page reads ------------------------------------------------------------------
    def evaluate(self, X: np.ndarray, Y: np.ndarray, points: Points) -> Evaluation:
        with np.errstate(all="ignore"):  # weights near a blow-up: inf and NaN are shown as such
            X, Y, _ = checked_set(self.net, X, Y)
            A_L, total = outputs(self.net, X, Y)  # one forward pass gives both A[L] and the summed error
            m, l2 = X.shape[1], self.setup.l2
            cost = total / m + (self.net.l2_term(l2, m) if l2 else 0.0)  # eq. 2, as validation_logs forms it
            if points.classes is None:
                return Evaluation(cost, r2(A_L, Y) if np.isfinite(A_L).all() else math.nan, "r2")
            return Evaluation(cost, accuracy(A_L, Y, "multiclass" if Y.shape[0] > 1 else "binary"), "accuracy")

    def _record_epoch(self) -> None:
        tr = self.evaluate(self.X_train, self.Y_train, self.train_set)
        te = self.evaluate(self.X_test, self.Y_test, self.test_set)
        self.history.append((self.epoch, tr.cost, te.cost, tr.metric, te.metric))

    def check_gradients(self) -> list[dict[str, Any]]:
        """(A) and (B) of the last step against central differences of J, per layer and parameter."""
        rec = self.last
        if rec is None:
            raise ValueError("take a step first: the check runs on the last step's mini-batch")
        if self.net.flat.size > MAX_GRADCHECK_PARAMS:
            raise ValueError(f"the gradient check runs on networks of at most {MAX_GRADCHECK_PARAMS} "
                             f"parameters; this one has {self.net.flat.size}")
        net = self.net.copy()
        net.flat[...] = rec.flat_before
        with np.errstate(all="ignore"):
            report = gradcheck(net, self.X_train[:, rec.idx], rec.Y, l2=self.setup.l2, masks=rec.masks)
        return [{"layer": r.layer, "param": r.param, "rel_error": r.rel_error, "ok": r.ok} for r in report.rows]

    def add_point(self, x1: float, x2: float, label: float) -> None:
        """A clicked point joins the training set; the network keeps training from where it is."""
        self.train_set = self.train_set.add(x1, x2, label)
        self.points = self.points.add(x1, x2, label)
        self.points_version += 1
        s = self.setup
        self.X_train = features(self.train_set.P, s.features)
        self.Y_train = targets(self.train_set, s.head)
        self._epoch_batches, self._next = list(batches(self.X_train.shape[1], s.batch, self.rng)), 0


def divergence_message(step: Step, session: Session) -> str:
    """Which matrix blew up first (layer and equation), the likely cause, and what to try."""
    where = (f"the cost J (2) of the output A[{step.layer}] (layer {step.layer})" if step.symbol == "J"
             else f"{step.name} (layer {step.layer}, {step.tag} {step.equation})")
    if step.tag == "(5)":
        cause, fix = ("(5) divides by A[L] (and 1 - A[L]), and a saturated output made it infinite",
                      "unticking 'unfused' (the fused dZ[L] = A[L] - Y is stable), or a smaller learning rate")
    elif step.tag == "update":
        cause, fix = "the update overshot", "a smaller learning rate, or adam, which scales its steps"
    elif step.tag in ("(1)", "(2)"):
        cause, fix = "the weights grew too large", "a smaller learning rate, or some L2"
    else:
        cause, fix = "the gradients exploded on their way back", "a smaller learning rate, fewer layers, or tanh"
    lr = session.setup.lr
    return (f"Training diverged at epoch {session.epoch}, step {session.n_steps}: {where} is the first value "
            f"to hold inf or NaN; {cause}. The weights are back at their last finite values and training is "
            f"paused. Try {fix} (lr is {lr:g}; {lr / 10:g} is ten times smaller), then reset.")
