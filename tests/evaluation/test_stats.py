"""Statistics of results tables: bootstrap CIs, Holm, correlation, detectable gaps, selection rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crosspan.core.errors import CrosspanError
from crosspan.evaluation.stats import aggregate, cluster_bootstrap, infer_transfer, load_results, prepare_results
from crosspan.evaluation.stats_compare import holm, paired_tests, pearson_fisher, source_target_correlation
from crosspan.evaluation.stats_selection import select_model
from crosspan.evaluation.stats_variance import detectable_gap, domain_gaps, sampling_variance, subsample_sd
from example_results import example_results


def _table(values: np.ndarray, patients: np.ndarray, method: str = "m", domain: str = "A:T1",
           transfer: str = "in-domain") -> pd.DataFrame:
    center, seq = domain.split(":")
    return pd.DataFrame({"case_id": [f"{p}_{i}" for i, p in enumerate(patients)], "patient_id": patients,
                         "center": center, "sequence": seq, "method": method, "dice": values, "transfer": transfer,
                         "train_domains": "A:T1"})


def test_bootstrap_ci_covers_true_mean_at_nominal_rate() -> None:
    g = np.random.default_rng(1)
    hits = 0
    for k in range(200):
        v = g.normal(0.7, 0.1, size=40)
        lo, hi, _ = cluster_bootstrap(v, None, n_boot=800, seed=k)
        hits += lo <= 0.7 <= hi
    assert 0.88 <= hits / 200 <= 0.99


def test_patient_bootstrap_wider_than_case_bootstrap_for_correlated_cases() -> None:
    g = np.random.default_rng(2)
    patients = np.repeat(np.arange(20), 5)
    v = 0.7 + g.normal(0, 0.1, 20)[patients] + g.normal(0, 0.02, patients.size)
    lo_c, hi_c, _ = cluster_bootstrap(v, patients, seed=0)
    lo_i, hi_i, _ = cluster_bootstrap(v, None, seed=0)
    assert (hi_c - lo_c) > 1.7 * (hi_i - lo_i)
    # independent cases: both about the same width
    w = 0.7 + g.normal(0, 0.1, patients.size)
    lo_c, hi_c, _ = cluster_bootstrap(w, patients, seed=0)
    lo_i, hi_i, _ = cluster_bootstrap(w, None, seed=0)
    assert 0.75 < (hi_c - lo_c) / (hi_i - lo_i) < 1.33


def test_aggregate_values_match_numpy() -> None:
    g = np.random.default_rng(3)
    v = g.uniform(0.5, 0.9, 30)
    df = prepare_results(_table(v, np.arange(30).astype(str)))
    row = aggregate(df, ["method", "domain"], metrics=["dice"], n_boot=500).iloc[0]
    assert row["n"] == 30 and row["n_patients"] == 30
    assert row["dice_mean"] == pytest.approx(v.mean())
    assert row["dice_sd"] == pytest.approx(v.std(ddof=1))
    assert row["dice_median"] == pytest.approx(np.median(v))
    assert row["dice_ci_low"] < v.mean() < row["dice_ci_high"]
    assert (row["dice_ci_high"] - row["dice_ci_low"]) == pytest.approx(2 * 1.96 * v.std() / np.sqrt(30), rel=0.2)


def test_holm_matches_hand_computation() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    out = holm([0.02, np.nan])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1])


def test_paired_tests_find_planted_difference_only() -> None:
    g = np.random.default_rng(4)
    base = g.uniform(0.5, 0.9, 40)
    pats = np.arange(40).astype(str)
    df = prepare_results(pd.concat([_table(base, pats, "a"), _table(base + 0.05 + g.normal(0, 0.01, 40), pats, "b"),
                                    _table(base + g.normal(0, 0.01, 40), pats, "c")]))
    res = paired_tests(df).query("transfer == 'all'").set_index(["method_a", "method_b"])
    assert res.loc[("a", "b"), "significant"] and res.loc[("a", "b"), "win_rate_b"] > 0.95
    assert res.loc[("a", "b"), "mean_diff"] == pytest.approx(-0.05, abs=0.01)
    assert not res.loc[("a", "c"), "significant"]
    assert (res["p_holm"] >= res["p"]).all()


def test_pearson_ci_on_planted_correlation() -> None:
    g = np.random.default_rng(5)
    x = g.normal(0, 1, 60)
    y = 0.8 * x + g.normal(0, 0.6, 60)  # true r = 0.8
    r = pearson_fisher(x, y)
    assert r["ci_low"] < 0.8 < r["ci_high"] and r["ci_low"] > 0.5
    r0 = pearson_fisher(x, g.normal(0, 1, 60))
    assert r0["ci_low"] < 0 < r0["ci_high"]


def test_source_target_correlation_across_runs() -> None:
    df = prepare_results(example_results(seed=0, seeds=12))
    corr = source_target_correlation(df, n_boot=500)
    cc = corr["targets"]["cross-center"]
    assert cc["n_runs"] == 24 and cc["n_oracle_excluded"] == 1  # 12 + 12 runs; the oracle promptseg left out
    assert cc["pearson"]["r"] > 0.3 and cc["spearman"]["ci_low"] <= cc["spearman"]["rho"] <= cc["spearman"]["ci_high"]
    assert "cross-sequence" in corr["targets"]


def test_detectable_gap_flag_small_vs_big() -> None:
    g = np.random.default_rng(6)
    pats = np.arange(20).astype(str)
    df = prepare_results(pd.concat([
        _table(g.normal(0.85, 0.1, 20), pats, domain="A:T1", transfer="in-domain"),
        _table(g.normal(0.83, 0.1, 20), pats, domain="B:T1", transfer="cross-center"),
        _table(g.normal(0.40, 0.1, 20), pats, domain="A:OOP", transfer="cross-sequence")]))
    gaps = domain_gaps(df).set_index("domain")
    assert gaps.loc["B:T1", "below_detectable"] and not gaps.loc["A:OOP", "below_detectable"]
    # MDG = (1.96 + 0.84) * sqrt(2) * sd/sqrt(n) for equal SDs
    assert gaps.loc["B:T1", "detectable_gap"] == pytest.approx(2.8 * np.sqrt(2) * 0.1 / np.sqrt(20), rel=0.25)
    assert detectable_gap(0.03, 0.04, power=0.5) == pytest.approx(1.959964 * 0.05, rel=1e-5)


def test_sampling_variance_follows_sd_over_sqrt_n() -> None:
    g = np.random.default_rng(7)
    v = g.normal(0.7, 0.1, 80)
    assert subsample_sd(v, 20, 3000) == pytest.approx(v.std() / np.sqrt(20), rel=0.1)
    table = sampling_variance(prepare_results(_table(v, np.arange(80).astype(str))), n_draws=500)
    assert table["n"].max() == 80 and table["sd_mean_dice"].is_monotonic_decreasing


def test_transfer_types() -> None:
    train = ["A:T1", "B:T1"]
    assert infer_transfer(train, "A", "T1") == "in-domain"
    assert infer_transfer(train, "C", "T1") == "cross-center"
    assert infer_transfer(train, "A", "OOP") == "cross-sequence"
    assert infer_transfer(train, "C", "OOP") == "cross-both"
    assert infer_transfer([""], "C", "OOP") == "unknown"
    df = prepare_results(_table(np.ones(2), np.array(["p", "q"]), domain="C:OOP", transfer="unknown"))
    assert (df["transfer"] == "cross-both").all()


def test_missing_columns_error_names_file_and_columns(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"case_id": ["a"], "dice": [0.5]}).to_csv(path, index=False)
    with pytest.raises(CrosspanError) as err:
        load_results([path])
    assert "bad.csv" in str(err.value) and "patient_id" in str(err.value) and "method" in str(err.value)


def test_skipped_rows_kept_apart(tmp_path) -> None:
    df = example_results(patients_per_center=3, seeds=1)
    df["status"] = "ok"
    skip = pd.DataFrame({"method": ["medsam2"], "status": ["skipped"], "reason": ["no checkpoint"]})
    path = tmp_path / "r.csv"
    pd.concat([df, skip]).to_csv(path, index=False)
    res, skipped = load_results([path])
    assert "medsam2" not in set(res["method"]) and list(skipped["method"]) == ["medsam2"]


def _selection_table() -> pd.DataFrame:
    rows = []
    # run r0 is best on in-domain val, r1 best on held-out-domain val, r2 best on test at its last checkpoint
    scores = {"r0": (0.9, 0.5, 0.6), "r1": (0.8, 0.7, 0.5), "r2": (0.7, 0.6, 0.8)}
    for run, (ind, lodo, test) in scores.items():
        for ck in (1, 2):
            bonus = 0.0 if ck == 2 else 0.01
            rows += [{"method": "m", "run": run, "checkpoint": ck, "split": "val", "transfer": "in-domain",
                      "dice": ind + bonus},
                     {"method": "m", "run": run, "checkpoint": ck, "split": "val", "transfer": "cross-center",
                      "dice": lodo + bonus},
                     {"method": "m", "run": run, "checkpoint": ck, "split": "test", "transfer": "cross-sequence",
                      "dice": test + (0.1 if ck == 1 else 0.0)}]
    return pd.DataFrame(rows)


def test_selection_rules_pick_different_runs() -> None:
    t = _selection_table()
    td = select_model(t, "training-domain").iloc[0]
    assert (td["run"], td["checkpoint"], td["oracle"]) == ("r0", 1, False)
    lodo = select_model(t, "leave-one-domain-out").iloc[0]
    assert (lodo["run"], lodo["checkpoint"]) == ("r1", 1)
    orc = select_model(t, "oracle").iloc[0]
    assert (orc["run"], orc["checkpoint"], orc["oracle"]) == ("r2", 2, True)  # last checkpoint only
    with pytest.raises(CrosspanError):
        select_model(t, "best-guess")


def test_domain_matrix_and_variance_count_distinct_cases() -> None:
    from crosspan.evaluation.stats import domain_matrix

    df = prepare_results(example_results(patients_per_center=5, seeds=3))
    m = domain_matrix(df).set_index(["method", "test_domain"])
    want = df[(df["method"] == "erm") & (df["domain"] == "A:OOP")]["dice"].mean()
    assert m.loc[("erm", "A:OOP"), "mean_dice"] == pytest.approx(want) and m.loc[("erm", "A:OOP"), "n"] == 15
    var = sampling_variance(df, n_draws=100)
    assert var.loc[var["method"] == "erm", "n_available"].max() == 5  # 3 runs of 5 cases are still 5 cases
    gaps = domain_gaps(df, n_draws=100)
    assert set(gaps["n_reference"]) == {10} and set(gaps["n_domain"]) == {5}
