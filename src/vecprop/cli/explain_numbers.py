"""``vecprop explain --numbers``: one update of a small network worked through, every matrix printed."""
from __future__ import annotations

import argparse
import textwrap
import warnings
from typing import Any

import numpy as np

from ..gradcheck import GradcheckWarning, gradcheck
from ..network import Network
from ..optimizers import SGD
from ..walkthrough import Step, steps, values
from .errors import UserError, user_errors
from .gradcheck_cmd import random_targets

MAX_UNITS = 8
MAX_BATCH = 8
"""--numbers prints every matrix: a layer wider than this or a bigger batch would be a wall of digits."""


def matrix(M: np.ndarray, indent: int = 6) -> str:
    """A matrix as rows of fixed-point numbers, indented under its equation."""
    # + 0.0 turns -0.0 (as -Y / A gives where Y = 0) into 0.0, which prints without a sign
    text = np.array2string(np.asarray(M) + 0.0, formatter={"float_kind": lambda x: f"{x: .4f}"}, max_line_width=200)
    return textwrap.indent(text, " " * indent)


def product_entry(left: np.ndarray, right: np.ndarray, m: int = 1) -> str:
    """(1/m) sum_k left[k] * right[k] written out, e.g. ``1/2 (0.1000*0.5000 + -0.2000*1.0000)``."""
    terms = " + ".join(f"{a:.4f}*{b:.4f}" for a, b in zip(left, right))
    return terms if m == 1 else f"1/{m} ({terms})"


def sample_data(net: Network, loss_name: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs (n_0, m) and targets (n_L, m) in the loss's domain."""
    X = rng.standard_normal((net.sizes[0], m))
    return X, random_targets(loss_name, net.sizes[-1], m, rng)


def explain_entry(step: Step, v: dict[str, Any], m: int, lr: float) -> str:
    """Entry (0, 0) of (1), (A) or the SGD update written out, the numbers filled in; "" for other steps."""
    l = step.layer
    if step.tag == "(1)" and step.symbol == "Z":
        Theta, A_prev, b = v[f"Theta[{l}]"], v[f"A[{l - 1}]"], v[f"b[{l}]"]
        return (f"entry (0, 0) = sum_j Theta[{l}]_0j A[{l - 1}]_j^(0) + b[{l}]_0 = "
                f"{product_entry(Theta[0], A_prev[:, 0])} + {b[0, 0]:.4f} = {v[step.name][0, 0]:.4f}")
    if step.tag == "(A)":
        dZ, A_prev = v[f"dZ[{l}]"], v[f"A[{l - 1}]"]
        return (f"entry (0, 0), eq. (10) = 1/m sum_c dZ[{l}]_0^(c) A[{l - 1}]_0^(c) = "
                f"{product_entry(dZ[0], A_prev[0], m)} = {v[step.name][0, 0]:.4f}")
    if step.tag == "update":
        P = step.symbol[: -len("_new")]
        return (f"entry (0, 0) = {P}[{l}]_00 - lr d{P}[{l}]_00 = {v[f'{P}[{l}]'][0, 0]:.4f} - {lr:g}*"
                f"{v[f'd{P}[{l}]'][0, 0]:.4f} = {v[step.name][0, 0]:.4f}")
    return ""


def run_numbers(sizes: list[int], acts: list[Any], loss: Any, args: argparse.Namespace) -> int:
    m = 3 if args.batch is None else args.batch
    if max(sizes) > MAX_UNITS or not 1 <= m <= MAX_BATCH:
        raise UserError(f"--numbers prints every matrix, so it takes small networks: at most {MAX_UNITS} units "
                        f"per layer and --batch from 1 to {MAX_BATCH}; got --layers {','.join(map(str, sizes))} "
                        f"--batch {m}. Drop --numbers for shapes and FLOPs of any size")
    if not np.isfinite(args.lr) or args.lr <= 0:
        raise UserError(f"--lr must be a positive number; got {args.lr}")
    with user_errors("explain"):
        net = Network(sizes, acts, loss, seed=args.seed, dtype="float64")
    X, Y = sample_data(net, loss.name, m, np.random.default_rng(args.seed))
    grads = net.gradients(X, Y, fused=False)  # (5) and (C) apart, so that dA[L] is there to print
    J = net.cached_cost(Y)
    fused_dZ = (net.cache.A[-1] - Y) if net.fused else None
    v = values(net, grads, J)
    with warnings.catch_warnings():  # a kink warning is a line of the report itself
        warnings.simplefilter("ignore", GradcheckWarning)
        report = gradcheck(net, X, Y)  # on a float64 copy, before the update
    sgd = SGD(lr=args.lr)
    sgd.step([p for pair in net.params for p in pair], [g for pair in grads for g in pair])
    for l, (Theta, b) in enumerate(net.params, start=1):
        v[f"Theta_new[{l}]"], v[f"b_new[{l}]"] = Theta, b

    L = net.L
    print(f"One update of the {L}-layer network {' -> '.join(map(str, sizes))} "
          f"({', '.join(a.name for a in acts)}), loss {loss.name}, on m = {m} random examples "
          f"(seed {args.seed}), float64.")
    print("Every number is vecprop's own (net.cache after net.gradients(X, Y, fused=False)); examples are "
          "columns.\n")
    print("PARAMETERS, INPUTS AND TARGETS")
    for l in range(1, L + 1):
        print(f"  Theta[{l}] {v[f'Theta[{l}]'].shape}\n{matrix(v[f'Theta[{l}]'])}")
        print(f"  b[{l}] {v[f'b[{l}]'].shape}\n{matrix(v[f'b[{l}]'])}")
    print(f"  X = A[0] {X.shape}\n{matrix(X)}\n  Y {Y.shape}\n{matrix(Y)}")
    heads = {"FORWARD": "FORWARD PASS (1)", "COST": "COST (2)",
             "BACKWARD": "BACKWARD PASS, from the output down: " + ", ".join(
                 dict.fromkeys(s.tag for s in steps(net, fused=False) if s.tag not in ("(1)", "(2)", "update"))),
             "UPDATE": f"ONE UPDATE (sgd, lr {args.lr:g})"}
    section = ""
    for step in steps(net, fused=False):
        now = {"(1)": "FORWARD", "(2)": "COST", "update": "UPDATE"}.get(step.tag, "BACKWARD")
        if now != section:
            if now == "UPDATE":
                print("\nGRADIENT CHECK: (A) and (B) against central differences of J (2), before the update")
                print(textwrap.indent(str(report), "  "))
            section = now
            print(f"\n{heads[now]}")
        value = v[step.name]
        if step.symbol == "J":
            print(f"  {step.tag:<7}{step.equation} = {value:.6f}   ({step.note})")
            continue
        print(f"  {step.tag:<7}{step.equation}   {value.shape}")
        if step.note and step.tag != "update":
            print(f"         - {step.note}")
        print(matrix(value, 9))
        worked = explain_entry(step, v, m, args.lr)
        if worked:
            print(textwrap.fill(worked, 104, initial_indent=" " * 9, subsequent_indent=" " * 11))
        if step.tag == "(C)" and step.layer == L and fused_dZ is not None:
            gap = float(np.abs(value - fused_dZ).max())
            print(textwrap.fill(f"- the fused shortcut dZ[{L}] = A[{L}] - Y gives the same matrix (largest "
                                f"difference {gap:.1e}: rounding); training uses it, as it never divides by A[{L}]",
                                104, initial_indent=" " * 9, subsequent_indent=" " * 11))
    J_after = net.cost(X, Y)
    print(f"\n  J after the update: {J_after:.6f} (before {J:.6f}): "
          f"{'down' if J_after < J else 'not down: try a smaller --lr'}")
    return 0

