"""Field types of the benchmark spec's sections, and the one translation of a schema error into a spec error.

The sections (protocols, training, evaluation, executor) are pydantic dataclasses in :mod:`crosspan.bench.spec`;
:func:`validate` builds one from its YAML mapping, and the first problem pydantic finds becomes one
:class:`CrosspanError` naming the spec file, the key (``protocols[0].folds``), the problem and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from crosspan.bench.speccheck import NAME, Check
from crosspan.core.errors import CrosspanError

T = TypeVar("T")


def problem(problem: str, fix: str, key: str = "") -> PydanticCustomError:
    """A spec-specific failure: pydantic carries the problem and its fix to :func:`validate`; ``key`` names the
    field when a validator of the whole entry raises it (``zero_shot``)."""
    return PydanticCustomError("spec", "{problem}", {"problem": problem, "fix": fix, "key": key})


def _strings(value: Any) -> Any:
    """``"A:T1, B:T1"`` or ``[A:T1, B:T1]`` (or a tuple, from ``dataclasses.replace``) -> a tuple of strings
    (numbers read as text)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) and not isinstance(v, bool)
                                                      for v in value):
        raise problem(f"expected a list of strings, got {value!r}", "write {where}: [A:T1, B:T1]")
    return tuple(str(v) for v in value)


def _name(value: Any) -> Any:
    if not isinstance(value, str) or not NAME.match(value):
        raise problem(f"invalid name {value!r}", "use letters, digits, '.', '_', '+' or '-'")
    return value


def _ratios(value: Any) -> tuple[float, ...]:
    """Label ratios in percent (``10``) or as fractions (``0.1``) -> unique fractions in (0, 1]. A tuple comes from
    ``dataclasses.replace`` on a checked entry (a subset may cut it to nothing, and says so itself)."""
    if isinstance(value, tuple):
        return value
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise problem(f"expected a non-negative number, got {v!r}", "write percentages like 5, 10, 100")
        r = v / 100.0 if v > 1 else float(v)
        if not 0 < r <= 1:
            raise problem(f"label ratio {v!r} outside (0, 100]", "write percentages like 5, 10, 100")
        out.append(r)
    if not out:
        raise problem("empty list", "give at least one label ratio, e.g. [100]")
    return tuple(dict.fromkeys(out))


def resolve_path(value: Any, info: ValidationInfo) -> Path:
    """A path, ``~`` and ``$VARS`` expanded, relative to the spec's folder (validation context ``base``). A
    :class:`Path` is one already resolved (``dataclasses.replace``)."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise problem(f"expected a path, got {value!r}", "set {where} to a folder path")
    p = Path(os.path.expandvars(os.path.expanduser(value)))
    return p if p.is_absolute() else (Path((info.context or {}).get("base", ".")) / p).resolve()


def _listed(value: Any) -> Any:
    """A single value -> a list of one."""
    return value if isinstance(value, list | tuple) else [value]


Strings = Annotated[tuple[str, ...], BeforeValidator(_strings)]
SpecName = Annotated[str, BeforeValidator(_name)]
Ratios = Annotated[tuple[float, ...], BeforeValidator(_ratios)]
Count = Annotated[int, Field(ge=0, strict=True)]
Positive = Annotated[int, Field(ge=1, strict=True)]
AtLeastTwo = Annotated[int, Field(ge=2, strict=True)]
NonNegative = Annotated[float, Field(ge=0.0, strict=True)]  # a float bound: its error says "number"
Seeds = Annotated[tuple[Count, ...], BeforeValidator(_listed)]  # ``0`` or ``[0, 1, 2]``
FolderPath = Annotated[Path, BeforeValidator(resolve_path)]

#: how a field's allowed values are named in "unknown <label> 'x'" (field -> label)
LABELS = {"protocol": "protocol", "training_input": "training input", "ssl_pair": "value", "kind": "executor",
          "amp": "precision", "shape": "shape", "profile": "profile", "method_order": "order"}
#: keys whose name in an error carries a unit
UNITS = {"executor.time": "executor.time (minutes)"}


def _where(section: str, loc: tuple[Any, ...]) -> str:
    """``protocols[0]`` + ``("folds",)`` -> ``protocols[0].folds``; a list item: its key's name; the whole
    document (section ``""``): ``spec``."""
    where = ".".join(p for p in (section, *loc) if isinstance(p, str) and p) or "spec"
    return UNITS.get(where, where)


def _bound(cls: type, key: str) -> int:
    """The lower bound (``Field(ge=...)``) declared on field ``key`` of a pydantic dataclass (0 if none)."""
    info = getattr(cls, "__pydantic_fields__", {}).get(key)
    stack: list[Any] = [*getattr(info, "metadata", []), getattr(info, "annotation", None)]
    while stack:  # through Optional[...] and Annotated[...] down to the Ge constraint
        item = stack.pop()
        if getattr(item, "ge", None) is not None:
            return int(item.ge)
        stack += [*getattr(item, "metadata", []), *get_args(item)]
    return 0


def _class_at(cls: type, loc: tuple[Any, ...]) -> type:
    """The pydantic dataclass that holds the field at ``loc`` (``("synthetic", "patients")`` -> Synthetic)."""
    for part in loc[:-1]:
        info = getattr(cls, "__pydantic_fields__", {}).get(part)
        stack: list[Any] = [getattr(info, "annotation", None)]
        while stack:  # through Optional[...] and Annotated[...] down to a nested dataclass
            item = stack.pop()
            if hasattr(item, "__pydantic_fields__"):
                cls = item
                break
            stack += list(get_args(item))
    return cls


def _translate(c: Check, section: str, err: ValidationError, cls: type, missing_fix: str) -> CrosspanError:
    """The first error of ``err`` as the spec error the hand-written checks gave (same words)."""
    from dataclasses import fields

    errors = sorted(err.errors(), key=lambda e: e["type"] not in ("unexpected_keyword_argument", "extra_forbidden"))
    first = errors[0]
    kind, loc, value = first["type"], tuple(first["loc"]), first.get("input")
    where = _where(section, loc)
    key = str(loc[-1]) if loc else ""
    cls = _class_at(cls, tuple(p for p in loc if isinstance(p, str)))
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        unknown = sorted(str(e["loc"][-1]) for e in errors if e["type"] == kind and tuple(e["loc"][:-1]) == loc[:-1])
        return c.fail(_where(section, loc[:-1]), f"unknown key(s) {', '.join(unknown)}",
                      f"use only {', '.join(sorted(f.name for f in fields(cls)))} (see docs/benchmark.md)")
    if kind in ("missing", "missing_keyword_argument") and not section and len(loc) == 1:
        return c.fail("", f"missing required key `{key}`", missing_fix)
    if kind in ("missing", "missing_keyword_argument"):
        return c.fail(_where(section, loc[:-1]), f"missing `{key}`", missing_fix)
    if kind in ("dataclass_type", "model_type", "dict_type"):
        return c.fail(where, f"expected a mapping, got {type(value).__name__}", f"write `{where}:` as key: value")
    if kind == "literal_error":
        choices = first["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        return c.fail(where, f"unknown {LABELS.get(key, key)} {value!r}", f"use one of {choices}")
    if kind == "spec":
        where = f"{where}.{first['ctx']['key']}" if first["ctx"].get("key") else where
        return c.fail(where, first["ctx"]["problem"], first["ctx"]["fix"].replace("{where}", where))
    if kind.startswith("int") or (kind.startswith("greater_than") and isinstance(first["ctx"]["ge"], int)):
        low = (first.get("ctx") or {}).get("ge", _bound(cls, key))
        return c.fail(where, f"expected an integer >= {low}, got {value!r}", f"set {where} to a number")
    if kind.startswith(("float", "greater_than")):
        return c.fail(where, f"expected a non-negative number, got {value!r}", f"set {where} to a number")
    if kind.startswith("string"):
        return c.fail(where, f"expected text, got {value!r}", f"set {where} to a string")
    return c.fail(where, first["msg"], "see docs/benchmark.md")


def validate(c: Check, cls: type[T], raw: Any, section: str, missing_fix: str = "see docs/benchmark.md",
             context: dict[str, Any] | None = None) -> T:
    """``cls`` (a pydantic dataclass of the spec) from its YAML mapping; ``None`` gives the defaults. ``context``
    reaches the validators (``base``: the spec's folder, for relative paths)."""
    try:
        return TypeAdapter(cls).validate_python({} if raw is None else raw, context=context)
    except ValidationError as err:
        raise _translate(c, section, err, cls, missing_fix) from None


__all__ = ["AtLeastTwo", "Count", "FolderPath", "NonNegative", "Positive", "Ratios", "Seeds", "SpecName", "Strings",
           "problem", "resolve_path", "validate"]
