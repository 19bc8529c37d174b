"""The registry is the one source of method facts: kind, training input, unlabeled cases, paper, family and table
order come from the class, and every stage that routes by them (train, predict, benchmark specs and jobs, the
report, result tables) asks the class. Throwaway methods registered here prove no name list is consulted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml
from torch import nn
from typer.testing import CliRunner

from crosspan.bench.jobs import runs_on
from crosspan.bench.spec import parse_spec
from crosspan.cli.main import app
from crosspan.core.errors import CrosspanError
from crosspan.methods import base
from crosspan.methods.base import (
    Method,
    ZeroShotModel,
    get_method,
    label_map_methods,
    method_names,
    register_method,
    registered_kind,
    table_order,
    trainable_method,
    zero_shot_model,
)
from crosspan.methods.common import SupervisedMethod, update_supervised
from tests.bench.test_standin import write_spec

runner = CliRunner()


class ToyLabelMaps(SupervisedMethod):
    """A throwaway label-map method."""

    name = "toy-labelmaps"
    training_input = "label-maps"
    family = "dg"
    table_order: ClassVar[int] = 0

    def update(self, labeled: Any, unlabeled: Any = None) -> dict[str, float]:
        return update_supervised(self, labeled)


class ToyZeroShot(ZeroShotModel):
    name = "toy-zero-shot"
    paper = "Somebody, Zero-shot Letters 2030"
    default_hparams: ClassVar[dict[str, Any]] = {"threshold": 0.5}

    def segment(self, image: np.ndarray) -> np.ndarray:
        return image > self.hparams["threshold"]


@pytest.fixture
def toys() -> Iterator[None]:
    method_names()  # the built-in methods first, so the toys are the only ones removed afterwards
    register_method(ToyLabelMaps)
    register_method(ToyZeroShot)
    yield
    for name in (ToyLabelMaps.name, ToyZeroShot.name):
        base._REGISTRY.pop(name, None)


def test_facts_are_the_class_attributes(toys: None) -> None:
    assert registered_kind("toy-zero-shot") == "zero-shot" and registered_kind("toy-labelmaps") == "trainable"
    assert registered_kind("not-registered") is None
    assert "toy-labelmaps" in label_map_methods() and "physics-rand" in label_map_methods()
    assert "erm" not in label_map_methods()
    assert ToyZeroShot.kind_text() == "zero-shot, automatic" and ToyLabelMaps.kind_text() == "domain generalization"
    assert get_method("fixmatch").reference() == "Sohn et al., NeurIPS 2020"  # its module docstring's citation
    assert ToyZeroShot.reference() == "Somebody, Zero-shot Letters 2030"  # the declared one wins
    assert get_method("litemedsam").kind_text() == "zero-shot, box-prompted"
    assert get_method("prompt-unet").kind_text() == "supervised, prompted"
    assert get_method("fixmatch").needs_unlabeled and not get_method("erm").needs_unlabeled


def test_zero_shot_and_trainable_classes_are_kept_apart(toys: None) -> None:
    assert zero_shot_model("toy-zero-shot") is ToyZeroShot and trainable_method("toy-labelmaps") is ToyLabelMaps
    with pytest.raises(CrosspanError, match="is a zero-shot model"):
        trainable_method("toy-zero-shot")
    with pytest.raises(CrosspanError, match="is a trained method"):
        zero_shot_model("toy-labelmaps")
    model = ToyZeroShot({"threshold": "0.25"}, "cpu")  # its own constructor: (hparams, device), no network
    assert model.hparams == {"threshold": 0.25} and not isinstance(model, nn.Module)
    assert model.segment(np.array([0.1, 0.3])).tolist() == [False, True]
    for name in method_names():
        cls = get_method(name)
        assert issubclass(cls, Method) == (cls.kind == "trainable") != issubclass(cls, ZeroShotModel), name
    with pytest.raises(TypeError, match="neither a Method nor a ZeroShotModel"):
        register_method(type("Loose", (base.MethodFacts,), {"name": "loose"}))  # type: ignore[type-var]


def test_methods_cli_lists_the_toys_by_their_class(toys: None, tmp_path: Path) -> None:
    out = tmp_path / "methods.json"
    res = runner.invoke(app, ["methods", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(out.read_text())["methods"]}
    assert rows["toy-zero-shot"]["kind"] == "zero-shot, automatic" and not rows["toy-zero-shot"]["trainable"]
    assert rows["toy-zero-shot"]["paper"] == "Somebody, Zero-shot Letters 2030"
    assert rows["toy-labelmaps"]["training_input"] == "label-maps" and rows["toy-labelmaps"]["trainable"]
    assert rows["fixmatch"]["needs_unlabeled"] and rows["erm"]["training_input"] == "images"


def test_train_refuses_a_zero_shot_model_in_one_line(toys: None, tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    plan.mkdir()
    res = runner.invoke(app, ["train", str(plan), "-o", str(tmp_path / "run"), "--method", "toy-zero-shot"])
    assert res.exit_code != 0 and "'toy-zero-shot' is a zero-shot model" in res.output
    assert "crosspan predict --method toy-zero-shot" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_training_routes_by_training_input(toys: None) -> None:
    from crosspan.training.loop import _check_training_input

    toy = ToyLabelMaps(nn.Identity(), ["A:T1"])
    images, label_maps = SimpleNamespace(training_input="images"), SimpleNamespace(training_input="label-maps")
    with pytest.raises(CrosspanError, match="trains on tissue label maps"):
        _check_training_input(toy, images, SimpleNamespace(aux_keys=[]), toy.name)  # type: ignore[arg-type]
    _check_training_input(toy, label_maps, SimpleNamespace(aux_keys=["tissue"]), toy.name)  # type: ignore[arg-type]
    erm = get_method("erm")(nn.Identity(), ["A:T1"])
    with pytest.raises(CrosspanError, match="toy-labelmaps") as err:  # the fix lists the registry's methods
        _check_training_input(erm, label_maps, SimpleNamespace(aux_keys=["tissue"]), "erm")  # type: ignore[arg-type]
    assert "trains on images" in str(err.value)


def _spec(tmp_path: Path, methods: list[dict[str, Any]]) -> Any:
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    raw["protocols"].append({"name": "maps", "protocol": "cross-sequence", "train": ["A:T1"],
                             "training_input": "label-maps"})
    raw["methods"] = methods
    return parse_spec(raw, tmp_path / "spec.yaml")


def test_spec_zero_shot_comes_from_the_registry(toys: None, tmp_path: Path) -> None:
    spec = _spec(tmp_path, [{"name": "erm", "method": "erm"}, {"name": "zs", "method": "toy-zero-shot"},
                            {"name": "old", "method": "litemedsam", "zero_shot": True},  # an old spec: agrees
                            {"name": "plugin", "method": "not-registered", "zero_shot": True},
                            {"name": "maps", "method": "toy-labelmaps"}])
    zero = {m.name: m.zero_shot for m in spec.methods}
    assert zero == {"erm": False, "zs": True, "old": True, "plugin": True, "maps": False}
    protos = {p.name: p for p in spec.protocols}
    where = {m.name: [p for p in protos if runs_on(m, protos[p])] for m in spec.methods}
    assert where["maps"] == ["maps"] and where["erm"] == ["xseq"] and where["zs"] == ["xseq"]


@pytest.mark.parametrize(("method", "flag", "kind"), [("toy-zero-shot", False, "zero-shot"),
                                                      ("erm", True, "trainable")])
def test_spec_flag_that_contradicts_the_class_is_refused(toys: None, tmp_path: Path, method: str, flag: bool,
                                                         kind: str) -> None:
    with pytest.raises(CrosspanError) as err:
        _spec(tmp_path, [{"name": "m", "method": method, "zero_shot": flag}])
    text = str(err.value)
    assert f"methods[0].zero_shot: zero_shot: {str(flag).lower()}, but '{method}' is a {kind} method" in text
    assert "drop zero_shot" in text and str(tmp_path / "spec.yaml") in text


def test_table_order_is_family_then_class_order_then_name(toys: None) -> None:
    names = ["ua-mt", "not-registered", "medsam2", "dualnorm", "toy-labelmaps", "bigaug", "physics-rand", "erm",
             "cps", "eqrm"]
    assert table_order(names) == ["erm", "toy-labelmaps", "bigaug", "dualnorm", "eqrm", "cps", "ua-mt",
                                  "physics-rand", "medsam2", "not-registered"]


def test_report_labelmap_section_follows_training_input(toys: None) -> None:
    import pandas as pd

    from crosspan.report.html_labelmap import labelmap_section

    assert labelmap_section(pd.DataFrame({"method": ["erm", "toy-zero-shot"]})) is None
    html = labelmap_section(pd.DataFrame({"method": ["erm", "toy-labelmaps"]}), n=2)
    assert html is not None and "toy-labelmaps trained on images drawn from tissue label maps" in html


def test_label_map_segmenters_are_the_organ_segmenters_with_a_preset() -> None:
    from crosspan.inference.labelmaps import label_presets
    from crosspan.methods.foundation.organ_models import MRSegmentator

    assert label_presets() == {"mrsegmentator": "mrsegmentator", "totalseg-mr": "totalseg-mr"}
    method_names()
    with_preset = type("ToyOrgans", (MRSegmentator,), {"name": "toy-organs", "label_preset": "crosspan"})
    without = type("ToyBare", (MRSegmentator,), {"name": "toy-bare", "label_preset": ""})
    try:
        register_method(with_preset)
        register_method(without)
        presets = label_presets()
        assert presets["toy-organs"] == "crosspan" and "toy-bare" not in presets
    finally:
        base._REGISTRY.pop("toy-organs", None)
        base._REGISTRY.pop("toy-bare", None)
