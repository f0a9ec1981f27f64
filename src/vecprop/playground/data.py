"""The playground's points: the 2-D synthetic sets with noise, clicked points, bounded CSV uploads."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..datasets import synthetic

DATA_SETS = ("xor", "moons", "circles", "spirals", "blobs", "sine")
MAX_CSV_BYTES = 256 * 1024
MAX_POINTS = 5000
MAX_CLASSES = 8


@dataclass(frozen=True)
class Points:
    """Raw points as columns with their labels: what the page plots and the features are made of.

    ``P`` is (2, m): x1 and x2 of each point; ``y`` is (m,): the class index (int) or the target
    value (float, regression); ``classes`` names the classes (None for regression).
    """

    P: np.ndarray
    y: np.ndarray
    task: str  # "binary", "multiclass" or "regression"
    classes: tuple[str, ...] | None

    @property
    def m(self) -> int:
        return self.P.shape[1]

    def take(self, idx: np.ndarray) -> Points:
        return Points(self.P[:, idx], self.y[idx], self.task, self.classes)

    def add(self, x1: float, x2: float, label: float) -> Points:
        """A copy with one more point; the label must fit the task (a class index, or a finite value)."""
        if not (math.isfinite(x1) and math.isfinite(x2) and math.isfinite(label)):
            raise ValueError(f"a point needs finite x1, x2 and label; got {x1!r}, {x2!r}, {label!r}")
        if self.m >= MAX_POINTS:
            raise ValueError(f"the playground holds at most {MAX_POINTS} points")
        if self.classes is not None and (label != int(label) or not 0 <= label < len(self.classes)):
            raise ValueError(f"label must be a class index 0..{len(self.classes) - 1}; got {label!r}")
        y = np.append(self.y, np.array(label, dtype=self.y.dtype))
        return Points(np.column_stack([self.P, [x1, x2]]), y, self.task, self.classes)


def generate(name: str, n: int, noise: float, seed: int) -> Points:
    """``n`` points of a synthetic set; sine becomes 2-D: y = sin(x1) + noise, x2 uniform and irrelevant."""
    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATA_SETS)}")
    ds = getattr(synthetic, name)(seed=seed, n_samples=n, noise=noise)
    if name == "sine":
        x2 = np.random.default_rng([seed, 2]).uniform(-np.pi, np.pi, ds.X.shape[0])
        return Points(np.stack([ds.X[:, 0], x2]), ds.y.astype(np.float64), "regression", None)
    return Points(np.ascontiguousarray(ds.X.T), ds.y.astype(np.int64), ds.task, tuple(ds.classes))


def split(points: Points, ratio: float, seed: int) -> tuple[Points, Points]:
    """A seeded train/test split: round(ratio * m) training points, at least one point on each side."""
    m = points.m
    if m < 2:
        raise ValueError(f"a train/test split needs at least 2 points; got {m}")
    order = np.random.default_rng([seed, 1]).permutation(m)
    n_train = min(max(round(ratio * m), 1), m - 1)
    return points.take(np.sort(order[:n_train])), points.take(np.sort(order[n_train:]))


def domain(P: np.ndarray) -> tuple[float, float, float, float]:
    """A square (x1_lo, x1_hi, x2_lo, x2_hi) around the points, 10% wider: the region the page draws."""
    if P.shape[1] == 0:
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = P.min(axis=1), P.max(axis=1)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.1, 1e-3)
    return (float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half))


def parse_csv(text: str, task: str) -> Points:
    """Rows ``x1,x2,label`` (one optional header line), in memory, at most MAX_POINTS rows.

    ``task`` is "classification" (labels are class names, at most MAX_CLASSES; sorted as numbers
    when they all are numbers) or "regression" (labels are numbers). Errors name the line.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}")
    if len(text.encode()) > MAX_CSV_BYTES:
        raise ValueError(f"the CSV file is larger than {MAX_CSV_BYTES // 1024} KiB")
    rows: list[tuple[float, float, str, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 3:
            raise ValueError(f"CSV line {number}: expected 3 columns x1,x2,label; got {len(cells)}")
        try:
            x1, x2 = float(cells[0]), float(cells[1])
        except ValueError:
            if not rows and number == 1:
                continue  # a header
            raise ValueError(f"CSV line {number}: x1 and x2 must be numbers; got {cells[0]!r}, {cells[1]!r}") from None
        if not (math.isfinite(x1) and math.isfinite(x2)):
            raise ValueError(f"CSV line {number}: x1 and x2 must be finite; got {cells[0]!r}, {cells[1]!r}")
        rows.append((x1, x2, cells[2], number))
        if len(rows) > MAX_POINTS:
            raise ValueError(f"the CSV file has more than {MAX_POINTS} rows")
    if len(rows) < 2:
        raise ValueError(f"the CSV file needs at least 2 rows of x1,x2,label; got {len(rows)}")
    P = np.array([[r[0] for r in rows], [r[1] for r in rows]])
    labels = [r[2] for r in rows]
    if task == "regression":
        y = np.array([_number(r[2], r[3]) for r in rows])
        return Points(P, y, "regression", None)
    names = sorted(set(labels), key=_class_key(labels))
    if not 2 <= len(names) <= MAX_CLASSES:
        raise ValueError(f"classification needs 2 to {MAX_CLASSES} classes; the labels hold {len(names)}")
    index = {name: k for k, name in enumerate(names)}
    y = np.array([index[s] for s in labels], dtype=np.int64)
    return Points(P, y, "binary" if len(names) == 2 else "multiclass", tuple(names))


def _number(s: str, line: int) -> float:
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise ValueError(f"CSV line {line}: a regression label must be a finite number; got {s!r}")
    return v


def _class_key(labels: list[str]):
    """Sort class names as numbers when every one is a number ("2" before "10"), else as text."""
    try:
        [float(s) for s in labels]
    except ValueError:
        return str
    return float
