"""Issue 18, part of the bad-input corpus, for cases nobody listed: every command with an output, its required
inputs given a missing path, an empty file, an empty folder, random bytes named ``.nii.gz``, an unrelated CSV or a
YAML list. Each must be refused with a handled one-line error (never exit 0, never an 'unexpected' error)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.cli.outputs import OUTPUT_KINDS
from tests.cli.test_bad_outputs import COMMANDS, _is_option

runner = CliRunner()
#: commands whose required inputs are all outputs or options (they would run for real on any input)
RUNS_ANYWAY = {"demo", "methods", "synth cohort"}


def _inputs(root: Path) -> dict[str, Path]:
    root.mkdir()
    (root / "empty.csv").write_bytes(b"")
    (root / "emptydir").mkdir()
    (root / "garbage.nii.gz").write_bytes(os.urandom(300))
    (root / "other.csv").write_text("a,b\n1,2\n")
    (root / "list.yaml").write_text("- just\n- a list\n")
    return {"missing": root / "nope.csv", "empty file": root / "empty.csv", "empty folder": root / "emptydir",
            "random bytes": root / "garbage.nii.gz", "unrelated csv": root / "other.csv",
            "yaml list": root / "list.yaml"}


def _args(name: str, value: Path, out: Path) -> list[str]:
    args = name.split()
    for p in COMMANDS[name].params:
        if p.name == "output":
            args += ["-o", str(out)] if _is_option(p) else [str(out)]
        elif p.required:
            v = {"segmenter": "mrsegmentator", "method": "x"}.get(p.name, str(value))
            args += [p.opts[0], v] if _is_option(p) else [v]
    return args


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - RUNS_ANYWAY))
def test_garbage_inputs_are_refused_with_one_line(tmp_path: Path, name: str) -> None:
    for kind, value in _inputs(tmp_path / "in").items():
        out = tmp_path / "out" / kind.replace(" ", "_") / ("o" if OUTPUT_KINDS[name] == "dir" else "o.csv")
        res = runner.invoke(app, _args(name, value, out))
        text = " ".join(res.output.split())
        assert res.exit_code != 0 and "unexpected" not in text and "Traceback" not in text, (kind, text)
        assert "error" in text.lower() or "Usage" in text, (kind, text)
        assert not out.exists(), kind
