"""The commit a benchmark records: the checkout's, marked ``-dirty`` when tracked files under the folder changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from crosspan.bench.provenance import commit_of


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_commit_of_marks_uncommitted_changes_of_tracked_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "pkg" / "code.py").write_text("x = 1\n")
    (repo / "other.txt").write_text("a\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "--short", "HEAD")
    assert commit_of(repo / "pkg") == head
    (repo / "pkg" / "new.py").write_text("untracked\n")
    (repo / "other.txt").write_text("b\n")  # outside the folder
    assert commit_of(repo / "pkg") == head
    (repo / "pkg" / "code.py").write_text("x = 2\n")
    assert commit_of(repo / "pkg") == f"{head}-dirty"
    assert commit_of(tmp_path) is None  # not a checkout
