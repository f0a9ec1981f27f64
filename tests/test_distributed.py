"""Data-parallel training: mpiexec runs reproduce the single-process weights; a failing rank ends the job fast."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import vecprop
from vecprop import Network
from vecprop.distributed import DataParallel, abort_on_error, dropout_rng, launched_size, shard_bounds
from vecprop.training import fit

if importlib.util.find_spec("mpi4py") is None:
    pytest.skip("mpi4py is not installed: pip install 'vecprop[mpi]' (and the mpich wheel for mpiexec)",
                allow_module_level=True)

WORKER = Path(__file__).parent / "mpi" / "train_worker.py"
TOL = {"float64": 1e-12, "float32": 1e-5}  # float64 rounding of a few epochs; float32's epsilon ~1e-7


@pytest.fixture(scope="module")
def worker() -> ModuleType:
    """The worker script as a module: its ``train`` with comm=None is the single-process reference."""
    spec = importlib.util.spec_from_file_location("train_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mpiexec() -> str:
    """The mpiexec beside this Python (the mpich wheel installs it there) or on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.fail("mpi4py is installed but no mpiexec was found beside python or on PATH; pip install mpich")
    return found


def launch(mpiexec: str, n: int, out: Path, *args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """Run the worker on n ranks (hydra oversubscribes one machine as needed); return it and its wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "MPI_", "HYDRA_", "SLURM_"))}
    src = str(Path(vecprop.__file__).parent.parent)
    env.update(PYTHONPATH=os.pathsep.join([src, env.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([mpiexec, "-n", str(n), sys.executable, str(WORKER), str(out), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


def ranks(out: Path, n: int) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n)]


@pytest.mark.parametrize("case, n", [("float64", 2), ("float64", 3), ("float64_readable", 3), ("float32", 3),
                                     ("regression_l2", 2), ("weighted", 3)])
def test_ranks_match_one_process_on_the_same_global_batches(worker, mpiexec, tmp_path, case, n):
    net, record, records = worker.train(case, comm=None)
    proc, _ = launch(mpiexec, n, tmp_path, case)
    assert proc.returncode == 0, proc.stderr
    tol = TOL[net.dtype.name]
    assert len(records) < worker.EPOCHS, "the case should exercise early stopping; it ran every epoch"
    per_rank = ranks(tmp_path, n)
    for r, got in enumerate(per_rank):
        np.testing.assert_array_equal(got["flats"], per_rank[0]["flats"], err_msg=f"rank {r} drifted from rank 0")
        assert got["flats"].shape == (len(records), net.flat.size), f"rank {r} ran another number of epochs"
        np.testing.assert_allclose(got["flats"], np.stack(record.flats), rtol=tol, atol=tol,
                                   err_msg=f"rank {r}: weights after each epoch")
        np.testing.assert_allclose(got["flat"], net.flat, rtol=tol, atol=tol, err_msg=f"rank {r}: final weights")
        for key in (k for k in records[0] if k != "epoch"):
            np.testing.assert_allclose(got[key], [row[key] for row in records], rtol=tol, atol=tol,
                                       err_msg=f"rank {r}: history {key}")


def test_dropout_masks_differ_per_rank_while_weights_stay_identical(mpiexec, tmp_path):
    proc, _ = launch(mpiexec, 2, tmp_path, "dropout")
    assert proc.returncode == 0, proc.stderr
    r0, r1 = ranks(tmp_path, 2)
    assert r0["mask"].shape == r1["mask"].shape == (8, 8)  # n_1 = 8 units, half of a 16-example batch
    assert not np.array_equal(r0["mask"], r1["mask"]), "both ranks drew the same dropout mask"
    np.testing.assert_array_equal(r0["flats"], r1["flats"], err_msg="ranks drifted apart")


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_failing_rank_ends_the_whole_job_within_seconds(mpiexec, tmp_path, how):
    proc, _ = launch(mpiexec, 3, tmp_path, "float64", f"{how}:1", timeout=60)
    seconds = time.time() - float((tmp_path / "failed_at").read_text())
    assert proc.returncode != 0
    assert seconds < 5, f"the job took {seconds:.1f} s to end after rank 1 failed"
    assert not list(tmp_path.glob("rank*.npz")), "a rank finished training although rank 1 failed"
    if how == "raise":
        assert "[rank 1/3]" in proc.stderr and "deliberate failure on rank 1" in proc.stderr, proc.stderr


def test_a_world_size_that_does_not_fit_the_data_fails_clearly(mpiexec, tmp_path):
    proc, _ = launch(mpiexec, 3, tmp_path, "too_many_ranks", timeout=30)
    assert proc.returncode != 0
    assert "world size 3 does not fit the data: the last batch has 2 examples" in proc.stderr, proc.stderr


def test_ranks_that_disagree_on_the_shuffle_seed_all_fail(mpiexec, tmp_path):
    proc, seconds = launch(mpiexec, 2, tmp_path, "seed_per_rank", timeout=30)
    assert proc.returncode != 0 and seconds < 10
    assert "every rank must call fit with the same" in proc.stderr and "shuffle_rng_state" in proc.stderr, proc.stderr


class FakeComm:
    """Enough of a communicator for the checks each rank makes before any collective call."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size

    def Get_rank(self) -> int:
        return self.rank

    def Get_size(self) -> int:
        return self.size


class Aborted(Exception):
    """What FakeComm.Abort raises in place of ending the process."""


class AbortingComm(FakeComm):
    def Abort(self, errorcode: int = 0) -> None:
        raise Aborted(errorcode)


class UserMistake(Exception):
    code = 2


@pytest.mark.parametrize("error, brief, code, shown, with_traceback", [
    (RuntimeError("disk full"), (), 1, "RuntimeError: disk full", True),
    (UserMistake("no such file: x.csv"), (UserMistake,), 2, "no such file: x.csv", False),
    (SystemExit("bad flag"), (), 1, "exited: bad flag", False),
])
def test_abort_on_error_reports_the_rank_and_aborts(capsys, error, brief, code, shown, with_traceback):
    with pytest.raises(Aborted) as aborted, abort_on_error(AbortingComm(1, 3), brief=brief):
        raise error
    assert aborted.value.args == (code,)
    err = capsys.readouterr().err
    assert err.startswith("[rank 1/3] ") and shown in err, err
    assert ("Traceback" in err) == with_traceback


@pytest.mark.parametrize("comm, error", [(None, ValueError("plain run")), (AbortingComm(0, 2), SystemExit(0))])
def test_abort_on_error_lets_through_plain_runs_and_clean_exits(comm, error):
    with pytest.raises(type(error)), abort_on_error(comm):
        raise error


@pytest.mark.parametrize("m, batch_size, size, message", [
    (10, 4, 3, "the last batch has 2 examples"),
    (10, None, 11, "the batch has 10 examples"),
    (12, 2, 3, "the batch has 2 examples"),
])
def test_world_size_checked_before_any_collective_call(m, batch_size, size, message):
    net = Network([2, 1], ["identity"], seed=0)
    with pytest.raises(ValueError, match=message):
        DataParallel(FakeComm(0, size), net, np.random.default_rng(0), m=m, batch_size=batch_size, epochs=1,
                     shuffle=True, m_val=0)


def test_dropout_streams_differ_per_rank_and_epoch_and_depend_on_the_seed_alone():
    first = dropout_rng(np.random.default_rng(3), 0, 0).random(4)
    assert not np.array_equal(first, dropout_rng(np.random.default_rng(3), 1, 0).random(4)), "ranks share masks"
    assert not np.array_equal(first, dropout_rng(np.random.default_rng(3), 0, 1).random(4)), "epochs share masks"
    advanced = np.random.default_rng(3)
    advanced.permutation(100)  # a resumed run's shuffle generator has moved on; its masks must not
    np.testing.assert_array_equal(dropout_rng(advanced, 0, 0).random(4), first)


def test_lbfgs_refuses_a_communicator():
    net = Network([2, 1], ["identity"], seed=0)
    with pytest.raises(ValueError, match="L-BFGS"):
        fit(net, np.zeros((2, 4)), np.zeros((1, 4)), optimizer="lbfgs", comm=FakeComm(0, 2))


@pytest.mark.parametrize("environ, size", [
    ({}, 1), ({"PMI_SIZE": "4"}, 4), ({"OMPI_COMM_WORLD_SIZE": "2"}, 2),
    ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_NTASKS": "8"}, 8), ({"SLURM_NTASKS": "8"}, 1),
])
def test_launched_size_reads_the_launchers_environment(environ, size):
    assert launched_size(environ) == size


def test_a_plain_run_never_imports_mpi():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "MV2_", "SLURM_"))}
    code = "import sys, vecprop.distributed as d; print(d.world(), 'mpi4py' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert proc.stdout.split() == ["None", "False"], proc.stderr


@pytest.mark.parametrize("m, size", [(10, 3), (7, 7), (5, 8), (1000, 64)])
def test_shards_cover_the_rows_once_in_order_and_balanced(m, size):
    bounds = [shard_bounds(m, r, size) for r in range(size)]
    assert [lo for lo, _ in bounds] == [0] + [hi for _, hi in bounds[:-1]] and bounds[-1][1] == m
    lengths = [hi - lo for lo, hi in bounds]
    assert max(lengths) - min(lengths) <= 1
