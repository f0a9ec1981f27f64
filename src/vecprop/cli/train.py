"""``vecprop train``: resolve the config, split and scale the data, fit, and write the run folder."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import EarlyStopping
from ..distributed import abort_on_error, is_root, world
from ..network import Network
from ..optimizers import get_optimizer
from ..schedules import get_schedule
from ..training import TrainingDiverged, fit
from . import config as C
from .errors import UserError, user_errors
from .prepare import Prepared, canonical_data, data_fingerprint, load_dataset, prepare
from .progress import JSONLinesLogger, ProgressBar, progress_enabled
from .report import build_model, final_metrics, write_run_folder

EXAMPLES = """\
examples:
  vecprop train --data digits --hidden 128 --epochs 30
  vecprop train --data moons --hidden 16,16 --activation tanh --epochs 200 --lr 0.01
  vecprop train --data data.csv --target label --early-stopping 10 --out runs/mine
  vecprop train --config runs/mine/config.toml            # reproduce a run bit for bit
  vecprop train --config runs/mine/config.toml --seed 1   # the same run with another seed
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train a network on a data set and write a run folder",
        description="Train a feed-forward network. Input and output sizes come from the data; the "
                    "output activation and loss default from the task. Flags override --config values. "
                    "Writes DIR/model.npz, config.toml, metrics.json, history.csv and plots.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {section: p.add_argument_group(section) for section in C.SECTIONS}
    C.add_flags(groups)  # one flag per config field, from its declaration in config.py
    groups["training"].add_argument("--schedule-arg", dest="schedule_args", type=C.key_value, action="append",
                                    metavar="KEY=VALUE", help="another schedule parameter, e.g. step_size=10 or "
                                    "gamma=0.5")
    o = groups["output"]
    o.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file (flags win)")
    o.add_argument("--no-plots", dest="plots", action="store_const", const=False, help="skip the PNG plots")
    o.add_argument("--plots", dest="plots", action="store_const", const=True, help=argparse.SUPPRESS)
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar; print only the result")
    o.add_argument("--log-jsonl", dest="log_jsonl", metavar="FILE", help="append one JSON object per epoch")
    p.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> C.TrainConfig:
    """Defaults <- --config file <- flags given on the command line."""
    file_values = C.read_config_file(args.config) if args.config else {}
    flags = {name: getattr(args, name, None) for name in C.FIELDS}
    if args.schedule_args:
        flags["schedule_options"] = {**file_values.get("schedule_options", {}), **dict(args.schedule_args)}
    return C.merge(file_values, flags)


def build_schedule(cfg: C.TrainConfig) -> Any:
    """The schedule named in the config, with defaults derived from ``epochs`` where it needs them."""
    name, opts = cfg.schedule, dict(cfg.schedule_options)
    if cfg.warmup and name != "cosine":
        raise UserError(f"--warmup applies to --schedule cosine; the schedule is {name!r}")
    defaults: dict[str, dict[str, Any]] = {
        "cosine": {"total_epochs": max(cfg.epochs, cfg.warmup + 1), "warmup_epochs": cfg.warmup,
                   "min_lr": cfg.min_lr},
        "step": {"step_size": max(1, cfg.epochs // 3), "gamma": 0.1},
        "exponential": {"gamma": 0.95},
        "plateau": {"factor": 0.5, "patience": 5, "min_lr": cfg.min_lr},
    }
    with user_errors("schedule"):
        return get_schedule(name, lr=cfg.lr, **{**defaults.get(name, {}), **opts})


def build_network(cfg: C.TrainConfig, n_0: int, n_L: int, rng: np.random.Generator) -> Network:
    sizes = [n_0, *cfg.hidden, n_L]
    activations = [cfg.activation] * len(cfg.hidden) + [cfg.output_activation]
    init = None if cfg.init is None else (cfg.init[0] if len(cfg.init) == 1 else list(cfg.init))
    with user_errors("model"):
        return Network(sizes, activations, cfg.loss, seed=rng, dtype=cfg.dtype, init=init,
                       dropout=cfg.dropout if cfg.hidden else [])


def build_optimizer(cfg: C.TrainConfig) -> Any:
    if cfg.optimizer == "lbfgs":
        return "lbfgs"
    with user_errors("optimizer"):
        return get_optimizer(cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_callbacks(cfg: C.TrainConfig, args: argparse.Namespace, prep: Prepared,
                   root: bool = True) -> tuple[list[Any], Any]:
    """Monitoring is callbacks: the lr log, early stopping, the JSON-lines log, the progress bar."""
    callbacks: list[Any] = []
    stopper = None
    if cfg.early_stopping:
        stopper = EarlyStopping(monitor="val_cost" if prep.val is not None else "cost",
                                patience=cfg.early_stopping, restore_best=True)
        callbacks.append(stopper)
    if args.log_jsonl and root:
        callbacks.append(JSONLinesLogger(args.log_jsonl))
    if progress_enabled(args.quiet) and root:
        batch = cfg.batch_size or prep.train.m
        callbacks.append(ProgressBar(-(-prep.train.m // batch) if cfg.optimizer != "lbfgs" else 0))
    return callbacks, stopper


def run(args: argparse.Namespace) -> int:
    """Train; under `mpiexec -n N` (N > 1) every rank trains data-parallel and rank 0 writes the run."""
    comm = world()  # None unless launched by mpiexec with N > 1 (mpi4py is not even imported)
    with abort_on_error(comm, brief=(UserError,)):  # a failing rank ends the job, never hangs it
        return _run(args, comm)


def _run(args: argparse.Namespace, comm: Any) -> int:
    cfg = config_from_args(args)
    C.toml_writer()
    cfg = cfg.replace(data=canonical_data(cfg.data))
    root = is_root(comm)
    say = (lambda *a: None) if args.quiet or not root else (lambda *a: print(*a, flush=True))
    ds = load_dataset(cfg.data, target=cfg.target, seed=cfg.seed, n_samples=cfg.n_samples)
    cfg = C.resolve(cfg, ds.task)  # an unknown --optimizer fails here, before the data is split
    prep = prepare(ds, loss=cfg.loss, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                   seed=cfg.seed, scale=cfg.scale, target_scale=cfg.target_scale, dtype=cfg.dtype)
    init_seed, fit_seed = np.random.SeedSequence(cfg.seed).spawn(2)
    net = build_network(cfg, ds.n_features, prep.n_L, np.random.default_rng(init_seed))
    cfg = cfg.replace(init=tuple(net.init))
    optimizer = build_optimizer(cfg)
    schedule = build_schedule(cfg) if cfg.optimizer != "lbfgs" else None
    if comm is not None and cfg.optimizer == "lbfgs":
        raise UserError("--optimizer lbfgs trains full-batch in one process; run it without mpiexec")

    out = Path(cfg.out) if cfg.out else _default_out(ds.name)
    if root:  # the default name has a timestamp: only rank 0 makes (and writes) the run folder
        with user_errors("--out"):
            out.mkdir(parents=True, exist_ok=True)
    n_val = 0 if prep.val is None else prep.val.m
    n_test = 0 if prep.test is None else prep.test.m
    say(f"{ds.name}: {ds.task}, {ds.n_features} features"
        + (f", {ds.n_classes} classes" if ds.n_classes else "")
        + f"; {prep.train.m} train / {n_val} validation / {n_test} test examples")
    acts = ", ".join(a.name for a in net.activations)
    say(f"network {' -> '.join(map(str, net.sizes))} ({acts}), loss {net.loss.name}, "
        f"{net.flat.size:,} parameters, {net.dtype.name}; {cfg.optimizer} lr {cfg.lr:g}, "
        f"{cfg.epochs} epochs, batch {cfg.batch_size or 'full'}")

    callbacks, stopper = make_callbacks(cfg, args, prep, root)
    t0 = time.perf_counter()
    try:
        history = fit(net, prep.train.X, prep.train.Y, optimizer=optimizer, epochs=cfg.epochs,
                      batch_size=cfg.batch_size or None, l2=cfg.l2, clip_norm=cfg.clip_norm or None,
                      validation=None if prep.val is None else (prep.val.X, prep.val.Y),
                      schedule=schedule, callbacks=callbacks, seed=np.random.default_rng(fit_seed),
                      engine=cfg.engine, comm=comm)
    except (TrainingDiverged, FloatingPointError) as err:
        raise UserError(f"training diverged: {err}. Try a smaller --lr, --clip-norm 1, or --scale "
                        f"standardize", code=1) from None
    wall = time.perf_counter() - t0
    if not root:
        return 0  # every rank holds the same weights; rank 0 writes the run folder

    records = [{**r, "epoch": int(r["epoch"]) + 1} for r in history.records]
    best = stopper.best_epoch + 1 if stopper is not None and stopper.best_epoch >= 0 else None
    split = {"seed": cfg.seed, "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction,
             "n_samples": cfg.n_samples, "target": cfg.target}
    ranks = 1 if comm is None else comm.Get_size()
    provenance = {"data": data_fingerprint(ds, cfg.data), "split": split,
                  "config": cfg.replace(out=None).to_toml_dict(), "n_ranks": ranks}
    model = build_model(net, prep, ds, provenance)
    metrics = final_metrics(model, prep, ds)
    metrics.update({"data": ds.name, "task": ds.task, "n_train": prep.train.m, "n_val": n_val,
                    "n_test": n_test, "n_params": int(net.flat.size), "epochs_run": len(records),
                    "best_epoch": best, "stopped_early": bool(stopper is not None and len(records) < cfg.epochs),
                    "n_ranks": ranks, "wall_seconds": round(wall, 3)})
    model.provenance["metrics"] = {k: v for k, v in metrics.items() if k.startswith(("train_", "val_", "test_"))}
    files = write_run_folder(out, cfg, model, records, metrics, prep, ds, best, plots=cfg.plots)

    _summary(metrics, ds.task, out, files, say)
    return 0


def _default_out(name: str) -> Path:
    from .outputs import unique_run_dir

    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(name).stem) or "data"
    return unique_run_dir(Path("runs") / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}")


def _summary(metrics: dict[str, Any], task: str, out: Path, files: list[Path], say: Any) -> None:
    key = "r2" if task == "regression" else "accuracy"
    parts = [f"{p} {metrics[f'{p}_{key}']:.4f}" for p in ("train", "val") if f"{p}_{key}" in metrics]
    say(f"trained {metrics['epochs_run']} epochs in {metrics['wall_seconds']:.1f} s"
        + (f" (early stopping kept epoch {metrics['best_epoch']})" if metrics.get("stopped_early") else ""))
    if f"test_{key}" in metrics:
        print(f"test {key} {metrics[f'test_{key}']:.4f}" + (f"  ({', '.join(parts)})" if parts else ""))
    else:
        print(f"{', '.join(parts)} (no test split: --test-fraction is 0)")
    print(f"run folder: {out}/ (model.npz, config.toml, metrics.json, history.csv)")
    pngs = [f for f in files if f.suffix == ".png"]
    if pngs:
        print("plots: " + ", ".join(str(f) for f in pngs))
    sys.stdout.flush()
