"""Learning-rate schedules against torch.optim.lr_scheduler, state round trips and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vecprop.optimizers import get_optimizer
from vecprop.schedules import (Constant, CosineLR, ExponentialLR, ReduceOnPlateau, StepLR,
                               get_schedule)

try:
    import torch
    sched = torch.optim.lr_scheduler
except ImportError:  # torch is only the reference implementation
    torch = sched = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")

N_EPOCHS = 25
LR = 0.1
# A validation loss with improvements, plateaus, tiny (sub-threshold) gains and a relapse.
METRICS = [1.0, 0.8, 0.8, 0.79999, 0.81, 0.7, 0.7, 0.7, 0.7, 0.69, 0.5, 0.5, 0.55, 0.6, 0.6,
           0.45, 0.45, 0.45, 0.45, 0.45, 0.3, 0.31, 0.31, 0.31, 0.31]


def torch_lrs(make, metrics=None):
    """lr of epochs 0..N_EPOCHS under a torch scheduler, stepped once per epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    s = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for e in range(N_EPOCHS):
        opt.step()
        s.step(metrics[e]) if metrics is not None else s.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs)


def our_lrs(schedule, metrics=None):
    lrs = [schedule.current_lr]
    for e in range(N_EPOCHS):
        lrs.append(schedule.step(metrics[e] if metrics is not None else None))
    return np.array(lrs)


def cosine_torch(W, T, min_lr):
    def make(opt):
        cosine = sched.CosineAnnealingLR(opt, T_max=T - W, eta_min=min_lr)
        if W == 0:
            return cosine
        warmup = sched.LinearLR(opt, start_factor=1 / (W + 1), end_factor=1.0, total_iters=W)
        return sched.SequentialLR(opt, [warmup, cosine], milestones=[W])
    return make


CLOSED_FORM = {
    "constant": (lambda: Constant(LR), lambda opt: sched.LambdaLR(opt, lambda e: 1.0), N_EPOCHS),
    "step": (lambda: StepLR(LR, step_size=4, gamma=0.5), lambda opt: sched.StepLR(opt, 4, gamma=0.5), N_EPOCHS),
    "exponential": (lambda: ExponentialLR(LR, gamma=0.9), lambda opt: sched.ExponentialLR(opt, 0.9), N_EPOCHS),
    "cosine": (lambda: CosineLR(LR, total_epochs=N_EPOCHS), cosine_torch(0, N_EPOCHS, 0.0), N_EPOCHS),
    # torch's cosine rises again after T; ours stays at min_lr, so compare up to T only
    "cosine_warmup": (lambda: CosineLR(LR, 20, warmup_epochs=5, min_lr=1e-3), cosine_torch(5, 20, 1e-3), 20),
    "cosine_warmup_1": (lambda: CosineLR(LR, 12, warmup_epochs=1), cosine_torch(1, 12, 0.0), 12),
}


@needs_torch
@pytest.mark.parametrize("case", CLOSED_FORM)
def test_closed_form_schedules_match_torch(case):
    make_ours, make_torch, upto = CLOSED_FORM[case]
    ours, ref = our_lrs(make_ours()), torch_lrs(make_torch)
    # torch multiplies its lr epoch by epoch; ours is the closed form: equal up to rounding
    np.testing.assert_allclose(ours[:upto + 1], ref[:upto + 1], rtol=1e-12, atol=1e-15)
    assert len(set(ours.tolist())) > 1 or case == "constant"


@pytest.mark.parametrize("case", CLOSED_FORM)
def test_lr_at_agrees_with_step(case):
    s = CLOSED_FORM[case][0]()
    stepped = our_lrs(s)
    np.testing.assert_array_equal(stepped, [s.lr_at(e) for e in range(N_EPOCHS + 1)])


def test_cosine_hand_worked():
    # lr=1, T=4, W=1: warm-up e=0: 1*(0+1)/(1+1) = 0.5; then (1 + cos(pi*(e-1)/3))/2:
    # e=1: 1, e=2: (1 + 1/2)/2 = 0.75, e=3: (1 - 1/2)/2 = 0.25, e=4: 0; afterwards min_lr = 0.
    s = CosineLR(1.0, total_epochs=4, warmup_epochs=1)
    np.testing.assert_allclose(our_lrs(s)[:7], [0.5, 1.0, 0.75, 0.25, 0.0, 0.0, 0.0], atol=1e-15)


PLATEAU = {
    "default_patience_2": {"patience": 2},
    "cooldown": {"patience": 1, "cooldown": 2, "factor": 0.5},
    "min_lr": {"patience": 0, "factor": 0.5, "min_lr": 0.02},
    "abs_threshold": {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    "max_mode": {"patience": 2, "mode": "max", "factor": 0.3},
    "max_abs_cooldown": {"patience": 0, "mode": "max", "threshold_mode": "abs", "threshold": 0.01, "cooldown": 1},
}


@needs_torch
@pytest.mark.parametrize("case", PLATEAU)
def test_reduce_on_plateau_matches_torch(case):
    kwargs = PLATEAU[case]
    ref = torch_lrs(lambda opt: sched.ReduceLROnPlateau(opt, **kwargs), METRICS)
    ours = our_lrs(ReduceOnPlateau(LR, **kwargs), METRICS)
    np.testing.assert_array_equal(ours, ref)
    assert ours[-1] < LR, f"{case}: the scripted metrics never reduced the lr"


def test_reduce_on_plateau_needs_the_metric():
    s = ReduceOnPlateau(LR)
    with pytest.raises(ValueError, match="metric"):
        s.step()
    assert s.epoch == 0 and s.current_lr == LR
    with pytest.raises(NotImplementedError, match="closed form"):
        s.lr_at(3)


SCHEDULES = {**{k: v[0] for k, v in CLOSED_FORM.items()},
             **{f"plateau_{k}": (lambda kw=kw: ReduceOnPlateau(LR, **kw)) for k, kw in PLATEAU.items()}}


@pytest.mark.parametrize("case", SCHEDULES)
def test_state_dict_resume_through_json(case):
    make = SCHEDULES[case]
    straight = our_lrs(make(), METRICS)
    first = make()
    for e in range(7):
        first.step(METRICS[e])
    resumed = make()
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert resumed.epoch == 7 and resumed.current_lr == straight[7]
    rest = [resumed.step(METRICS[e]) for e in range(7, N_EPOCHS)]
    np.testing.assert_array_equal(rest, straight[8:])


def test_load_state_dict_rejects_wrong_keys():
    with pytest.raises(ValueError, match="state_dict keys"):
        StepLR(LR, 2).load_state_dict(ReduceOnPlateau(LR).state_dict())
    with pytest.raises(ValueError, match="epoch"):
        StepLR(LR, 2).load_state_dict({"epoch": -1, "current_lr": LR})


@pytest.mark.parametrize("opt_name", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
def test_every_optimizer_follows_the_schedule(opt_name):
    # CosineLR reaches min_lr = 0 at epoch T; an optimizer that reads opt.lr then leaves Theta alone.
    s = CosineLR(0.1, total_epochs=2, min_lr=0.0)
    opt = get_optimizer(opt_name, lr=s.current_lr, weight_decay=0.1)
    Theta, dTheta = np.ones(3), np.full(3, 0.5)
    opt.step([Theta], [dTheta])
    assert np.all(Theta != 1.0)
    for _ in range(2):
        opt.lr = s.step()
    assert opt.lr == 0.0
    frozen = Theta.copy()
    opt.step([Theta], [dTheta])
    np.testing.assert_array_equal(Theta, frozen)


@pytest.mark.parametrize(("cls", "kwargs", "arg"), [
    (Constant, {"lr": -1.0}, "lr"),
    (StepLR, {"lr": LR, "step_size": 0}, "step_size"),
    (StepLR, {"lr": LR, "step_size": 2.5}, "step_size"),
    (StepLR, {"lr": LR, "step_size": 2, "gamma": 0.0}, "gamma"),
    (ExponentialLR, {"lr": LR, "gamma": 1.5}, "gamma"),
    (CosineLR, {"lr": LR, "total_epochs": 0}, "total_epochs"),
    (CosineLR, {"lr": LR, "total_epochs": 5, "warmup_epochs": 5}, "warmup_epochs"),
    (CosineLR, {"lr": LR, "total_epochs": 5, "min_lr": 0.2}, "min_lr"),
    (ReduceOnPlateau, {"lr": LR, "factor": 1.0}, "factor"),
    (ReduceOnPlateau, {"lr": LR, "patience": -1}, "patience"),
    (ReduceOnPlateau, {"lr": LR, "mode": "avg"}, "mode"),
    (ReduceOnPlateau, {"lr": LR, "threshold_mode": "pct"}, "threshold_mode"),
    (ReduceOnPlateau, {"lr": LR, "cooldown": -2}, "cooldown"),
    (ReduceOnPlateau, {"lr": LR, "min_lr": float("nan")}, "min_lr"),
])
def test_bad_hyperparameters_raise_naming_the_argument(cls, kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        cls(**kwargs)


@pytest.mark.parametrize(("name", "cls", "kwargs"), [
    ("constant", Constant, {}), ("step", StepLR, {"step_size": 3}), ("exponential", ExponentialLR, {"gamma": 0.9}),
    ("cosine", CosineLR, {"total_epochs": 10}), ("plateau", ReduceOnPlateau, {}),
])
def test_registry(name, cls, kwargs):
    s = get_schedule(name, lr=LR, **kwargs)
    assert type(s) is cls and s.current_lr == LR and repr(s).startswith(cls.__name__ + "(lr=0.1")


def test_registry_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'onecycle'.*constant, step, exponential, cosine, plateau"):
        get_schedule("onecycle", lr=LR)
