"""Faults: kill -9 at random points of saves, checkpoints and training; a full disk (a small tmpfs, or ENOSPC
injected at the write). Every file on disk is the old complete one or the new complete one, and no temp file
outlives the next write of its target.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vecprop as vp
from robust_helpers import FUZZ, assert_user_error, child_env
from vecprop._atomic import atomic_write, remove_stale_temps
from vecprop.cli.progress import append_line
from vecprop.io import load_checkpoint

KILLS = 4 * FUZZ  # per kind of write; VECPROP_FUZZ=25 gives the counts in docs/reliability.md

SAVER = """
import sys, numpy as np, vecprop as vp
from vecprop.io import save_checkpoint
kind, path = sys.argv[1], sys.argv[2]
nets = [vp.Network([100, 400, 10], ["relu", "softmax"], "cross_entropy", seed=s) for s in (1, 2)]
rng = np.random.default_rng(0)
print("ready", flush=True)
i = 0
while True:
    net = nets[i % 2]
    if kind == "model":
        vp.save(net, path)
    else:
        save_checkpoint(path, net=net, optimizer_state={"m": np.full(5, i)}, schedule_state=None,
                        rng_state=rng.bit_generator.state, epoch=i)
    i += 1
"""


def temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def start(code: str, *args: str, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_kill_9_during_saves_leaves_old_or_new(tmp_path, kind):
    rng = np.random.default_rng(14)
    versions = [vp.Network([100, 400, 10], ["relu", "softmax"], "cross_entropy", seed=s).flat for s in (1, 2)]
    path = tmp_path / f"{kind}.npz"
    left_behind = 0
    for _ in range(KILLS):
        proc = start(SAVER, kind, str(path), cwd=tmp_path)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        net = vp.load(path) if kind == "model" else load_checkpoint(path).net
        assert any(np.array_equal(net.flat, v) for v in versions), "a file that is neither old nor new"
        left_behind += len(temps(tmp_path))
        remove_stale_temps(path)  # what the next write of the path does first
        assert temps(tmp_path) == []
    assert left_behind <= KILLS // 4, f"{left_behind} temp files after {KILLS} kills"


TRAINER = """
import sys, numpy as np, vecprop as vp
from vecprop.callbacks import Checkpoint
X = np.random.default_rng(0).standard_normal((4, 300)); Y = vp.one_hot((X[0] > 0).astype(int), 2)
net = vp.Network([4, 16, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
print("ready", flush=True)
vp.fit(net, X, Y, epochs=int(sys.argv[2]), batch_size=16, seed=1, callbacks=[Checkpoint(sys.argv[1])],
       resume=sys.argv[1] if len(sys.argv) > 3 else None)
vp.save(net, sys.argv[1] + ".final.npz")
print("done", flush=True)
"""


def test_kill_9_during_training_then_resume_gives_the_same_bits(tmp_path):
    """fit with a checkpoint every epoch, killed at random moments; resuming finishes to the uninterrupted bits."""
    epochs, ck = 60, tmp_path / "ck.npz"
    whole = subprocess.run([sys.executable, "-c", TRAINER, str(tmp_path / "whole.npz"), str(epochs)], cwd=tmp_path,
                           env=child_env(), capture_output=True, text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    reference = vp.load(tmp_path / "whole.npz.final.npz").flat
    rng = np.random.default_rng(7)
    for _ in range(max(2, KILLS // 2)):
        proc = start(TRAINER, str(ck), str(epochs), *(["resume"] if ck.exists() else []), cwd=tmp_path)
        time.sleep(rng.uniform(0.05, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if ck.exists():
            assert 0 <= load_checkpoint(ck).epoch <= epochs  # whole, whatever the moment
        remove_stale_temps(ck)
        assert temps(tmp_path) == []
    args = [str(ck), str(epochs)] + (["resume"] if ck.exists() else [])
    done = subprocess.run([sys.executable, "-c", TRAINER, *args], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(vp.load(str(ck) + ".final.npz").flat, reference)


def test_kill_9_during_cli_train_leaves_whole_files(tmp_path):
    rng = np.random.default_rng(3)
    for k in range(max(2, KILLS // 2)):
        out = tmp_path / f"run{k}"
        proc = subprocess.Popen([sys.executable, "-m", "vecprop", "train", "--data", "digits", "--hidden", "16",
                                 "--epochs", "30", "--early-stopping", "0", "--out", str(out), "-q"],
                                cwd=tmp_path, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _assert_whole_run_folder(out)


def _assert_whole_run_folder(out: Path) -> None:
    """Each file present reads as a whole file of its kind; no temp file survives the next write."""
    import json
    import tomllib

    if (out / "config.toml").exists():
        tomllib.loads((out / "config.toml").read_text())
    if (out / "model.npz").exists():
        vp.load_model(out / "model.npz")
    if (out / "checkpoint.npz").exists():
        load_checkpoint(out / "checkpoint.npz")
    if (out / "metrics.json").exists():
        json.loads((out / "metrics.json").read_text())
    for name in ("config.toml", "model.npz", "checkpoint.npz", "metrics.json", "history.csv"):
        remove_stale_temps(out / name)
    assert temps(out) == [] if out.exists() else True


# ---- a full disk ---------------------------------------------------------------------------------
def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_enospc_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, where):
    path = tmp_path / "model.npz"
    old = vp.Network([3, 4, 2], ["relu", "softmax"], "cross_entropy", seed=1)
    vp.save(old, path)
    before = path.read_bytes()
    if where == "fsync":
        monkeypatch.setattr(os, "fsync", _enospc)
        write = lambda fh: fh.write(b"new content")  # noqa: E731
    else:
        def write(fh):
            fh.write(b"half of it")
            _enospc()
    with pytest.raises(OSError) as err:
        atomic_write(path, write)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(path)  # names the file
    assert path.read_bytes() == before and temps(tmp_path) == []


def test_enospc_in_the_log_cuts_back_the_half_line(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"epoch": 1}\n')

    class HalfFull:
        def __init__(self, fh):
            self.fh = fh

        def seek(self, *a):
            return self.fh.seek(*a)

        def fileno(self):
            return self.fh.fileno()

        def write(self, data):
            self.fh.write(bytes(data[: len(data) // 2]))
            self.fh.flush()
            _enospc()

    with open(log, "ab", buffering=0) as fh, pytest.raises(OSError) as err:
        append_line(HalfFull(fh), log, '{"epoch": 2, "cost": 0.5}\n')
    assert err.value.filename == str(log)
    assert log.read_text() == '{"epoch": 1}\n'


def test_devices_and_pipes_are_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for target in (fifo, link):
        with pytest.raises(ValueError, match="not a regular file"):
            vp.save(vp.Network([2, 2], ["softmax"], "cross_entropy"), target)
    assert fifo.is_fifo() and link.is_symlink() and temps(tmp_path) == []


def test_stale_temps_of_live_writers_are_kept(tmp_path):
    target = tmp_path / "m.npz"
    dead = tmp_path / f".m.npz.{2**22 + 12345}-0123abcd.tmp"  # no such pid on Linux (pid_max <= 2**22)
    live = tmp_path / f".m.npz.{os.getppid()}-0123abcd.tmp"  # the test runner's parent: alive
    other = tmp_path / ".n.npz.999999-0123abcd.tmp"  # another target's: not this write's business
    for p in (dead, live, other):
        p.write_bytes(b"x")
    vp.save(vp.Network([2, 2], ["softmax"], "cross_entropy"), target)
    assert not dead.exists() and live.exists() and other.exists()


TMPFS = """
set -e
mount -t tmpfs -o size=140k tmpfs "$1"
cd "$1"
set +e
"$2" -m vecprop train --data digits --epochs 3 --early-stopping 0 --no-plots -q --out run 2> "$3/err.txt"
echo "exit=$?" >> "$3/err.txt"
ls -a run > "$3/files.txt"
mount -o remount,size=20m "$1"
"$2" -m vecprop train --resume run -q > /dev/null 2> "$3/resume_err.txt"
echo "exit=$?" >> "$3/resume_err.txt"
cp run/model.npz "$3"/
"""


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                       capture_output=True, timeout=20)
    return r.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root and unshare to mount a private tmpfs "
                    "(the ENOSPC injection tests above cover the same code)")
def test_train_on_a_full_tmpfs_then_resume(tmp_path):
    """A real full disk: one error line saying what the run folder holds; --resume, once there is space,
    ends with the weights of a run that never hit the wall."""
    mnt, seen = tmp_path / "mnt", tmp_path / "seen"
    mnt.mkdir()
    seen.mkdir()
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", TMPFS, "tmpfs", str(mnt),
                        sys.executable, str(seen)], env=child_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    err = (seen / "err.txt").read_text()
    code = int(err.rsplit("exit=", 1)[1])
    assert_user_error(code, err.rsplit("exit=", 1)[0], "No space left on device", "--resume run", "no metrics.json")
    files = (seen / "files.txt").read_text().split()
    assert "metrics.json" not in files and not [f for f in files if f.endswith(".tmp")], files
    assert "exit=0" in (seen / "resume_err.txt").read_text(), (seen / "resume_err.txt").read_text()
    clean = tmp_path / "clean"
    c = subprocess.run([sys.executable, "-m", "vecprop", "train", "--data", "digits", "--epochs", "3",
                        "--early-stopping", "0", "--no-plots", "-q", "--out", str(clean)], env=child_env(),
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert c.returncode == 0, c.stderr
    assert np.array_equal(vp.load(seen / "model.npz").flat, vp.load(clean / "model.npz").flat)
