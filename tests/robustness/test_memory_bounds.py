"""Memory bombs under ``ulimit -v`` (RLIMIT_AS in a child): sizes are estimated and refused, streams read with a bound.

Without the guards each case below ends in a MemoryError traceback (or, without the limit, in
minutes of swapping): a layer of a billion units, a TOML hidden = [10**17], two billion generated
rows, a gradient check of a billion examples, a gzipped IDX file that inflates to a gigabyte, a
CSV file too large to parse into cells.
"""
from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

from bombs import gzip_bomb, npy_header, zip_bomb
from robust_helpers import GiB, assert_user_error, child_env, limit_memory, run_cli_batch

LIMIT = 1 * GiB  # the child's address space: vecprop and numpy need ~0.3 GiB of it
TRAIN = ["train", "-q", "--no-plots", "--epochs", "1"]
CASES = [  # (id, argv, needles)
    ("hidden-1e9", TRAIN + ["--data", "digits", "--hidden", "1000000000", "--out", "r1"],
     ["--hidden", "Theta[1] would need 238.4 GiB (1,000,000,000 x 64 numbers in float32)", "of memory is available"]),
    ("toml-hidden-1e17", TRAIN + ["--data", "xor", "--config", "huge.toml", "--out", "r2"],
     ["Theta[1] would need 710.5 PiB"]),
    ("two-layers-1e5", TRAIN + ["--data", "xor", "--hidden", "100000,100000", "--out", "r3"],
     ["Theta[2] would need 37.3 GiB (100,000 x 100,000"]),
    ("n-samples-2e9", TRAIN + ["--data", "moons", "--n-samples", "2000000000", "--out", "r4"],
     ["n_samples=2,000,000,000", "would need"]),
    ("batch-times-hidden", TRAIN + ["--data", "digits", "--hidden", "30000,30000", "--batch-size", "0",
                                    "--out", "r5"], ["Theta[2] would need 3.4 GiB"]),
    ("gradcheck-batch-1e9", ["gradcheck", "--batch", "1000000000"], ["--batch", "would need", "1,000,000,000"]),
    ("gradcheck-layers", ["gradcheck", "--layers", "4,200000,3", "--batch", "100000"], ["would need"]),
    ("idx-gzip-header-bomb", TRAIN + ["--data", "claims/train-images-idx3-ubyte.gz", "--out", "r6"],
     ["(100000, 200, 200) of uint8 would need 3.7 GiB", "is the header right?"]),
    ("idx-gzip-trailing-bomb", TRAIN + ["--data", "trailing/train-images-idx3-ubyte.gz", "--out", "r7"],
     ["trailing bytes", "need 40 bytes", "found more than 40"]),
    ("npz-deflate-bomb", TRAIN + ["--data", "bomb.npz", "--out", "r8"], ["bomb.npz", "array 'X'", "would need"]),
    ("npz-lying-header", TRAIN + ["--data", "lying.npz", "--out", "r9"], ["lying.npz", "only", "truncated"]),
    ("predict-npy-claims", ["predict", "model.npz", "claims.npy"], ["claims.npy", "truncated"]),
    ("csv-too-big-to-parse", TRAIN + ["--data", "big.csv", "--out", "r10"], ["big.csv", "60,000,006 bytes", ".npy"]),
]


def _idx_labels(n: int) -> bytes:
    import gzip

    return gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", n) + bytes(i % 2 for i in range(n)))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    d = tmp_path_factory.mktemp("bombs")
    (d / "huge.toml").write_text("[model]\nhidden = [100000000000000000]\n")
    for folder, dims, zeros in (("claims", (100000, 200, 200), 16 * 2**20), ("trailing", (10, 2, 2), GiB)):
        (d / folder).mkdir()
        head = b"\0\0\x08\x03" + b"".join(struct.pack(">I", n) for n in dims)
        (d / folder / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb(head + bytes(40 * (folder == "trailing")),
                                                                          zeros))
        (d / folder / "train-labels-idx1-ubyte.gz").write_bytes(_idx_labels(dims[0]))
    n = 768 * 2**20  # a deflated X of 768 MiB zeros in 0.7 MB; float64 twice over does not fit in LIMIT
    (d / "bomb.npz").write_bytes(zip_bomb("X.npy", npy_header((n // 8 // 4, 4)), n))
    (d / "lying.npz").write_bytes(zip_bomb("X.npy", npy_header((10**9, 10**3)), 16 * 2**20))
    (d / "big.csv").write_bytes(b"a,b,y\n" + b"1,2,0\n" * 10_000_000)  # 60 MB: ~1.2 GB of cells once parsed
    with open(d / "claims.npy", "wb") as fh:
        fh.write(npy_header((10**9, 10**4)) + bytes(64))
    import vecprop as vp

    vp.Model(vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy"), scaler="none").save(d / "model.npz")
    results = run_cli_batch([argv for _, argv, _ in CASES], d, memory=LIMIT)
    return {case_id: r for (case_id, _, _), r in zip(CASES, results)}, results[-1]["peak_kib"]


@pytest.mark.parametrize("case_id, argv, needles", CASES, ids=[c[0] for c in CASES])
def test_refused_with_the_estimate(outcome, case_id, argv, needles):
    results, _ = outcome
    assert_user_error(results[case_id]["code"], results[case_id]["stderr"], *needles)


def test_the_bombs_were_never_inflated(outcome):
    """The whole batch (a gigabyte-sized gzip stream among them) peaks far below what inflating would take."""
    _, peak_kib = outcome
    assert 0 < peak_kib * 1024 < 0.6 * GiB, f"peak {peak_kib / 1024:.0f} MiB"  # Linux reports KiB


def test_python_api_refuses_absurd_sizes_with_a_value_error():
    """Network(sizes) in a limited child: a ValueError with the estimate, never a MemoryError."""
    code = ("import vecprop as vp\n"
            "for sizes in ([784, 10**9, 10], [2, 10**17, 2], [2, 2**70, 2]):\n"
            "    try:\n"
            "        vp.Network(sizes, ['relu', 'softmax'], 'cross_entropy')\n"
            "    except ValueError as e:\n"
            "        print(type(e).__name__, e)\n")
    r = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60,
                       preexec_fn=limit_memory(LIMIT))
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 3, r.stderr
    assert lines[0].startswith("TooBig Theta[1] would need 2.9 TiB (1,000,000,000 x 784 numbers in float32);")
    assert "100,000,000,000,000,000 x 2" in lines[1] and "PiB" in lines[1]
    assert "EiB" in lines[2]


def test_estimates_follow_the_limit():
    """What is 'available' is the smaller of free memory and what ulimit -v leaves."""
    code = ("from vecprop._memory import available_bytes\nprint(available_bytes())")
    r = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60,
                       preexec_fn=limit_memory(LIMIT))
    assert 0 < int(r.stdout) < LIMIT, r.stdout + r.stderr
    assert np.dtype("float32").itemsize == 4  # the estimates above assume it
