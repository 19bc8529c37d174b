"""The splits JSON (``crosspan data splits``) as a typed document, with the one rule that picks a fold.

Every reader (preprocess, predict, evaluate, ``ssl pair``, ``export nnunet``) loads it with :meth:`Splits.load`
and picks a fold with :meth:`Splits.fold`: by index (``0``, ``"1"``) or by name (``"fold2"``, ``"split0-r25"``);
with no choice, the only fold (a file of several folds asks for one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from crosspan.core.errors import CrosspanError
from crosspan.data.documents import Document, load_document, parse_document

SPLITS_FIX = "pass a JSON written by `crosspan data splits`"
FOLD_LISTS = ("test", "val", "train", "unlabeled")  # a fold's case lists, as --cases names them


def _case_id(value: Any) -> Any:
    """Case ids are strings; a number written by hand is read as its text (``7`` -> ``"7"``)."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


CaseIds = list[Annotated[str, BeforeValidator(_case_id)]]


class Fold(Document):
    """One split: case lists, the training domains and input, the label ratio it was made with."""

    name: str = ""
    train: CaseIds = Field(default_factory=list)
    val: CaseIds = Field(default_factory=list)
    test: CaseIds = Field(default_factory=list)
    unlabeled: CaseIds = Field(default_factory=list)
    train_domains: list[str] = Field(default_factory=list)
    label_ratio: float = 1.0
    training_input: Literal["images", "label-maps"] | None = None  # written for label-map folds only

    def cases(self, which: str) -> list[str]:
        """The case ids of one of the fold's lists (``test``, ``val``, ``train``, ``unlabeled``), or ``all`` of
        them; another name is an error (never a silent fallback to the test cases)."""
        if which == "all":
            return [*self.train, *self.val, *self.test, *self.unlabeled]
        if which not in FOLD_LISTS:
            raise CrosspanError(None, f"unknown case list {which!r} of split {self.name or '0'}",
                                f"use --cases {', '.join(FOLD_LISTS)} or all")
        return list(getattr(self, which))


class Splits(Document):
    """A splits document: the protocol, its seed and parameters, and the folds."""

    protocol: str | None = None
    seed: int | None = None
    params: dict[str, Any] | None = None
    splits: list[Fold]
    path: Path | None = Field(default=None, exclude=True)  # where it was read from (for error messages)

    @classmethod
    def load(cls, path: str | Path) -> Splits:
        """Read a splits JSON; a missing file, bad JSON or a bad field is one error naming the file."""
        doc = load_document(cls, path, "splits file", SPLITS_FIX)
        doc.path = Path(path)
        return doc

    @classmethod
    def parse(cls, raw: Any, path: str | Path | None = None) -> Splits:
        doc = parse_document(cls, raw, path, "splits file", SPLITS_FIX)
        doc.path = Path(path) if path is not None else None
        return doc

    def names(self) -> list[str]:
        return [f.name for f in self.splits]

    def fold(self, key: int | str | None = None) -> Fold:
        """The fold named ``key``, else the fold at index ``key`` (``3`` or ``"3"``); ``None``: the only fold."""
        n = len(self.splits)
        listing = f"{n} split(s): {', '.join(self.names())}"
        if key is None:
            if n != 1:
                raise CrosspanError(self.path, f"{n} folds ({', '.join(self.names())})",
                                    "choose one with --fold NAME or --fold INDEX")
            return self.splits[0]
        for f in self.splits:
            if isinstance(key, str) and f.name == key:
                return f
        text = str(key).strip()
        if text.lstrip("-").isdigit() and 0 <= int(text) < n:
            return self.splits[int(text)]
        what = f"fold {key}" if text.lstrip("-").isdigit() else f"split '{key}'"
        raise CrosspanError(self.path, f"{what} not in the splits file ({listing})",
                            f"use --fold 0..{n - 1} or one of the fold names")

    def index(self, key: int | str | None = None) -> int:
        """Position of :meth:`fold` ``(key)`` in the file."""
        f = self.fold(key)
        return next(i for i, s in enumerate(self.splits) if s is f)

    def with_fold(self, index: int, fold: Fold) -> Splits:
        """A copy with the fold at ``index`` replaced."""
        folds = list(self.splits)
        folds[index] = fold
        return self.model_copy(update={"splits": folds})


__all__ = ["Fold", "Splits"]
