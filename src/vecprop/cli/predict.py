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


def _read_inputs(path: Path, info: ModelInfo) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Feature rows (m, n_0) and column names. A CSV whose header names all the model's features may
    hold other columns too (the training file with its target, say): they are ignored."""
    if path.suffix.lower() in (".csv", ".tsv") and info.feature_names:
        import csv

        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            rows = [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]
        header = rows[0][1] if rows else []
        wanted = list(info.feature_names)
        if set(wanted) <= set(header) and len(header) > len(wanted):
            return _numeric_columns(path, header, rows[1:], wanted), tuple(wanted)
    return datasets.load_features(path)


def _numeric_columns(path: Path, header: list[str], rows: list[tuple[int, list[str]]],
                     wanted: list[str]) -> np.ndarray:
    """The named columns as float64 (m, len(wanted)); a bad cell raises naming its column and line."""
    idx = [header.index(name) for name in wanted]
    X = np.empty((len(rows), len(idx)))
    for i, (line, cells) in enumerate(rows):
        if len(cells) != len(header):
            raise UserError(f"INPUT {path}, line {line}: {len(cells)} fields; the header has {len(header)}")
        for k, j in enumerate(idx):
            try:
                X[i, k] = float(cells[j])
            except ValueError:
                X[i, k] = np.nan
            if not np.isfinite(X[i, k]):
                raise UserError(f"INPUT {path}: column {header[j]!r}, line {line}: value {cells[j]!r} is not "
                                f"a finite number")
    if not len(rows):
        raise UserError(f"INPUT {path}: a header and no rows")
    return X


def run(args: argparse.Namespace) -> int:
    net, info, _ = load_model(args.model)
    path = Path(args.input)
    if not path.exists():
        raise UserError(f"INPUT: no such file: {args.input}")
    with user_errors("INPUT"):
        X, names = _read_inputs(path, info)
    X = _select_columns(X, names, info)
    check_features(args.model, net, info, X.shape[1], f"INPUT {args.input}")
    if args.proba and info.task == "regression":
        raise UserError(f"--proba is for classifiers; {args.model} is a regression model")
    out = info.decode(forward_rows(net, X, info.scaler))
    header, rows, array = _results(out, info, args.proba)
    if args.output is None:
        sys.stdout.write(rows_csv(header, rows))
        return 0
    dest = Path(args.output)
    if dest.suffix.lower() not in (".npy", ".csv", ".tsv", ".txt"):
        raise UserError(f"--output must end in .csv or .npy; got {dest.name}")
    with user_errors("--output"):
        if dest.suffix.lower() == ".npy":
            write_bytes(dest, _npy_bytes(array))
        else:
            write_text(dest, rows_csv(header, rows))
    print(f"wrote {len(rows)} predictions to {dest}", file=sys.stderr)
    return 0


def _results(out: dict[str, np.ndarray], info: ModelInfo, proba: bool
             ) -> tuple[list[str], list[list[Any]], np.ndarray]:
    """(CSV header, CSV rows, the array a .npy gets): values for regression; for classifiers the
    label, or the label then one probability per class (the .npy then holds the probabilities)."""
    if info.task == "regression":
        v = out["value"]
        header = ["prediction"] if v.shape[1] == 1 else [f"prediction_{j}" for j in range(v.shape[1])]
        return header, [list(row) for row in v], v[:, 0] if v.shape[1] == 1 else v
    classes = info.classes or tuple(str(i) for i in range(out["proba"].shape[1]))
    labels = [classes[i] for i in out["label"]]
    if not proba:
        return ["label"], [[label] for label in labels], _labels(out, info)
    P = out["proba"]
    return ["label", *[f"p({c})" for c in classes]], [[label, *p] for label, p in zip(labels, P)], P


def _labels(out: dict[str, np.ndarray], info: ModelInfo) -> np.ndarray:
    """Labels for .npy: the class values when they are all integers, else the names as unicode."""
    classes = info.classes or ()
    names = [classes[i] for i in out["label"]] if classes else list(out["label"])
    if all(str(c).lstrip("-").isdigit() for c in classes):
        return np.array([int(n) for n in names], dtype=np.int64)
    return np.array(names, dtype=str)


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()
