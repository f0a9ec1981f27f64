"""``vecprop datasets``: the named data sets, where each comes from, and what files --data reads."""
from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from .. import datasets

FILES_HELP = """\
Files (give a path to --data):
  .csv / .tsv   one row per example; header detected; target = last column or --target NAME|INDEX;
                text targets are classes, integer targets with <= 20 values are classes, else regression
  .npz          arrays X (m, n_0) and y (m,); optional X_test, y_test, classes, feature_names
  .npy          one 2-D array; the target is its last column (or --target INDEX)
  IDX           MNIST-style pairs (train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]), or a folder of them"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("datasets", help="list the data sets --data accepts, and their sources",
                       description="The named data sets (synthetic, scikit-learn's bundled ones, Fashion-MNIST) "
                                   "and the file formats --data reads.")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(run=run)


def fashion_status() -> str:
    """Where Fashion-MNIST was found, or how to get it."""
    from ..datasets import fashion_mnist

    try:
        return f"found in {fashion_mnist.find()}"
    except FileNotFoundError:
        return (f"not installed: `vecprop fetch fashion-mnist` or `apt-get install -y "
                f"{fashion_mnist.DEBIAN_PACKAGE}`")


def run(args: argparse.Namespace) -> int:
    rows = datasets.available()
    status = {"fashion-mnist": fashion_status()}
    if args.json:
        print(json.dumps([{"name": n, "task": t, "shape": s, "source": src,
                           **({"status": status[n]} if n in status else {})} for n, t, s, src in rows], indent=2))
        return 0
    wn = max(len(r[0]) for r in rows)
    wt = max(len(r[1]) for r in rows)
    ws = min(max(len(r[2]) for r in rows), 20)
    print(f"{'name':<{wn}}  {'task':<{wt}}  {'examples x features':<{ws}}  source")
    indent = " " * (wn + wt + ws + 6)
    for name, task, shape, source in rows:
        text = source + (f" [{status[name]}]" if name in status else "")
        lines = textwrap.wrap(text, width=max(40, 110 - len(indent))) or [""]
        shape_lines = textwrap.wrap(shape, width=ws) or [""]
        print(f"{name:<{wn}}  {task:<{wt}}  {shape_lines[0]:<{ws}}  {lines[0]}")
        for i in range(1, max(len(lines), len(shape_lines))):
            extra_shape = shape_lines[i] if i < len(shape_lines) else ""
            extra = lines[i] if i < len(lines) else ""
            print(f"{'':<{wn}}  {'':<{wt}}  {extra_shape:<{ws}}  {extra}".rstrip())
    print()
    print(FILES_HELP)
    return 0
