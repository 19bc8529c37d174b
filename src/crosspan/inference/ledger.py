"""Per-case resume of ``crosspan predict``: a killed prediction run (``kill -9``, a lost node, Ctrl-C) picks up
where it stopped instead of predicting every case again.

``OUT_DIR/.predict-ledger.json`` records what the masks of the folder were made with (``settings``: the weights
file by path, size and mtime, or a zero-shot model's name and hyperparameters, and every option that changes a
mask) and, per finished case, its source image (path, size, mtime). A case is skipped only when the settings are
the same, its image is the same file, unchanged, and its mask is still there; anything else (other weights, other
options, a changed image, an entry whose mask was deleted) is predicted again. A ledger with other settings is
started afresh. Entries are written atomically after each mask, so a kill leaves a ledger that names only
finished masks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crosspan.core.atomic import write_json

LEDGER = ".predict-ledger.json"


def file_stamp(path: str | Path) -> dict[str, Any]:
    """A file by resolved path, size and mtime (what the plan cache also trusts); the path alone when it is not a
    file."""
    p = Path(path).resolve()
    if not p.is_file():
        return {"path": str(p)}
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class PredictionLedger:
    """The finished cases of one predictions folder under one set of ``settings`` (module doc)."""

    def __init__(self, out_dir: str | Path, settings: dict[str, Any], resume: bool = True) -> None:
        self.out_dir, self.path = Path(out_dir), Path(out_dir) / LEDGER
        self.settings = json.loads(json.dumps(settings))  # as it reads back (tuples become lists)
        self.cases: dict[str, dict[str, Any]] = {}
        if resume and self.path.is_file():
            try:
                doc = json.loads(self.path.read_text())
            except (OSError, ValueError):
                doc = {}
            if isinstance(doc, dict) and doc.get("settings") == self.settings and isinstance(doc.get("cases"), dict):
                self.cases = doc["cases"]

    def done(self, case_id: str, image: str | Path, outputs: list[Path]) -> dict[str, Any] | None:
        """The entry of ``case_id`` when it was finished from this very ``image`` and ``outputs`` still exist."""
        entry = self.cases.get(case_id)
        if entry is None or entry.get("image") != file_stamp(image) or not all(p.is_file() for p in outputs):
            return None
        return entry

    def record(self, case_id: str, image: str | Path, **extra: Any) -> None:
        """Mark ``case_id`` finished (call after its mask is written)."""
        self.cases[case_id] = {"image": file_stamp(image), **extra}
        self._write()

    def forget(self, case_ids: list[str]) -> None:
        """Drop entries (masks a failed run removes again)."""
        if any(self.cases.pop(c, None) is not None for c in case_ids):
            self._write()

    def _write(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"settings": self.settings, "cases": self.cases})


__all__ = ["LEDGER", "PredictionLedger", "file_stamp"]
