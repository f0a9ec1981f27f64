"""``vecprop predict MODEL INPUT``: labels, probabilities or values for raw input rows."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..model import Model
from .errors import UserError, user_errors
from .modelfile import model_outputs, notes, open_model, read_rows
from .outputs import rows_csv, write_bytes, write_text
from .prepare import HEADER


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict", help="predict labels or values for new inputs (.csv or .npy)",
        description="Run MODEL on the rows of INPUT (raw, unscaled: the preprocessing saved with the model is "
                    "applied). When the model and INPUT both name their columns (a CSV header, a .npz "
                    "feature_names array), columns are matched by name and others are ignored; otherwise by "
                    "position. Writes CSV to stdout, or FILE (.csv or .npy).",
        epilog="examples:\n  vecprop predict runs/iris/model.npz flowers.csv\n"
               "  vecprop predict model.npz X.npy --proba --output proba.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a vecprop model file (vecprop train, Model.save, an estimator's save)")
    p.add_argument("input", metavar="INPUT", help="rows to predict: .csv/.tsv (header optional), .npy or .npz (X)")
    p.add_argument("--output", "-o", metavar="FILE", help="write .csv or .npy instead of printing CSV")
    p.add_argument("--proba", action="store_true", help="classifiers: the probability of every class")
    p.add_argument("--header", choices=tuple(HEADER), default="auto", help="CSV: does the first row name the "
                   "columns? (auto: it does when it holds the model's feature names, or by the training rule)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with notes():  # "ignoring column ..." lines, said once the predictions are written
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    model = open_model(args.model)
    path = Path(args.input)
    if not path.exists():
        raise UserError(f"INPUT: no such file: {args.input}")
    if args.proba and model.task == "regression":
        raise UserError(f"--proba is for classifiers; {args.model} is a regression model")
    dest = None if args.output is None else Path(args.output)
    if dest is not None:
        if dest.suffix.lower() not in (".npy", ".csv", ".tsv", ".txt"):
            raise UserError(f"--output must end in .csv, .tsv, .txt (CSV text) or .npy; got {dest.name}")
        for what, other in (("INPUT", path), ("MODEL", Path(args.model))):
            if dest.exists() and os.path.samefile(dest, other):  # also a hard link or another path to it
                raise UserError(f"--output {args.output} is the {what} file; choose another name (it would be "
                                "overwritten)")
    rows = read_rows(model, path, "INPUT", HEADER[args.header])
    A_L = model_outputs(model, rows, f"INPUT {args.input}")
    with user_errors("--proba"):
        header, table, array = _results(model, A_L, args.proba)
    if dest is None:
        sys.stdout.write(rows_csv(header, table))
        return 0
    with user_errors("--output"):
        if dest.suffix.lower() == ".npy":
            write_bytes(dest, _npy_bytes(array))
        else:
            write_text(dest, rows_csv(header, table))
    print(f"wrote {len(table)} predictions to {dest}", file=sys.stderr)
    return 0


def _results(model: Model, A_L: np.ndarray, proba: bool) -> tuple[list[str], list[list[Any]], np.ndarray]:
    """(CSV header, CSV rows, the array a .npy gets): values for regression; for classifiers the
    label (the indicators for multilabel), or the label then one probability per class (the
    .npy then holds the probabilities)."""
    answers = model.decode(A_L)
    if model.task == "regression":
        v = answers.reshape(len(answers), -1)
        header = ["prediction"] if v.shape[1] == 1 else [f"prediction_{j}" for j in range(v.shape[1])]
        return header, [list(row) for row in v], answers
    classes = [str(c) for c in model.classes]
    if model.task == "multilabel":
        header, table = classes, [list(row) for row in answers]
    else:
        header, table = ["label"], [[label.item() if isinstance(label, np.generic) else label] for label in answers]
    if not proba:
        return header, table, answers
    P = model.proba(A_L)
    return header + [f"p({c})" for c in classes], [r + list(p) for r, p in zip(table, P)], P


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
