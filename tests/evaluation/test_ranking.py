"""Ranking robustness (challengeR-style) and the hierarchical bootstrap: known winners, ties, center effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from crosspan.cli.main import app
from crosspan.evaluation.ranking import ranking_analysis
from crosspan.evaluation.resample import hierarchical_bootstrap, hierarchical_weights, patient_weights, resolve_mode
from crosspan.evaluation.stats import aggregate, cluster_bootstrap, prepare_results
from crosspan.report.figures import correlation_text
from example_results import example_results

runner = CliRunner()


def _results(scores: dict[str, np.ndarray], centers: list[str] | None = None, sequence: str = "OOP") -> pd.DataFrame:
    """One row per method x patient (one scan each) in domain(s) ``center:sequence``, cross-sequence."""
    n = len(next(iter(scores.values())))
    centers = centers or ["A"] * n
    rows = [{"case_id": f"{c}{i:02d}_{sequence}", "patient_id": f"{c}{i:02d}", "center": c, "sequence": sequence,
             "method": m, "dice": float(v[i]), "train_domains": "A:T1", "transfer": "cross-sequence"}
            for m, v in scores.items() for i, c in enumerate(centers)]
    return prepare_results(pd.DataFrame(rows))


def test_clear_winner_has_median_rank_1_and_tau_near_1() -> None:
    g = np.random.default_rng(0)
    base = g.normal(0, 0.04, 24)  # patient difficulty shared by all methods
    df = _results({m: np.clip(mu + base + g.normal(0, 0.03, 24), 0, 1)
                   for m, mu in {"best": 0.9, "good": 0.75, "fair": 0.6, "poor": 0.45}.items()})
    r = ranking_analysis(df, n_boot=400, seed=1)
    ranks = r.ranks[r.ranks["level"] == "transfer"].set_index("method")
    assert list(ranks.index) == ["best", "good", "fair", "poor"]
    assert ranks.loc["best", "boot_median_rank"] == 1 and ranks.loc["best", "p_rank1"] > 0.99
    assert (ranks["rank_aggregate"] == ranks["rank_rank_aggregate"]).all()
    assert (ranks["rank_test"] == [1, 2, 3, 4]).all()  # every pair separated by the Holm-corrected tests
    tau = r.tau[(r.tau["level"] == "transfer")].set_index("scheme")
    assert tau.loc["aggregate-then-rank", "tau_mean"] > 0.98 and tau.loc["aggregate-then-rank", "tau_low"] == 1
    sig = r.significance[r.significance["level"] == "transfer"].set_index(["method_a", "method_b"])
    assert sig.loc[("best", "poor"), "significant"] and not sig.loc[("poor", "best"), "significant"]


def test_two_indistinguishable_methods_give_low_tau_and_empty_significance_cell() -> None:
    g = np.random.default_rng(3)
    a = np.clip(0.7 + g.normal(0, 0.1, 30), 0, 1)
    b = g.permutation(a) + g.normal(0, 0.005, 30)  # about the same mean, other cases: no method is better
    df = _results({"a": a, "b": b, "worse": np.clip(a - 0.3 + g.normal(0, 0.03, 30), 0, 1)})
    r = ranking_analysis(df, n_boot=600, seed=0)
    tau = r.tau[(r.tau["level"] == "transfer") & (r.tau["scheme"] == "aggregate-then-rank")].iloc[0]
    assert tau["tau_mean"] < 0.85 and tau["tau_low"] < 0.5  # a and b swap in a large share of the draws
    ranks = r.ranks[r.ranks["level"] == "transfer"].set_index("method")
    assert 0.2 < ranks.loc["a", "p_rank1"] < 0.8 and ranks.loc["worse", "boot_median_rank"] == 3
    sig = r.significance[r.significance["level"] == "transfer"].set_index(["method_a", "method_b"])["significant"]
    assert not sig[("a", "b")] and not sig[("b", "a")]
    assert sig[("a", "worse")] and sig[("b", "worse")]
    assert ranks.loc["a", "rank_test"] == ranks.loc["b", "rank_test"] == 1


def test_hierarchical_ci_wider_than_patient_ci_when_centers_differ() -> None:
    g = np.random.default_rng(5)
    centers = np.repeat(list("ABCD"), 15)
    offset = dict(zip("ABCD", (-0.15, -0.05, 0.05, 0.15), strict=True))
    values = 0.7 + np.array([offset[c] for c in centers]) + g.normal(0, 0.03, centers.size)
    df = _results({"m": values}, centers=list(centers))
    agg = {mode: aggregate(df, ["method"], metrics=["dice"], n_boot=1000, bootstrap=mode).iloc[0]
           for mode in ("patient", "hierarchical", "auto")}
    width = {k: v["dice_ci_high"] - v["dice_ci_low"] for k, v in agg.items()}
    assert width["hierarchical"] > 2 * width["patient"]
    assert agg["auto"]["bootstrap"] == "hierarchical" and width["auto"] == width["hierarchical"]
    lo, hi, _ = cluster_bootstrap(values, df["patient_id"].to_numpy(), 1000, [0, "dice", "m"])
    assert np.isclose(hi - lo, width["patient"])  # patient mode is the existing cluster bootstrap
    h_lo, h_hi, reps = hierarchical_bootstrap(values, centers, df["patient_id"].to_numpy(), 1000, seed=3)
    assert h_hi - h_lo > 2 * (hi - lo) and h_lo < values.mean() < h_hi and reps.shape == (1000,)
    two = df[df["center"].isin(["A", "B"])]
    assert aggregate(two, ["method"], metrics=["dice"], n_boot=200).iloc[0]["bootstrap"] == "patient"
    pair = _results({"m": values, "n": values - 0.01 + g.normal(0, 0.03, values.size)}, centers=list(centers))
    used = ranking_analysis(pair, n_boot=100).ranks.groupby("level")["bootstrap"].agg(set)
    assert used["transfer"] == {"hierarchical"} and used["domain"] == {"patient"}  # one center per domain


def test_bootstrap_weights_respect_the_hierarchy() -> None:
    gen = np.random.default_rng(0)
    centers = np.array(["A", "A", "A", "B", "B", "C"])
    patients = np.array(["p1", "p1", "p2", "p1", "p2", "p9"])  # p1 at A and at B are two patients
    w = hierarchical_weights(centers, patients, 500, gen)
    assert w.shape == (500, 6) and (w >= 0).all()
    only_c = w[:, :5].sum(1) == 0  # draws of center C alone: its one patient, its one scan, 3 times
    assert only_c.any() and (w[only_c, 5] == 3).all()
    pw = patient_weights(patients, 200, gen)
    assert (pw[:, 0] == pw[:, 1]).all() and (pw[:, 0] == pw[:, 3]).all()  # ids pooled: scans of "p1" go together
    assert resolve_mode("auto", centers) == "hierarchical" and resolve_mode("auto", centers[:5]) == "patient"


def test_ranking_is_seeded_and_missing_scores_count_as_worst() -> None:
    g = np.random.default_rng(1)
    scores = {"x": 0.8 + g.normal(0, 0.05, 12), "y": 0.8 + g.normal(0, 0.05, 12)}
    df = _results(scores)
    one, two = ranking_analysis(df, n_boot=200, seed=7), ranking_analysis(df, n_boot=200, seed=7)
    pd.testing.assert_frame_equal(one.blobs, two.blobs)
    assert not ranking_analysis(df, n_boot=200, seed=8).blobs.equals(one.blobs) or one.blobs["frequency"].max() == 1
    df.loc[(df["method"] == "x") & (df["patient_id"].isin(["A00", "A01", "A02", "A03"])), "dice"] = np.nan
    r = ranking_analysis(df, n_boot=200, seed=7).ranks.query("level == 'transfer'").set_index("method")
    assert r.loc["x", "n_cases"] == 12 and r.loc["x", "mean_dice"] < r.loc["y", "mean_dice"] - 0.2


def test_consensus_and_left_out_methods() -> None:
    df = prepare_results(example_results(patients_per_center=6, seeds=2))
    extra = df[(df["method"] == "erm") & (df["center"] == "A")].assign(method="partial")  # A cases only
    r = ranking_analysis(pd.concat([df, extra], ignore_index=True), n_boot=200)
    cons = r.consensus.set_index(["scope", "method"])
    assert cons.loc[("cross-sequence", "erm"), "consensus_rank"] == 3  # last on A:OOP and B:OOP
    assert cons.loc[("all cross-domain targets", "erm"), "n_domains"] == 3
    assert ("cross-sequence", "partial") not in cons.index  # ranked on A:OOP only, not on every domain
    left = r.skipped[r.skipped["reason"].str.startswith("partial left out")]
    assert {("cross-sequence", ""), ("in-domain", "")} <= set(zip(left["transfer"], left["domain"], strict=True))
    pooled = r.ranks[(r.ranks["task"] == "cross-sequence")]
    assert "partial" not in set(pooled["method"]) and (pooled["n_cases"] == 12).all()  # A and B cases kept
    assert not r.ranks[(r.ranks["method"] == "partial") & (r.ranks["domain"] == "A:OOP")].empty


def test_correlation_text_says_what_is_missing() -> None:
    nan = {"r": np.nan, "p": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    two = {"n_runs": 2, "pearson": nan, "spearman": {**nan, "rho": np.nan}}
    assert correlation_text(two) == "r, rho: needs >= 3 runs (has 2)"
    three = {"n_runs": 3, "pearson": {"r": 0.9, "p": 0.2, "ci_low": np.nan, "ci_high": np.nan},
             "spearman": {"rho": 1.0, "p": 0.0, "ci_low": 0.5, "ci_high": 1.0}}
    assert correlation_text(three) == "r = 0.90 (CI needs >= 4 runs), rho = 1.00 [0.50, 1.00]"
    assert "nan" not in correlation_text(three)


def test_analyze_writes_ranking_tables_and_rejects_bad_bootstrap(tmp_path) -> None:
    src = tmp_path / "r.csv"
    example_results(patients_per_center=5, seeds=1).to_csv(src, index=False)  # 2 non-oracle runs
    out = tmp_path / "a"
    res = runner.invoke(app, ["analyze", str(src), "-o", str(out), "--n-boot", "100", "--n-draws", "50",
                              "--n-rank-boot", "100", "--bootstrap", "patient"])
    assert res.exit_code == 0, res.output
    assert "needs >= 3 runs" in res.stdout and "nan" not in res.stdout.split("Kendall")[-1]
    for name in ("ranking.csv", "ranking_bootstrap.csv", "ranking_tau.csv", "significance.csv", "consensus.csv"):
        assert not pd.read_csv(out / name).empty, name
    blobs = pd.read_csv(out / "ranking_bootstrap.csv")
    assert np.allclose(blobs.groupby(["task", "method"])["frequency"].sum(), 1)
    bad = runner.invoke(app, ["analyze", str(src), "-o", str(tmp_path / "b"), "--bootstrap", "centre"])
    assert bad.exit_code == 2 and "--bootstrap" in bad.output and not (tmp_path / "b").exists()
