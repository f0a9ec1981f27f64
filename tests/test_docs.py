"""Docs are executable: every snippet of README.md and docs/*.md runs, in document order, in a scratch folder.

- ```python blocks run in one namespace per page (```python no-run: a fragment, shown, not run).
- `vecprop ...` lines of sh/bash/plain blocks (a `$ ` prompt and `# comments` allowed) run; a line
  followed by `vecprop: error: ...` must fail with that error. `vecprop train` runs are capped
  at 2 epochs unless VECPROP_DOCS_FULL=1; commands that need a network, a browser, MPI or
  minutes (fetch, playground, mpiexec, the Fashion-MNIST recipe) are checked without running:
  their flags must parse and their --data must exist.
- ```toml blocks must be valid config files; ```json blocks valid JSON.
So a renamed flag, data set or function fails CI.
"""
from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import vecprop

ROOT = Path(__file__).resolve().parents[1]
ALL_DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)
FULL = os.environ.get("VECPROP_DOCS_FULL") == "1"
DRY = {"fetch", "playground"}  # the network, a browser: flags checked only
SLOW_DATA = {"fashion-mnist"}
SYNOPSIS = re.compile(r"\[|\.\.\.|(^|\s)[A-Z][A-Z0-9_]*(\.[a-z]+)?(\s|$)|N0,")


def steps(doc: str) -> list[tuple[int, str, object]]:
    """(line, kind, payload) of every runnable snippet of ``doc``, in order."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    out: list[tuple[int, str, object]] = []
    for m in FENCE.finditer(text):
        info, code = m.group(1).split(), m.group(2)
        line = text[: m.start()].count("\n") + 1
        lang = info[0] if info else ""
        if "no-run" in info:
            continue
        if lang == "python":
            out.append((line, "python", code))
        elif lang == "toml":
            out.append((line, "toml", code))
        elif lang == "json":
            out.append((line, "json", code))
        elif lang in ("", "sh", "bash", "console"):
            lines = code.splitlines()
            for k, raw in enumerate(lines):
                argv = _command(raw)
                if argv is None:
                    continue
                follow = lines[k + 1] if k + 1 < len(lines) else ""
                error = follow[len("vecprop: error: "):] if follow.startswith("vecprop: error:") else None
                out.append((line + 1 + k, "vecprop", (argv, error, raw)))
    return out


def _command(raw: str) -> list[str] | None:
    """A documented `vecprop` command as argv (launchers, env prefixes, prompts dropped), or None."""
    text = raw.strip()
    if text.startswith("$ "):
        text = text[2:]
    if SYNOPSIS.search(text.split("#")[0]) and "vecprop" in text or re.match(r"vecprop \w+\s{2,}\w", text):
        return None  # a usage line (vecprop train --data DATA [options]) or a list of commands with their help
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return None
    if "vecprop" in words and words[0] != "vecprop":
        first = words.index("vecprop")
        if not all("=" in w or w in ("mpiexec", "mpirun", "srun") or w.startswith("-") or w.isdigit()
                   or w.endswith(".txt") for w in words[:first]):
            return None  # pip install vecprop, ...
        words = ["mpiexec", *words[first:]] if any(w in ("mpiexec", "mpirun", "srun") for w in words[:first]) \
            else words[first:]
    elif words[:1] == [".venv/bin/vecprop"]:
        words = ["vecprop", *words[1:]]
    return words if words[:1] in (["vecprop"], ["mpiexec"]) and len(words) > 1 else None


def fixtures(folder: Path) -> None:
    """Files the docs' commands read, as a reader would have them."""
    from vecprop import datasets

    digits = datasets.load("digits")
    np.save(folder / "digits5.npy", digits.X[:5])
    np.savetxt(folder / "inputs.csv", digits.X[:3], delimiter=",")
    (folder / "bad.csv").write_text("a,b,y\n1,2,0\n3,x,1\n4,5,0\n")


DOCS = [doc for doc in ALL_DOCS if steps(doc)]  # pages of prose only (derivation.md, losses.md) have nothing to run


def test_every_page_with_code_is_run():
    assert {"README.md", "docs/cli.md", "docs/deploying.md", "docs/tutorial.md"} <= set(DOCS)


@pytest.mark.parametrize("doc", DOCS)
def test_doc_runs(doc, tmp_path, monkeypatch):
    found = steps(doc)
    monkeypatch.chdir(tmp_path)
    fixtures(tmp_path)
    namespace: dict = {"__name__": "__doc__"}
    for line, kind, payload in found:
        where = f"{doc}:{line}"
        if kind == "python":
            try:
                exec(compile(payload, where, "exec"), namespace)  # noqa: S102 (our own docs)
            except Exception as err:  # noqa: BLE001 (any failure is the doc's)
                pytest.fail(f"{where}: the python block fails: {type(err).__name__}: {err}")
        elif kind == "json":  # one document, or JSON lines
            try:
                json.loads(payload)
            except json.JSONDecodeError:
                for k, text in enumerate(payload.splitlines()):
                    try:
                        json.loads(text)
                    except json.JSONDecodeError as err:
                        pytest.fail(f"{where}: line {k + 1} of the json block is not JSON: {err}")
        elif kind == "toml":
            from vecprop.cli.config import read_config_file

            path = tmp_path / "doc-config.toml"
            path.write_text(payload)
            read_config_file(path)  # unknown sections/keys and wrong types raise, naming them
        else:
            _run_command(where, *payload, tmp_path)


def _run_command(where: str, argv: list[str], error: str | None, raw: str, folder: Path) -> None:
    if argv[0] == "mpiexec":
        argv = argv[1:]
        return _dry(where, argv, raw, folder)
    command = argv[1]
    data = _flag(argv, "--data")
    config = _flag(argv, "--config")
    slow = data in SLOW_DATA or (config is not None and "examples/" in config) or "--resume" in argv
    if command in DRY or (command == "train" and slow and not FULL):
        return _dry(where, argv, raw, folder)
    args = argv[1:]
    if command == "train" and not FULL:
        args = [*args, "--epochs", "2"]  # flags win over a config file, so this caps any run
    r = vecprop(*args, cwd=folder, timeout=600)
    if error is not None:  # the documented message, "..." standing for any text
        at, pieces = 0, [p.strip() for p in error.split("...") if p.strip()]
        for piece in pieces:
            at = r.stderr.find(piece, at)
            assert at >= 0, f"{where}: `{raw}` should fail with {error!r}; got {r.stderr}"
        assert r.returncode == 2, f"{where}: `{raw}` should exit 2; got {r.returncode}"
    else:
        assert r.returncode == 0, f"{where}: `{raw}` failed:\n{r.stderr}"


def _dry(where: str, argv: list[str], raw: str, folder: Path) -> None:
    """The command's flags parse, and its --data / --config / MODEL files exist (or are named data sets)."""
    from vecprop import datasets
    from vecprop.cli import build_parser

    try:
        build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"{where}: `{raw}`: its flags do not parse (see the error above)")
    data = _flag(argv, "--data")
    names = {row[0] for row in datasets.available()}
    if data is not None and data not in names:
        assert (ROOT / data).exists() or (folder / data).exists() or data.startswith("/"), \
            f"{where}: `{raw}`: --data {data} is neither a data set ({', '.join(sorted(names))}) nor a file"
    config = _flag(argv, "--config")
    if config is not None and not (folder / config).exists():
        assert (ROOT / config).exists(), f"{where}: `{raw}`: --config {config} does not exist"


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None
