"""CSV files: delimiter and header detection, target columns, numeric and text features, missing values."""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from .._checks import regular_file
from .._memory import check_fits
from .dataset import Dataset
from .labels import encode_target

Rows = list[tuple[int, list[str]]]  # (1-based line number, stripped cells)
MISSING = frozenset({"", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "?"})
"""Cells read as a missing value (pandas' most common spellings), in any case; so is any spelling of NaN."""
_MISSING_LOWER = frozenset(m.lower() for m in MISSING)
_COMMA_NUMBER = re.compile(r"[+-]?(\d+,\d+|\d{1,3}([,.' ]\d{3})+([.,]\d+)?)")
"""A number with a decimal comma (0,125) or thousands separators (1,000 or 1.234,5): not read as one."""
MISSING_STRATEGIES = ("error", "drop", "keep")
DELIMITERS = ",;\t|"
SHOWN = 10  # bad rows listed in a message
CSV_BYTES_PER_BYTE = 20
"""Memory per byte of a CSV file while it is parsed into cells (measured: 18 for short numeric cells)."""


def _is_number(cell: str) -> bool:
    """A cell float() reads, other than a NaN (which is a missing value, however it is spelled)."""
    try:
        return not math.isnan(float(cell))
    except ValueError:
        return False


def is_missing(cell: str) -> bool:
    """An empty or NA-like cell (``MISSING``, any case), or a NaN spelled any way float() reads."""
    low = cell.lower()
    return low in _MISSING_LOWER or low.lstrip("+-") == "nan"  # the NaNs float() reads: nan, -nan, +NaN...


def _comma_numbers(path: Path, what: str, cells: list[str], lines: list[int]) -> None:
    """Refuse a text column whose every cell is a number written with a decimal comma or thousands
    separators: read as text it would become categories (or classes), silently."""
    present = [(c, line) for c, line in zip(cells, lines) if not is_missing(c)]
    if present and all(_COMMA_NUMBER.fullmatch(c) for c, _ in present):
        cell, line = present[0]
        raise ValueError(f"{path}: {what}, line {line}: {cell!r} looks like a number with a decimal comma or thousands "
                         "separators; vecprop reads only '.' as the decimal point and no separators: convert the "
                         "column (e.g. pandas.read_csv(..., decimal=',', thousands='.'))")


def _looks_like_header(first: list[str], second: list[str] | None) -> bool:
    """The header rule: some non-empty cell of the first row is not a number while
    the cell below it is; with a single row, no cell of it is a number."""
    if second is None:
        return not any(_is_number(c) for c in first)
    return any(a and not _is_number(a) and _is_number(b) for a, b in zip(first, second))


def _sniff(path: Path, sample: str) -> str:
    """The delimiter: tab for .tsv, else the one of , ; tab | that the csv module's Sniffer finds."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or nothing to tell the delimiters apart
        return ","


def _read_cells(path: Path, delimiter: str | None) -> Rows:
    """Every non-blank row as stripped text cells with its line number; ragged rows rejected."""
    regular_file(path)
    check_fits(path.stat().st_size * CSV_BYTES_PER_BYTE, f"{path}: reading its {path.stat().st_size:,} bytes as cells "
               f"(~{CSV_BYTES_PER_BYTE} bytes of memory per byte of CSV)", "save the data as .npy, or split the file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            delimiter = delimiter or _sniff(path, fh.read(65536))
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delimiter)
            rows: Rows = []
            try:
                for cells in reader:
                    if any(c.strip() for c in cells):
                        rows.append((reader.line_num, [c.strip() for c in cells]))
            except csv.Error as err:
                raise ValueError(f"{path}, line {reader.line_num}: {err} (a cell may hold at most "
                                 f"{csv.field_size_limit():,} characters)") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
                         "save the file as UTF-8") from None
    if not rows:
        raise ValueError(f"{path}: no rows")
    width = len(rows[0][1])
    ragged = [(line, len(cells)) for line, cells in rows if len(cells) != width]
    if ragged:
        listed = ", ".join(f"line {line} ({n} fields)" for line, n in ragged[:SHOWN])
        raise ValueError(f"{path}: {len(ragged)} row(s) do not have the first row's {width} fields"
                         f"{_delimiter_hint(delimiter)}: {listed}")
    return rows


def _delimiter_hint(delimiter: str) -> str:
    return f" (delimiter {delimiter!r})" if delimiter in DELIMITERS else ""


def _unique_text_row(rows: Rows) -> bool:
    """The first row is all text and none of its cells appears again in its column: a header of a
    file of text (categories and labels repeat; names of columns do not)."""
    first = rows[0][1]
    if len(rows) < 3 or not all(c and not _is_number(c) and not is_missing(c) for c in first):
        return False
    return all(all(cells[j] != c for _, cells in rows[1:]) for j, c in enumerate(first))


def _split_header(path: Path, rows: Rows, header: bool | None) -> tuple[list[str], Rows, bool]:
    """(column names, data rows, whether the first row was a header)."""
    if header is None:
        header = _looks_like_header(rows[0][1], rows[1][1] if len(rows) > 1 else None) or _unique_text_row(rows)
    width = len(rows[0][1])
    if header:
        names = [c or f"col{j}" for j, c in enumerate(rows[0][1])]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            where = [j for j, n in enumerate(names) if n == twice]
            raise ValueError(f"{path}, line {rows[0][0]}: two columns named {twice!r} (indexes "
                             f"{', '.join(map(str, where))}); column names must be unique")
        rows = rows[1:]
    else:
        names = [f"col{j}" for j in range(width)]
    if not rows:
        raise ValueError(f"{path}: a header ({', '.join(names)}) and no data rows")
    return names, rows, header


def _column_indices(path: Path, target: str | int | list | tuple | None, names: list[str],
                    what: str = "target", skip: int | None = None) -> list[int]:
    """Resolve targets (a name, an index, "a,b", or a list of those) to column indices; the default
    is the last column other than ``skip`` (the weight column)."""
    if target is None:
        return [len(names) - (2 if skip == len(names) - 1 else 1)]
    if isinstance(target, str) and target not in names and "," in target:
        target = [t.strip() for t in target.split(",")]
    parts = list(target) if isinstance(target, (list, tuple)) else [target]
    if not parts:
        raise ValueError(f"{path}: target lists no column; name one (or leave it out: the last column)")
    out = []
    for t in parts:
        if isinstance(t, str) and t in names:
            out.append(names.index(t))
        elif str(t).lstrip("-").isdigit() and -len(names) <= int(t) < len(names):
            out.append(int(t) % len(names))
        else:
            raise ValueError(f"{path}: {what} column {t!r} not found; available columns: "
                             f"{', '.join(names)} (or an index 0..{len(names) - 1}, negative from the end)")
    if len(set(out)) != len(out):
        raise ValueError(f"{path}: target {target!r} names a column twice")
    if len(out) == len(names):
        raise ValueError(f"{path}: every column is a target; no features are left")
    return out


def _feature_column(path: Path, name: str, j: int, rows: Rows) -> tuple[np.ndarray, str]:
    """One feature column: float64 with NaN where missing, or text (object) when any present cell
    is not a number. An infinite number is an error naming its line."""
    cells = [cells[j] for _, cells in rows]
    text = [i for i, c in enumerate(cells) if not is_missing(c) and not _is_number(c)]
    if text and len(text) == sum(not is_missing(c) for c in cells):  # text throughout: categories, or comma numbers
        _comma_numbers(path, f"column {name!r} (index {j})", [cells[i] for i in text], [rows[i][0] for i in text])
    if text and len(text) < sum(not is_missing(c) for c in cells):  # numbers and text: a typo, not categories
        shown = ", ".join(f"line {rows[i][0]} {cells[i]!r}" for i in text[:SHOWN])
        raise ValueError(f"{path}: column {name!r} (index {j}) holds numbers and {len(text)} non-numeric value(s): "
                         f"{shown}; a column of categories must be text throughout, and a missing value an "
                         "empty cell or NA")
    if text:
        return np.array([None if is_missing(c) else c for c in cells], dtype=object), "categorical"
    values = np.array([math.nan if is_missing(c) else float(c) for c in cells], dtype=np.float64)
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        i = int(inf[0])
        raise ValueError(f"{path}: column {name!r} (index {j}), line {rows[i][0]}: infinite value {cells[i]!r}; "
                         "features must be finite numbers")
    return values, "numeric"


def _target_values(path: Path, name: str, j: int, rows: Rows, keep: np.ndarray,
                   what: str = "target column") -> np.ndarray:
    """Numbers (float64) when every cell is a finite number, else the text labels."""
    cells = [cells[j] for _, cells in rows]
    cells = [c for c, k in zip(cells, keep) if k]
    lines = [line for (line, _), k in zip(rows, keep) if k]
    if all(_is_number(c) for c in cells):
        values = np.array(cells, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"{path}: {what} {name!r}, line {lines[bad[0]]}: infinite value {cells[bad[0]]!r}")
        return values
    _comma_numbers(path, f"{what} {name!r}", cells, lines)
    return np.array(cells, dtype=str)


def _missing_rows(path: Path, names: list[str], rows: Rows, columns: list[int]) -> dict[int, list[str]]:
    """Row index -> the names of its missing cells among ``columns``."""
    out: dict[int, list[str]] = {}
    for i, (_, cells) in enumerate(rows):
        gone = [names[j] for j in columns if is_missing(cells[j])]
        if gone:
            out[i] = gone
    return out


def _listing(rows: Rows, bad: dict[int, list[str]]) -> str:
    shown = [f"line {rows[i][0]} ({', '.join(repr(n) for n in cols)})" for i, cols in list(bad.items())[:SHOWN]]
    more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return ", ".join(shown) + more


def load_csv(path: str | Path, *, target: str | int | list | tuple | None = None, task: str | None = None,
             header: bool | None = None, delimiter: str | None = None, missing: str = "error",
             weight: str | int | None = None) -> Dataset:
    """Load a CSV (or ``.tsv``) file with one or more target columns; every other column is a feature.

    Parameters
    ----------
    path : str or Path
    target : str, int or list, optional
        Column name(s) or index(es) (negative counts from the end; ``"a,b"`` names two).
        Default: the last column. Several targets are the outputs of a regression.
    task : {"classification", "binary", "multiclass", "regression"}, optional
        Override the inferred task (see :func:`vecprop.datasets.labels.encode_target`: text
        targets are classes; integer targets with at most 20 distinct values are classes;
        other numbers are regression).
    header : bool, optional
        Override header detection. By default the first row is a header when one of its
        non-empty cells is not a number but the cell below it is, or when it is all text and none
        of its cells appears again in its column (a file of text: categories repeat, names do not).
    delimiter : str, optional
        Default: tab for ``.tsv``, else whichever of ``, ; tab |`` the csv module's Sniffer finds.
    missing : {"error", "drop", "keep"}
        Cells ``""``, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``?`` (see ``MISSING``) are
        missing values. "error" lists the rows that have some; "drop" drops those rows (a
        ``notes`` line says which); "keep" keeps them as NaN (numbers) or None (text) for a
        Preprocessor to fill. A row whose target is missing is dropped unless "error".
    weight : str or int, optional
        A column of non-negative per-example weights (not a feature).

    Returns
    -------
    Dataset
        ``X`` (m, n_0) float64 with the feature columns in file order, or an object array when
        some columns are text (``kinds`` says which are "categorical").
    """
    path = Path(path)
    if missing not in MISSING_STRATEGIES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_STRATEGIES)}; got {missing!r}")
    cells = _read_cells(path, delimiter)
    names, rows, has_header = _split_header(path, cells, header)
    by_text = header is None and has_header and not _looks_like_header(cells[0][1], cells[1][1])
    if len(names) < 2:
        raise ValueError(f"{path}: one column ({names[0]}); need features and a target (if the file uses "
                         "another delimiter than , ; tab or |, convert it)")
    if isinstance(weight, (list, tuple)) or (isinstance(weight, str) and weight not in names and "," in weight):
        raise ValueError(f"{path}: the weight column is one column; got {weight!r}")
    w_col = None if weight is None else _column_indices(path, weight, names, "weight")[0]
    targets = _column_indices(path, target, names, skip=w_col)
    if w_col in targets:
        raise ValueError(f"{path}: column {names[w_col]!r} cannot be both the target and the weights")
    features = [k for k in range(len(names)) if k not in targets and k != w_col]
    if not features:
        raise ValueError(f"{path}: no feature columns are left after the target and weight columns")
    notes: list[str] = [f"read the first row ({', '.join(names)}) as the header: it is all text and none of its "
                        "cells appears again in its column (--header no if it is data)"] if by_text else []
    bad_target = _missing_rows(path, names, rows, targets + ([] if w_col is None else [w_col]))
    bad_feature = _missing_rows(path, names, rows, features)
    if missing == "error" and (bad_target or bad_feature):
        bad = {**bad_feature, **bad_target}
        raise ValueError(f"{path}: {len(bad)} row(s) have missing values: {_listing(rows, dict(sorted(bad.items())))}; "
                         "use --missing drop (or mean, median) to drop or fill them")
    drop = set(bad_target) | (set(bad_feature) if missing == "drop" else set())
    if drop:
        notes.append(f"dropped {len(drop)} of {len(rows)} rows with missing values: "
                     f"{_listing(rows, {i: (bad_target.get(i, []) + bad_feature.get(i, [])) for i in sorted(drop)})}")
    keep = np.array([i not in drop for i in range(len(rows))])
    if not keep.any():
        raise ValueError(f"{path}: every row has a missing value; nothing is left to train on")
    kept = [r for r, k in zip(rows, keep) if k]
    columns = [_feature_column(path, names[j], j, kept) for j in features]
    kinds = tuple(kind for _, kind in columns)
    if "categorical" in kinds:
        X = np.empty((len(kept), len(features)), dtype=object)
        for k, (values, _) in enumerate(columns):
            X[:, k] = values
    else:
        X = np.column_stack([values for values, _ in columns]) if columns else np.empty((len(kept), 0))
    if len(targets) == 1:
        j = targets[0]
        y, task, classes = encode_target(_target_values(path, names[j], j, rows, keep), task,
                                         where=f"{path}: target column {names[j]!r}")
        first = rows[0][1][j]
        if header is None and not has_header and classes is not None and len(rows) >= 10 and not _is_number(first) \
                and sum(cells[j] == first for _, cells in rows) == 1:  # numbers above numbers hide a header
            notes.append(f"the first row's label {first!r} appears on no other row: if the first row names the "
                         "columns, say so with --header yes (header=True)")
    else:
        if task not in (None, "regression"):
            raise ValueError(f"{path}: several target columns ({', '.join(names[j] for j in targets)}) are the "
                             f"outputs of a regression; task={task!r} does not apply")
        values = [_target_values(path, names[j], j, rows, keep) for j in targets]
        text = [names[j] for j, v in zip(targets, values) if v.dtype.kind != "f"]
        if text:
            raise ValueError(f"{path}: target column(s) {', '.join(map(repr, text))} hold text; several targets "
                             "must all be numbers (regression outputs)")
        y, task, classes = np.column_stack(values), "regression", None
    w = None if w_col is None else _weights(path, names[w_col], _target_values(path, names[w_col], w_col, rows, keep,
                                                                               "weight column"))
    described = ", ".join(repr(names[j]) for j in targets)
    return Dataset(X=X, y=y, task=task, classes=classes,  # no header: columns match by position, not by name
                   feature_names=tuple(names[k] for k in features) if has_header else None, name=path.name,
                   source=f"CSV file {path}, target column{'s' if len(targets) > 1 else ''} {described}",
                   kinds=None if "categorical" not in kinds else kinds, w=w, notes=tuple(notes))


def _weights(path: Path, name: str, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind != "f":
        cell = next(v for v in values if not _is_number(v))
        raise ValueError(f"{path}: weight column {name!r} holds the non-numeric value {cell!r}; weights are numbers >= 0")
    if (values < 0).any() or not values.sum() > 0:
        raise ValueError(f"{path}: weight column {name!r} must hold finite numbers >= 0, not all 0")
    return values


def read_csv_rows(path: str | Path, *, header_names: tuple[str, ...] | None = None,
                  delimiter: str | None = None, header: bool | None = None) -> tuple[list[str] | None, Rows]:
    """(column names or None, data rows as text cells) of a CSV whose columns are features.

    Unless ``header`` says, the first row is a header when it holds every one of ``header_names``
    (a model's feature names), else by the usual rule (see :func:`load_csv`). Names that are all
    numbers make that row just as likely data: then ``header`` must say.
    """
    path = Path(path)
    rows = _read_cells(path, delimiter)
    first = rows[0][1]
    if header is None and header_names and set(header_names) <= set(first):
        if all(_is_number(c) for c in first):
            raise ValueError(f"{path}: the first row ({', '.join(first[:8])}{', ...' if len(first) > 8 else ''}) "
                             "is the model's feature names, which are numbers, and could as well be data; say which "
                             "with --header yes or --header no")
        header = True
    names, rows, header = _split_header(path, rows, header)
    return (names if header else None), rows


def parse_cells(path: Path, labels: list[str], lines: list[int], cells: np.ndarray, *,
                numeric: list[bool], missing_ok: list[bool]) -> np.ndarray:
    """Text cells (m, n) -> numbers where ``numeric`` (a missing cell is NaN where ``missing_ok``);
    other columns stay text (a missing cell None). A bad cell raises, naming its column and line."""
    out = np.empty(cells.shape, dtype=np.float64 if all(numeric) else object)
    for j in range(cells.shape[1]):
        if not numeric[j]:
            out[:, j] = [None if is_missing(c) else c for c in cells[:, j]]
            continue
        for i, cell in enumerate(cells[:, j]):
            if is_missing(cell) and missing_ok[j]:
                out[i, j] = np.nan
                continue
            value = float(cell) if _is_number(cell) else None
            if value is None or not np.isfinite(value):
                what = ("missing value" if is_missing(cell) else f"non-numeric value {cell!r}" if value is None
                        else f"infinite value {cell!r}")
                raise ValueError(f"{path}: column {labels[j]!r} (index {j}), line {lines[i]}: {what}; "
                                 "features must be finite numbers")
            out[i, j] = value
    return out


def read_csv_features(path: str | Path, *, header: bool | None = None,
                      delimiter: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read every column as a numeric feature (inputs to predict): ``X`` (m, n_0) float64 and the names."""
    path = Path(path)
    names, rows, _ = _split_header(path, _read_cells(path, delimiter), header)
    cells = np.array([c for _, c in rows], dtype=object).reshape(len(rows), -1)
    X = parse_cells(path, names, [line for line, _ in rows], cells, numeric=[True] * len(names),
                    missing_ok=[False] * len(names))
    return X, tuple(names)
