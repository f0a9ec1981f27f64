"""The command line's side of a model file: open it, and read raw input rows matched to its features."""
from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..datasets.csv_file import parse_cells, read_csv_rows
from ..datasets.npy_file import read_array_features, read_npz_names
from ..model import Model, ModelWarning
from ..model_files import load_model
from ..preprocessing import FeatureWarning
from .errors import UserError, user_errors


def open_model(path: str) -> Model:
    """The Model in ``path``; a missing or bad file is a UserError, a missing preprocessing a warning line."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"MODEL: no such file: {path} (a run folder holds model.npz)")
    if p.is_dir():
        hint = " (did you mean its model.npz?)" if (p / "model.npz").exists() else ""
        raise UserError(f"MODEL: {path} is a folder{hint}")
    with notes("warning", ModelWarning), user_errors("MODEL"):
        return load_model(path)


@contextlib.contextmanager
def notes(kind: str = "note", category: type[Warning] = FeatureWarning) -> Iterator[None]:
    """Warnings of ``category`` become ``vecprop: <kind>: ...`` lines on stderr, each said once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield  # on an error the notes are dropped: the error line says what matters
    said: set[str] = set()
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, category) and text not in said:
            said.add(text)
            print(f"vecprop: {kind}: {text}", file=sys.stderr)
        elif not issubclass(w.category, category):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def read_rows(model: Model, path: Path, source: str, header: bool | None = None) -> np.ndarray:
    """Raw rows of an input file, as the model's columns in its order (run it inside ``notes()``).

    ``.csv``/``.tsv``: a header row is used when present (when it names the model's features
    the columns are matched by name, and other columns such as a target are ignored with a
    note); cells are parsed as numbers, a bad one named by column and line. ``.npy``: the whole
    2-D array, columns by position. ``.npz``: its ``X``, matched by name when it holds
    ``feature_names``.
    """
    suffix = path.suffix.lower()
    where = f"{source} {path}"
    if suffix in (".csv", ".tsv"):
        with user_errors(source):
            names, rows = read_csv_rows(path, header_names=model.feature_names, header=header)
        cells = np.array([cells for _, cells in rows], dtype=object).reshape(len(rows), -1)
        with user_errors():
            picked = model.select(cells, names, source=where)
        with user_errors(source):
            labels = list(model.feature_names or names or [f"col{j}" for j in range(picked.shape[1])])
            kinds = [c.kind for c in model.preprocessing.columns] if model.preprocessing else ["numeric"] * len(labels)
            fills = [c.fill is not None for c in model.preprocessing.columns] if model.preprocessing else []
            return parse_cells(path, labels, [line for line, _ in rows], picked,
                               numeric=[k == "numeric" for k in kinds], missing_ok=fills or [False] * len(labels))
    if header is not None:
        raise UserError(f"--header applies to .csv and .tsv files; {path.name} is not one")
    if suffix in (".npy", ".npz"):
        with user_errors(source):
            X = read_array_features(path)
            names = read_npz_names(path) if suffix == ".npz" else None
        with user_errors():
            return model.select(X, names, source=where)
    raise UserError(f"{source}: unsupported file type {suffix or '(none)'} for {path.name}; use .csv, .tsv, .npy "
                    "or .npz")


def model_outputs(model: Model, rows: np.ndarray, source: str) -> np.ndarray:
    """A[L] (n_L, m) for rows already in the model's column order; bad values are UserErrors."""
    if rows.shape[0] == 0:
        raise UserError(f"{source} has no rows to predict")
    with user_errors():
        return model.outputs(rows, source=source)

