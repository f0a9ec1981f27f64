"""``vecprop evaluate MODEL --data DATA``: a saved model's cost and metrics on a data set."""
from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from .. import datasets
from .errors import UserError, user_errors
from .prepare import canonical_data, check_features, inputs, load_dataset, load_model, remap_labels, targets
from .report import part_metrics

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
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run)


def _same_data(name: str, extra: dict[str, Any]) -> bool:
    trained = (extra.get("config") or {}).get("data", {}).get("name")
    return trained is not None and canonical_data(name) == trained


def run(args: argparse.Namespace) -> int:
    net, info, extra = load_model(args.model)
    same = _same_data(args.data, extra)
    split_cfg = info.split if same else {}
    target = args.target if args.target is not None else split_cfg.get("target")
    ds = load_dataset(args.data, target=target, seed=int(split_cfg.get("seed", 0)),
                      n_samples=split_cfg.get("n_samples"))
    check_features(args.model, net, info, ds.n_features, f"--data {args.data}")
    if (ds.task == "regression") != (info.task == "regression"):
        raise UserError(f"{args.model} is a {info.task} model; --data {args.data} is {ds.task} data")
    ds = remap_labels(ds, info, args.model)
    split = args.split or ("test" if same else "all")
    X_rows, y = _rows(ds, split, split_cfg)
    if X_rows.shape[0] == 0:
        raise UserError(f"the {split} split of {args.data} is empty; choose another --split")
    X = inputs(X_rows, info.scaler, net.dtype.name)
    with user_errors("--data"):
        Y = targets(y, net.sizes[-1], info.task, info.target_scaler, net.dtype.name)
    result: dict[str, Any] = {"model": args.model, "data": ds.name, "split": split, "m": int(X.shape[1]),
                              "task": info.task}
    result.update(part_metrics(net, X, Y, y, info, prefix=""))
    if info.task != "regression":
        labels = info.decode(_predict(net, X))["label"]
        result["per_class"] = _per_class(y, labels, info.classes)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)
    return 0


def _predict(net: Any, X: np.ndarray) -> np.ndarray:
    from ..training import predict

    return predict(net, X)


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


def _per_class(y: np.ndarray, labels: np.ndarray, classes: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Support, precision and recall of each class."""
    out = []
    for c, name in enumerate(classes or ()):
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
    if r.get("per_class"):
        fmt = lambda v: "    -" if v is None else f"{v:.3f}"  # noqa: E731
        width = max(8, *(len(row["class"]) for row in r["per_class"]))
        print(f"  {'class':<{width}}  support  precision  recall")
        for row in r["per_class"]:
            print(f"  {row['class']:<{width}}  {row['support']:>7}  {fmt(row['precision']):>9}  "
                  f"{fmt(row['recall']):>6}")
