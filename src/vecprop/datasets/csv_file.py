"""CSV files: header detection, the target column, numeric features checked cell by cell."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .labels import encode_target

Rows = list[tuple[int, list[str]]]  # (1-based line number, stripped cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_like_header(first: list[str], second: list[str] | None) -> bool:
    """The header rule: some non-empty cell of the first row is not a number while
    the cell below it is; with a single row, no cell of it is a number."""
    if second is None:
        return not any(_is_number(c) for c in first)
    return any(a and not _is_number(a) and _is_number(b) for a, b in zip(first, second))


def _read_cells(path: Path, delimiter: str | None) -> Rows:
    """Every non-blank row as stripped text cells with its line number; ragged rows rejected."""
    delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    rows: Rows = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    if not rows:
        raise ValueError(f"{path}: no rows")
    width = len(rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise ValueError(f"{path}, line {line}: {len(cells)} fields; the first row has {width}")
    return rows


def _split_header(path: Path, rows: Rows, header: bool | None) -> tuple[list[str], Rows, bool]:
    """(column names, data rows, whether the first row was a header)."""
    if header is None:
        header = _looks_like_header(rows[0][1], rows[1][1] if len(rows) > 1 else None)
    width = len(rows[0][1])
    if header:
        names = [c or f"col{j}" for j, c in enumerate(rows[0][1])]
        rows = rows[1:]
    else:
        names = [f"col{j}" for j in range(width)]
    if not rows:
        raise ValueError(f"{path}: a header ({', '.join(names)}) and no data rows")
    return names, rows, header


def _read_rows(path: Path, header: bool | None, delimiter: str | None) -> tuple[list[str], Rows]:
    """Column names and data rows; blank lines are skipped, ragged rows rejected."""
    names, rows, _ = _split_header(path, _read_cells(path, delimiter), header)
    return names, rows


def _column_index(path: Path, target: str | int | None, names: list[str]) -> int:
    """Resolve ``target`` (a name, an index, or an index written as text) to an index."""
    if target is None:
        return len(names) - 1
    if isinstance(target, str) and target in names:
        return names.index(target)
    text = str(target)
    if text.lstrip("-").isdigit() and -len(names) <= int(text) < len(names):
        return int(text) % len(names)
    raise ValueError(f"{path}: target column {target!r} not found; available columns: "
                     f"{', '.join(names)} (or an index 0..{len(names) - 1}, negative from the end)")


def _parse_features(path: Path, names: list[str], rows: Rows, columns: list[int]) -> np.ndarray:
    """The (m, len(columns)) float64 matrix; the first bad cell raises, naming column and line."""
    table = [[cells[j] for j in columns] for _, cells in rows]
    try:
        X = np.array(table, dtype=np.float64).reshape(len(rows), len(columns))
        if np.all(np.isfinite(X)):
            return X
    except ValueError:
        pass
    for (line, cells) in rows:
        for j in columns:
            cell = cells[j]
            if not _is_number(cell):
                what = "missing value" if cell == "" else f"non-numeric value {cell!r}"
            elif not np.isfinite(float(cell)):
                what = f"NaN/infinite value {cell!r}"
            else:
                continue
            raise ValueError(f"{path}: column {names[j]!r} (index {j}), line {line}: {what}; "
                             f"features must be finite numbers")
    # numpy refused a spelling that float() accepts (such as "1_000"): parse cell by cell
    return np.array([[float(c) for c in row] for row in table], dtype=np.float64)


def _target_values(path: Path, name: str, rows: Rows, j: int) -> np.ndarray:
    """Numbers (float64) when every cell is a finite number, else the text labels."""
    cells = [cells[j] for _, cells in rows]
    for (line, _), cell in zip(rows, cells):
        if cell == "":
            raise ValueError(f"{path}: target column {name!r}, line {line}: missing value")
    if all(_is_number(c) for c in cells):
        values = np.array(cells, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"{path}: target column {name!r}, line {rows[bad[0]][0]}: "
                             f"NaN/infinite value {cells[bad[0]]!r}")
        return values
    return np.array(cells, dtype=str)


def load_csv(path: str | Path, *, target: str | int | None = None, task: str | None = None,
             header: bool | None = None, delimiter: str | None = None) -> Dataset:
    """Load a CSV (or ``.tsv``) file with one target column; every other column is a feature.

    Parameters
    ----------
    path : str or Path
    target : str or int, optional
        Column name, or index (negative counts from the end; ``"3"`` works
        too when no column is named ``"3"``). Default: the last column.
    task : {"binary", "multiclass", "regression"}, optional
        Override the inferred task (see :func:`vecprop.datasets.labels.encode_target`:
        text targets are classes; integer targets with at most 20 distinct values
        are classes; other numbers are regression).
    header : bool, optional
        Override header detection (by default: the first row is a header when one
        of its non-empty cells is not a number but the cell below is).
    delimiter : str, optional
        Default ``","``, or tab for ``.tsv``.

    Returns
    -------
    Dataset
        ``X`` (m, n_0) float64 with the non-target columns in file order.
    """
    path = Path(path)
    names, rows, has_header = _split_header(path, _read_cells(path, delimiter), header)
    if len(names) < 2:
        raise ValueError(f"{path}: one column ({names[0]}); need features and a target")
    j = _column_index(path, target, names)
    features = [k for k in range(len(names)) if k != j]
    X = _parse_features(path, names, rows, features)
    y, task, classes = encode_target(_target_values(path, names[j], rows, j), task,
                                     where=f"{path}: target column {names[j]!r}")
    return Dataset(X=X, y=y, task=task, classes=classes,  # no header: columns match by position, not by name
                   feature_names=tuple(names[k] for k in features) if has_header else None, name=path.name,
                   source=f"CSV file {path}, target column {names[j]!r}")


def read_csv_rows(path: str | Path, *, header_names: tuple[str, ...] | None = None,
                  delimiter: str | None = None) -> tuple[list[str] | None, Rows]:
    """(column names or None, data rows as text cells) of a CSV whose columns are features.

    The first row is a header when it holds every one of ``header_names`` (a model's feature
    names), else by the usual rule (see :func:`load_csv`).
    """
    path = Path(path)
    rows = _read_cells(path, delimiter)
    header = set(header_names) <= set(rows[0][1]) if header_names else None
    names, rows, header = _split_header(path, rows, header or None)
    return (names if header else None), rows


def parse_cells(path: Path, labels: list[str], lines: list[int], cells: np.ndarray, *,
                numeric: list[bool], missing_ok: list[bool]) -> np.ndarray:
    """Text cells (m, n) -> numbers where ``numeric`` (an empty cell is NaN where ``missing_ok``);
    other columns stay text. A bad cell raises, naming its column and line."""
    out = np.empty(cells.shape, dtype=np.float64 if all(numeric) else object)
    for j in range(cells.shape[1]):
        if not numeric[j]:
            out[:, j] = cells[:, j]
            continue
        for i, cell in enumerate(cells[:, j]):
            if cell == "" and missing_ok[j]:
                out[i, j] = np.nan
                continue
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                what = ("missing value" if cell == "" else f"non-numeric value {cell!r}" if value is None
                        else f"NaN/infinite value {cell!r}")
                raise ValueError(f"{path}: column {labels[j]!r} (index {j}), line {lines[i]}: {what}; "
                                 "features must be finite numbers")
            out[i, j] = value
    return out


def read_csv_features(path: str | Path, *, header: bool | None = None,
                      delimiter: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read every column as a feature (inputs to predict): ``X`` (m, n_0) float64 and the names."""
    path = Path(path)
    names, rows = _read_rows(path, header, delimiter)
    return _parse_features(path, names, rows, list(range(len(names)))), tuple(names)
