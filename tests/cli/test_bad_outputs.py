"""Issue 18, T7: an unusable output path stops every command that takes one, before anything is read or written.

The commands and their arguments are enumerated from the CLI itself, so a new command is covered (or fails
:func:`test_every_output_has_a_kind`) without editing this file. As root, ``os.access`` calls every folder
writable, so the permission case is skipped there; a file in place of a folder is caught for everyone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.cli.outputs import OUTPUT_KINDS

runner = CliRunner()


def _leaves(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _leaves(cmd, (*path, name))
        else:
            yield " ".join((*path, name)), cmd


COMMANDS = {name: cmd for name, cmd in _leaves(typer.main.get_command(app))
            if any(p.name == "output" for p in cmd.params)}


def _is_option(param: Any) -> bool:
    return any(o.startswith("-") for o in param.opts)


def _args(name: str, dummy: Path, output: Path) -> list[str]:
    """``name``'s required arguments and options (each given the existing file ``dummy``) and the output."""
    args = name.split()
    for p in COMMANDS[name].params:
        if p.name == "output":
            args += ["-o", str(output)] if _is_option(p) else [str(output)]
        elif p.required:
            args += [p.opts[0], str(dummy)] if _is_option(p) else [str(dummy)]
    return args


def _invoke(name: str, tmp_path: Path, output: Path) -> tuple[int, str, set[Path]]:
    dummy = tmp_path / "input.txt"
    dummy.write_text("x")
    before = set(tmp_path.rglob("*"))
    res = runner.invoke(app, _args(name, dummy, output))
    return res.exit_code, " ".join(res.output.split()), set(tmp_path.rglob("*")) - before


def _assert_one_line(code: int, text: str, output: Path, words: str) -> None:
    assert code == 2 and "Traceback" not in text, text
    assert text.count("error:") == 1 and str(output) in text and words in text and "Fix:" in text, text


def test_every_output_has_a_kind() -> None:
    assert len(COMMANDS) >= 20
    assert set(COMMANDS) == set(OUTPUT_KINDS), set(COMMANDS) ^ set(OUTPUT_KINDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_under_a_file(tmp_path: Path, name: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    output = blocker / "sub" / ("out" if OUTPUT_KINDS[name] == "dir" else "out.csv")
    code, text, new = _invoke(name, tmp_path, output)
    _assert_one_line(code, text, output, "is a file, not a folder")
    assert not new and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_of_the_wrong_kind(tmp_path: Path, name: str) -> None:
    if OUTPUT_KINDS[name] == "dir":
        output = tmp_path / "existing.file"
        output.write_text("keep me")
        words = "is an existing file, not a folder"
    else:
        output = tmp_path / "existing_folder"
        output.mkdir()
        words = "is an existing folder, not a file"
    code, text, new = _invoke(name, tmp_path, output)
    _assert_one_line(code, text, output, words)
    assert not new
    assert output.read_text() == "keep me" if output.is_file() else not any(output.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder: os.access says writable")
@pytest.mark.parametrize("name", ["preprocess", "evaluate", "data catalog", "synth cohort"])
def test_output_in_a_read_only_folder(tmp_path: Path, name: str) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        output = locked / ("out" if OUTPUT_KINDS[name] == "dir" else "out.csv")
        code, text, new = _invoke(name, tmp_path, output)
        _assert_one_line(code, text, output, "is not writable")
        assert not new
    finally:
        locked.chmod(0o755)


def test_usage_errors_keep_clicks_message(tmp_path: Path) -> None:
    """A missing option is a usage error (exit 2, the option named), not an 'unexpected' error."""
    res = runner.invoke(app, ["evaluate", str(tmp_path), "--pred", str(tmp_path), "-o", str(tmp_path / "r.csv")])
    assert res.exit_code == 2 and "--method" in res.output and "unexpected" not in res.output, res.output


def test_benchmark_run_checks_the_specs_output(tmp_path: Path) -> None:
    from tests.bench.test_standin import write_spec

    (tmp_path / "blocker").write_text("x")
    spec = write_spec(tmp_path, seeds=1, steps=1, output="blocker/runs")
    before = set(tmp_path.rglob("*"))
    res = runner.invoke(app, ["benchmark", "run", str(spec)])
    text = " ".join(res.output.split())
    _assert_one_line(res.exit_code, text, tmp_path / "blocker" / "runs", "the spec's output")
    assert set(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(("command", "other", "words"), [
    ("preprocess", "run", "is a run folder"), ("train", "plan", "is a plan folder")])
def test_a_command_refuses_another_commands_folder(run: dict[str, Path], command: str, other: str,
                                                   words: str) -> None:
    before = {p: p.read_bytes() for p in run[other].rglob("*") if p.is_file()}
    source = run["catalog"] if command == "preprocess" else run["plan"]
    res = runner.invoke(app, [command, str(source), "-o", str(run[other]), "--threads" if command == "train" else
                              "--workers", "1"])
    _assert_one_line(res.exit_code, " ".join(res.output.split()), run[other], words)
    assert {p: p.read_bytes() for p in run[other].rglob("*") if p.is_file()} == before


def test_predict_never_overwrites_its_input_images(run: dict[str, Path]) -> None:
    data = run["root"] / "data"
    before = {p: p.read_bytes() for p in data.iterdir()}
    res = runner.invoke(app, ["predict", str(run["run"]), str(run["catalog"]), "-o", str(data), "--cases", "all"])
    _assert_one_line(res.exit_code, " ".join(res.output.split()), data / "case0.nii.gz", "overwrite an input")
    assert {p: p.read_bytes() for p in data.iterdir()} == before


def _destructive(tmp_path: Path, case: str) -> tuple[list[str], Path, str]:
    from tests.cli.test_bad_inputs import _manifest
    from tests.data.test_io import _dicom_series

    m = _manifest(tmp_path / "ds")
    (tmp_path / "ds" / "notes.txt").write_text("my notes")
    if case == "data check -o the dataset":
        return ["data", "check", str(m), "--label-map", "2:0", "-o", str(tmp_path / "ds")], tmp_path / "ds", "holds"
    if case == "data catalog -o its manifest":
        return ["data", "catalog", str(m), "-o", str(m)], m, "is the input file"
    if case == "evaluate -o its catalog":
        return ["evaluate", str(m), "--pred", str(tmp_path / "ds"), "--method", "x", "-o", str(m)], m, "is the input"
    _dicom_series(tmp_path / "ds" / "dicom")
    return ["data", "dicom", str(tmp_path / "ds"), "-o", str(tmp_path / "ds"), "--salt", "s"], tmp_path / "ds", "holds"


@pytest.mark.parametrize("case", ["data check -o the dataset", "data catalog -o its manifest",
                                  "evaluate -o its catalog", "data dicom -o its input"])
def test_an_output_never_destroys_an_input(tmp_path: Path, case: str) -> None:
    args, output, words = _destructive(tmp_path, case)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    res = runner.invoke(app, args)
    _assert_one_line(res.exit_code, " ".join(res.output.split()), output, words)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
