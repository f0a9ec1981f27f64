"""Small seeded 2-D (and 1-D) toy sets, generated locally with numpy; ``noise`` scales their noise."""
from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real, make_rng
from .._memory import check_fits
from .dataset import Dataset, Spec

NOISE = {"xor": 0.3, "moons": 0.1, "circles": 0.08, "spirals": 0.2, "blobs": 1.0, "sine": 0.1}
"""Each set's default noise: the standard deviation of its Gaussian noise (spirals: of the angle, in radians)."""

BYTES_PER_EXAMPLE = 256
"""A generous estimate of the memory one generated example takes, from generation to training."""
_SOURCE = "generated locally by vecprop.datasets.synthetic.{} with numpy.random.default_rng(seed={})"


def _counts(n_samples: int | None, default: int, n_classes: int, name: str) -> list[int]:
    """Split ``n_samples`` (``default`` when None) as evenly as possible over the classes."""
    n_samples = default if n_samples is None else check_int(f"{name}: n_samples", n_samples)
    if n_samples < n_classes:
        raise ValueError(f"{name}: n_samples must be >= {n_classes} (one per group); got {n_samples}")
    check_fits(n_samples * BYTES_PER_EXAMPLE, f"{name}: n_samples={n_samples:,} (~{BYTES_PER_EXAMPLE} bytes per example "
               "to generate, split and train on)", "use a smaller n_samples")
    return [n_samples // n_classes + (c < n_samples % n_classes) for c in range(n_classes)]


def _noise(noise: float | None, default: float, name: str) -> float:
    """The noise scale: ``default`` when None, else a finite number >= 0."""
    return default if noise is None else check_real(f"{name}: noise", noise, 0.0)


def _classes(name: str, seed: int, rng: np.random.Generator, parts: list[np.ndarray],
             classes: tuple[str, ...]) -> Dataset:
    """Stack per-class point clouds (n_c, 2), label them, shuffle the rows."""
    X = np.concatenate(parts)  # (m, 2)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    order = rng.permutation(len(y))
    return Dataset(X=X[order], y=y[order], task="binary" if len(classes) == 2 else "multiclass",
                   classes=classes, feature_names=("x0", "x1"), name=name,
                   source=_SOURCE.format(name, seed))


def xor(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Four clusters at (+-1, +-1), Gaussian noise 0.3; class 1 where the signs differ. X (400, 2) by default."""
    rng = make_rng(seed)
    counts = _counts(n_samples, 400, 4, "xor")
    sd = _noise(noise, NOISE["xor"], "xor")
    centres = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    clouds = [c + sd * rng.standard_normal((k, 2)) for c, k in zip(centres, counts)]
    parts = [np.concatenate(clouds[:2]), np.concatenate(clouds[2:])]
    return _classes("xor", seed, rng, parts, ("0", "1"))


def moons(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Two interleaving half circles with Gaussian noise 0.1. X (500, 2) by default."""
    rng = make_rng(seed)
    n0, n1 = _counts(n_samples, 500, 2, "moons")
    sd = _noise(noise, NOISE["moons"], "moons")
    t0, t1 = rng.uniform(0.0, np.pi, n0), rng.uniform(0.0, np.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    parts = [p + sd * rng.standard_normal(p.shape) for p in (upper, lower)]
    return _classes("moons", seed, rng, parts, ("0", "1"))


def circles(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """A ring of radius 1 (class 0) around one of radius 0.5 (class 1), noise 0.08. X (500, 2)."""
    rng = make_rng(seed)
    counts = _counts(n_samples, 500, 2, "circles")
    sd = _noise(noise, NOISE["circles"], "circles")
    parts = []
    for radius, k in zip((1.0, 0.5), counts):
        t = rng.uniform(0.0, 2.0 * np.pi, k)
        ring = radius * np.column_stack([np.cos(t), np.sin(t)])
        parts.append(ring + sd * rng.standard_normal(ring.shape))
    return _classes("circles", seed, rng, parts, ("0", "1"))


def spirals(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Three interleaved spiral arms, one per class, angle noise 0.2 radians. X (600, 2) by default."""
    rng = make_rng(seed)
    sd = _noise(noise, NOISE["spirals"], "spirals")
    parts = []
    for c, k in enumerate(_counts(n_samples, 600, 3, "spirals")):
        r = rng.uniform(0.05, 1.0, k)
        angle = 4.0 * r + 2.0 * np.pi * c / 3 + sd * rng.standard_normal(k)
        parts.append(r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _classes("spirals", seed, rng, parts, ("0", "1", "2"))


def blobs(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Three isotropic Gaussian blobs (sd 1) with centres 3 apart from the origin. X (450, 2)."""
    rng = make_rng(seed)
    sd = _noise(noise, NOISE["blobs"], "blobs")
    angles = np.pi / 2 + 2.0 * np.pi * np.arange(3) / 3
    centres = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    counts = _counts(n_samples, 450, 3, "blobs")
    parts = [c + sd * rng.standard_normal((k, 2)) for c, k in zip(centres, counts)]
    return _classes("blobs", seed, rng, parts, ("0", "1", "2"))


def sine(seed: int = 0, n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """1-D regression: y = sin(x) + 0.1 noise, x uniform on [-pi, pi]. X (300, 1), y (300,)."""
    rng = make_rng(seed)
    (m,) = _counts(n_samples, 300, 1, "sine")
    sd = _noise(noise, NOISE["sine"], "sine")
    x = rng.uniform(-np.pi, np.pi, m)
    y = np.sin(x) + sd * rng.standard_normal(m)
    return Dataset(X=x[:, None], y=y, task="regression", classes=None, feature_names=("x",),
                   name="sine", source=_SOURCE.format("sine", seed))


def _spec(fn, task: str, shape: str, what: str) -> Spec:
    return Spec(task=task, shape=shape, source=f"generated locally with numpy: {what}", loader=fn)


SETS: dict[str, Spec] = {
    "xor": _spec(xor, "binary", "400 x 2", "four noisy clusters, XOR labels"),
    "moons": _spec(moons, "binary", "500 x 2", "two interleaving half circles"),
    "circles": _spec(circles, "binary", "500 x 2", "two concentric rings"),
    "spirals": _spec(spirals, "multiclass", "600 x 2", "three spiral arms"),
    "blobs": _spec(blobs, "multiclass", "450 x 2", "three Gaussian blobs"),
    "sine": _spec(sine, "regression", "300 x 1", "y = sin(x) + noise"),
}
