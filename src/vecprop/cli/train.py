"""``vecprop train``: resolve the config, split and prepare the data, fit, and write the run folder."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import Checkpoint, EarlyStopping
from .._memory import check_fits, check_network_fits, training_bytes
from ..distributed import abort_on_error, is_root, world
from ..losses import PROBABILITY_LOSSES, get_loss
from ..network import Network
from ..optimizers import get_optimizer
from ..preprocessing import FeatureWarning
from ..schedules import get_schedule
from ..training import TrainingDiverged, fit
from . import config as C
from .errors import REFUSED_WRITES, UserError, user_errors
from .modelfile import notes
from .outputs import write_text
from .prepare import Prepared, canonical_data, data_fingerprint, empty_split, load_dataset, prepare
from .progress import JSONLinesLogger, ProgressBar, open_log, progress_enabled
from .report import CONFIG_HEADER, build_model, final_metrics, stop_reason, write_run_folder
from .runfolder import CHECKPOINT, RUN_FILES, GracefulStop, Interrupted, fresh_folder, resume_folder

EXAMPLES = """\
examples:
  vecprop train --data digits                             # good defaults: trains until validation stops improving
  vecprop train --data moons --hidden 16,16 --activation tanh --lr 0.01
  vecprop train --data data.csv --target label --missing median --out runs/mine
  vecprop train --resume runs/mine                        # continue an interrupted run, to the same bits
  vecprop train --config runs/mine/config.toml --seed 1   # the same recipe with another seed
"""
RESUMABLE = ("epochs", "plots", "checkpoint_every")
"""Settings --resume may change: how long to train and what to write; never what is trained."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train a network on a data set and write a run folder",
        description="Train a feed-forward network. Input and output sizes come from the data; the output activation "
                    "and loss default from the task. Without flags it trains until the validation cost stops "
                    "improving (early stopping, the best epoch's weights kept). Flags override --config values. "
                    "Writes DIR/model.npz, config.toml, checkpoint.npz, metrics.json, history.csv and plots; "
                    "Ctrl-C stops after the current step and says how to --resume.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {section: p.add_argument_group(section) for section in C.SECTIONS}
    C.add_flags(groups)  # one flag per config field, from its declaration in config.py
    groups["training"].add_argument("--schedule-arg", dest="schedule_args", type=C.key_value, action="append",
                                    metavar="KEY=VALUE", help="another schedule parameter, e.g. step_size=10 or "
                                    "gamma=0.5")
    o = groups["output"]
    o.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file (flags win)")
    o.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its checkpoint, with its "
                   "config.toml (--epochs may extend it)")
    o.add_argument("--overwrite", action="store_true", help="replace the run in an existing --out folder")
    o.add_argument("--no-plots", dest="plots", action="store_const", const=False, help="skip the PNG plots")
    o.add_argument("--plots", dest="plots", action="store_const", const=True, help=argparse.SUPPRESS)
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bar; print only the result")
    o.add_argument("--log-jsonl", dest="log_jsonl", metavar="FILE", help="append one JSON object per epoch")
    p.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> C.TrainConfig:
    """Defaults <- --config file (or the resumed run's config.toml) <- flags given on the command line."""
    if args.resume and args.config:
        raise UserError("give --resume RUN (which reads RUN/config.toml) or --config FILE, not both")
    path = resume_folder(Path(args.resume))[0] if args.resume else args.config
    file_values = C.read_config_file(path) if path else {}
    flags = {name: getattr(args, name, None) for name in C.FIELDS}
    if args.schedule_args:
        flags["schedule_options"] = {**file_values.get("schedule_options", {}), **dict(args.schedule_args)}
    if args.resume:
        if flags.get("out") is not None:
            raise UserError(f"--resume continues in {args.resume}; --out does not apply")
        flags["out"] = str(args.resume)
        differ = [(k, v) for k, v in flags.items() if v is not None and k not in (*RESUMABLE, "out")
                  and v != file_values.get(k, C.FIELDS[k].default)]
        if differ:
            k, v = differ[0]
            raise UserError(f"--resume continues the run as {path} configures it: its {k} is "
                            f"{file_values.get(k, C.FIELDS[k].default)!r}, not {v!r}; start a new run to change it")
    return C.merge(file_values, flags)


def check_pairing(cfg: C.TrainConfig, task: str, prep: Prepared) -> None:
    """Settings that would train without complaint and still mean nothing are refused before training."""
    out, loss, n_L = cfg.output_activation, cfg.loss, prep.n_L
    if loss in PROBABILITY_LOSSES and out not in ("softmax", "sigmoid"):
        raise UserError(f"--loss {loss} takes probabilities, and --output-activation {out} does not give them; use "
                        f"softmax or sigmoid (or leave --output-activation out)")
    if out == "softmax" and n_L == 1:
        raise UserError(f"--output-activation softmax over {n_L} output is always 1: use sigmoid or identity (or "
                        "leave it out: the task chooses)")
    with user_errors(f"--loss {loss} on {task} data"):
        get_loss(loss).check_targets(prep.train.Y)
    if cfg.optimizer == "lbfgs" and cfg.schedule != "constant":
        raise UserError(f"--schedule {cfg.schedule} does not apply to --optimizer lbfgs (its line search sizes the "
                        "steps)")


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


def build_network(cfg: C.TrainConfig, n_0: int, n_L: int, rng: np.random.Generator, m: int = 1) -> Network:
    """The network of the config for n_0 inputs and n_L outputs, after a look at the memory that training it
    on ``m`` rows would take."""
    sizes = [n_0, *cfg.hidden, n_L]
    activations = [cfg.activation] * len(cfg.hidden) + [cfg.output_activation]
    init = None if cfg.init is None else (cfg.init[0] if len(cfg.init) == 1 else list(cfg.init))
    if cfg.dropout and not cfg.hidden:
        raise UserError(f"--dropout {cfg.dropout} drops hidden units, and --hidden gives none")
    item, batch = np.dtype(cfg.dtype).itemsize, min(cfg.batch_size or m, m)
    with user_errors("--hidden"):
        check_network_fits(tuple(sizes), item, cfg.dtype, "use a smaller --hidden ([model] hidden in a config)")
    with user_errors("--hidden, --batch-size"):
        check_fits(training_bytes(tuple(sizes), m, batch, item), f"training the network {sizes} on {m:,} rows in "
                   f"batches of {batch:,}", "use a smaller --hidden or --batch-size")
    with user_errors("model"):
        return Network(sizes, activations, cfg.loss, seed=rng, dtype=cfg.dtype, init=init,
                       dropout=cfg.dropout if cfg.hidden else [])


def build_optimizer(cfg: C.TrainConfig) -> Any:
    if cfg.optimizer == "lbfgs":
        return "lbfgs"
    with user_errors("optimizer"):
        return get_optimizer(cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_callbacks(cfg: C.TrainConfig, args: argparse.Namespace, prep: Prepared, out: Path, log: Any,
                   root: bool, comm: Any) -> tuple[list[Any], EarlyStopping | None, GracefulStop | None]:
    """Monitoring is callbacks: early stopping, the JSON-lines log, the progress bar, checkpoints, Ctrl-C."""
    callbacks: list[Any] = []
    stopper = None
    if cfg.early_stopping:
        stopper = EarlyStopping(monitor=cfg.monitor, patience=cfg.early_stopping, min_delta=cfg.min_delta,
                                restore_best=True)
        callbacks.append(stopper)
    if log is not None:
        callbacks.append(JSONLinesLogger(log))
    if progress_enabled(args.quiet) and root:
        batch = cfg.batch_size or prep.train.m
        callbacks.append(ProgressBar(-(-prep.train.m // batch) if cfg.optimizer != "lbfgs" else 0))
    checkpoint = None
    if cfg.checkpoint_every and root and cfg.optimizer != "lbfgs":
        checkpoint = Checkpoint(out / CHECKPOINT, every=cfg.checkpoint_every, min_seconds=C.CHECKPOINT_SECONDS,
                                callbacks=[stopper] if stopper is not None else [],
                                extra={"config": cfg.replace(out=None).to_toml_dict()})
        callbacks.append(checkpoint)
    graceful = None
    if comm is None:  # under mpiexec every rank would stop at another step: Ctrl-C ends the job, --resume continues
        graceful = GracefulStop(stopper, checkpoint)
        callbacks.append(graceful)
    return callbacks, stopper, graceful


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
    ds = load_dataset(cfg.data, target=cfg.target, seed=cfg.seed, n_samples=cfg.n_samples,
                      task=None if cfg.task == "auto" else cfg.task, missing=cfg.missing, weight=cfg.weight_column,
                      header=cfg.header)
    cfg = C.resolve(cfg, ds.task, has_validation=cfg.val_fraction > 0)  # a bad --optimizer fails before the split
    with notes():  # a category only in the validation or test rows: one "vecprop: note:" line
        prep = prepare(ds, loss=cfg.loss, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                       seed=cfg.seed, scale=cfg.scale, target_scale=cfg.target_scale, dtype=cfg.dtype,
                       missing=cfg.missing, class_weight=cfg.class_weight)
    empty = _empty_parts(cfg, ds, prep)
    if "validation" in empty and cfg.monitor.startswith("val_"):
        raise UserError(f"--monitor {cfg.monitor} needs validation rows, and the split left none: {empty['validation']}")
    check_pairing(cfg, ds.task, prep)
    init_seed, fit_seed = np.random.SeedSequence(cfg.seed).spawn(2)
    net = build_network(cfg, prep.preprocessor.n_0, prep.n_L, np.random.default_rng(init_seed), prep.train.m)
    cfg = cfg.replace(init=tuple(net.init))
    optimizer = build_optimizer(cfg)
    schedule = build_schedule(cfg) if cfg.optimizer != "lbfgs" else None
    if comm is not None and cfg.optimizer == "lbfgs":
        raise UserError("--optimizer lbfgs trains full-batch in one process; run it without mpiexec")

    out = Path(cfg.out) if cfg.out else _default_out(ds.name)
    resume = out / CHECKPOINT if args.resume else None
    log = (open_log(args.log_jsonl, out, {"--data": cfg.data, "--config": getattr(args, "config", None)})
           if args.log_jsonl and root else None)  # refused now, not after training
    if root:  # the default name has a timestamp: only rank 0 makes (and writes) the run folder
        if resume is None:
            fresh_folder(out, args.overwrite)
        log = open_log(args.log_jsonl) if log is not None else None
        write_text(out / "config.toml", C.dumps(cfg, CONFIG_HEADER.format(version=_version(), path=out / "config.toml")))
    _describe(say, ds, prep, net, cfg, comm, resume)
    for part, why in empty.items():
        say(f"note: no {part} rows: {why}")
    callbacks, stopper, graceful = make_callbacks(cfg, args, prep, out, log, root, comm)
    t0 = time.perf_counter()
    try:
        if graceful is not None:
            graceful.install()
        with warnings.catch_warnings():  # numpy's overflow warnings: fit's own check says it in one line
            warnings.simplefilter("ignore", RuntimeWarning)
            history = fit(net, prep.train.X, prep.train.Y, sample_weight=prep.train.w, optimizer=optimizer,
                          epochs=cfg.epochs, batch_size=cfg.batch_size or None, l2=cfg.l2,
                          clip_norm=cfg.clip_norm or None,
                          validation=None if prep.val is None else (prep.val.X, prep.val.Y, prep.val.w),
                          schedule=schedule, callbacks=callbacks, seed=np.random.default_rng(fit_seed),
                          engine=cfg.engine, comm=comm, resume=resume, task=ds.task)
    except TrainingDiverged as err:
        hints = [f"a smaller --lr (this step's was {err.lr:g})"]
        hints += [] if cfg.clip_norm else ["--clip-norm 1"]
        hints += ["--scale standardize"] if cfg.scale == "none" else []
        hints += [f"a smaller --l2 (it is {cfg.l2:g})"] if cfg.l2 > 1 else []
        raise UserError(f"training diverged at epoch {err.epoch}, batch {err.batch}: {err.cause}. Nothing was saved; "
                        f"try {', or '.join(hints)}", code=1) from None
    except Interrupted as stop:
        return _interrupted(stop, graceful, net, prep, ds, cfg, out)
    except OSError as err:  # a checkpoint or the --log-jsonl line could not be written (a full disk)
        if err.errno not in REFUSED_WRITES:
            raise
        raise cannot_write(err, out, "training") from None
    except ValueError as err:
        if resume is not None:  # the checkpoint is of another run, or damaged
            raise UserError(f"--resume {args.resume}: {err}") from None
        raise
    finally:
        if graceful is not None:
            graceful.uninstall()
    wall = time.perf_counter() - t0
    if not root:
        return 0  # every rank holds the same weights; rank 0 writes the run folder
    records = [{**r, "epoch": int(r["epoch"]) + 1} for r in history.records]
    model, metrics = _finish(net, prep, ds, cfg, comm, records, stopper, wall)
    try:
        files = write_run_folder(out, cfg, model, records, metrics, prep, ds, metrics["best_epoch"], plots=cfg.plots)
    except OSError as err:
        if err.errno not in REFUSED_WRITES:
            raise
        raise cannot_write(err, out, "writing the run folder") from None
    _summary(metrics, ds.task, out, files, say, 0.0 if ds.has_test else cfg.test_fraction)
    return 0


def _empty_parts(cfg: C.TrainConfig, ds: Any, prep: Prepared) -> dict[str, str]:
    """The parts asked for (a fraction > 0) that the split left empty, with why."""
    out = {}
    if cfg.val_fraction > 0 and prep.val is None:
        out["validation"] = empty_split(ds, ds.y, cfg.val_fraction, "--val-fraction")
    if cfg.test_fraction > 0 and prep.test is None and not ds.has_test:
        out["test"] = empty_split(ds, ds.y, cfg.test_fraction, "--test-fraction")
    return out


def _describe(say: Any, ds: Any, prep: Prepared, net: Network, cfg: C.TrainConfig, comm: Any, resume: Any) -> None:
    n_val = 0 if prep.val is None else prep.val.m
    n_test = 0 if prep.test is None else prep.test.m
    kinds = f" ({sum(k == 'categorical' for k in ds.kinds)} of them text, one-hot)" if ds.kinds else ""
    say(f"{ds.name}: {ds.task}, {ds.n_features} features{kinds}"
        + (f", {ds.n_classes} classes" if ds.n_classes else "")
        + f"; {prep.train.m} train / {n_val} validation / {n_test} test examples")
    for note in ds.notes:
        say(f"note: {note}")
    if prep.filled:
        say(f"note: filled {sum(prep.filled.values())} missing values with the training {cfg.missing} ("
            + ", ".join(f"{k}: {v}" for k, v in prep.filled.items()) + ")")
    acts = ", ".join(a.name for a in net.activations)
    ranks = "" if comm is None else f", data-parallel over {comm.Get_size()} MPI ranks"
    stop = f", early stopping on {cfg.monitor} (patience {cfg.early_stopping})" if cfg.early_stopping else ""
    say(f"network {' -> '.join(map(str, net.sizes))} ({acts}), loss {net.loss.name}, "
        f"{net.flat.size:,} parameters, {net.dtype.name}; {cfg.optimizer} lr {cfg.lr:g}, "
        f"at most {cfg.epochs} epochs, batch {cfg.batch_size or 'full'}{stop}{ranks}")
    if resume is not None:
        say(f"resuming from {resume}")


def _finish(net: Network, prep: Prepared, ds: Any, cfg: C.TrainConfig, comm: Any, records: list[dict[str, Any]],
            stopper: EarlyStopping | None, wall: float) -> tuple[Any, dict[str, Any]]:
    """The Model of the run and metrics.json's content."""
    split = {"seed": cfg.seed, "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction,
             "n_samples": cfg.n_samples, "target": cfg.target}
    ranks = 1 if comm is None else comm.Get_size()
    provenance = {"data": data_fingerprint(ds, cfg.data), "split": split,
                  "config": cfg.replace(out=None).to_toml_dict(), "n_ranks": ranks}
    model = build_model(net, prep, ds, provenance)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeatureWarning)  # said once already, when prepare transformed every part
        metrics = final_metrics(model, prep, ds)
    best = stopper.best_epoch + 1 if stopper is not None and stopper.best_epoch >= 0 else None
    metrics.update({"data": ds.name, "task": ds.task, "n_train": prep.train.m,
                    "n_val": 0 if prep.val is None else prep.val.m, "n_test": 0 if prep.test is None else prep.test.m,
                    "n_params": int(net.flat.size), "epochs_run": len(records), "best_epoch": best,
                    "stopped_early": bool(stopper is not None and stopper.stopped_epoch >= 0),
                    "stop_reason": stop_reason(cfg, stopper, len(records)), "n_ranks": ranks,
                    "missing_filled": prep.filled, "notes": list(ds.notes), "wall_seconds": round(wall, 3)})
    model.provenance["metrics"] = {k: v for k, v in metrics.items() if k.startswith(("train_", "val_", "test_"))}
    return model, metrics


def _interrupted(stop: Interrupted, graceful: GracefulStop, net: Network, prep: Prepared, ds: Any,
                 cfg: C.TrainConfig, out: Path) -> int:
    """Ctrl-C or SIGTERM: keep the model of the last completed epoch, say where it is and how to go on."""
    print(f"\nvecprop: {stop.signal_name} during epoch {stop.epoch + 1} (batch {stop.batch + 1}); stopping",
          file=sys.stderr)
    if graceful.completed == 0 or graceful.weights() is None:
        print("vecprop: no epoch was completed: nothing saved", file=sys.stderr)
        return 130
    net.flat[...] = graceful.weights()
    records = [{**r, "epoch": int(r["epoch"]) + 1} for r in graceful.records][:graceful.completed]
    model, metrics = _finish(net, prep, ds, cfg, None, records, graceful.best, 0.0)
    metrics.update({"interrupted": stop.signal_name, "epochs_run": graceful.completed, "stopped_early": False,
                    "stop_reason": f"interrupted ({stop.signal_name}) during epoch {stop.epoch + 1}"})
    write_run_folder(out, cfg, model, records, metrics, prep, ds, metrics["best_epoch"], plots=False)
    ck = out / CHECKPOINT
    if graceful.checkpoint is not None:
        graceful.checkpoint.flush()  # the last completed epoch's, kept in memory
    n = graceful.completed
    held = f"vecprop: {out}/model.npz holds the weights of epoch {graceful.kept_epoch} ({n} epoch{'s' * (n != 1)} completed)"
    if ck.exists():
        print(f"{held}; checkpoint.npz holds epoch {_checkpoint_epoch(ck)}. Resume with:\n  vecprop train --resume {out}",
              file=sys.stderr)
    else:  # L-BFGS, or --checkpoint-every 0: nothing to resume from
        print(f"{held}; no checkpoint is kept (--checkpoint-every 0, or L-BFGS), so the run cannot be resumed: rerun "
              "it with --overwrite", file=sys.stderr)
    return 130


def cannot_write(err: OSError, out: Path, during: str) -> UserError:
    """A file of the run that the system refused (a full disk, a quota): what is on disk, and how to go on.

    Every file is written atomically, so each one there is whole; metrics.json is written last, so
    a run folder without it is an unfinished run.
    """
    have = [name for name in RUN_FILES if (out / name).exists()]
    held = f"{out} holds {', '.join(have)}" if have else f"{out} holds none of the run's files"
    then = (f"free some space, then continue with: vecprop train --resume {out}" if CHECKPOINT in have
            else "free some space and train again (--overwrite)")
    return UserError(f"cannot write {err.filename or out}: {err.strerror or err} (while {during}); the run is "
                     f"unfinished: {held} (each file whole; no metrics.json). {then[0].upper()}{then[1:]}")


def _checkpoint_epoch(path: Path) -> int:
    from ..io import load_checkpoint

    return load_checkpoint(path).epoch


def _version() -> str:
    from .. import __version__

    return __version__


def _default_out(name: str) -> Path:
    from .outputs import unique_run_dir

    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(name).stem) or "data"
    return unique_run_dir(Path("runs") / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}")


def _summary(metrics: dict[str, Any], task: str, out: Path, files: list[Path], say: Any,
             test_fraction: float = 0.0) -> None:
    key = "r2" if task == "regression" else "accuracy"
    parts = [f"{p} {metrics[f'{p}_{key}']:.4f}" for p in ("train", "val") if f"{p}_{key}" in metrics]
    ranks = f" on {metrics['n_ranks']} MPI ranks" if metrics.get("n_ranks", 1) > 1 else ""
    say(f"trained {metrics['epochs_run']} epochs in {metrics['wall_seconds']:.1f} s{ranks}: {metrics['stop_reason']}")
    if f"test_{key}" in metrics:
        print(f"test {key} {metrics[f'test_{key}']:.4f}" + (f"  ({', '.join(parts)})" if parts else ""))
        for j, value in enumerate(metrics.get(f"test_{key}_per_output", [])):
            print(f"  output {j}: test {key} {value:.4f}")
    else:
        print(f"{', '.join(parts)} (no test rows{': --test-fraction is 0' if test_fraction == 0 else ''})")
    print(f"run folder: {out}/ (model.npz, config.toml, metrics.json, history.csv)")
    pngs = [f for f in files if f.suffix == ".png"]
    if pngs:
        print("plots: " + ", ".join(str(f) for f in pngs))
    sys.stdout.flush()
