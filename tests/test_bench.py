"""``make bench``'s script runs end to end (quick mode, toy sizes) and rewrites only its own section."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin: make bench -->", "<!-- end: make bench -->"


def test_bench_speed_quick_run_writes_the_tables_between_its_markers(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = tmp_path / "benchmarks.md"
    before = f"# Benchmarks\n\nText before, quoting the markers `{BEGIN}` and `{END}` in prose.\n\n"
    out.write_text(f"{before}{BEGIN}\nold results\n{END}\n\n## Sparse input\n\nText after.\n")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_speed.py"), "--quick", "--tiny", "--configs", "tiny",
           "--matrix", "regression-tanh-l2-f64", "--contenders", "vecprop", "torch", "gemm-bound", "--settle", "0",
           "--out", str(out), "--chart", str(tmp_path / "chart.png")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert text.startswith(before + BEGIN + "\n## Results (generated)")
    assert text.endswith(END + "\n\n## Sparse input\n\nText after.\n")
    assert "old results" not in text and text.count(BEGIN) == 2  # the marker and its quote
    for heading in ("### Goals", "### The limit", "### The matrix", "### Throughput"):
        assert heading in text, heading
    goals = text[text.index("### Goals"):text.index("### Throughput")]
    for goal in ("1. training >= 1.2x PyTorch", "2. tiny", "4. inference >= 1.2x PyTorch",
                 "4. inference >= 1.2x scikit-learn float32", "5. peak RSS"):
        assert goal in goals, goal
    matrix = text[text.index("### The matrix"):]
    row = next(line for line in matrix.splitlines() if line.startswith("| regression-tanh-l2-f64 |"))
    assert "`12-12-12-3`" in row and "float64" in row and "x (" in row  # a speed-up with its spread
    assert "memory bandwidth" in text.lower() and "GB/s" in text
