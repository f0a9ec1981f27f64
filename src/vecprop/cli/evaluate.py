"""``vecprop evaluate MODEL --data DATA``: a saved model's cost and metrics on a data set."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from .errors import UserError, user_errors
from .modelfile import notes, open_model
from .prepare import HEADER, canonical_data, file_sha256, load_dataset

SPLITS = ("test", "val", "train", "all")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="a saved model's cost and accuracy (or R^2) on a data set",
        description="Evaluate MODEL on DATA. For the data it was trained on, --split test (the default "
                    "there) redoes the training run's seeded split, so the numbers match metrics.json; "
                    "for other data the default is every row (--split all).",
        epilog="examples:\n  vecprop evaluate runs/digits/model.npz --data digits\n"
               "  vecprop evaluate model.npz --data heldout.csv --target label --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model.npz written by vecprop train")
    p.add_argument("--data", required=True, metavar="DATA", help="a data set name or file")
    p.add_argument("--target", metavar="COL", help="CSV target column (default: as in training, else last)")
    p.add_argument("--split", choices=SPLITS, help="which rows: the training run's test/val/train part, or all")
    p.add_argument("--header", choices=tuple(HEADER), help="CSV: does the first row name the columns? (default: as "
                   "in training, else auto: detected)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def _same_data(name: str, provenance: dict[str, Any], split: str | None) -> tuple[bool, bool]:
    """(Is DATA the training run's data by name, and unchanged, so that its seeded split can be
    redone?) A file that changed since (its SHA-256 differs) keeps its settings (target, task,
    missing values) but not its split: its rows would split differently."""
    trained = ((provenance.get("config") or {}).get("data") or {}).get("name")
    if trained is None or canonical_data(name) != trained:
        return False, False
    digest = (provenance.get("data") or {}).get("sha256")
    if digest is None or not Path(name).is_file() or file_sha256(Path(name)) == digest:
        return True, True
    if split not in (None, "all"):
        raise UserError(f"--split {split}: {name} has changed since the model was trained (its SHA-256 differs), so "
                        "the training run's split cannot be redone; use --split all")
    print(f"vecprop: note: {name} has changed since the model was trained (its SHA-256 differs): evaluating every row "
          "(--split all), which may include rows the model was trained on", file=sys.stderr)
    return True, False


def run(args: argparse.Namespace) -> int:
    model = open_model(args.model)
    named, same = _same_data(args.data, model.provenance, args.split)
    split_cfg = dict(model.provenance.get("split") or {}) if named else {}
    data_cfg = ((model.provenance.get("config") or {}).get("data") or {}) if named else {}
    target = args.target if args.target is not None else split_cfg.get("target")
    fills = model.preprocessing is not None and any(c.fill is not None for c in model.preprocessing.columns)
    missing = data_cfg.get("missing") or ("mean" if fills else "error")  # the training run's rows, or what the model fills
    task = None if model.task == "regression" or args.target is None else "classification"
    if data_cfg.get("task") not in (None, "auto"):
        task = data_cfg["task"]
    if model.task == "regression" and task is None and target is not None:
        task = "regression"
    ds = load_dataset(args.data, target=target, seed=int(split_cfg.get("seed", 0)), n_samples=split_cfg.get("n_samples"),
                      task=task, missing=missing, weight=data_cfg.get("weight_column"),
                      header=args.header or data_cfg.get("header", "auto"))
    if (ds.task == "regression") != (model.task == "regression"):
        raise UserError(f"{args.model} is a {model.task} model; --data {args.data} is {ds.task} data")
    split = args.split or ("test" if same else "all")
    X_rows, y = _rows(ds, split, split_cfg)
    if X_rows.shape[0] == 0:
        raise UserError(f"the {split} split of {args.data} is empty; choose another --split")
    answers = y if ds.classes is None else np.asarray(ds.classes, dtype=object)[y]  # labels in the data's terms
    source = f"--data {args.data}"
    with user_errors(), notes():
        result: dict[str, Any] = {"model": args.model, "data": ds.name, "split": split, "task": model.task}
        result.update(model.evaluate(X_rows, answers, feature_names=ds.feature_names, source=source))
        if model.task != "regression":
            predicted = model.decode(model.outputs(X_rows, ds.feature_names, source=source))
            result["per_class"] = _per_class(model.encode_labels(answers, source),
                                             model.encode_labels(predicted, source), model.classes)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)
    return 0


def _rows(ds: datasets.Dataset, split: str, split_cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if split == "all":
        if ds.X_test is None:
            return ds.X, ds.y
        return np.concatenate([ds.X, ds.X_test]), np.concatenate([ds.y, ds.y_test])
    with user_errors("--split"):
        parts = datasets.split(ds, val_fraction=float(split_cfg.get("val_fraction", 0.1)),
                               test_fraction=float(split_cfg.get("test_fraction", 0.2)),
                               seed=int(split_cfg.get("seed", 0)))
    part = getattr(parts, split)
    return part.X, part.y


def _per_class(y: np.ndarray, labels: np.ndarray, classes: tuple[Any, ...] | None) -> list[dict[str, Any]]:
    """Support, precision and recall of each class (class indices y and labels)."""
    out = []
    for c, name in enumerate(str(c) for c in classes or ()):
        true, pred = y == c, labels == c
        hit = int((true & pred).sum())
        out.append({"class": name, "support": int(true.sum()),
                    "precision": hit / int(pred.sum()) if pred.any() else None,
                    "recall": hit / int(true.sum()) if true.any() else None})
    return out


def _print_table(r: dict[str, Any]) -> None:
    print(f"{r['model']} on {r['data']} ({r['split']} split, m = {r['m']} examples)")
    keys = [k for k in ("cost", "accuracy", "r2", "mse") if k in r]
    for k in keys:
        print(f"  {k:<9}{r[k]:.4f}" if k in ("accuracy", "r2") else f"  {k:<9}{r[k]:.6g}")
    for j, (r2, mse) in enumerate(zip(r.get("r2_per_output", []), r.get("mse_per_output", []))):
        print(f"  output {j}: r2 {r2:.4f}, mse {mse:.6g}")
    if r.get("per_class"):
        fmt = lambda v: "    -" if v is None else f"{v:.3f}"  # noqa: E731
        width = max(8, *(len(row["class"]) for row in r["per_class"]))
        print(f"  {'class':<{width}}  support  precision  recall")
        for row in r["per_class"]:
            print(f"  {row['class']:<{width}}  {row['support']:>7}  {fmt(row['precision']):>9}  "
                  f"{fmt(row['recall']):>6}")
