"""The benchmark's numbers that the goals are judged on: speed-ups with their spread, the limit, memory."""
from __future__ import annotations

from typing import Any

# bytes an optimizer must read and write per parameter and step, in units of the parameter's size:
# the weights, the gradient and each state array are read once; the weights and the state written once
OPTIMIZER_PASSES = {"sgd": 3, "momentum": 5, "nesterov": 5, "rmsprop": 5, "adam": 7, "adamw": 7}
LIMIT_GOALS = {"mnist": 0.8, "large": 0.9, "xlarge": 0.9}  # step time within 1/x of the limit
TRAIN_GOAL, INFERENCE_GOAL = 1.2, 1.2


def n_params(sizes: list[int]) -> int:
    return sum(n * (p + 1) for p, n in zip(sizes, sizes[1:]))


def flops_per_example(sizes: list[int]) -> int:
    """About 6 sum_l n_l n_{l-1}: three products per layer (forward, (A), (D)), 2 FLOPs per multiply-add."""
    return 6 * sum(n * p for p, n in zip(sizes, sizes[1:]))


def rate(result: dict[str, Any], label: str, what: str, best: bool = False) -> float | None:
    """Examples per second of the median epoch (or the fastest, with ``best``)."""
    return result["contenders"].get(label, {}).get("best_rate" if best else "rate", {}).get(what)


def speedup(result: dict[str, Any], rival: str, what: str, mine: str = "vecprop") -> float | None:
    """``mine``'s throughput over the rival's, from the median epochs (> 1: ``mine`` is faster)."""
    a, b = rate(result, mine, what), rate(result, rival, what)
    return a / b if a and b else None


def spread(result: dict[str, Any], rival: str, what: str, mine: str = "vecprop") -> tuple[float, float] | None:
    """The lowest and highest per-round speed-up: each round timed both contenders back to back."""
    a = result["contenders"].get(mine, {}).get(what, {}).get("times") or []
    b = result["contenders"].get(rival, {}).get(what, {}).get("times") or []
    pairs = [t_b / t_a for t_a, t_b in zip(a, b) if t_a > 0]
    return (min(pairs), max(pairs)) if pairs else None


def step_ms(result: dict[str, Any], label: str, opt: str, best: bool = False) -> float | None:
    r = rate(result, label, opt, best)
    return r and result["config"]["batch"] / r * 1e3


def optimizer_ms(result: dict[str, Any], opt: str, bandwidth: float | None) -> float | None:
    """The optimizer's unavoidable memory traffic of one step at the measured stream bandwidth (GB/s)."""
    if not bandwidth:
        return None
    itemsize = 8 if result["config"].get("dtype") == "float64" else 4
    return OPTIMIZER_PASSES[opt] * itemsize * n_params(result["config"]["sizes"]) / (bandwidth * 1e9) * 1e3


def limit_ms(result: dict[str, Any], opt: str, bandwidth: float | None, best: bool = False) -> float | None:
    """The limit of one step: its matrix products alone (GEMM-only) plus the optimizer's traffic."""
    gemm, traffic = step_ms(result, "gemm-bound", opt, best), optimizer_ms(result, opt, bandwidth)
    return gemm + traffic if gemm and traffic is not None else None


def limit_fraction(result: dict[str, Any], opt: str, bandwidth: float | None, best: bool = False) -> float | None:
    """Limit / vecprop's step time: 1.0 means vecprop does nothing but the products and the optimizer's traffic."""
    lim, mine = limit_ms(result, opt, bandwidth, best), step_ms(result, "vecprop", opt, best)
    return lim and mine and lim / mine


def _cell(v: float | None, lohi: tuple[float, float] | None = None) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" + (f" ({lohi[0]:.2f}–{lohi[1]:.2f})" if lohi else "")


def _goal(what: str, got: dict[str, tuple[float | None, tuple[float, float] | None]], target: float,
          full: bool = True) -> list[str]:
    """One row: every measurement (or, with ``full=False``, the worst three and a count), and the verdict."""
    known = {k: v for k, v in got.items() if v[0] is not None}
    if not known:
        return [what, "not measured", "—"]
    items = sorted(known.items(), key=lambda kv: kv[1][0])
    shown = items if full else items[:3]
    text = ", ".join(f"{k}: {_cell(*v)}" for k, v in shown)
    if not full:
        text = f"worst: {text}; {sum(v[0] >= target for v in known.values())}/{len(known)} at or above {target:g}"
    return [what, text, "met" if items[0][1][0] >= target else "**missed**"]


def goal_rows(results: list[dict[str, Any]], matrix: list[dict[str, Any]], bandwidth: float | None) -> list[list[str]]:
    """The issue's goals, each judged on the worst measurement it covers (medians; spread in parentheses)."""
    by = {r["config"]["name"]: r for r in results}
    rows = []
    got = {f"{c} {o}": (speedup(r, "torch", o), spread(r, "torch", o)) for c, r in by.items() for o in ("sgd", "adam")}
    rows.append(_goal(f"1. training >= {TRAIN_GOAL}x PyTorch (2 threads): benchmark configurations", got, TRAIN_GOAL))
    got = {r["config"]["name"]: (speedup(r, "torch", r["optimizer"]), spread(r, "torch", r["optimizer"]))
           for r in matrix}
    rows.append(_goal(f"1. training >= {TRAIN_GOAL}x PyTorch (2 threads): the matrix", got, TRAIN_GOAL, full=False))
    for c, target in (("tiny", 5.0), ("mnist", 1.5)):
        if c not in by:
            continue
        r = by[c]
        got = {f"{o}": (speedup(r, "torch", o), spread(r, "torch", o)) for o in ("sgd", "adam")}
        got.update({f"{o}, 1 thread each": (speedup(r, "torch-1thread", o, "vecprop-1thread"),
                                            spread(r, "torch-1thread", o, "vecprop-1thread")) for o in ("sgd", "adam")})
        rows.append(_goal(f"2. {c}: >= {target:g}x PyTorch, 2 threads and 1 thread each", got, target))
    for c, target in LIMIT_GOALS.items():
        if c in by:
            got = {o: (limit_fraction(by[c], o, bandwidth), None) for o in ("sgd", "adam")}
            got.update({f"{o} (best epochs)": (limit_fraction(by[c], o, bandwidth, best=True), None)
                        for o in ("sgd", "adam")})
            rows.append(_goal(f"3. {c}: step time within 1/{target} of the limit (limit / step)", got, target))
    for rival, label in (("torch", "PyTorch"), ("sklearn-f32", "scikit-learn float32")):
        got = {c: (speedup(r, rival, "predict"), spread(r, rival, "predict")) for c, r in by.items()}
        if rival == "torch":
            got.update({r["config"]["name"]: (speedup(r, "torch", "predict"), spread(r, "torch", "predict"))
                        for r in matrix})
        else:  # the matrix's scikit-learn ran in the row's dtype: float32 unless the row is float64
            got.update({r["config"]["name"]: (speedup(r, "sklearn", "predict"), spread(r, "sklearn", "predict"))
                        for r in matrix if r["config"].get("dtype", "float32") == "float32"})
        rows.append(_goal(f"4. inference >= {INFERENCE_GOAL}x {label}", got, INFERENCE_GOAL, full=False))
    got_total, got_above = {}, {}
    for r in [*results, *matrix]:
        mine, theirs = r["contenders"].get("vecprop", {}), r["contenders"].get("torch", {})
        if mine.get("peak_rss_mb") and theirs.get("peak_rss_mb"):
            got_total[r["config"]["name"]] = (theirs["peak_rss_mb"] / mine["peak_rss_mb"], None)
            above = (mine["peak_rss_mb"] - mine["import_rss_mb"], theirs["peak_rss_mb"] - theirs["import_rss_mb"])
            got_above[r["config"]["name"]] = (above[1] / above[0] if above[0] > 0 else None, None)
    rows.append(_goal("5. peak RSS <= PyTorch's (PyTorch's / vecprop's)", got_total, 1.0, full=False))
    rows.append(_goal("5. peak RSS above the imports <= PyTorch's (PyTorch's / vecprop's)", got_above, 1.0, full=False))
    return rows


__all__ = ["flops_per_example", "speedup", "spread", "rate", "step_ms", "limit_ms", "limit_fraction",
           "optimizer_ms", "goal_rows", "n_params"]
