"""Size guards: estimate the bytes a user-given size needs before allocating, and refuse with the estimate."""
from __future__ import annotations

import os

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]


class TooBig(ValueError):
    """A size (a layer, a batch, a data set) that would need more memory than this machine has to give.

    A ValueError, so that every boundary that reports bad values reports it; the message carries
    the estimate, what is available, and what to change.
    """


def nbytes_text(n: float) -> str:
    """Bytes in binary units with two significant figures at least: 3.2e12 -> '2.9 TiB'."""
    for factor, unit in ((2**60, "EiB"), (2**50, "PiB"), (2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"),
                         (2**10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{int(n)} B"


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems: free physical pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    """What RLIMIT_AS (``ulimit -v``) still allows this process to map, when it is set."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            used = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:")), 0)
    except (OSError, ValueError, IndexError):
        pass
    return max(soft - used, 0)


def available_bytes() -> int | None:
    """Memory a new allocation can get: the system's available memory, or less under ``ulimit -v``;
    None when neither can be read (then no size is refused)."""
    known = [n for n in (_meminfo_available(), _address_space_left()) if n is not None]
    return min(known) if known else None


def check_fits(nbytes: float, what: str, fix: str = "", detail: str = "") -> None:
    """Raise ``TooBig`` when ``nbytes`` exceed the memory available now.

    ``what`` says what would need them ("Theta[1]"), ``detail`` how that size comes about
    ("(1000000000, 784) numbers in float32"), ``fix`` what to change ("use a smaller --hidden").
    Sizes are checked before anything is allocated, so the message comes instead of a
    MemoryError, or of a machine that swaps for minutes.
    """
    available = available_bytes()
    if available is not None and nbytes > available:
        raise TooBig(f"{what} would need {nbytes_text(nbytes)}{f' ({detail})' if detail else ''}; "
                     f"{nbytes_text(available)} of memory is available" + (f": {fix}" if fix else ""))


def check_network_fits(sizes: tuple[int, ...], itemsize: int, dtype: str,
                       fix: str = "use smaller layer sizes") -> None:
    """A network's parameters (the flat buffer, plus the largest Theta drawn in float64 by its
    initialiser) must fit; the largest Theta is named when it alone does not."""
    shapes = [(n_l, n_prev) for n_prev, n_l in zip(sizes, sizes[1:])]
    l, (n_l, n_prev) = max(enumerate(shapes, start=1), key=lambda s: s[1][0] * s[1][1])
    n_params = sum(n_l * (n_prev + 1) for n_l, n_prev in shapes)
    check_fits(n_l * n_prev * itemsize, f"Theta[{l}]", fix, f"{n_l:,} x {n_prev:,} numbers in {dtype}")
    check_fits(n_params * itemsize + n_l * n_prev * 8, f"the network {list(sizes)}", fix,
               f"{n_params:,} parameters in {dtype}, and Theta[{l}] drawn in float64")


def training_bytes(sizes: tuple[int, ...], m: int, batch: int, itemsize: int) -> int:
    """A generous estimate of training's peak: parameters about 6 times over (weights, gradient, the
    step's backup, two optimizer moments, a checkpoint copy), each batch's matrices 4 times over
    (Z, A, dZ, dA of every layer) and the training data twice (rows and columns)."""
    n_params = sum(n_l * (n_prev + 1) for n_prev, n_l in zip(sizes, sizes[1:]))
    return itemsize * (6 * n_params + 4 * batch * sum(sizes) + 2 * m * (sizes[0] + sizes[-1]))
