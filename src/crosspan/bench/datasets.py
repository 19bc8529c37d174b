"""The datasets of a benchmark spec: the one it trains and tests on (``dataset``) and extra TEST datasets
(``test_datasets``) that every trained model of the spec predicts on, e.g. the stress suite
(``crosspan synth cohort --profile stress``), which is never trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosspan.bench.speccheck import Check

SYNTH_KEYS = {"patients", "centers", "sequences", "seed", "shape", "set", "tissue_maps", "profile"}
PROFILES = ("default", "stress")
TEST_KEYS = {"name", "path", "synthetic", "targets"}
IN_DISTRIBUTION = "in-distribution"  # the ``test_set`` of the main dataset's own test split


@dataclass(frozen=True)
class Synthetic:
    patients: int = 12
    centers: tuple[str, ...] = ("A", "B", "C")  # empty: every center of the profile (`synth cohort` default)
    sequences: tuple[str, ...] = ("T1", "T2", "OOP")
    seed: int = 0
    shape: str = "default"
    set: tuple[str, ...] = ()
    tissue_maps: bool = False  # also write tissue label maps (needed by label-map protocols; set automatically)
    profile: str = "default"  # or "stress": the test-only centers S1-S4 (never trained on)


@dataclass(frozen=True)
class TestDataset:
    """A dataset only predicted on: a folder / catalog (``path``) or a synthetic cohort; ``targets`` (CENTER:SEQ
    patterns) keeps only those scans (empty: all of them)."""

    __test__ = False  # not a pytest class

    name: str
    path: Path | None = None
    synthetic: Synthetic | None = None
    targets: tuple[str, ...] = ()


def synthetic_args(syn: Synthetic) -> dict[str, Any]:
    """The hashed arguments of a synthetic cohort; options at their default are left out, so job IDs of specs
    written before the option stay the same."""
    from dataclasses import asdict

    args = asdict(syn)
    if not args["tissue_maps"]:
        del args["tissue_maps"]
    if args["profile"] == "default":
        del args["profile"]
    return args


def parse_synthetic(c: Check, value: Any, where: str) -> Synthetic:
    s = c.mapping(value, where, SYNTH_KEYS)
    profile = s.get("profile", "default")
    if profile not in PROFILES:
        raise c.fail(f"{where}.profile", f"unknown profile {profile!r}", f"use one of {', '.join(PROFILES)}")
    centers = s.get("centers", ["A", "B", "C"] if profile == "default" else [])
    if isinstance(centers, int) and not isinstance(centers, bool):  # N: the first N presets A, B, C, ...
        centers = [chr(ord("A") + i) for i in range(c.int_(centers, f"{where}.centers", 1))]
    shape = s.get("shape", "default")
    if shape not in ("default", "small"):
        raise c.fail(f"{where}.shape", f"unknown shape {shape!r}", "use default or small")
    return Synthetic(patients=c.int_(s.get("patients", 12), f"{where}.patients", 1),
                     centers=c.strings(centers, f"{where}.centers"),
                     sequences=c.strings(s.get("sequences", ["T1", "T2", "OOP"]), f"{where}.sequences"),
                     seed=c.int_(s.get("seed", 0), f"{where}.seed"), shape=shape,
                     set=c.strings(s.get("set", []), f"{where}.set"),
                     tissue_maps=bool(s.get("tissue_maps", False)), profile=profile)


def parse_path(c: Check, value: Any, where: str, base: Path) -> Path:
    p = c.resolve(value, where, base)
    if not p.exists():
        raise c.fail(where, f"{p} does not exist", "point it at a dataset folder or catalog CSV")
    return p


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
        w = f"test_datasets[{i}]"
        d = c.mapping(item, w, TEST_KEYS)
        if "name" not in d or ("path" in d) == ("synthetic" in d):
            raise c.fail(w, "needs a `name` and exactly one of `path` or `synthetic`",
                         "write `{name: stress, synthetic: {profile: stress, patients: 12, seed: 100}}`")
        name = c.name(d["name"], f"{w}.name")
        if name == IN_DISTRIBUTION:
            raise c.fail(f"{w}.name", f"`{IN_DISTRIBUTION}` names the dataset's own test split",
                         "give the test dataset another name")
        test = TestDataset(name=name, targets=c.strings(d.get("targets", []), f"{w}.targets"),
                           path=parse_path(c, d["path"], f"{w}.path", base) if "path" in d else None,
                           synthetic=parse_synthetic(c, d["synthetic"], f"{w}.synthetic") if "synthetic" in d
                           else None)
        _never_the_training_data(c, w, test, dataset, synthetic)
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
    """The stress profile is a test suite: a spec whose protocols train on it is refused."""
    if synthetic is not None and synthetic.profile == "stress" and trains:
        raise c.fail("dataset.synthetic.profile", "the protocols would train on the stress suite, which is "
                     "test-only", "train on the default profile and list the stress suite under `test_datasets:`")


__all__ = ["IN_DISTRIBUTION", "PROFILES", "Synthetic", "TestDataset", "parse_path", "parse_synthetic",
           "parse_test_datasets", "refuse_training_on_stress", "synthetic_args"]
