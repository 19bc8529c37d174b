"""Typed JSON documents (plan, run model, splits): one loader that names the file, the problem and the fix.

Each document is a pydantic model; :func:`load_document` reads a file into it, and a missing file, bad JSON or a
field of the wrong type is one :class:`CrosspanError` line. Unknown keys are kept (``extra="allow"``), so files
written by a newer crosspan still load and are written back unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, ValidationError, model_serializer

from crosspan.core.errors import CrosspanError

D = TypeVar("D", bound="Document")


class Document(BaseModel):
    """Base of the JSON documents: attribute access, unknown keys kept, assignments validated."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    #: key order of the written JSON when it differs from the declaration order (a subclass adds fields last)
    json_order: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An optional field left at ``None`` is left out (as the writers always did), at every level."""
        fields = type(self).model_fields
        out = {k: v for k, v in handler(self).items() if not (v is None and k in fields and fields[k].default is None)}
        order = type(self).json_order
        return {**{k: out[k] for k in order if k in out}, **out} if order else out

    def to_json(self) -> dict[str, Any]:
        """The JSON mapping: fields in declaration order, then unknown keys as read."""
        return self.model_dump(mode="json")


def validation_problem(err: ValidationError) -> str:
    """The first error of a pydantic validation as ``field: message`` (with the count of the others)."""
    errors = err.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_document(cls: type[D], raw: Any, path: str | Path | None, what: str, fix: str) -> D:
    """Validate an already-parsed mapping as ``cls``; a bad field is one :class:`CrosspanError`."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise CrosspanError(path, f"not a valid {what} ({validation_problem(err)})", fix) from None


def load_document(cls: type[D], path: str | Path, what: str, fix: str) -> D:
    """Read ``path`` as a ``cls`` document: a missing file, bad JSON or a bad field is one :class:`CrosspanError`
    naming ``path`` and ``fix``."""
    path = Path(path)
    if not path.is_file():
        raise CrosspanError(path, f"no {what} here", fix)
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CrosspanError(path, f"not a readable {what} ({type(err).__name__})", fix) from None
    return parse_document(cls, raw, path, what, fix)


__all__ = ["Document", "load_document", "parse_document", "validation_problem"]
