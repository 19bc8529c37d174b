"""The datasets of a benchmark spec: the one it trains and tests on (``dataset``) and extra TEST datasets
(``test_datasets``) that every trained model of the spec predicts on, e.g. the stress suite
(``crosspan synth cohort --profile stress``), which is never trained on."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.dataclasses import dataclass as schema

from crosspan.bench.spec_schema import Count, Positive, SpecName, Strings, problem, resolve_path, validate
from crosspan.bench.speccheck import Check

IN_DISTRIBUTION = "in-distribution"  # the ``test_set`` of the main dataset's own test split
_SCHEMA = ConfigDict(extra="forbid")


def _centers(value: Any) -> Any:
    """A synthetic cohort's centers: unset -> the profile's default (A, B, C; stress: every stress center);
    ``N`` -> the first N presets A, B, C, ..."""
    if not isinstance(value, dict):
        return value  # a mapping error (or the keyword arguments of ``dataclasses.replace``)
    centers = value.get("centers", ["A", "B", "C"] if value.get("profile", "default") == "default" else [])
    if isinstance(centers, int) and not isinstance(centers, bool):
        if centers < 1:
            raise problem(f"expected an integer >= 1, got {centers!r}", "set {where} to a number", "centers")
        centers = [chr(ord("A") + i) for i in range(centers)]
    return {**value, "centers": centers}


@schema(frozen=True, config=_SCHEMA)
class Synthetic:
    patients: Positive = 12
    centers: Strings = ("A", "B", "C")  # empty: every center of the profile (`synth cohort` default)
    sequences: Strings = ("T1", "T2", "OOP")
    seed: Count = 0
    shape: Literal["default", "small"] = "default"
    set: Strings = ()
    tissue_maps: bool = False  # also write tissue label maps (needed by label-map protocols; set automatically)
    profile: Literal["default", "stress"] = "default"  # "stress": the test-only centers S1-S4 (never trained on)
    #: train on a stress-profile cohort all the same: the issue-#17 part-3 setting (an unfamiliar cohort's own labels
    #: and unlabeled scans); it must not share its seed with a stress test dataset. Not hashed: the data is the same
    train_on_stress: bool = False

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        return _centers({} if value is None else value)


PROFILES: tuple[str, ...] = ("default", "stress")


def _path(value: Any, info: ValidationInfo) -> Path:
    """A dataset folder or catalog (:func:`resolve_path`); it must exist."""
    p = resolve_path(value, info)
    if not p.exists():
        raise problem(f"{p} does not exist", "point it at a dataset folder or catalog CSV")
    return p


DataPath = Annotated[Path, BeforeValidator(_path)]


def _one_source(value: Any, fix: str, problem_text: str, need_name: bool = False) -> Any:
    """Exactly one of ``path`` / ``synthetic`` (and a ``name``); ``synthetic:`` with nothing under it: defaults."""
    if not isinstance(value, dict):
        return value
    if (need_name and "name" not in value) or ("path" in value) == ("synthetic" in value):
        raise problem(problem_text, fix)
    return {**value, "synthetic": {}} if "synthetic" in value and value["synthetic"] is None else value


@schema(frozen=True, config=_SCHEMA)
class Dataset:
    """The spec's ``dataset``: a folder or catalog CSV (``path``, or the plain string) or a synthetic cohort."""

    path: DataPath | None = None
    synthetic: Synthetic | None = None

    @model_validator(mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return _one_source({"path": value} if isinstance(value, str) else value,
                           "write `dataset: data/crosspan` or `dataset: {synthetic: {patients: 12}}`",
                           "give exactly one of `path` or `synthetic`")


def _not_in_distribution(name: str) -> str:
    if name == IN_DISTRIBUTION:
        raise problem(f"`{IN_DISTRIBUTION}` names the dataset's own test split", "give the test dataset another name")
    return name


@schema(frozen=True, config=_SCHEMA)
class TestDataset:
    """A dataset only predicted on: a folder / catalog (``path``) or a synthetic cohort; ``targets`` (CENTER:SEQ
    patterns) keeps only those scans (empty: all of them)."""

    __test__ = False  # not a pytest class

    name: Annotated[SpecName, AfterValidator(_not_in_distribution)]
    path: DataPath | None = None
    synthetic: Synthetic | None = None
    targets: Strings = field(default=())

    @model_validator(mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return _one_source(value, "write `{name: stress, synthetic: {profile: stress, patients: 12, seed: 100}}`",
                           "needs a `name` and exactly one of `path` or `synthetic`", need_name=True)


def synthetic_args(syn: Synthetic) -> dict[str, Any]:
    """The hashed arguments of a synthetic cohort; options at their default are left out, so job IDs of specs
    written before the option stay the same."""
    from dataclasses import asdict

    args = asdict(syn)
    del args["train_on_stress"]  # a permission, not a property of the cohort
    if not args["tissue_maps"]:
        del args["tissue_maps"]
    if args["profile"] == "default":
        del args["profile"]
    return args


def parse_dataset(c: Check, value: Any, base: Path) -> Dataset:
    """The spec's ``dataset`` (relative paths from the spec's folder ``base``)."""
    return validate(c, Dataset, value, "dataset", context={"base": base})


def parse_test_datasets(c: Check, value: Any, base: Path, dataset: Path | None,
                        synthetic: Synthetic | None) -> tuple[TestDataset, ...]:
    """``test_datasets:`` a list of ``{name, path | synthetic, targets}``; none may be the training dataset."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise c.fail("test_datasets", "expected a list",
                     "write `test_datasets: [{name: stress, synthetic: {profile: stress}}]`")
    out = []
    for i, item in enumerate(value):
        test = validate(c, TestDataset, item, f"test_datasets[{i}]", context={"base": base})
        _never_the_training_data(c, f"test_datasets[{i}]", test, dataset, synthetic)
        out.append(test)
    names = [t.name for t in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise c.fail("test_datasets", f"duplicate name(s) {', '.join(dup)}", "give every test dataset its own name")
    return tuple(out)


def _never_the_training_data(c: Check, where: str, test: TestDataset, dataset: Path | None,
                             synthetic: Synthetic | None) -> None:
    """A test dataset that is (or overlaps) the dataset the protocols train on is refused."""
    if test.path is not None and dataset is not None and test.path.resolve() == dataset.resolve():
        raise c.fail(f"{where}.path", "is the training dataset itself (its scans would be trained on)",
                     "point it at another dataset; the dataset's own test split is scored already")
    if (test.synthetic is not None and synthetic is not None and test.synthetic.profile == synthetic.profile
            and test.synthetic.seed == synthetic.seed):
        raise c.fail(f"{where}.synthetic", f"same profile and seed ({synthetic.seed}) as the training cohort: "
                     "its patients would be the trained-on ones", "give the test cohort another seed")


def refuse_training_on_stress(c: Check, synthetic: Synthetic | None, trains: bool) -> None:
    """The stress profile is a test suite: a spec whose protocols train on it is refused unless the cohort says
    ``train_on_stress: true`` (a stress-profile cohort of its own seed as the training data)."""
    if synthetic is not None and synthetic.profile == "stress" and trains and not synthetic.train_on_stress:
        raise c.fail("dataset.synthetic.profile", "the protocols would train on the stress suite, which is "
                     "test-only", "train on the default profile and list the stress suite under `test_datasets:` "
                     "(or, to train on a stress-profile cohort of another seed on purpose, set "
                     "`train_on_stress: true`)")


__all__ = ["IN_DISTRIBUTION", "PROFILES", "Dataset", "Synthetic", "TestDataset", "parse_dataset",
           "parse_test_datasets", "refuse_training_on_stress", "synthetic_args"]
