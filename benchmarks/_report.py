"""The benchmark's markdown section and PNG chart: throughput, speed-ups, the GEMM limit, the goals."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

BEGIN, END = "<!-- bench_speed:begin -->", "<!-- bench_speed:end -->"
RIVALS = ("torch", "torch-1thread", "torch-compile", "sklearn-f32", "sklearn-f64", "vecprop-readable")  # on the chart
# (what, rival, configs, minimum speed-up of vecprop over the rival)
GOALS: list[tuple[str, str, tuple[str, ...], float]] = [
    ("training >= PyTorch CPU on every configuration", "torch", ("tiny", "mnist", "large", "xlarge"), 1.0),
    (">= 5x PyTorch on tiny", "torch", ("tiny",), 5.0),
    (">= 1.5x PyTorch on MNIST-size", "torch", ("mnist",), 1.5),
    (">= 2.5x scikit-learn (float32) on tiny", "sklearn-f32", ("tiny",), 2.5),
    (">= 1.6x scikit-learn (float32) on MNIST-size", "sklearn-f32", ("mnist",), 1.6),
    (">= 1.2x scikit-learn (float32) on large", "sklearn-f32", ("large",), 1.2),
    (">= 2x scikit-learn (float64) everywhere", "sklearn-f64", ("tiny", "mnist", "large", "xlarge"), 2.0),
]
BOUND_GOALS = {"mnist": 0.8, "large": 0.9, "xlarge": 0.9}  # step time within 1/x of the GEMM-only bound


def flops_per_example(sizes: list[int]) -> int:
    """About 6 sum_l n_l n_{l-1}: three products per layer (forward, (A), (D)), 2 FLOPs per multiply-add."""
    return 6 * sum(n * p for p, n in zip(sizes, sizes[1:]))


def _rate(result: dict[str, Any], label: str, what: str, best: bool = False) -> float | None:
    return result["contenders"].get(label, {}).get("best_rate" if best else "rate", {}).get(what)


def speedup(result: dict[str, Any], rival: str, what: str) -> float | None:
    """vecprop's throughput over the rival's (> 1: vecprop is faster)."""
    mine, theirs = _rate(result, "vecprop", what), _rate(result, rival, what)
    return mine / theirs if mine and theirs else None


def bound_fraction(result: dict[str, Any], opt: str, best: bool = False) -> float | None:
    """GEMM-only step time / vecprop step time: 1.0 means vecprop does nothing but the products.

    From the median epochs, or with ``best`` from each one's fastest epoch (noise only adds time).
    """
    bound, mine = _rate(result, "gemm-bound", opt, best), _rate(result, "vecprop", opt, best)
    return bound and mine and mine / bound


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


def limit_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for res in results:
        cfg = res["config"]
        f = flops_per_example(cfg["sizes"])
        bound = _rate(res, "gemm-bound", "sgd")
        cells = [cfg["name"], f"{f / 1e6:.2f}", _fmt(bound and cfg["batch"] / bound * 1e3, ".2f"),
                 _fmt(bound and bound * f / 1e9, ".1f")]
        for opt in ("sgd", "adam"):
            rate = _rate(res, "vecprop", opt)
            cells += [_fmt(rate and cfg["batch"] / rate * 1e3, ".2f"), _fmt(rate and rate * f / 1e9, ".1f"),
                      f"{_fmt(bound_fraction(res, opt), '.2f')} ({_fmt(bound_fraction(res, opt, best=True), '.2f')})"]
        rows.append(cells)
    return _table(["configuration", "MFLOP / example", "GEMM-only step ms", "GEMM-only GFLOP/s",
                   "vecprop SGD step ms", "GFLOP/s", "fraction of bound (best epochs)", "vecprop Adam step ms",
                   "GFLOP/s", "fraction of bound (best epochs)"], rows)


def goal_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    by_name = {r["config"]["name"]: r for r in results}
    rows = []
    for what, rival, configs, target in GOALS:
        got = {(c, o): speedup(by_name[c], rival, o) for c in configs if c in by_name for o in ("sgd", "adam")}
        rows.append(_goal(what, got, target))
    got = {}
    for c, res in by_name.items():
        for o in ("sgd", "adam"):
            ups = [u for u in (speedup(res, r, o) for r in ("torch", "torch-compile", "torch-1thread")) if u]
            got[(c, o)] = min(ups) if ups else None
    rows.append(_goal("(stricter) >= the fastest PyTorch variant measured, eager or compiled", got, 1.0))
    got = {}
    for c, res in by_name.items():
        for o in ("sgd", "adam"):
            mine, theirs = _rate(res, "vecprop-1thread", o), _rate(res, "torch-1thread", o)
            got[(c, o)] = mine / theirs if mine and theirs else None
    rows.append(_goal("(contention-robust) one thread each: vecprop-1thread >= torch-1thread", got, 1.0))
    for c, target in BOUND_GOALS.items():
        if c in by_name:
            got = {(c, o): bound_fraction(by_name[c], o) for o in ("sgd", "adam")}
            rows.append(_goal(f"{c}: step time within 1/{target} of the GEMM-only bound", got, target))
    got = {}
    for c, res in by_name.items():
        mine, theirs = (res["contenders"].get(k, {}).get("peak_rss_mb") for k in ("vecprop", "torch"))
        got[(c, "RSS")] = theirs / mine if mine and theirs else None
    rows.append(_goal("peak memory <= PyTorch's (torch RSS / vecprop RSS)", got, 1.0))
    return rows


def _goal(what: str, got: dict[tuple[str, str], float | None], target: float) -> list[str]:
    known = {k: v for k, v in got.items() if v is not None}
    measured = ", ".join(f"{c} {o}: {v:.2f}" for (c, o), v in known.items()) or "not measured"
    verdict = "—" if not known else ("met" if min(known.values()) >= target else "**missed**")
    return [what, measured, verdict]


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


def render(results: list[dict[str, Any]], meta: dict[str, Any], chart: Path, out: Path) -> str:
    meta = {**meta, "results": results}
    cfg_lines = [f"- {r['config']['name']}: `{'-'.join(map(str, r['config']['sizes']))}`, batch "
                 f"{r['config']['batch']}, {r['config']['steps']} steps per epoch, {r['config']['rounds']} timed "
                 f"epochs after one warm-up per contender and optimizer; predict on {r['config']['predict_m']} examples"
                 for r in results]
    rel = os.path.relpath(chart, out.parent)
    parts = [BEGIN, "## Results (generated)", "",
             "*This section is rewritten by `benchmarks/bench_speed.py`; edit the text around it instead.*", "",
             "### Machine and run", *machine_lines(meta), "", "### Configurations", *cfg_lines, "",
             "### Throughput (training examples per second, medians) and vecprop's speed-up",
             "`vecprop ×` is vecprop's throughput divided by the contender's: above 1, vecprop is faster.", "",
             *throughput_table(results), "", f"![vecprop's speed-up over each contender]({rel})", "",
             "### The limit: the step's matrix products alone",
             "`GEMM-only` times the three products per layer (minus dA[0]) of one step with numpy's BLAS, in the "
             "same run; FLOP/s use 6 Σ n_l n_(l-1) FLOPs per example. `fraction of bound` = GEMM-only step time "
             "/ vecprop step time.", "", *limit_table(results), "",
             "### Goals", *_table(["goal", "measured (speed-up, or fraction)", "verdict"], goal_rows(results)), "",
             "### torch.compile", *(compile_lines(results) or ["- not run"]), "", END]
    return "\n".join(parts) + "\n"


def write_report(results: list[dict[str, Any]], meta: dict[str, Any], out: Path, chart: Path) -> None:
    """Replace the generated section of ``out`` (or create the file); the text around it is kept."""
    section = render(results, meta, chart, out)
    old = out.read_text() if out.exists() else "# Benchmarks\n\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + section + old[old.index(END) + len(END) + 1 :]
    else:
        new = old.rstrip("\n") + "\n\n" + section
    _atomic_write(out, new.encode())


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


__all__ = ["flops_per_example", "speedup", "bound_fraction", "render", "write_report", "write_chart", "median"]
