"""`vecprop train` as a practitioner uses it: tabular data, run folders, interrupt and resume, honest reports."""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vecprop
from cli_helpers import SRC, vecprop as cli

QUICK = ["--epochs", "3", "--quiet", "--no-plots"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """A practitioner's CSV: ';'-separated, a text column, missing cells, a weight column, a 0-12 rating."""
    root = tmp_path_factory.mktemp("shop")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        size = rng.normal(10, 3)
        color = ["red", "green", "blue"][i % 3]
        price = size * 2 + (color == "red") * 5 + rng.normal()
        rating = int(np.clip(round(price / 4), 0, 12))
        rows.append([f"{size:.3f}" if i % 17 else "", color if i % 23 else "NA", f"{price:.3f}", rating,
                     1.0 + (i % 2), "yes" if price > 22 else "no"])
    with open(root / "shop.csv", "w", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["size", "color", "price", "rating", "w", "bought"])
        w.writerows(rows)
    return root


def test_text_columns_and_missing_values_train_and_predict(shop):
    refused = cli("train", "--data", "shop.csv", "--target", "bought", "--out", "no", *QUICK, cwd=shop)
    assert refused.returncode == 2 and "have missing values" in refused.stderr and "--missing" in refused.stderr
    r = cli("train", "--data", "shop.csv", "--target", "bought", "--missing", "median", "--weight-column", "w",
            "--out", "run", "--epochs", "3", "--no-plots", cwd=shop)
    assert r.returncode == 0, r.stderr
    assert "(1 of them text, one-hot)" in r.stdout and "note: filled" in r.stdout
    m = metrics(shop / "run")
    assert m["missing_filled"] == {"size": 8, "color": 6} and "test_accuracy" in m
    model = vecprop.load_model(shop / "run" / "model.npz")
    assert model.feature_names == ("size", "color", "price", "rating")  # not the weights, not the target
    assert model.preprocessing.columns[1].categories == ("", "blue", "green", "red")  # "" = missing
    assert model.preprocessing.columns[0].fill is not None
    e = cli("evaluate", "run/model.npz", "--data", "shop.csv", "--json", cwd=shop)  # the training run's own split
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["accuracy"] == m["test_accuracy"] and json.loads(e.stdout)["m"] == m["n_test"]
    write_csv(shop / "new.csv", ["rating", "color", "size", "price"], [[3, "red", "", 21.0], [5, "purple", 9, 30]])
    p = cli("predict", "run/model.npz", "new.csv", cwd=shop)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1:] and set(p.stdout.splitlines()[1:]) <= {"yes", "no"}
    assert "category 'purple' was never seen" in p.stderr  # an unseen category: zeros, and said


def test_several_targets_and_per_output_reports(shop):
    r = cli("train", "--data", "shop.csv", "--target", "price,rating", "--task", "regression", "--missing", "drop",
            "--out", "multi", "--epochs", "5", "--quiet", cwd=shop)
    assert r.returncode == 0, r.stderr
    m = metrics(shop / "multi")
    assert len(m["test_r2_per_output"]) == 2 and "dropped" in m["notes"][0]
    assert "output 1: test r2" in r.stdout
    assert (shop / "multi" / "predicted_vs_true.png").exists()
    (shop / "x.csv").write_text("size,color,w,bought\n10,red,1,yes\n")
    p = cli("predict", "multi/model.npz", "x.csv", cwd=shop)
    assert p.returncode == 0 and p.stdout.splitlines()[0] == "prediction_0,prediction_1", p.stderr


def test_task_and_class_weights(shop):
    r = cli("train", "--data", "shop.csv", "--target", "rating", "--task", "regression", "--missing", "drop",
            "--out", "rating", *QUICK, cwd=shop)
    assert r.returncode == 0 and metrics(shop / "rating")["task"] == "regression", r.stderr
    common = ["--data", "shop.csv", "--target", "bought", "--missing", "drop", "--epochs", "2", "--quiet", "--no-plots",
              "--early-stopping", "0"]
    plain = cli("train", *common, "--out", "cw0", cwd=shop)
    heavy = cli("train", *common, "--class-weight", '{"yes": 5}', "--out", "cw1", cwd=shop)
    assert plain.returncode == heavy.returncode == 0, heavy.stderr
    a, b = (vecprop.load(shop / d / "model.npz").flat for d in ("cw0", "cw1"))
    assert not np.array_equal(a, b)  # the weights changed the gradients
    bad = cli("train", *common, "--class-weight", '{"maybe": 2}', "--out", "cw2", cwd=shop)
    assert bad.returncode == 2 and "names class 'maybe'" in bad.stderr


def test_out_folders_never_mix(tmp_path):
    assert cli("train", "--data", "xor", "--out", "run", "--epochs", "2", "--quiet", cwd=tmp_path).returncode == 0
    assert (tmp_path / "run" / "learning_curves.png").exists()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    again = cli("train", "--data", "xor", "--out", "run", *QUICK, cwd=tmp_path)
    assert again.returncode == 2 and "holds a run" in again.stderr and "--overwrite" in again.stderr
    over = cli("train", "--data", "xor", "--out", "run", "--overwrite", *QUICK, cwd=tmp_path)
    assert over.returncode == 0, over.stderr
    assert not (tmp_path / "run" / "learning_curves.png").exists()  # the old run's plots are gone
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"  # not the run's: kept
    (tmp_path / "afile").write_text("x")
    for out, message in (("afile", "is a file"), ("afile/run", "is a file, so no folder")):
        r = cli("train", "--data", "xor", "--out", out, *QUICK, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_reports_follow_the_task_not_the_loss(tmp_path):
    r = cli("train", "--data", "iris", "--loss", "squared_error", "--out", "se", "--epochs", "5", "--no-plots",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout and "no test split" not in r.stdout
    history = (tmp_path / "se" / "history.csv").read_text().splitlines()[0].split(",")
    assert "accuracy" in history and "val_accuracy" in history and "r2" not in history


def test_monitor_patience_and_log_appends(tmp_path):
    flags = ["--data", "moons", "--n-samples", "200", "--hidden", "8", "--lr", "0.05", "--epochs", "300",
             "--early-stopping", "4", "--monitor", "val_accuracy", "--log-jsonl", "log.jsonl", "--quiet",
             "--no-plots"]
    r = cli("train", *flags, "--out", "a", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = metrics(tmp_path / "a")
    assert m["stopped_early"] and m["epochs_run"] == m["best_epoch"] + 4  # exactly 4 epochs without a gain
    assert "val_accuracy did not improve for 4 epochs" in m["stop_reason"]
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == m["epochs_run"]
    assert cli("train", *flags, "--out", "b", cwd=tmp_path).returncode == 0
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2 * len(lines)  # appended, not truncated
    bad = cli("train", "--data", "diabetes", "--monitor", "val_accuracy", "--out", "c", *QUICK, cwd=tmp_path)
    assert bad.returncode == 2 and "does not apply to regression" in bad.stderr
    for log, message in ((".", "is a folder"), ("nowhere/x.jsonl", "does not exist")):
        r = cli("train", "--data", "xor", "--log-jsonl", log, "--out", "d", *QUICK, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr


def test_interrupted_run_without_a_checkpoint_does_not_offer_a_resume(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen([sys.executable, "-m", "vecprop", "train", "--data", "spirals", "--n-samples", "12000",
                             "--hidden", "32,32", "--batch-size", "16", "--epochs", "50", "--checkpoint-every", "0",
                             "--no-plots", "-q", "--out", "run", "--log-jsonl", "run.jsonl"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, deadline = tmp_path / "run.jsonl", time.time() + 120
    while time.time() < deadline and (not log.exists() or not log.read_text().strip()):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "no checkpoint is kept" in err and "--resume" not in err and not (tmp_path / "run/checkpoint.npz").exists()
    assert (tmp_path / "run/model.npz").exists()


def test_ctrl_c_saves_the_last_epoch_and_resume_reaches_the_same_bits(tmp_path):
    flags = ["--data", "spirals", "--n-samples", "12000", "--hidden", "32,32", "--batch-size", "16", "--epochs",
             "6", "--early-stopping", "20", "--no-plots", "-q"]
    full = cli("train", *flags, "--out", "full", cwd=tmp_path, timeout=300)
    assert full.returncode == 0, full.stderr
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen([sys.executable, "-m", "vecprop", "train", *flags, "--out", "part", "--log-jsonl",
                             "part.jsonl"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = tmp_path / "part.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived (a very fast machine)")
    assert proc.returncode == 130, err
    assert "SIGINT during epoch" in err and "Resume with:\n  vecprop train --resume part" in err
    assert "Traceback" not in err
    done = vecprop.load_checkpoint(tmp_path / "part" / "checkpoint.npz").epoch
    assert 2 <= done < 6
    rows = (tmp_path / "part" / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + done, rows  # the interrupted run's history: a header and one row per completed epoch
    assert (tmp_path / "part" / "model.npz").exists()
    refused = cli("train", "--resume", "part", "--lr", "0.5", cwd=tmp_path)
    assert refused.returncode == 2 and "its lr is" in refused.stderr
    resumed = cli("train", "--resume", "part", "--log-jsonl", "part.jsonl", cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    a, b = (vecprop.load(tmp_path / d / "model.npz").flat for d in ("full", "part"))
    assert a.tobytes() == b.tobytes()  # the same bits as the uninterrupted run
    assert metrics(tmp_path / "part")["epochs_run"] == metrics(tmp_path / "full")["epochs_run"]


def test_defaults_converge_and_say_why(tmp_path):
    r = cli("train", "--data", "iris", "--out", "run", "--no-plots", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = metrics(tmp_path / "run")
    assert m["stopped_early"] and m["test_accuracy"] >= 0.85 and m["epochs_run"] < 1000
    said = re.search(r"did not improve (by more than --min-delta 0.0001 )?for 10 epochs after epoch (\d+); "
                     r"kept epoch (\d+)'s weights", r.stdout)
    assert said, r.stdout
    assert m["epochs_run"] == int(said[2]) + 10 and int(said[3]) == m["best_epoch"] >= int(said[2])


def test_evaluate_on_a_changed_file_says_so_and_predict_takes_header_from_the_user(tmp_path):
    rows = "".join(f"{i},{(i * 7) % 11},{i % 2}\n" for i in range(60))
    (tmp_path / "d.csv").write_text("1,2,y\n" + rows)  # numeric column names: a header only by its text cell
    assert cli("train", "--data", "d.csv", "--hidden", "4", "--out", "run", *QUICK, cwd=tmp_path).returncode == 0
    same = cli("evaluate", "run/model.npz", "--data", "d.csv", "--json", cwd=tmp_path)
    assert json.loads(same.stdout)["split"] == "test" and same.stderr == ""
    (tmp_path / "d.csv").write_text("1,2,y\n" + "".join(reversed(rows.splitlines(True))))  # the same rows, reordered
    changed = cli("evaluate", "run/model.npz", "--data", "d.csv", "--json", cwd=tmp_path)
    assert changed.returncode == 0 and json.loads(changed.stdout)["split"] == "all"
    assert "has changed since the model was trained" in changed.stderr
    (tmp_path / "x.csv").write_text("2,1\n5,3\n")
    ambiguous = cli("predict", "run/model.npz", "x.csv", cwd=tmp_path)
    assert ambiguous.returncode == 2 and "--header yes or --header no" in ambiguous.stderr
    as_data = cli("predict", "run/model.npz", "x.csv", "--header", "no", cwd=tmp_path)
    as_names = cli("predict", "run/model.npz", "x.csv", "--header", "yes", cwd=tmp_path)
    assert len(as_data.stdout.splitlines()) == 3 and len(as_names.stdout.splitlines()) == 2  # header line + rows


def test_a_config_saved_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "c.toml").write_bytes("\ufeff[training]\nepochs = 2\n".encode("utf-8"))
    r = cli("train", "--data", "xor", "--config", "c.toml", "--out", "run", "-q", "--no-plots", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert metrics(tmp_path / "run")["epochs_run"] == 2
