"""Fashion-MNIST side by side: scikit-learn's MLPClassifier, a PyTorch MLP and vecprop on one split.

Usage (from the repository root, in the project's virtual environment)::

    python examples/fashion_mnist/side_by_side.py                      # the full recipe, one seed
    python examples/fashion_mnist/side_by_side.py --epochs 10          # shorter, for a quick look
    python examples/fashion_mnist/side_by_side.py --n-samples 5000 --epochs 2 --out /tmp/sbs   # smoke test

Every contender gets the same training rows, validation rows and test set (the split that
``vecprop train --config config.toml --seed SEED`` makes: stratified, seeded) and the same
scaling (the config's: ``minmax`` divides the uint8 pixels by 255; ``standardize`` uses
per-pixel statistics of the training rows), as float32.

Contenders, each trained in its own Python process so that one library's thread pools never
compete with another's:

- ``sklearn-default``: ``MLPClassifier()`` with all its defaults (hidden (100,), Adam lr 1e-3,
  batch 200, alpha 1e-4, max_iter 200, stops when the training loss stalls for 10 epochs);
  ``random_state=SEED`` only fixes its randomness.
- ``sklearn-same-hidden``: ``MLPClassifier(hidden_layer_sizes=<ours>, max_iter=<our epochs>)``,
  other settings at their defaults. With its default max_iter=200 it would take over an hour
  on two cores; max_iter is set to our epoch count instead.
- ``torch``: a PyTorch MLP of our architecture and recipe: Linear/ReLU/Dropout layers, He-normal
  hidden weights, Glorot-uniform output weights, zero biases, AdamW with our lr and weight decay,
  per-epoch cosine schedule with linear warm-up (``LambdaLR``), our batch size and epochs, a
  validation pass per epoch and, when the config enables early stopping, the same rule (keep the
  weights of the lowest validation cost). ``torch.set_num_threads(2)``.
- ``vecprop``: ``vecprop train --config CONFIG --seed SEED`` (the CLI, in process).

Wall time is the training time only (data loading and the final test pass excluded): the
``fit`` call for scikit-learn, the training loop with its per-epoch validation pass for PyTorch
and vecprop (vecprop's ``metrics.json`` ``wall_seconds``). The script prints a markdown table and
writes it, with a JSON copy, to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CONTENDERS = ("sklearn-default", "sklearn-same-hidden", "torch", "vecprop")


# ---- the shared configuration and data --------------------------------------------------------
def load_config(path: str, epochs: int | None, n_samples: int | None, seed: int) -> Any:
    """The resolved vecprop TrainConfig of ``path`` with the command line's overrides."""
    from vecprop.cli import config as C

    values = C.read_config_file(path)
    overrides = {"epochs": epochs, "n_samples": n_samples, "seed": seed}
    cfg = C.merge(values, overrides)
    return C.resolve(cfg, "multiclass")


def load_rows(cfg: Any) -> dict[str, np.ndarray]:
    """Standardised float32 ROWS (m, 784) and labels (m,) of the train, val and test parts.

    The split and the scaler are vecprop's CLI's own (``vecprop.cli.prepare``), so every
    contender sees exactly the rows ``vecprop train`` trains, validates and tests on.
    """
    from vecprop.cli.prepare import load_dataset, prepare

    ds = load_dataset(cfg.data, seed=cfg.seed, n_samples=cfg.n_samples)
    prep = prepare(ds, loss=cfg.loss, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                   seed=cfg.seed, scale=cfg.scale, target_scale=cfg.target_scale, dtype="float32")
    out: dict[str, np.ndarray] = {}
    for name in ("train", "val", "test"):
        part = getattr(prep, name)
        out[f"X_{name}"] = np.ascontiguousarray(part.X.T)  # (m, n_0): the core's columns back to rows
        out[f"y_{name}"] = np.asarray(part.y, dtype=np.int64)
    return out


# ---- the contenders (each runs in its own process) --------------------------------------------
def run_sklearn(cfg: Any, data: dict[str, np.ndarray], same_hidden: bool) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    if same_hidden:
        clf = MLPClassifier(hidden_layer_sizes=tuple(cfg.hidden), max_iter=cfg.epochs, random_state=cfg.seed)
        recipe = f"sklearn defaults (adam 1e-3, batch 200, alpha 1e-4), max_iter={cfg.epochs}"
    else:
        clf = MLPClassifier(random_state=cfg.seed)
        recipe = "all defaults (adam 1e-3, batch 200, alpha 1e-4, max_iter=200)"
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(data["X_train"], data["y_train"])
    wall = time.perf_counter() - t0
    capped = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {"hidden": list(clf.hidden_layer_sizes), "recipe": recipe, "epochs_run": int(clf.n_iter_),
            "stopped_by": "max_iter" if capped else "training loss stalled (tol 1e-4, 10 epochs)",
            "val_accuracy": float(clf.score(data["X_val"], data["y_val"])),
            "test_accuracy": float(clf.score(data["X_test"], data["y_test"])), "wall_seconds": wall}


def lr_factor(epoch: int, warmup: int, total: int, min_ratio: float) -> float:
    """Cosine with linear warm-up, per epoch: the same rule as vecprop's CosineLR, written out."""
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    if epoch >= total:
        return min_ratio
    return min_ratio + (1.0 - min_ratio) * (1.0 + math.cos(math.pi * (epoch - warmup) / (total - warmup))) / 2.0


def run_torch(cfg: Any, data: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch
    from torch import nn

    if cfg.schedule not in ("cosine", "constant") or cfg.optimizer != "adamw":
        raise SystemExit(f"the torch contender mirrors adamw with a cosine or constant schedule; "
                         f"the config has {cfg.optimizer} / {cfg.schedule}")
    torch.set_num_threads(2)
    torch.manual_seed(cfg.seed)
    layers: list[nn.Module] = []
    sizes = [data["X_train"].shape[1], *cfg.hidden]
    for n_prev, n_l in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(n_prev, n_l)
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")  # he_normal: N(0, 2 / n_{l-1})
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()] + ([nn.Dropout(cfg.dropout)] if cfg.dropout else [])
    out = nn.Linear(sizes[-1], int(data["y_train"].max()) + 1)
    nn.init.xavier_uniform_(out.weight)  # glorot_uniform, as vecprop's softmax layer
    nn.init.zeros_(out.bias)
    model = nn.Sequential(*layers, out)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule == "cosine":
        total = cfg.schedule_options.get("total_epochs", max(cfg.epochs, cfg.warmup + 1))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda e: lr_factor(e, cfg.warmup, total, cfg.min_lr / cfg.lr))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    loss_fn = nn.CrossEntropyLoss()
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    Xv, yv = torch.from_numpy(data["X_val"]), torch.from_numpy(data["y_val"])
    gen = torch.Generator().manual_seed(cfg.seed)
    batch = cfg.batch_size or X.shape[0]
    best_cost, best_state, best_epoch, wait, epochs_run = math.inf, None, -1, 0, 0
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        for idx in torch.randperm(X.shape[0], generator=gen).split(batch):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), y[idx]).backward()
            opt.step()
        sched.step()
        epochs_run = epoch + 1
        model.eval()
        with torch.no_grad():
            val_cost = float(loss_fn(model(Xv), yv))
        if cfg.early_stopping:  # the rule of vecprop's EarlyStopping(restore_best=True)
            if val_cost < best_cost:
                best_cost, best_epoch, wait = val_cost, epoch, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                wait += 1
                if wait > cfg.early_stopping:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    wall = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = {name: float((model(torch.from_numpy(data[f"X_{name}"])).argmax(1).numpy()
                            == data[f"y_{name}"]).mean()) for name in ("val", "test")}
    return {"hidden": list(cfg.hidden), "recipe": recipe_text(cfg), "epochs_run": epochs_run,
            "best_epoch": best_epoch + 1 if best_state is not None else None,
            "val_accuracy": acc["val"], "test_accuracy": acc["test"], "wall_seconds": wall,
            "torch": torch.__version__}


def run_vecprop(cfg: Any, config_path: str, out: Path) -> dict[str, Any]:
    from vecprop.cli import main

    run_dir = out / "vecprop-run"
    argv = ["train", "--config", config_path, "--seed", str(cfg.seed), "--epochs", str(cfg.epochs),
            "--out", str(run_dir), "--quiet"]
    if cfg.n_samples:
        argv += ["--n-samples", str(cfg.n_samples)]
    status = main(argv)
    if status != 0:
        raise SystemExit(f"vecprop train failed with status {status}")
    m = json.loads((run_dir / "metrics.json").read_text())
    return {"hidden": list(cfg.hidden), "recipe": recipe_text(cfg), "epochs_run": m["epochs_run"],
            "best_epoch": m["best_epoch"], "val_accuracy": m["val_accuracy"],
            "test_accuracy": m["test_accuracy"], "wall_seconds": m["wall_seconds"], "run_folder": str(run_dir)}


def recipe_text(cfg: Any) -> str:
    sched = (f"cosine, {cfg.warmup} warm-up epochs" if cfg.schedule == "cosine" else cfg.schedule)
    return (f"{cfg.optimizer} lr {cfg.lr:g} wd {cfg.weight_decay:g}, {sched}, dropout {cfg.dropout:g}, "
            f"batch {cfg.batch_size}, {cfg.epochs} epochs"
            + (f", early stopping {cfg.early_stopping}" if cfg.early_stopping else ""))


def one_contender(args: argparse.Namespace) -> None:
    """Child process: train one contender and write its result as JSON."""
    cfg = load_config(args.config, args.epochs, args.n_samples, args.seed)
    out = Path(args.out)
    if args.contender == "vecprop":
        result = run_vecprop(cfg, args.config, out)
    else:
        data = load_rows(cfg)
        if args.contender == "torch":
            result = run_torch(cfg, data)
        else:
            result = run_sklearn(cfg, data, same_hidden=args.contender == "sklearn-same-hidden")
    result["contender"] = args.contender
    Path(args.result).write_text(json.dumps(result, indent=1))


# ---- the parent: run each contender in a child, then the table ---------------------------------
NUMPY_BLAS = ("import json, numpy, threadpoolctl; print(json.dumps([p for p in threadpoolctl.threadpool_info() "
              "if p.get('user_api') == 'blas']))")
"""numpy's BLAS as threadpoolctl sees it in a process that imports numpy only (sklearn would add scipy's)."""


def machine() -> dict[str, Any]:
    import sklearn

    pools = json.loads(subprocess.run([sys.executable, "-c", NUMPY_BLAS], capture_output=True, text=True,
                                      check=True).stdout)
    blas = [f"{p.get('internal_api')} {p.get('version')}, {p.get('num_threads')} threads, "
            f"kernel {p.get('architecture')}" for p in pools]
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "sklearn": sklearn.__version__, "numpy_blas": blas,
            "blas_env": env or "none set"}


def table(cfg: Any, results: list[dict[str, Any]]) -> str:
    lines = ["| contender | hidden layers | recipe | epochs run | val accuracy | test accuracy | "
             "training wall time (s) | s / epoch |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        hidden = "-".join(map(str, r["hidden"]))
        lines.append(f"| {r['contender']} | {hidden} | {r['recipe']} | {r['epochs_run']} | "
                     f"{r['val_accuracy']:.4f} | **{r['test_accuracy']:.4f}** | {r['wall_seconds']:.1f} | "
                     f"{r['wall_seconds'] / max(r['epochs_run'], 1):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(HERE / "config.toml"), help="the vecprop config (default: ours)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs for every "
                   "contender (also sklearn-same-hidden's max_iter)")
    p.add_argument("--seed", type=int, default=0, help="split, initial weights, batch order (default 0)")
    p.add_argument("--n-samples", dest="n_samples", type=int, default=None,
                   help="a seeded subset of N training rows (for a quick check; the test set stays whole)")
    p.add_argument("--only", default=",".join(CONTENDERS), help=f"comma-separated subset of {','.join(CONTENDERS)}")
    p.add_argument("--out", default="runs/fashion_mnist_side_by_side", help="folder for the table and the JSON")
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.contender:
        one_contender(args)
        return 0

    cfg = load_config(args.config, args.epochs, args.n_samples, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        p.error(f"--only: unknown contender(s) {unknown}; choose from {', '.join(CONTENDERS)}")
    started, t_all = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    results = []
    for name in names:
        result_file = out / f"{name}.json"
        cmd = [sys.executable, __file__, "--contender", name, "--result", str(result_file),
               "--config", args.config, "--seed", str(args.seed), "--out", str(out)]
        cmd += ["--epochs", str(cfg.epochs)]
        if args.n_samples:
            cmd += ["--n-samples", str(args.n_samples)]
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
        subprocess.run(cmd, check=True)
        results.append(json.loads(result_file.read_text()))
        r = results[-1]
        print(f"    test accuracy {r['test_accuracy']:.4f}, {r['epochs_run']} epochs, {r['wall_seconds']:.1f} s",
              flush=True)
    total = time.perf_counter() - t_all
    info = machine()
    text = (f"Fashion-MNIST side by side, seed {args.seed} (one run each), started {started}; "
            f"{cfg.n_samples or 'all'} training rows before the validation split; "
            f"total time {total / 60:.1f} min.\n\n" + table(cfg, results)
            + f"\nMachine: {info['cpu_count']} cores, {info['platform']}, Python {info['python']}, "
              f"numpy {info['numpy']} ({'; '.join(info['numpy_blas'])}), scikit-learn {info['sklearn']}"
              + "".join(f", torch {r['torch']}" for r in results if "torch" in r) + "; "
              f"BLAS environment variables: {info['blas_env']}.\n")
    print("\n" + text)
    (out / "side_by_side.md").write_text(text)
    (out / "side_by_side.json").write_text(json.dumps({"seed": args.seed, "started": started,
                                                       "total_seconds": total, "machine": info,
                                                       "results": results}, indent=1))
    print(f"wrote {out / 'side_by_side.md'} and {out / 'side_by_side.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
