"""Optimizers and clipping against torch.optim / torch.nn.utils step for step, state round trips, L-BFGS."""

from __future__ import annotations

import json
import os
import sys
import tracemalloc

import numpy as np
import pytest

from vecprop.lbfgs import LBFGS, minimize_lbfgs
from vecprop.optimizers import (SGD, Adam, AdamW, Momentum, Nesterov, RMSprop, clip_grad_norm,
                                clip_grad_value, default_lr, get_optimizer)

try:
    import torch
except ImportError:  # torch is only the reference implementation
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")

SHAPES = [(4, 3), (4, 1), (2, 4), (2, 1)]  # Theta[1], b[1], Theta[2], b[2]
LAYOUTS = {"layers": SHAPES, "flat": [(26,)]}  # 26 = 12 + 4 + 8 + 2, the lead's single buffer
N_STEPS = 20

# id: (registry name, our kwargs, torch class, torch kwargs)
CASES = {
    "sgd": ("sgd", {"lr": 0.1}, "SGD", {}),
    "sgd_wd": ("sgd", {"lr": 0.1, "weight_decay": 0.05}, "SGD", {}),
    "momentum": ("momentum", {"lr": 0.05, "momentum": 0.9}, "SGD", {}),
    "momentum_dampening_wd": ("momentum", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3,
                                           "weight_decay": 0.01}, "SGD", {}),
    "nesterov": ("nesterov", {"lr": 0.05, "momentum": 0.9}, "SGD", {"nesterov": True}),
    "nesterov_wd": ("nesterov", {"lr": 0.05, "momentum": 0.7, "weight_decay": 0.02}, "SGD",
                    {"nesterov": True}),
    "rmsprop": ("rmsprop", {"lr": 0.01}, "RMSprop", {}),
    "rmsprop_centered": ("rmsprop", {"lr": 0.01, "rho": 0.9, "centered": True}, "RMSprop", {}),
    "rmsprop_momentum_wd": ("rmsprop", {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1}, "RMSprop", {}),
    "rmsprop_all": ("rmsprop", {"lr": 0.01, "rho": 0.95, "eps": 1e-6, "momentum": 0.9, "centered": True,
                                "weight_decay": 0.01}, "RMSprop", {}),
    "adam": ("adam", {"lr": 0.01}, "Adam", {}),
    "adam_wd": ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}, "Adam", {}),
    "adam_amsgrad": ("adam", {"lr": 0.01, "amsgrad": True}, "Adam", {}),
    "adam_amsgrad_wd": ("adam", {"lr": 0.01, "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05}, "Adam", {}),
    "adamw": ("adamw", {"lr": 0.01}, "AdamW", {}),
    "adamw_amsgrad": ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, "AdamW", {}),
}


@pytest.fixture(autouse=True)
def _raise_on_fp_errors():
    with np.errstate(all="raise"):
        yield


def make_run(shapes, seed=0, n_steps=N_STEPS, dtype=np.float64):
    """Initial params, a gradient sequence of varying scale (so AMSGrad's max matters) and lr factors."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.1, 3.0)).astype(dtype) for s in shapes]
             for _ in range(n_steps)]
    lr_factors = 1.0 + 0.5 * np.cos(np.arange(n_steps))  # a schedule changes lr every step
    return params, grads, lr_factors


def run_ours(case, params, grads, lr_factors):
    name, kwargs, _, _ = CASES[case]
    opt = get_optimizer(name, **kwargs)
    params = [p.copy() for p in params]
    for g, f in zip(grads, lr_factors):
        opt.lr = kwargs["lr"] * f
        opt.step(params, g)
    return params


TORCH_NAMES = {"rho": "alpha"}  # RMSprop's smoothing constant: torch calls it alpha


def run_torch(case, params, grads, lr_factors):
    _, kwargs, cls, extra = CASES[case]
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    opt = getattr(torch.optim, cls)(tparams, **{TORCH_NAMES.get(k, k): v for k, v in kwargs.items()}, **extra,
                                    foreach=False)
    for g, f in zip(grads, lr_factors):
        opt.param_groups[0]["lr"] = kwargs["lr"] * f
        for tp, gi in zip(tparams, g):
            tp.grad = torch.tensor(gi)
        opt.step()
    return [tp.detach().numpy() for tp in tparams]


@needs_torch
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_matches_torch_step_for_step(case, layout):
    params, grads, lr_factors = make_run(LAYOUTS[layout])
    ours = run_ours(case, params, grads, lr_factors)
    ref = run_torch(case, params, grads, lr_factors)
    for i, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape == b.shape
        err = np.max(np.abs(a - b))
        assert err < 1e-10, f"{case}, params[{i}] {a.shape}: max |ours - torch| = {err:.3g}"
        assert not np.array_equal(a, params[i]), f"{case}: params[{i}] did not move"


@needs_torch
@pytest.mark.parametrize("case", ["sgd_wd", "momentum_dampening_wd", "rmsprop_all", "adam_amsgrad_wd", "adamw"])
def test_float32_stays_float32_and_matches_torch(case):
    params, grads, lr_factors = make_run(SHAPES, dtype=np.float32)
    ours = run_ours(case, params, grads, lr_factors)
    ref = run_torch(case, params, grads, lr_factors)
    for a, b in zip(ours, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)


@pytest.mark.parametrize("case", CASES)
def test_flat_buffer_is_bit_identical_to_per_layer_views(case):
    # Every update is elementwise, so one flat buffer and per-layer views of it must agree exactly.
    params, grads, lr_factors = make_run(SHAPES)
    flat_params = [np.concatenate([p.ravel() for p in params])]
    flat_grads = [[np.concatenate([g.ravel() for g in gs])] for gs in grads]
    flat = run_ours(case, flat_params, flat_grads, lr_factors)[0]
    layered = run_ours(case, params, grads, lr_factors)
    np.testing.assert_array_equal(flat, np.concatenate([p.ravel() for p in layered]))


@pytest.mark.parametrize("case", CASES)
def test_step_updates_in_place_without_allocating(case):
    name, kwargs, _, _ = CASES[case]
    opt = get_optimizer(name, **kwargs)
    Theta = np.zeros(50_000)  # 400 kB
    view = Theta[:]
    dTheta = np.random.default_rng(0).standard_normal(50_000)
    opt.step([view], [dTheta])  # the first step allocates the state
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step([view], [dTheta])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40_000, f"{case}: a step allocated {peak} bytes"
    assert np.shares_memory(view, Theta) and np.any(Theta != 0.0)


@pytest.mark.parametrize("case", CASES)
def test_state_dict_resume_is_bit_identical(case):
    name, kwargs, _, _ = CASES[case]
    params, grads, _ = make_run(SHAPES)
    straight = get_optimizer(name, **kwargs)
    for g in grads[:10]:
        straight.step(params, g)
    saved = straight.state_dict()
    resumed_params = [p.copy() for p in params]
    for g in grads[10:]:  # keeps stepping: a state_dict aliasing live state would be corrupted
        straight.step(params, g)

    scalars = {k: v for k, v in saved.items() if not isinstance(v, list)}
    assert set(scalars) == {"t", "lr"} and json.loads(json.dumps(scalars)) == scalars
    for k, v in saved.items():
        if isinstance(v, list):
            assert all(isinstance(a, np.ndarray) for a in v) and len(v) == len(SHAPES), k
    resumed = get_optimizer(name, **kwargs)
    resumed.load_state_dict(saved)
    for g in grads[10:]:
        resumed.step(resumed_params, g)
    assert resumed.t == straight.t == N_STEPS
    for a, b in zip(resumed_params, params):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_rejects_wrong_keys_and_shapes():
    opt = Adam()
    with pytest.raises(ValueError, match="state_dict keys"):
        opt.load_state_dict(Momentum(lr=0.1).state_dict())
    opt.load_state_dict({"t": 1, "lr": 0.1, "exp_avg": [np.zeros(3)], "exp_avg_sq": [np.zeros(3)]})
    with pytest.raises(ValueError, match="state 'exp_avg'"):
        opt.step([np.zeros(4)], [np.zeros(4)])


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_loads_the_state_keys_of_vecprop_0_1(amsgrad):
    # 0.1 named Adam's moments m, v, v_max; m is the number of examples, so they are exp_avg, exp_avg_sq,
    # max_exp_avg_sq (torch's names) now, and a 0.1 checkpoint resumes bit for bit.
    params, grads, _ = make_run(SHAPES)
    straight = Adam(lr=0.01, amsgrad=amsgrad)
    for g in grads[:5]:
        straight.step(params, g)
    new = straight.state_dict()
    old = {{"exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "v_max"}.get(k, k): v for k, v in new.items()}
    assert "m" in old and "exp_avg" not in old
    resumed, resumed_params = Adam(lr=0.01, amsgrad=amsgrad), [p.copy() for p in params]
    resumed.load_state_dict(old)
    for g in grads[5:]:
        straight.step(params, g)
        resumed.step(resumed_params, g)
    for a, b in zip(resumed_params, params):
        np.testing.assert_array_equal(a, b)


def test_momentum_hand_worked():
    # lr=0.1, momentum=0.9, dTheta=0.5 twice:
    # t=1: v = 0.5 (torch copies g on the first step);      Theta = 1 - 0.1*0.5 = 0.95
    # t=2: v = 0.9*0.5 + 0.5 = 0.95;                         Theta = 0.95 - 0.1*0.95 = 0.855
    Theta = np.array([1.0])
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.step([Theta], [np.array([0.5])])
    assert Theta[0] == pytest.approx(0.95, abs=1e-15)
    opt.step([Theta], [np.array([0.5])])
    assert Theta[0] == pytest.approx(0.855, abs=1e-15)


def test_adam_and_adamw_hand_worked():
    # First Adam step: m_hat = g, v_hat = g**2, so Theta moves by lr * g / (|g| + eps) ~ lr * sign(g).
    Theta = np.array([1.0, 1.0])
    Adam(lr=0.01).step([Theta], [np.array([0.5, -2.0])])
    np.testing.assert_allclose(Theta, [0.99, 1.01], atol=1e-9)
    # Zero gradient, weight_decay=0.5, lr=0.1. AdamW: Theta * (1 - 0.1*0.5) = 0.95 exactly, m = 0.
    # Adam (coupled): g = 0.5 * Theta = 0.5, so again ~ a full lr step: 1 - 0.1 = 0.9.
    Theta_w, Theta_c = np.array([1.0]), np.array([1.0])
    AdamW(lr=0.1, weight_decay=0.5).step([Theta_w], [np.zeros(1)])
    Adam(lr=0.1, weight_decay=0.5).step([Theta_c], [np.zeros(1)])
    assert Theta_w[0] == 0.95
    assert Theta_c[0] == pytest.approx(0.9, abs=1e-7)


@pytest.mark.parametrize(("cls", "kwargs", "arg"), [
    (SGD, {"lr": -0.1}, "lr"),
    (SGD, {"lr": float("nan")}, "lr"),
    (SGD, {"lr": 0.1, "weight_decay": -1e-3}, "weight_decay"),
    (Momentum, {"lr": 0.1, "momentum": 1.5}, "momentum"),
    (Momentum, {"lr": 0.1, "dampening": 1.5}, "dampening"),
    (Nesterov, {"lr": 0.1, "momentum": 0.0}, "momentum"),
    (RMSprop, {"rho": 1.0}, "rho"),
    (RMSprop, {"eps": 0.0}, "eps"),
    (RMSprop, {"centered": "yes"}, "centered"),
    (RMSprop, {"momentum": -0.5}, "momentum"),
    (Adam, {"betas": (0.9, 1.0)}, r"betas\[1\]"),
    (Adam, {"betas": (0.9,)}, "betas"),
    (Adam, {"amsgrad": 1}, "amsgrad"),
    (AdamW, {"weight_decay": -0.01}, "weight_decay"),
    (LBFGS, {"max_iter": 0}, "max_iter"),
    (LBFGS, {"tol": -1e-9}, "tol"),
    (LBFGS, {"max_fun": 0}, "max_fun"),
    (LBFGS, {"ftol": -1.0}, "ftol"),
])
def test_bad_hyperparameters_raise_naming_the_argument(cls, kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        cls(**kwargs)


@pytest.mark.parametrize(("params", "grads", "match"), [
    ([np.zeros(3), np.zeros(2)], [np.zeros(3)], "2 params but 1 grads"),
    ([np.zeros((2, 3))], [np.zeros((3, 2))], r"grads\[0\]"),
    ([np.zeros(3, np.float32)], [np.zeros(3)], r"grads\[0\].*float64"),
    ([np.zeros(3, np.int64)], [np.zeros(3, np.int64)], r"params\[0\] must be a floating"),
])
def test_step_rejects_mismatched_params_and_grads(params, grads, match):
    with pytest.raises(ValueError, match=match):
        Adam().step(params, grads)


@pytest.mark.parametrize(("name", "cls", "lr"), [("sgd", SGD, 0.1), ("momentum", Momentum, 0.05),
                                                 ("nesterov", Nesterov, 0.05), ("rmsprop", RMSprop, 1e-3),
                                                 ("adam", Adam, 1e-3), ("adamw", AdamW, 1e-3)])
def test_registry_and_default_learning_rates(name, cls, lr):
    opt = get_optimizer(name)
    assert type(opt) is cls and opt.lr == default_lr(name) == lr
    assert repr(opt).startswith(cls.__name__ + "(")


def test_registry_holds_step_optimizers_only():
    with pytest.raises(ValueError, match="'adagrad'; valid names: sgd, momentum, nesterov, rmsprop, adam, adamw$"):
        get_optimizer("adagrad")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):  # it owns its loop: vecprop.lbfgs
        get_optimizer("lbfgs")
    with pytest.raises(ValueError, match="bad parameters for optimizer 'rmsprop'.*alpha"):
        get_optimizer("rmsprop", alpha=0.9)  # torch's name; here rho (alpha[l] is an activation)


# ---- clipping ------------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("max_norm", [0.1, 2.0, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s) for s in SHAPES]
    tparams = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.tensor(g)
    ref_norm = float(torch.nn.utils.clip_grad_norm_(tparams, max_norm, foreach=False))
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(ref_norm, rel=1e-13)
    for g, tp in zip(grads, tparams):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=0, atol=1e-13)


def test_clip_grad_norm_hand_worked_and_untouched_below_max():
    # ||(3, 4)|| = 5 -> scaled by 1 / (5 + 1e-6): (0.6, 0.8) up to 1e-7
    grads = [np.array([3.0]), np.array([[4.0]])]
    assert clip_grad_norm(grads, 1.0) == 5.0
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in grads]), [0.6, 0.8], atol=1e-6)
    kept = [np.array([3.0]), np.array([[4.0]])]
    assert clip_grad_norm(kept, 10.0) == 5.0
    assert kept[0][0] == 3.0 and kept[1][0, 0] == 4.0


def test_clip_grad_norm_nonfinite():
    with pytest.raises(ValueError, match="non-finite"):
        clip_grad_norm([np.array([np.inf, 1.0])], 1.0, error_if_nonfinite=True)


@needs_torch
@pytest.mark.parametrize("clip_value", [0.05, 0.5, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    grads = [np.random.default_rng(2).standard_normal(s) for s in SHAPES]
    tparams = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(tparams, clip_value, foreach=False)
    clip_grad_value(grads, clip_value)
    for g, tp in zip(grads, tparams):
        np.testing.assert_array_equal(g, tp.grad.numpy())


@pytest.mark.parametrize(("fn", "arg"), [(clip_grad_norm, "max_norm"), (clip_grad_value, "clip_value")])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_clip_bad_threshold(fn, arg, bad):
    with pytest.raises(ValueError, match=arg):
        fn([np.ones(2)], bad)


# ---- L-BFGS (optional scipy) ---------------------------------------------------------------------

def rosenbrock(x):
    """sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 and its gradient; minimum 0 at x = 1."""
    d = x[1:] - x[:-1] ** 2
    J = float(np.sum(100.0 * d ** 2 + (1.0 - x[:-1]) ** 2))
    grad = np.zeros_like(x)
    grad[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    grad[1:] += 200.0 * d
    return J, grad


@pytest.fixture
def scipy():
    return pytest.importorskip("scipy")


@pytest.mark.parametrize("n", [2, 6])
def test_lbfgs_minimises_rosenbrock(scipy, n):
    x0 = np.tile([-1.2, 1.0], n // 2)
    before = x0.copy()
    r = minimize_lbfgs(rosenbrock, x0, max_iter=500, tol=1e-12)
    assert r.converged, r.message
    np.testing.assert_allclose(r.x, np.ones(n), atol=1e-5)
    assert r.cost < 1e-10 and 0 < r.n_iter <= 500 and r.n_evals >= r.n_iter
    np.testing.assert_array_equal(x0, before)


def test_lbfgs_solves_convex_quadratic(scipy):
    rng = np.random.default_rng(3)
    Q = rng.standard_normal((20, 20))
    A, b = Q.T @ Q + np.eye(20), rng.standard_normal(20)
    r = LBFGS(max_iter=200, tol=1e-12).minimize(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(20))
    assert r.converged, r.message
    np.testing.assert_allclose(r.x, np.linalg.solve(A, b), atol=1e-6)


def test_lbfgs_max_iter_and_callback_stop(scipy):
    r = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=3, tol=1e-12)
    assert r.n_iter == 3 and not r.converged and r.status == 1
    seen = []

    def callback(n_iter, x, cost):
        seen.append((n_iter, cost, rosenbrock(x)[0]))
        return n_iter == 4

    r = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=100, tol=1e-12, callback=callback)
    assert [s[0] for s in seen] == [1, 2, 3, 4] and r.n_iter == 4 and not r.converged
    assert all(c == pytest.approx(j) for _, c, j in seen)
    assert r.cost == pytest.approx(seen[-1][1])


def test_lbfgs_max_fun_and_ftol_are_scipys(scipy):
    """max_fun bounds the evaluations (scipy's maxfun); ftol and gtol are the settings scipy gets."""
    r = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=100, tol=0.0, max_fun=10)
    assert r.status == 1 and not r.converged and r.n_iter < 10 and 10 <= r.n_evals <= 10 + 20
    x0 = np.array([-1.2, 1.0])
    for tol, ftol in [(1e-5, None), (1e-5, 1e-3), (0.0, 1e-7)]:
        ref = scipy.optimize.minimize(rosenbrock, x0, jac=True, method="L-BFGS-B", options={
            "maxiter": 100, "gtol": tol, "ftol": tol if ftol is None else ftol})
        r = LBFGS(max_iter=100, tol=tol, ftol=ftol).minimize(rosenbrock, x0)
        assert (r.n_iter, r.status) == (ref.nit, ref.status)
        np.testing.assert_array_equal(r.x, ref.x)


@pytest.mark.parametrize(("x0", "match"), [
    (np.zeros(3, np.float32), "float64"),
    (np.zeros((3, 1)), r"flat float64 array \(n,\); got \(3, 1\)"),
    ([0.0, 1.0], "got list"),
    (np.array([np.nan, 1.0]), "non-finite"),
])
def test_lbfgs_refuses_to_convert_x0(scipy, x0, match):
    with pytest.raises(ValueError, match=match):
        minimize_lbfgs(rosenbrock, x0, max_iter=10, tol=1e-6)


def test_lbfgs_refuses_float32_gradient(scipy):
    with pytest.raises(ValueError, match="float64 gradient"):
        minimize_lbfgs(lambda x: (float(x @ x), (2 * x).astype(np.float32)), np.ones(3), max_iter=5, tol=1e-6)


def test_lbfgs_limits_only_scipys_blas(scipy):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    scipy_dir = os.path.dirname(os.path.dirname(os.path.realpath(scipy.__file__)))
    blas = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    mine = {f for f in blas if os.path.realpath(f).startswith(os.path.join(scipy_dir, "scipy"))}
    if not mine or mine == set(blas):
        pytest.skip("scipy does not vendor its own BLAS here")
    inside = {}

    def fg(x):
        inside.update({i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                       if i["user_api"] == "blas"})
        return float(x @ x), 2 * x

    minimize_lbfgs(fg, np.ones(4), max_iter=5, tol=1e-8)
    assert all(inside[f] == 1 for f in mine)
    assert all(inside[f] == blas[f] for f in set(blas) - mine)
    after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    assert after == blas


def test_lbfgs_without_scipy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ImportError, match=r"pip install vecprop\[lbfgs\]"):
        minimize_lbfgs(rosenbrock, np.ones(2), max_iter=5, tol=1e-6)


# ---- blocked updates -------------------------------------------------------------------------------

BLOCK_SHAPES = [(7, 3), (5,), (2, 3, 4), (), (0, 3)]  # matrix, vector, 3-D, 0-d, empty


@pytest.mark.parametrize("block_bytes", [8, 40, 100])
@pytest.mark.parametrize("case", CASES)
def test_blocked_step_is_bit_identical_to_one_block(case, block_bytes):
    # step() updates each parameter block by block along its first axis (for cache locality);
    # every update is elementwise, so any blocking gives the same bits as one block.
    name, kwargs, _, _ = CASES[case]
    rng = np.random.default_rng(1)
    start = [np.array(rng.standard_normal(s)) for s in BLOCK_SHAPES]
    grads = [[np.array(rng.standard_normal(s) * rng.uniform(0.1, 3.0)) for s in BLOCK_SHAPES] for _ in range(6)]
    results = {}
    for size in (block_bytes, 1 << 40):
        opt, params = get_optimizer(name, **kwargs), [p.copy() for p in start]
        opt._block_bytes = size  # read when the state is allocated, on the first step
        for g in grads:
            opt.step(params, g)
        results[size] = params
    for i, (a, b) in enumerate(zip(results[block_bytes], results[1 << 40])):
        np.testing.assert_array_equal(a, b, err_msg=f"{case}: params[{i}] {a.shape}")
    assert not np.array_equal(results[block_bytes][0], start[0])


@pytest.mark.parametrize("case", ["sgd_wd", "adam_amsgrad_wd", "rmsprop_all"])
def test_scratch_is_one_block_not_a_copy_of_the_parameters(case):
    name, kwargs, _, _ = CASES[case]
    opt = get_optimizer(name, **kwargs)
    Theta = np.zeros(1_000_000)  # 8 MB, many blocks
    dTheta = np.random.default_rng(0).standard_normal(Theta.size)
    state_bytes = len(opt._state_keys()) * Theta.nbytes
    tracemalloc.start()
    try:
        opt.step([Theta], [dTheta])  # the first step allocates the state and the scratch
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    scratch = peak - state_bytes
    assert scratch <= 2 * opt._block_bytes + 65_536 < Theta.nbytes, f"{case}: {scratch} bytes of scratch"
