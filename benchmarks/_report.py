"""The benchmark's markdown section and PNG chart: throughput, speed-ups, the matrix, the limit, the goals."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from _goals import (flops_per_example, goal_rows, limit_fraction, limit_ms, n_params, optimizer_ms, rate, speedup,
                    spread, step_ms)

BEGIN, END = "<!-- begin: make bench -->", "<!-- end: make bench -->"
OLD_MARKERS = ("<!-- bench_speed:begin -->", "<!-- bench_speed:end -->")  # before issue 16: replaced in place
RIVALS = ("torch", "torch-1thread", "torch-compile", "sklearn-f32", "sklearn-f64", "vecprop-readable")  # on the chart


def _fmt(x: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "—" if x is None else f"{x:{spec}}{suffix}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def throughput_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for res in results:
        cfg = res["config"]
        for label, r in res["contenders"].items():
            if label == "gemm-bound":
                continue
            cells = [f"{cfg['name']} `{'-'.join(map(str, cfg['sizes']))}` b{cfg['batch']}", label]
            for what in ("sgd", "adam", "predict"):
                cells.append(_fmt(r.get("rate", {}).get(what)))
                cells.append("" if label == "vecprop" else _fmt(speedup(res, label, what), ".2f", "x"))
            cells.append(_fmt(r.get("peak_rss_mb")) + f" ({_fmt(r.get('import_rss_mb'))})")
            note = r.get("error") or next((r[k]["note"] for k in ("sgd", "adam") if r.get(k, {}).get("note")), "")
            cells.append(note)
            rows.append(cells)
    return _table(["configuration", "contender", "SGD ex/s", "vecprop ×", "Adam ex/s", "vecprop ×",
                   "predict ex/s", "vecprop ×", "peak RSS MiB (after imports)", "note"], rows)


def limit_table(results: list[dict[str, Any]], bandwidth: float | None) -> list[str]:
    rows = []
    for res in results:
        cfg = res["config"]
        f = flops_per_example(cfg["sizes"])
        gemm = step_ms(res, "gemm-bound", "sgd")
        cells = [cfg["name"], f"{n_params(cfg['sizes']):,}", _fmt(gemm, ".2f"),
                 _fmt(gemm and f * cfg["batch"] / gemm / 1e6, ".0f")]
        for opt in ("sgd", "adam"):
            cells += [_fmt(optimizer_ms(res, opt, bandwidth), ".3f"), _fmt(limit_ms(res, opt, bandwidth), ".2f"),
                      _fmt(step_ms(res, "vecprop", opt), ".2f"),
                      f"{_fmt(limit_fraction(res, opt, bandwidth), '.2f')} "
                      f"({_fmt(limit_fraction(res, opt, bandwidth, best=True), '.2f')})"]
        rows.append(cells)
    return _table(["configuration", "parameters", "GEMM-only step ms", "GEMM GFLOP/s", "SGD traffic ms", "SGD limit ms",
                   "vecprop SGD ms", "limit / step (best epochs)", "Adam traffic ms", "Adam limit ms",
                   "vecprop Adam ms", "limit / step (best epochs)"], rows)


def matrix_table(matrix: list[dict[str, Any]]) -> list[str]:
    rows = []
    for res in matrix:
        cfg, opt = res["config"], res["optimizer"]
        extras = [f"dropout {cfg['dropout']}" if cfg.get("dropout") else "", f"L2 {cfg['l2']}" if cfg.get("l2") else "",
                  "regression" if cfg.get("task") == "regress" else "", cfg.get("dtype", "") if cfg.get("dtype") == "float64"
                  else ""]
        mine, torch = res["contenders"].get("vecprop", {}), res["contenders"].get("torch", {})
        notes = "; ".join(str(r.get("error") or r.get("predict", {}).get("note") or "")
                          for k, r in res["contenders"].items() if r.get("error") or r.get("predict", {}).get("note"))
        rows.append([cfg["name"], f"`{'-'.join(map(str, cfg['sizes']))}`", str(cfg["batch"]), cfg.get("activation", "relu"),
                     ", ".join(e for e in extras if e) or "—", opt, _fmt(step_ms(res, "vecprop", opt), ".3f"),
                     _fmt(step_ms(res, "torch", opt), ".3f"), _speed(res, "torch", opt), _fmt(rate(res, "vecprop", "predict")),
                     _speed(res, "torch", "predict"), _speed(res, "sklearn", "predict"),
                     f"{_fmt(mine.get('peak_rss_mb'))} / {_fmt(torch.get('peak_rss_mb'))}", notes])
    return _table(["configuration", "network", "batch", "hidden", "extras", "optimizer", "vecprop step ms",
                   "PyTorch step ms", "training ×", "predict ex/s", "× PyTorch", "× scikit-learn", "peak RSS MiB "
                   "vecprop / PyTorch", "note"], rows)


def _speed(res: dict[str, Any], rival: str, what: str) -> str:
    """vecprop's speed-up over ``rival`` with the range of the per-round ratios."""
    up, lohi = speedup(res, rival, what), spread(res, rival, what)
    return "—" if up is None else f"{up:.2f}x" + (f" ({lohi[0]:.2f}–{lohi[1]:.2f})" if lohi else "")


def machine_lines(meta: dict[str, Any]) -> list[str]:
    m = meta["machine"]
    lines = [f"- Date: {meta['date']}; wall time {meta['wall_s']:.0f} s; load average (1, 5, 15 min) "
             f"before {meta['load_before']}, after {meta['load_after']} (the machine is shared: quote ratios).",
             f"- Command: `{meta['command']}`",
             f"- CPU: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable); {m['platform']}",
             f"- Python {m.get('python')}, numpy {m.get('numpy')}, torch {m.get('torch')}, "
             f"scikit-learn {m.get('sklearn')}, scipy {m.get('scipy')}, threadpoolctl {m.get('threadpoolctl')}",
             f"- BLAS/OpenMP environment variables: {m['env'] or 'none set'}"]
    probe = meta["blas_probe"]
    as_is, unset = probe["as_is"], probe["unset"]
    if probe["set"]:
        lines.append(f"- OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set ({probe['set']}): numpy's 1024² float32 GEMM "
                     f"runs kernel {as_is.get('kernel')} at {_fmt(as_is.get('gflops'), '.1f')} GFLOP/s as is, kernel "
                     f"{unset.get('kernel')} at {_fmt(unset.get('gflops'), '.1f')} GFLOP/s with both unset. "
                     f"The benchmark ran as is.")
    else:
        lines.append(f"- OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are not set: OpenBLAS picks its kernel itself "
                     f"({as_is.get('kernel')}; 1024² float32 GEMM {_fmt(as_is.get('gflops'), '.1f')} GFLOP/s).")
    bw = meta.get("bandwidth", {})
    kernels = ", ".join(f"{k} {v:.1f}" for k, v in bw.get("kernels", {}).items())
    lines.append(f"- Memory bandwidth (STREAM-style, float32 arrays of {_fmt(bw.get('array_mib'))} MiB, best of 5, "
                 f"GB/s): {kernels or bw.get('error', 'not measured')}; the limit below uses the best, "
                 f"{_fmt(bw.get('best'), '.1f')} GB/s.")
    lines.append("- Thread pools with numpy, scikit-learn (and so scipy) and torch loaded in one process "
                 "(`threadpoolctl.threadpool_info()`); each contender ran in its own process:")
    pools = m.get("threadpools")
    for p in pools if isinstance(pools, list) else []:
        lines.append(f"  - {_pool(p)}: `{os.path.basename(p.get('filepath', ''))}`")
    seen: dict[str, str] = {}
    for res in meta.get("results", []):
        for label, r in res["contenders"].items():
            if isinstance(r.get("threadpools"), list) and label not in seen:
                seen[label] = "; ".join(_pool(p) for p in r["threadpools"]) or "none visible"
    if seen:
        lines.append("- Thread pools in each contender's own process: "
                     + " | ".join(f"{k}: {v}" for k, v in seen.items()))
    return lines


def _pool(p: dict[str, Any]) -> str:
    kernel = f", kernel {p['architecture']}" if p.get("architecture") else ""
    return f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('user_api')}), {p.get('num_threads')} threads{kernel}"


def compile_lines(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for res in results:
        r = res["contenders"].get("torch-compile")
        if r is None:
            continue
        warm = [r.get(o, {}).get("warmup") for o in ("sgd", "adam")]
        note = r.get("error") or r.get("sgd", {}).get("note")
        out.append(f"- {res['config']['name']}: first epoch (compiling) SGD {_fmt(warm[0], '.1f')} s, "
                   f"Adam {_fmt(warm[1], '.1f')} s" + (f"; {note}" if note else ""))
    return out


def render(results: list[dict[str, Any]], matrix: list[dict[str, Any]], meta: dict[str, Any], chart: Path,
           out: Path) -> str:
    meta = {**meta, "results": results + matrix}
    bandwidth = meta.get("bandwidth", {}).get("best")
    cfg_lines = [f"- {r['config']['name']}: `{'-'.join(map(str, r['config']['sizes']))}`, batch "
                 f"{r['config']['batch']}, {r['config']['steps']} steps per epoch, {r['config']['rounds']} timed "
                 f"epochs after one warm-up per contender and optimizer; predict on {r['config']['predict_m']} examples"
                 for r in results]
    if matrix:
        c = matrix[0]["config"]
        cfg_lines.append(f"- the matrix: {len(matrix)} configurations, {c['rounds']} timed epochs each after one "
                         f"warm-up; predict on {c['predict_m']} examples")
    rel = os.path.relpath(chart, out.parent)
    parts = [BEGIN, "## Results (generated)", "",
             "*This section is rewritten by `make bench` (`benchmarks/bench_speed.py`); edit the text around it "
             "instead.*", "",
             "### Machine and run", *machine_lines(meta), "", "### Configurations", *cfg_lines, "",
             "### Goals",
             "Each goal is judged on the worst configuration it covers (median epochs; in parentheses the lowest "
             "and highest per-round ratio: each round timed both contenders back to back).", "",
             *_table(["goal", "measured (speed-up, or fraction)", "verdict"], goal_rows(results, matrix, bandwidth)), "",
             "### Throughput (training examples per second, medians) and vecprop's speed-up",
             "`vecprop ×` is vecprop's throughput divided by the contender's: above 1, vecprop is faster.", "",
             *throughput_table(results), "", f"![vecprop's speed-up over each contender]({rel})", "",
             "### The limit: the step's matrix products and the optimizer's memory traffic",
             "`GEMM-only` times the three products per layer (minus dA[0]) of one step with numpy's BLAS, in the "
             "same run; `traffic` is what the optimizer must read and write once per step (SGD: weights, gradient, "
             "weights; Adam: weights, gradient, two moments read, weights and two moments written) at the measured "
             "stream bandwidth; the limit is their sum. `limit / step` = limit / vecprop's step time.", "",
             *limit_table(results, bandwidth), "",
             "### The matrix: configurations a user may pick, against PyTorch (2 threads)",
             "Training: the row's optimizer, one epoch per timing; `training ×` is vecprop's speed-up over PyTorch "
             "(median, and the range of per-round ratios). Inference: probabilities (regression: outputs) for a batch "
             "of rows; scikit-learn in the row's dtype, where it has the activation.", "",
             *matrix_table(matrix), "",
             *(["### torch.compile", *compile_lines(results), ""] if compile_lines(results) else []), END]
    return "\n".join(parts) + "\n"


def write_report(results: list[dict[str, Any]], matrix: list[dict[str, Any]], meta: dict[str, Any], out: Path,
                 chart: Path) -> None:
    """Replace the generated section of ``out`` (or append it); the text around it is kept.

    The section runs from a line that is exactly the begin marker to a line that is exactly the
    end marker (the markers quoted in prose do not count); a file with more than one such pair,
    or half of one, is refused rather than guessed at.
    """
    section = render(results, matrix, meta, chart, out)
    old = out.read_text() if out.exists() else "# Benchmarks\n\n"
    for begin, end in ((BEGIN, END), OLD_MARKERS):
        starts = [m.start() for m in re.finditer(rf"^{re.escape(begin)}$", old, re.M)]
        ends = [m.end() for m in re.finditer(rf"^{re.escape(end)}\n?", old, re.M)]
        if len(starts) > 1 or len(ends) > 1 or len(starts) != len(ends) or (starts and ends[0] < starts[0]):
            raise ValueError(f"{out}: expected one line {begin!r} followed by one line {end!r}; "
                             f"found {len(starts)} and {len(ends)}")
        if starts:
            new = old[: starts[0]] + section + old[ends[0]:]
            break
    else:
        new = old.rstrip("\n") + "\n\n" + section
    _atomic_write(out, new.encode())


def write_between(path: Path, begin: str, end: str, text: str) -> None:
    """Replace what lies between the markers ``begin`` and ``end`` in ``path`` (atomically); the rest stays."""
    page = path.read_text(encoding="utf-8")
    if begin not in page or end not in page:
        raise SystemExit(f"{path} has no {begin} ... {end} markers: add them where the table goes")
    head, rest = page.split(begin, 1)
    _atomic_write(path, f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}".encode())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_chart(results: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars of vecprop's speed-up over each rival, per configuration; one panel per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rivals = [r for r in RIVALS if any(r in res["contenders"] for res in results)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    width = 0.8 / max(1, len(rivals))
    for ax, what in zip(axes, ("sgd", "adam", "predict")):
        for i, rival in enumerate(rivals):
            vals = [speedup(res, rival, what) or 0.0 for res in results]
            xs = [j + (i - (len(rivals) - 1) / 2) * width for j in range(len(results))]
            bars = ax.bar(xs, vals, width, label=rival)
            for x, v in zip(xs, vals):
                if v:
                    ax.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=7)
            del bars
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(results)), [res["config"]["name"] for res in results])
        ax.set_yscale("log")
        ax.set_title({"sgd": "training, SGD", "adam": "training, Adam", "predict": "inference"}[what])
    axes[0].set_ylabel("vecprop throughput / contender's (log scale)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


__all__ = ["render", "write_report", "write_chart"]
