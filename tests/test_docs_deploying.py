"""docs/deploying.md runs as written: its Python blocks in one namespace, its `vecprop` commands, in order."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cli_helpers import vecprop

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploying.md"


def test_deploying_md_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 6
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
            continue
        for line in code.strip().splitlines():
            argv = shlex.split(line)
            assert argv[0] == "vecprop", line
            r = vecprop(*argv[1:], cwd=tmp_path)
            assert r.returncode == 0, f"{line}\n{r.stderr}"
    assert (tmp_path / "iris.onnx").exists() and (tmp_path / "predictions.csv").exists()
