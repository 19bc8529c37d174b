"""The output check every command runs before it reads anything (issue 18, T7).

Each command's output (``-o``, or the positional ``OUTPUT`` of ``synth cohort`` / ``synth render``) is either a
folder or a file. Before the command's body runs, the path must be usable as that kind: an existing file where a
folder is expected, a folder where a file is expected, a parent that is a file, or a place that is not writable
stops the command with one line (path, problem, fix) and nothing is written. As root a folder without write
permission is writable anyway (``os.access`` says so), so only a file in the way is refused there.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from crosspan.core.errors import CrosspanError

#: command -> kind of its ``output`` parameter; a command with an ``output`` parameter must be listed (tested)
OUTPUT_KINDS: dict[str, str] = {
    **dict.fromkeys(("preprocess", "train", "predict", "analyze", "demo", "data check", "data dicom",
                     "export nnunet", "synth cohort", "synth render", "synth labelmaps", "annotate assign",
                     "annotate adjudicate", "annotate consensus", "ssl pair"), "dir"),
    **dict.fromkeys(("evaluate", "report", "methods", "data catalog", "data summary", "data splits",
                     "synth preview", "benchmark status", "benchmark collect", "annotate compare",
                     "ssl true-labels"), "file"),
}


#: command -> (a name whose presence in the output folder marks another command's folder, what that folder is)
FOREIGN: dict[str, tuple[str, str]] = {
    "preprocess": ("model.json", "a run folder of `crosspan train` (its plan.json would be replaced)"),
    "train": ("cache", "a plan folder of `crosspan preprocess` (its plan.json would be replaced)"),
}


#: commands that write their output folder as a whole (it replaces the old folder): an input inside would be lost
REPLACED = {"data check", "data dicom", "synth cohort", "synth render", "synth labelmaps", "annotate assign",
            "annotate adjudicate", "annotate consensus"}


def _first_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path(".")


def output_problem(path: Path, kind: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``path`` cannot be written as a ``kind`` (``dir`` or ``file``), else None."""
    if path.exists():
        if kind == "dir" and not path.is_dir():
            return "is an existing file, not a folder", "give a folder path (new or existing), or move the file away"
        if kind == "file" and path.is_dir():
            return "is an existing folder, not a file", "give a file path, e.g. FOLDER/name with the right suffix"
        if not os.access(path, os.W_OK):
            return "is not writable", "choose a writable place, or fix the permissions"
        return None
    base = _first_existing(path.absolute().parent)
    if not base.is_dir():
        return f"cannot be created: {base} is a file, not a folder", "choose a path under a folder"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"cannot be created: folder {base} is not writable", "choose a writable place, or fix the permissions"
    return None


def check_output(path: str | Path, kind: str, flag: str = "-o", command: str = "") -> None:
    """Raise a one-line :class:`CrosspanError` when ``path`` is unusable as the command's output (or, for
    ``command`` in :data:`FOREIGN`, is another command's folder)."""
    found = output_problem(Path(path), kind)
    if found:
        raise CrosspanError(path, f"{flag} {found[0]}", found[1], code="output")
    if command in FOREIGN and (Path(path) / FOREIGN[command][0]).exists():
        raise CrosspanError(path, f"{flag} is {FOREIGN[command][1]}", "give this command its own folder",
                            code="output")


def check_inputs_survive(output: str | Path, inputs: list[Path], kind: str, flag: str = "-o",
                         replaced: bool = False) -> None:
    """Refuse an output that would destroy an input: a file output that is an input file, or a folder output
    written as a whole (``replaced``) that is, or holds, an input."""
    out = Path(os.path.realpath(output))
    for path in inputs:
        real = Path(os.path.realpath(path))
        if kind == "file" and real == out:
            raise CrosspanError(output, f"{flag} is the input file {path}: it would be overwritten",
                                "write the output to a new file", code="output")
        if kind == "dir" and replaced and (real == out or out in real.parents):
            raise CrosspanError(output, f"{flag} holds the input {path}, and the whole folder is replaced",
                                "write the output to a new folder outside the input", code="output")


def _paths(value: Any) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, Path)]
    return []


def _guarded(callback: Any, kind: str, flag: str, command: str) -> Any:
    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("output") is not None:
            check_output(kwargs["output"], kind, flag, command)
            inputs = [p for k, v in kwargs.items() if k != "output" for p in _paths(v)]
            check_inputs_survive(kwargs["output"], inputs, kind, flag, command in REPLACED)
        return callback(*args, **kwargs)

    return wrapper


def guard_outputs(group: Any, prefix: str = "") -> None:
    """Wrap the callback of every command under ``group`` that has an ``output`` parameter in :func:`check_output`."""
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix} {name}".strip()
        if hasattr(cmd, "commands"):
            guard_outputs(cmd, full)
            continue
        param = next((p for p in cmd.params if p.name == "output"), None)
        if param is None or cmd.callback is None or full not in OUTPUT_KINDS:
            continue
        flag = "-o" if any(o.startswith("-") for o in param.opts) else "OUTPUT"
        cmd.callback = _guarded(cmd.callback, OUTPUT_KINDS[full], flag, full)
