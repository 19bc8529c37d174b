"""Transfer protocols: deterministic, patient-grouped train / val / test / unlabeled splits.

Every protocol first partitions *patients*, then picks scans by domain, so one patient's scans never straddle
train and test. The test set of a split holds every scan of the test patients in the target domains: with the
default targets (all domains) one trained model is scored in-domain, cross-center and cross-sequence at once.

Protocols: ``in-domain`` (k-fold within the source domains), ``cross-center`` (train on chosen centers of a
sequence, or leave-one-center-out), ``cross-sequence`` (train on one sequence, test on the others),
``official`` (the release's own split column). ``label_ratios`` make labeled subsets of the training patients
and move the rest into the unlabeled pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pandas as pd

from crosspan.core.errors import CrosspanError
from crosspan.core.seeding import rng
from crosspan.data.domains import domain_mask, domains_in, parse_domain_pattern
from crosspan.data.layouts.base import UNKNOWN

ProtocolName = Literal["in-domain", "cross-center", "cross-sequence", "official"]
TrainingInputName = Literal["images", "label-maps"]
PROTOCOLS: tuple[str, ...] = get_args(ProtocolName)
TRAINING_INPUTS: tuple[str, ...] = get_args(TrainingInputName)


@dataclass
class ProtocolSpec:
    """What a user asks for; ``source`` and ``targets`` are domain patterns (``A:T1``, ``T1``, ``*:OOP``)."""

    protocol: str
    source: list[str]
    targets: list[str] = field(default_factory=lambda: ["*:*"])
    folds: int = 5
    val_fraction: float = 0.15
    test_fraction: float = 0.25
    label_ratios: list[float] = field(default_factory=lambda: [1.0])
    unlabeled: list[str] = field(default_factory=list)
    leave_one_center_out: bool = False
    seed: int = 0
    training_input: str = "images"  # or "label-maps": train on the source scans' tissue maps (label-map methods)


def make_splits(catalog: pd.DataFrame, spec: ProtocolSpec) -> dict[str, Any]:
    """The splits document (see module docstring) for ``spec`` on ``catalog``."""
    if spec.protocol not in PROTOCOLS:
        raise CrosspanError(None, f"unknown protocol '{spec.protocol}'", f"use one of: {', '.join(PROTOCOLS)}")
    if not spec.source:
        raise CrosspanError(None, "no source domains given", "pass --train, e.g. --train A:T1,B:T1 or --train T1")
    cat = catalog.copy()
    cat["patient_id"] = cat["patient_id"].astype(str)
    if spec.protocol == "cross-center":
        _require_known_centers(cat, spec.source + spec.targets)
    sources = [spec.source]
    if spec.leave_one_center_out:
        sources = _leave_one_center_out(cat, spec.source)
    base: list[dict[str, Any]] = []
    for src in sources:
        base.extend(_splits_for_source(cat, spec, src))
    splits = []
    for s in base:
        for ratio in spec.label_ratios:
            splits.append(_apply_label_ratio(cat, s, ratio, spec))
    if spec.training_input not in TRAINING_INPUTS:
        raise CrosspanError(None, f"unknown training input '{spec.training_input}'",
                            f"use one of: {', '.join(TRAINING_INPUTS)}")
    if spec.training_input == "label-maps":
        splits = [_label_map_input(cat, s) for s in splits]
    for s in splits:
        if not s["test"]:
            raise CrosspanError(None, f"split '{s['name']}' has an empty test set",
                                "widen --targets, lower --test-fraction's rounding (more patients), or use other "
                                "source domains")
        if not s["train"]:
            raise CrosspanError(None, f"split '{s['name']}' has no training scan",
                                "check --train matches domains present: " + ", ".join(domains_in(cat)))
        _assert_no_leakage(cat, s)
    return {"protocol": spec.protocol, "seed": spec.seed, "params": _params(spec), "splits": splits}


def _params(spec: ProtocolSpec) -> dict[str, Any]:
    return {"source": spec.source, "targets": spec.targets, "folds": spec.folds, "val_fraction": spec.val_fraction,
            "test_fraction": spec.test_fraction, "label_ratios": spec.label_ratios, "unlabeled": spec.unlabeled,
            "leave_one_center_out": spec.leave_one_center_out}


def _require_known_centers(cat: pd.DataFrame, patterns: list[str]) -> None:
    rows = cat[domain_mask(cat, patterns)]
    unknown = rows[rows["center"].astype(str).isin([UNKNOWN, ""])]
    if len(unknown):
        raise CrosspanError(None, f"{len(unknown)} scan(s) have an unknown center (e.g. {unknown['case_id'].iloc[0]})"
                            ", so a cross-center protocol cannot be defined",
                            "give centers in a manifest CSV (center column) or a layout sidecar; crosspan does not "
                            "guess them")


def _leave_one_center_out(cat: pd.DataFrame, source: list[str]) -> list[list[str]]:
    rows = cat[domain_mask(cat, source)]
    seqs = sorted(rows["sequence"].unique())
    centers = sorted(rows["center"].unique())
    if len(centers) < 2:
        raise CrosspanError(None, "leave-one-center-out needs at least two source centers",
                            f"found only {centers}; add centers to --train")
    return [[f"{c}:{s}" for c in centers if c != held for s in seqs] for held in centers]


def _shuffled(items: list[str], *names: object) -> list[str]:
    items = sorted(items)
    order = rng(*names).permutation(len(items))
    return [items[i] for i in order]


def _splits_for_source(cat: pd.DataFrame, spec: ProtocolSpec, source: list[str]) -> list[dict[str, Any]]:
    src_mask = domain_mask(cat, source)
    tgt_mask = domain_mask(cat, spec.targets)
    src_patients = sorted(cat.loc[src_mask, "patient_id"].unique())
    if not src_patients:
        raise CrosspanError(None, f"no scan matches the source domains {', '.join(source)}",
                            "domains present: " + ", ".join(domains_in(cat)))
    tag = "+".join(source)
    if spec.protocol == "official":
        return [_official(cat, src_mask, tgt_mask, tag)]
    outside = sorted(set(cat.loc[tgt_mask & ~src_mask, "patient_id"]) - set(src_patients))
    if spec.protocol == "in-domain":
        k = max(2, spec.folds)
        order = _shuffled(src_patients, spec.seed, "in-domain", tag)
        if len(order) < k:
            raise CrosspanError(None, f"{len(order)} source patients cannot make {k} folds", "lower --folds")
        folds = [order[i::k] for i in range(k)]
        out = []
        for i in range(k):
            test_p = set(folds[i])
            rest = [p for p in order if p not in test_p]
            n_val = int(round(spec.val_fraction * len(rest)))
            out.append(_assemble(cat, src_mask, src_mask, set(rest[n_val:]), set(rest[:n_val]), test_p,
                                 f"fold{i}", source))
        return out
    order = _shuffled(src_patients, spec.seed, spec.protocol, tag)
    n_test = max(1, int(round(spec.test_fraction * len(order))))
    n_val = int(round(spec.val_fraction * len(order)))
    test_p = set(order[:n_test]) | set(outside)
    val_p = set(order[n_test:n_test + n_val])
    train_p = set(order[n_test + n_val:])
    if spec.protocol == "cross-center":
        seqs = {parse_domain_pattern(s)[1] for s in source}
        tgt_mask = tgt_mask & cat["sequence"].map(lambda s: s in seqs or "*" in seqs)
    elif spec.protocol == "cross-sequence":
        src_centers = {c for c in cat.loc[src_mask, "center"]}
        tgt_mask = tgt_mask & (cat["center"].isin(src_centers) | ~src_mask)
    return [_assemble(cat, src_mask, tgt_mask, train_p, val_p, test_p, "split0", source)]


def _official(cat: pd.DataFrame, src_mask: pd.Series, tgt_mask: pd.Series, tag: str) -> dict[str, Any]:
    split = cat["split"].astype(str).str.lower()
    if not split.isin(["train", "val", "test"]).any():
        raise CrosspanError(None, "the catalog has no official split (split column empty)",
                            "use another protocol (in-domain, cross-center, cross-sequence)")
    train = cat[src_mask & (split == "train")]
    val = cat[src_mask & (split == "val")]
    test = cat[tgt_mask & (split == "test")]
    return {"name": "official", "train": sorted(train["case_id"]), "val": sorted(val["case_id"]),
            "test": sorted(test["case_id"]), "unlabeled": [], "train_domains": domains_in(train),
            "label_ratio": 1.0}


def _assemble(cat: pd.DataFrame, src_mask: pd.Series, tgt_mask: pd.Series, train_p: set[str], val_p: set[str],
              test_p: set[str], name: str, source: list[str]) -> dict[str, Any]:
    pid = cat["patient_id"]
    train = cat[src_mask & pid.isin(train_p)]
    val = cat[src_mask & pid.isin(val_p)]
    test = cat[tgt_mask & pid.isin(test_p)]
    return {"name": name, "train": sorted(train["case_id"]), "val": sorted(val["case_id"]),
            "test": sorted(test["case_id"]), "unlabeled": [], "train_domains": domains_in(train),
            "label_ratio": 1.0}


def _apply_label_ratio(cat: pd.DataFrame, split: dict[str, Any], ratio: float, spec: ProtocolSpec) -> dict[str, Any]:
    out = {k: (list(v) if isinstance(v, list) else v) for k, v in split.items()}
    by_case = cat.set_index("case_id")["patient_id"]
    train_patients = sorted({by_case[c] for c in split["train"]})
    if ratio < 1.0:
        if not 0 < ratio <= 1:
            raise CrosspanError(None, f"label ratio {ratio} outside (0, 1]", "write ratios like 5,10,25,50 (%)")
        order = _shuffled(train_patients, spec.seed, "label-ratio", split["name"])
        n = max(1, int(round(ratio * len(order))))
        keep = set(order[:n])
        out["train"] = [c for c in split["train"] if by_case[c] in keep]
        out["unlabeled"] = [c for c in split["train"] if by_case[c] not in keep]
        out["name"] = f"{split['name']}-r{int(round(ratio * 100))}"
    out["label_ratio"] = ratio
    if spec.unlabeled:
        extra = cat[domain_mask(cat, spec.unlabeled) & cat["patient_id"].isin(train_patients)]
        out["unlabeled"] = sorted(set(out["unlabeled"]) | (set(extra["case_id"]) - set(out["train"])))
    return out


def _label_map_input(cat: pd.DataFrame, split: dict[str, Any]) -> dict[str, Any]:
    """Training input = the source patients' tissue label maps: keep the training scans that carry one."""
    has_map = cat.set_index("case_id")["tissue"].astype(str).str.strip().ne("") if "tissue" in cat else None
    if has_map is None or not has_map.any():
        raise CrosspanError(None, "the catalog has no tissue label maps (no 'tissue' column)",
                            "make the cohort with `crosspan synth cohort --tissue-maps`, or add a 'tissue' column "
                            "(label map path per scan) to the manifest")
    train = [c for c in split["train"] if has_map[c]]
    if not train:
        raise CrosspanError(None, f"split '{split['name']}': no training scan has a tissue map",
                            "tissue maps lie on one sequence's grid (T1 for the synthetic cohort): train on it")
    return {**split, "train": train, "val": [c for c in split["val"] if has_map[c]] or split["val"],
            "train_domains": domains_in(cat[cat["case_id"].isin(train)]), "training_input": "label-maps"}


def _assert_no_leakage(cat: pd.DataFrame, split: dict[str, Any]) -> None:
    by_case = cat.set_index("case_id")["patient_id"]
    fit = {by_case[c] for c in split["train"] + split["val"] + split["unlabeled"]}
    tested = {by_case[c] for c in split["test"]}
    leaked = sorted(fit & tested)
    if leaked:
        raise CrosspanError(None, f"split '{split['name']}' puts patient(s) {', '.join(leaked[:5])} in both "
                            "training and test", "the dataset's official split leaks patients; use another protocol")


def nnunet_splits(doc: dict[str, Any]) -> list[dict[str, list[str]]]:
    """nnU-Net's ``splits_final.json`` (one {train, val} per split)."""
    return [{"train": s["train"], "val": s["val"]} for s in doc["splits"]]


def parse_ratios(text: str | None) -> list[float]:
    """``"5,10,25,50"`` (percent) -> [0.05, 0.1, 0.25, 0.5]; empty -> [1.0]."""
    if not text:
        return [1.0]
    vals = []
    for part in text.split(","):
        v = float(part)
        vals.append(v / 100.0 if v > 1 else v)
    return vals


def split_summary(doc: dict[str, Any]) -> pd.DataFrame:
    rows = [{"split": s["name"], "train": len(s["train"]), "val": len(s["val"]), "test": len(s["test"]),
             "unlabeled": len(s["unlabeled"]), "train_domains": ",".join(s["train_domains"])}
            for s in doc["splits"]]
    return pd.DataFrame(rows)


__all__ = ["PROTOCOLS", "ProtocolSpec", "make_splits", "nnunet_splits", "parse_ratios", "split_summary"]
