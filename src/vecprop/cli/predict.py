"""``vecprop predict MODEL INPUT``: labels, probabilities or values for raw input rows."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from .errors import UserError, user_errors
from .outputs import rows_csv, write_bytes, write_text
from .prepare import ModelInfo, check_features, forward_rows, load_model


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict", help="predict labels or values for new inputs (.csv or .npy)",
        description="Run MODEL on the rows of INPUT (raw, unscaled: the scaler saved with the model is "
                    "applied). INPUT columns are the features; a CSV whose header names the model's "
                    "features may hold other columns too. Writes CSV to stdout, or FILE (.csv or .npy).",
        epilog="examples:\n  vecprop predict runs/iris/model.npz flowers.csv\n"
               "  vecprop predict model.npz X.npy --proba --output proba.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model.npz written by vecprop train")
    p.add_argument("input", metavar="INPUT", help="rows to predict: .csv/.tsv (header optional), .npy or .npz (X)")
    p.add_argument("--output", "-o", metavar="FILE", help="write .csv or .npy instead of printing CSV")
    p.add_argument("--proba", action="store_true", help="classifiers: the probability of every class")
    p.set_defaults(run=run)


def _select_columns(X: np.ndarray, names: tuple[str, ...] | None, info: ModelInfo) -> np.ndarray:
    """Pick the model's feature columns by name when the file names them all in another layout."""
    wanted = info.feature_names
    if names is None or wanted is None or tuple(names) == tuple(wanted) or not set(wanted) <= set(names):
        return X
    return X[:, [list(names).index(n) for n in wanted]]


def run(args: argparse.Namespace) -> int:
    net, info, _ = load_model(args.model)
    path = Path(args.input)
    if not path.exists():
        raise UserError(f"INPUT: no such file: {args.input}")
    with user_errors("INPUT"):
        X, names = datasets.load_features(path)
    X = _select_columns(X, names, info)
    check_features(args.model, net, info, X.shape[1], f"INPUT {args.input}")
    if args.proba and info.task == "regression":
        raise UserError(f"--proba is for classifiers; {args.model} is a regression model")
    out = info.decode(forward_rows(net, X, info.scaler))
    header, table = _table(out, info, args.proba)
    if args.output is None:
        sys.stdout.write(rows_csv(header, table.tolist()))
        return 0
    dest = Path(args.output)
    with user_errors("--output"):
        if dest.suffix.lower() == ".npy":
            write_bytes(dest, _npy_bytes(table if args.proba or info.task == "regression" else _labels(out, info)))
        elif dest.suffix.lower() in (".csv", ".tsv", ".txt", ""):
            write_text(dest, rows_csv(header, table.tolist()))
        else:
            raise UserError(f"--output must end in .csv or .npy; got {dest.name}")
    print(f"wrote {len(table)} predictions to {dest}", file=sys.stderr)
    return 0


def _table(out: dict[str, np.ndarray], info: ModelInfo, proba: bool) -> tuple[list[str], np.ndarray]:
    """(CSV header, rows): values for regression; labels, or labels then one probability per class."""
    if info.task == "regression":
        v = out["value"]
        return (["prediction"] if v.shape[1] == 1 else [f"prediction_{j}" for j in range(v.shape[1])]), v
    classes = info.classes or tuple(str(i) for i in range(out["proba"].shape[1]))
    labels = np.asarray(classes, dtype=object)[out["label"]]
    if not proba:
        return ["label"], labels.reshape(-1, 1)
    P = out["proba"]
    table = np.empty((len(labels), 1 + P.shape[1]), dtype=object)
    table[:, 0] = labels
    table[:, 1:] = P.astype(float)
    return ["label", *[f"p({c})" for c in classes]], table


def _labels(out: dict[str, np.ndarray], info: ModelInfo) -> np.ndarray:
    """Labels for .npy: the class values when they are all integers, else the names as unicode."""
    classes = info.classes or ()
    names = [classes[i] for i in out["label"]] if classes else list(out["label"])
    if all(str(c).lstrip("-").isdigit() for c in classes):
        return np.array([int(n) for n in names], dtype=np.int64)
    return np.array(names, dtype=str)


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    if a.dtype == object:
        a = a[:, 1:].astype(np.float64)  # --proba: the probabilities only; labels are their argmax
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
