"""Data-parallel training over MPI: who runs, which rows each rank reads, one Allreduce per step."""
from __future__ import annotations

import os
import sys
import traceback
import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Protocol

import numpy as np

from .inference import outputs

if TYPE_CHECKING:
    from .network import Network

# Set by the launchers before the program starts: MPICH/Intel MPI (hydra), Open MPI, MVAPICH, srun.
LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS")


class Comm(Protocol):
    """The part of an mpi4py communicator that training uses (``MPI.COMM_WORLD`` is one)."""

    def Get_rank(self) -> int: ...

    def Get_size(self) -> int: ...

    def Allreduce(self, sendbuf: Any, recvbuf: Any, op: Any = ...) -> None: ...

    def Allgatherv(self, sendbuf: Any, recvbuf: Any) -> None: ...

    def Bcast(self, buf: Any, root: int = 0) -> None: ...

    def Abort(self, errorcode: int = 0) -> None: ...


def launched_size(environ: dict[str, str] | None = None) -> int:
    """The number of processes the launcher started (1 when not launched by mpiexec or srun)."""
    environ = os.environ if environ is None else environ
    for var in LAUNCHER_SIZE_VARS:
        value = environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


def world() -> Comm | None:
    """``MPI.COMM_WORLD`` when running under ``mpiexec -n N`` (or ``srun``) with N > 1, else None.

    The launcher's environment is read first, so a plain run never imports mpi4py (nor
    initialises MPI). Pass the result to ``fit(..., comm=world())``.
    """
    if launched_size() <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(f"this process was started by an MPI launcher with {launched_size()} processes, "
                          "but mpi4py is not installed: pip install 'vecprop[mpi]'") from err
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def is_root(comm: Comm | None) -> bool:
    """True on the one process that logs, draws progress, writes plots, checkpoints and models."""
    return comm is None or comm.Get_rank() == 0


@contextmanager
def abort_on_error(comm: Comm | None, brief: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn an exception on any rank into the whole job's exit, with that rank's message.

    Without this a rank that raises leaves the others waiting forever in their next
    collective call. Here the failing rank writes ``[rank r/N]`` and its traceback to stderr
    and calls ``comm.Abort(1)``, which ends every process; ``mpiexec`` exits non-zero. For the
    exception types in ``brief`` (e.g. a CLI's user errors) it writes only the message and
    aborts with the exception's positive integer ``code`` attribute if it has one.
    ``SystemExit(0)`` passes; with ``comm=None`` everything passes through unchanged.
    """
    if comm is None:
        yield
        return
    try:
        yield
    except SystemExit as exc:
        if exc.code in (None, 0):
            raise
        _abort(comm, f"exited: {exc.code}\n", exc.code if isinstance(exc.code, int) else 1)
    except brief as exc:
        code = getattr(exc, "code", 1)
        _abort(comm, f"{exc}\n", code if isinstance(code, int) and code > 0 else 1)
    except BaseException:  # noqa: BLE001 - KeyboardInterrupt must end the job too
        _abort(comm, traceback.format_exc(), 1)


def _abort(comm: Comm, message: str, code: int) -> None:
    sys.stderr.write(f"[rank {comm.Get_rank()}/{comm.Get_size()}] {message}")
    sys.stderr.flush()
    comm.Abort(code)
    os._exit(code)  # MPICH's Abort can return before the launcher ends this process: never run on


def shard_bounds(m: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``lo:hi`` of rank ``rank`` out of ``size``: contiguous, sizes differing by at most one.

    >>> [shard_bounds(10, r, 3) for r in range(3)]
    [(0, 3), (3, 6), (6, 10)]
    """
    if not 0 <= rank < size:
        raise ValueError(f"rank must be in [0, size={size}); got {rank}")
    return rank * m // size, (rank + 1) * m // size


def dropout_rng(rng: np.random.Generator, rank: int, epoch: int) -> np.random.Generator:
    """Rank ``rank``'s dropout generator for ``epoch``, derived from the seed of the shared ``rng``.

    Independent per rank and per epoch, and a function of the seed alone (not of ``rng``'s
    current state), so a run resumed at any epoch draws the same masks without saving them.
    """
    bits = rng.bit_generator
    seed_seq = bits.seed_seq if hasattr(bits, "seed_seq") else bits._seed_seq  # public from numpy 1.25
    return np.random.default_rng([*seed_seq.generate_state(4), rank, epoch])


class DataParallel:
    """``fit(..., comm=...)``'s processes: the hooks of ``training.OneProcess`` for N of them.

    The global batches are the single-process ones: every rank draws the same permutation from
    the shared seed and computes a contiguous slice of each batch (``shard``), dividing by the
    global batch's m (its size, or its total weight), which every rank knows. One Allreduce
    per step then sums the ranks' shares of the cost and the gradient (``reduce``).

    Parameters
    ----------
    comm : the communicator; every rank must call ``fit`` with the same arguments.
    net : the network; rank 0's weights are broadcast to all ranks here.
    rng : fit's generator, which shuffles; it must be in the same state on every rank.
    m, batch_size, epochs, shuffle, m_val : fit's arguments (m_val = 0 without validation).
    sample_weight : fit's checked weights (m,) or None.
    """

    def __init__(self, comm: Comm, net: "Network", rng: np.random.Generator, *, m: int,
                 batch_size: int | None, epochs: int, shuffle: bool, m_val: int,
                 sample_weight: np.ndarray | None = None) -> None:
        self.comm, self.rank, self.size, self.rng = comm, comm.Get_rank(), comm.Get_size(), rng
        B = m if batch_size is None else min(batch_size, m)
        smallest = m % B or B
        if smallest < self.size:
            which = "last batch" if smallest < B else "batch"
            raise ValueError(f"world size {self.size} does not fit the data: the {which} has {smallest} examples "
                             f"(m={m}, batch_size={batch_size}) and every rank needs at least one; run at most "
                             f"{smallest} ranks or choose a batch_size whose last batch has >= {self.size} examples")
        from mpi4py import MPI  # after the checks every rank makes alone

        self.MPI = MPI
        weights = 0 if sample_weight is None else zlib.crc32(np.ascontiguousarray(sample_weight).tobytes()) + 1
        self._check_same_everywhere(m=m, batch_size=batch_size or 0, epochs=epochs, shuffle=int(shuffle),
                                    m_val=m_val, n_params=net.flat.size, itemsize=net.flat.itemsize,
                                    shuffle_rng_state=zlib.crc32(repr(rng.bit_generator.state).encode()),
                                    sample_weight=weights)
        comm.Bcast(net.flat, root=0)  # identical starting weights
        self.n = net.flat.size
        # [this rank's share of the gradient | of the cost | its correct count]: one buffer, one Allreduce.
        self._buf = np.empty(self.n + 2, dtype=net.dtype)
        self.grad = self._buf[: self.n]  # fit's gradient buffer is this view: no copy in or out

    def _check_same_everywhere(self, **values: int) -> None:
        """Raise on every rank (never on some only: that would hang) when ranks disagree."""
        v = np.array(list(values.values()), dtype=np.int64)
        both = np.concatenate([v, -v])
        self.comm.Allreduce(self.MPI.IN_PLACE, both, op=self.MPI.MAX)
        hi, lo = both[: len(v)], -both[len(v):]
        bad = [f"{k} ranges over [{a}, {b}]" for k, a, b in zip(values, lo, hi) if a != b]
        if bad:
            raise ValueError(f"every rank must call fit with the same data sizes and arguments; {'; '.join(bad)}")

    def dropout_rng(self, epoch: int) -> np.random.Generator:
        """This rank's dropout stream for ``epoch`` (see the module function)."""
        return dropout_rng(self.rng, self.rank, epoch)

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This rank's contiguous slice of a global batch's indices."""
        lo, hi = shard_bounds(len(idx), self.rank, self.size)
        return idx[lo:hi]

    def reduce(self, J: float, grad: np.ndarray, n_correct: float) -> tuple[float, float]:
        """Sum the ranks' shares: ``grad`` (``self.grad``) in place; return the cost and the correct count.

        Each rank divided its sums in (2), (A) and (B) by the global batch's m and added 1/size
        of the L2 term, so the sum over ranks is the single-process batch's J and gradient.
        """
        assert grad is self.grad, "fit's gradient must be DataParallel.grad (a view of the Allreduce buffer)"
        buf = self._buf
        buf[self.n], buf[self.n + 1] = J, n_correct
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return float(buf[self.n]), float(buf[self.n + 1])

    def outputs(self, net: "Network", X: np.ndarray, Y: np.ndarray | None = None, w: np.ndarray | None = None,
                chunk: int | None = None) -> tuple[np.ndarray, float]:
        """``inference.outputs`` for all of X: each rank runs its block of columns; all receive all."""
        m, n_L = X.shape[1], net.sizes[-1]
        lo, hi = shard_bounds(m, self.rank, self.size)
        block = slice(lo, hi)
        A_block, total = outputs(net, X[:, block], None if Y is None else Y[:, block],
                                 None if w is None else w[block], chunk)
        counts = [(b - a) * n_L for a, b in (shard_bounds(m, r, self.size) for r in range(self.size))]
        gathered = np.empty((m, n_L), dtype=net.dtype)
        self.comm.Allgatherv(np.ascontiguousarray(A_block.T), [gathered, counts])
        if Y is not None:
            summed = np.array([total])
            self.comm.Allreduce(self.MPI.IN_PLACE, summed, op=self.MPI.SUM)
            total = float(summed[0])
        return gathered.T, total

    def agree(self, stop: bool) -> bool:
        """Rank 0's stop decision, for every rank (its callbacks are the ones that must be obeyed)."""
        flag = np.array([stop], dtype=np.int8)
        self.comm.Bcast(flag, root=0)
        return bool(flag[0])

    def finish(self, net: "Network") -> None:
        """End of training: every rank takes rank 0's weights (e.g. restored by EarlyStopping)."""
        self.comm.Bcast(net.flat, root=0)
