"""Docs are executable: each page's ```python blocks run in order in one namespace; cheap ```sh commands run too.

Extend DOCS as pages become executable; CHEAP lists the ``vecprop`` subcommands quick enough to run
every time (a ```sh line with another subcommand, ``vecprop playground`` say, is shown, not run).
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cli_helpers import vecprop

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["docs/tutorial.md", "docs/playground.md", "docs/sklearn.md"]
CHEAP = ("explain", "gradcheck", "datasets")
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)


def blocks(doc: str, lang: str) -> list[tuple[int, str]]:
    """(line number, code) of each fenced block in ``lang``, in order."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


def commands() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        for line, code in blocks(doc, "sh"):
            for k, cmd in enumerate(code.splitlines()):
                words = shlex.split(cmd, comments=True)
                if words[:1] == ["vecprop"] and len(words) > 1 and words[1] in CHEAP:
                    out.append((doc, line + 1 + k, cmd))
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_python_blocks_run_in_order(doc, tmp_path, monkeypatch):
    found = blocks(doc, "python")
    assert found, f"{doc} has no python blocks"
    monkeypatch.chdir(tmp_path)  # files a snippet writes land here
    namespace: dict = {"__name__": "__doc__"}
    for line, code in found:
        try:
            exec(compile(code, f"{doc}:{line}", "exec"), namespace)  # noqa: S102 (our own docs)
        except Exception as err:  # noqa: BLE001 (any failure is the doc's, reported with its line)
            pytest.fail(f"{doc}: the python block at line {line} fails: {type(err).__name__}: {err}")


@pytest.mark.parametrize("doc, line, command", commands(), ids=lambda v: str(v)[:60])
def test_cheap_commands_run(doc, line, command, tmp_path):
    r = vecprop(*shlex.split(command, comments=True)[1:], cwd=tmp_path)
    assert r.returncode == 0, f"{doc}:{line}: {command}\n{r.stderr}"
