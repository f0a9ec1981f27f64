"""``vecprop gradcheck``: backward's (A) and (B) against central differences, layer by layer."""
from __future__ import annotations

import argparse
import inspect
import warnings
from typing import Any

import numpy as np

from .._memory import check_fits
from ..gradcheck import GradcheckWarning, gradcheck
from ..losses import PROBABILITY_LOSSES, output_activation
from ..network import Network
from . import config as C
from .errors import UserError, user_errors
from .modelfile import notes, open_model
from .prepare import load_dataset
from .report import answers


EPS = inspect.signature(gradcheck).parameters["eps"].default


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck", help="check backward's gradients against finite differences (exit 1 on failure)",
        description="Compare dTheta[l] and db[l] from the backward pass, equations (A) and (B), with "
                    "(J(p + eps) - J(p - eps)) / 2 eps for every parameter p, in float64. Either build a "
                    "network from --layers (random inputs and targets), or check a saved --model on "
                    "--batch rows of --data. Exits 1 when a relative error exceeds --tol.",
        epilog="examples:\n  vecprop gradcheck --layers 4,5,3 --activation tanh\n"
               "  vecprop gradcheck --layers 2,8,1 --activation sigmoid --loss binary_cross_entropy\n"
               "  vecprop gradcheck --model runs/iris/model.npz --data iris --batch 16",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=C.int_list, metavar="N0,...,NL", help="sizes n_0..n_L (default 4,5,3)")
    p.add_argument("--activation", default="tanh", metavar="NAME", help="hidden activation (default tanh: "
                   "smooth, so the check is exact; relu's kink can mislead finite differences)")
    p.add_argument("--output-activation", dest="output_activation", metavar="NAME",
                   help="default from --loss: softmax, sigmoid or identity")
    p.add_argument("--loss", default="cross_entropy", metavar="NAME", help="default cross_entropy")
    p.add_argument("--model", metavar="MODEL", help="check a saved model instead")
    p.add_argument("--data", metavar="DATA", help="with --model: take inputs and targets from this data")
    p.add_argument("--batch", type=int, default=8, metavar="M", help="examples m in the check (default 8)")
    p.add_argument("--l2", type=float, default=0.0, metavar="LAMBDA", help="include an L2 penalty")
    p.add_argument("--eps", type=float, default=EPS, help=f"difference step (default {EPS:g})")
    p.add_argument("--tol", type=float, default=1e-7, help="largest accepted relative error (default 1e-7)")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, inputs and targets")
    p.set_defaults(run=run)


def random_targets(loss: str, n_L: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Y (n_L, m) in the loss's domain: one-hot columns, 0/1 entries, or real values."""
    if loss == "cross_entropy":
        Y = np.zeros((n_L, m))
        Y[rng.integers(0, n_L, m), np.arange(m)] = 1.0
        return Y
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n_L, m)).astype(np.float64)
    return rng.standard_normal((n_L, m))


def check_batch(sizes: tuple[int, ...], m: int) -> None:
    """X, Y and every Z[l], A[l] (and their float64 copies) of a batch of m examples must fit in memory."""
    with user_errors("--batch"):
        check_fits(8 * m * 6 * sum(sizes), f"a float64 check of {m:,} examples through layers {list(sizes)}",
                   "use a smaller --batch (a few examples check the gradients as well as many)")


def run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise UserError(f"--batch must be >= 1; got {args.batch}")
    if not (args.eps > 0 and args.tol > 0 and np.isfinite(args.eps) and np.isfinite(args.tol)):
        raise UserError(f"--eps and --tol must be finite numbers > 0; got {args.eps} and {args.tol}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0; got {args.seed}")
    if not (np.isfinite(args.l2) and args.l2 >= 0):
        raise UserError(f"--l2 must be a finite number >= 0; got {args.l2}")
    rng = np.random.default_rng(args.seed)
    if args.model:
        if args.layers:
            raise UserError("give either --layers (a new network) or --model (a saved one), not both")
        net, X, Y, what = _from_model(args, rng)
    else:
        if args.data:
            raise UserError("--data needs --model (to check a new architecture, give --layers only)")
        sizes = args.layers or (4, 5, 3)
        if len(sizes) < 2:
            raise UserError(f"--layers needs at least n_0,n_L; got {list(sizes)}")
        check_batch(sizes, args.batch)
        with user_errors("network"):
            out_act = args.output_activation or output_activation(args.loss)
        if out_act == "softmax" and sizes[-1] == 1:  # as vecprop train refuses it: the output is always 1
            raise UserError("--output-activation softmax over 1 output is always 1: use sigmoid or identity, or "
                            "give --layers more outputs")
        if args.loss in PROBABILITY_LOSSES and out_act not in ("softmax", "sigmoid"):
            raise UserError(f"--loss {args.loss} takes probabilities, and --output-activation {out_act} does not give "
                            "them; use softmax or sigmoid (or leave --output-activation out)")
        with user_errors("network"):
            net = Network(sizes, [args.activation] * (len(sizes) - 2) + [out_act], args.loss,
                          seed=rng, dtype="float64")
        X = rng.standard_normal((sizes[0], args.batch))
        Y = random_targets(net.loss.name, sizes[-1], args.batch, rng)
        what = f"random X {X.shape} and Y {Y.shape}"
    acts = ", ".join(a.name for a in net.activations)
    print(f"network {' -> '.join(map(str, net.sizes))} ({acts}), loss {net.loss.name}, "
          f"{net.flat.size:,} parameters; {what}")
    print(f"checking (A) dTheta[l] and (B) db[l] against central differences of J (eq. 2), "
          f"{2 * net.flat.size:,} cost evaluations")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)  # the report lists them itself
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow: the report says "nan" once
        with user_errors("gradcheck"):
            report = gradcheck(net, X, Y, l2=args.l2, eps=args.eps, tol=args.tol)
    print(report)
    return 0 if report.ok else 1


def _from_model(args: argparse.Namespace, rng: np.random.Generator) -> tuple[Network, np.ndarray, np.ndarray, str]:
    model = open_model(args.model)
    net = model.network
    check_batch(net.sizes, args.batch)
    if args.data is None:
        X = rng.standard_normal((net.sizes[0], args.batch))
        return net, X, random_targets(net.loss.name, net.sizes[-1], args.batch, rng), "random inputs"
    ds = load_dataset(args.data)
    if (ds.task == "regression") != (model.task == "regression"):
        raise UserError(f"{args.model} is a {model.task} model; --data {args.data} is {ds.task} data")
    rows = rng.choice(ds.m, size=min(args.batch, ds.m), replace=False)
    with user_errors(), notes():
        X = model.inputs(ds.X[rows], feature_names=ds.feature_names, source=f"--data {args.data}")
        Y = model.targets(answers(ds, ds.y[rows]), source=f"--data {args.data}")
    return net, X.astype(np.float64), Y.astype(np.float64), f"{len(rows)} rows of {ds.name}"
