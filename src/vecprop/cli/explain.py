"""``vecprop explain``: the forward pass and equations (A)-(D) for one network, with shapes, FLOPs and memory."""
from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._memory import nbytes_text as nbytes  # bytes in binary units: 401408 -> '392.0 KiB'
from ..activations import get_activation
from ..losses import get_loss, is_fused, output_activation
from . import config as C
from .errors import UserError, user_errors

ELEMENTWISE_COST = {"identity": 0, "relu": 1, "leaky_relu": 2, "elu": 3, "sigmoid": 3, "tanh": 1,
                    "softplus": 3, "gelu": 8, "silu": 4}
"""Rough FLOPs per entry of alpha(Z) (exp, log and tanh counted as one each); softmax: 4 per entry."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain", help="print the forward pass and backward equations (A)-(D) with shapes, FLOPs, memory",
        description="The bridge between the derivation and the code: for the network you describe, every "
                    "step of forward propagation (1), the cost (2) and back-propagation (A)-(D), with the "
                    "concrete shape of each matrix, its FLOPs and its memory.",
        epilog="examples:\n  vecprop explain --layers 784,128,10\n"
               "  vecprop explain --layers 2,16,16,1 --activations tanh,tanh,sigmoid --batch 32\n"
               "  vecprop explain --layers 784,256,128,10 --batch 128 --examples 60000\n"
               "  vecprop explain --layers 2,3,1 --activations tanh --numbers",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=C.int_list, required=True, metavar="N0,...,NL",
                   help="layer sizes n_0 (inputs), n_1, ..., n_L (outputs)")
    p.add_argument("--activations", type=C.name_list, metavar="NAME[,NAME...]",
                   help="one name for every hidden layer, or L names (default relu, output from --loss)")
    p.add_argument("--loss", metavar="NAME",
                   help="default cross_entropy (softmax output) for n_L > 1, binary_cross_entropy (sigmoid) for 1")
    p.add_argument("--batch", type=int, metavar="M",
                   help="examples per mini-batch m (default 64; with --numbers 3)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="default float32")
    p.add_argument("--examples", type=int, metavar="N", help="also total one epoch over N examples")
    p.add_argument("--numbers", action="store_true",
                   help="instead, work one update through with numbers on random data: every matrix of "
                        "(1), (2), (5), (C), (A), (B), (D), a gradient check and one SGD step (small networks)")
    p.add_argument("--seed", type=int, default=0, help="with --numbers: seeds the weights and the data (default 0)")
    p.add_argument("--lr", type=float, default=0.1, help="with --numbers: the SGD step's learning rate (default 0.1)")
    p.set_defaults(run=run)


def si(x: float, unit: str = "") -> str:
    """12_845_056 -> '12.85 M' (powers of 1000)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= factor:
            return f"{x / factor:.2f} {prefix}{unit}"
    return f"{x:.0f} {unit}".rstrip()


def shape(r: int, c: int) -> str:
    return f"({r}, {c})"


@dataclass
class Step:
    """One line of the walk-through: the tagged equation, its shapes, FLOPs (and why), output bytes."""

    tag: str
    equation: str
    shapes: str
    flops: int
    how: str
    out_bytes: int
    note: str = ""


def forward_steps(sizes: list[int], acts: list[Any], m: int, item: int) -> list[Step]:
    steps = []
    for l in range(1, len(sizes)):
        n, p = sizes[l], sizes[l - 1]
        steps.append(Step("(1)", f"Z[{l}] = Theta[{l}] A[{l - 1}] + b[{l}]",
                          f"{shape(n, p)} x {shape(p, m)} + {shape(n, 1)} -> {shape(n, m)}",
                          2 * n * p * m + n * m, f"2*n_{l}*n_{l - 1}*m + n_{l}*m = 2*{n}*{p}*{m} + {n}*{m}",
                          n * m * item, note=f"b[{l}] (n_{l}, 1) is added to each of the m = {m} columns "
                          f"(broadcast): one bias per unit, shared by every example" if l == 1 else ""))
        a = acts[l - 1]
        if a.name == "softmax":
            steps.append(Step("(1)", f"A[{l}] = softmax(Z[{l}])", f"column-wise on {shape(n, m)}",
                              4 * n * m, f"~4*n_{l}*m (shift, exp, column sum, divide)", n * m * item,
                              note="each column becomes a probability vector"))
        else:
            c = ELEMENTWISE_COST.get(a.name, 1)
            steps.append(Step("(1)", f"A[{l}] = {a.name}(Z[{l}])", f"element-wise on {shape(n, m)}",
                              c * n * m, f"~{c}*n_{l}*m", n * m * item))
    return steps


def backward_steps(sizes: list[int], acts: list[Any], loss: Any, m: int, item: int) -> list[tuple[int, Step]]:
    """The backward pass as (layer, step) pairs, layer L first: (C), (A), (B), (D) per layer."""
    L = len(sizes) - 1
    pairs: list[tuple[int, Step]] = []
    fused = is_fused(acts[-1], loss)
    for l in range(L, 0, -1):
        steps: list[Step] = []
        n, p = sizes[l], sizes[l - 1]
        a = acts[l - 1]
        if l == L and fused:
            steps.append(Step("(C)", f"dZ[{L}] = A[{L}] - Y", f"{shape(n, m)} - {shape(n, m)} -> {shape(n, m)}",
                              n * m, f"n_{L}*m", n * m * item,
                              note=f"{a.name} + {loss.name} fuse: (5) dA[{L}] = err'(A[{L}], Y) and (C) "
                                   f"dA[{L}] * {a.name}'(Z[{L}]) simplify to A[{L}] - Y"))
        else:
            if l == L:
                steps.append(Step("(5)", f"dA[{L}] = err'(A[{L}], Y)", f"element-wise on {shape(n, m)}",
                                  2 * n * m, f"~2*n_{L}*m", n * m * item,
                                  note=f"the derivative of {loss.name} per entry: the start of back-propagation"))
            if a.name == "softmax":
                steps.append(Step("(C)", f"dZ[{l}] = A[{l}] * (dA[{l}] - sum_i A[{l}] * dA[{l}])",
                                  f"column-wise on {shape(n, m)}", 4 * n * m, f"~4*n_{l}*m", n * m * item,
                                  note="softmax is not element-wise: (C) becomes its Jacobian-vector product"))
            else:
                c = ELEMENTWISE_COST.get(a.name, 1)
                steps.append(Step("(C)", f"dZ[{l}] = dA[{l}] * {a.name}'(Z[{l}])",
                                  f"{shape(n, m)} * {shape(n, m)} -> {shape(n, m)}", (c + 1) * n * m,
                                  f"~{c + 1}*n_{l}*m (alpha' and the product)", n * m * item,
                                  note="* is the element-wise (Hadamard) product, the derivation's circle-dot"
                                  if l == L or l == L - 1 else ""))
        steps.append(Step("(A)", f"dTheta[{l}] = 1/m dZ[{l}] A[{l - 1}]^T",
                          f"{shape(n, m)} x {shape(m, p)} -> {shape(n, p)}", 2 * n * m * p + n * p,
                          f"2*n_{l}*m*n_{l - 1} + n_{l}*n_{l - 1} = 2*{n}*{m}*{p} + {n}*{p}", n * p * item,
                          note=f"entry (i, j) is eq. (10): 1/m sum over the {m} examples c of "
                               f"dZ[{l}]_i^(c) A[{l - 1}]_j^(c)" if l == L else ""))
        steps.append(Step("(B)", f"db[{l}] = 1/m sum_c dZ[{l}]", f"{shape(n, m)} -> {shape(n, 1)}",
                          n * m, f"n_{l}*m (row sums and the 1/m)", n * item,
                          note="sum over the columns: every example's share of the bias gradient" if l == L else ""))
        if l > 1:
            steps.append(Step("(D)", f"dA[{l - 1}] = Theta[{l}]^T dZ[{l}]",
                              f"{shape(p, n)} x {shape(n, m)} -> {shape(p, m)}", 2 * p * n * m,
                              f"2*n_{l - 1}*n_{l}*m = 2*{p}*{n}*{m}", p * m * item,
                              note="the error flows back through the same weights, transposed" if l == L else ""))
        else:
            steps.append(Step("(D)", "not computed for layer 1", "", 0, "", 0,
                              note=f"dA[0] = Theta[1]^T dZ[1] would be the gradient for the inputs X; no "
                                   f"parameter needs it, so {2 * sizes[1] * sizes[0] * m:,} FLOPs are saved"))
        pairs += [(l, step) for step in steps]
    return pairs


def _print_steps(steps: list[Step]) -> None:
    width = max(len(s.equation) for s in steps) + 2
    for s in steps:
        if not s.shapes:
            print(f"  {s.tag:<4}{s.equation}")
        else:
            print(f"  {s.tag:<4}{s.equation:<{width}}{s.shapes}")
            print(f"  {'':<4}{'':<{width}}FLOPs {s.how} = {si(s.flops)}; output {nbytes(s.out_bytes)}")
        if s.note:
            print(textwrap.fill(s.note, width=104, initial_indent=" " * 6 + "- ", subsequent_indent=" " * 8))


def network_spec(args: argparse.Namespace) -> tuple[list[int], list[Any], Any]:
    """--layers, --activations, --loss as sizes, L activations and the loss (the output follows the loss)."""
    sizes = list(args.layers)
    if len(sizes) < 2:
        raise UserError(f"--layers needs at least n_0,n_L (two sizes); got {sizes}")
    L = len(sizes) - 1
    with user_errors("explain"):
        loss = get_loss(args.loss or ("cross_entropy" if sizes[-1] > 1 else "binary_cross_entropy"))
    default_out = output_activation(loss)
    names = list(args.activations or ("relu",))
    if len(names) == 1:
        names = names * (L - 1) + [default_out]
    elif len(names) == L - 1:
        names = names + [default_out]
    if len(names) != L:
        raise UserError(f"--activations needs 1, L-1={L - 1} or L={L} names for {L} layers; got {len(names)}")
    with user_errors("explain"):
        return sizes, [get_activation(n) for n in names], loss


def run(args: argparse.Namespace) -> int:
    sizes, acts, loss = network_spec(args)
    if args.numbers:
        from .explain_numbers import run_numbers

        return run_numbers(sizes, acts, loss, args)
    if args.batch is None:
        args.batch = 64
    if args.batch < 1:
        raise UserError(f"--batch must be >= 1; got {args.batch}")
    if args.examples is not None and args.examples < 1:
        raise UserError(f"--examples must be >= 1; got {args.examples}")
    L, m, item = len(sizes) - 1, args.batch, np.dtype(args.dtype).itemsize

    print(f"A {L}-layer network {' -> '.join(map(str, sizes))} on a mini-batch of m = {m} examples, "
          f"{args.dtype} ({item} bytes per number)")
    print("Notation (Rojas 2019, after A. Ng): examples are the COLUMNS of X = A[0]; layer l has n_l units;")
    print("Theta[l] is (n_l, n_{l-1}) and b[l] is (n_l, 1). FLOPs count a multiply and an add as 2;")
    print("a matrix product (r, k) x (k, c) costs 2*r*k*c.\n")
    print("  " + "   ".join(f"n_{l} = {n}" + (" (inputs)" if l == 0 else f" ({acts[l - 1].name})")
                            for l, n in enumerate(sizes)))

    print("\nPARAMETERS")
    total = 0
    for l in range(1, L + 1):
        n, p = sizes[l], sizes[l - 1]
        for name, r, c in ((f"Theta[{l}]", n, p), (f"b[{l}]", n, 1)):
            print(f"  {name:<10}{shape(r, c):<14}{r * c:>12,} numbers {nbytes(r * c * item):>11}")
            total += r * c
    print(f"  {'total':<24}{total:>12,} numbers {nbytes(total * item):>11}"
          f"   (dTheta, db: the same again; Adam keeps two more copies)")

    fwd = forward_steps(sizes, acts, m, item)
    print("\nFORWARD PASS (1)   X = A[0] -> " + " -> ".join(f"Z[{l}] -> A[{l}]" for l in range(1, L + 1)) + " -> J")
    _print_steps(fwd)
    cost_flops = 3 * sizes[-1] * m
    print(f"  (2) J = 1/m sum_c sum_i err(A[{L}], Y)   {shape(sizes[-1], m)} -> a number; "
          f"FLOPs ~3*n_{L}*m = {si(cost_flops)}")
    if is_fused(acts[-1], loss):
        print(f"        computed from Z[{L}] directly ({loss.name} with {acts[-1].name}): stable, no log(0)")

    bwd = backward_steps(sizes, acts, loss, m, item)
    print(f"\nBACKWARD PASS (A)-(D), from layer {L} back to layer 1: "
          "(C) dZ from dA, (A) dTheta, (B) db, (D) dA of the layer below")
    for l in range(L, 0, -1):
        print(f" layer {l}" + (" (output)" if l == L else ""))
        _print_steps([step for layer, step in bwd if layer == l])

    f_fwd = sum(s.flops for s in fwd) + cost_flops
    f_bwd = sum(step.flops for _, step in bwd)
    cache = sum(sizes) * m * item + sum(sizes[1:]) * m * item  # A[0..L] and Z[1..L]
    grads = total * item
    print("\nTOTALS for one mini-batch")
    print(f"  forward + cost   {si(f_fwd, 'FLOP'):>14}")
    print(f"  backward         {si(f_bwd, 'FLOP'):>14}   ({f_bwd / max(f_fwd, 1):.1f}x forward: (A) and (D) each "
          f"cost one forward product, 2*n_l*n_(l-1)*m,")
    print(f"  {'':<33}but layer 1 needs no (D): deep networks approach 2x, shallow ones 1x)")
    print(f"  update           {si(2 * total, 'FLOP'):>14}   (plain gradient descent: Theta <- Theta - lr dTheta)")
    print(f"  memory           parameters {nbytes(total * item)}, gradients {nbytes(grads)}, forward cache "
          f"{nbytes(cache)}")
    print(f"  {'':<17}(the cache holds A[0..{L}] and Z[1..{L}]: (A) reads A[l-1] and (C) reads Z[l], "
          f"so forward keeps them)")
    if args.examples:
        batches = -(-args.examples // m)
        print(f"  one epoch of {args.examples:,} examples = {batches:,} mini-batches ~ "
              f"{si(batches * (f_fwd + f_bwd + 2 * total), 'FLOP')}")
    return 0
