"""`crosspan benchmark collect`: only finished jobs of the spec, tagged rows, duplicates dropped, idempotent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crosspan.bench.collect import KEY, collect_results, summary
from crosspan.bench.jobs import DONE, build_plan
from crosspan.bench.spec import load_spec
from crosspan.bench.sweep import run_plan
from crosspan.core.errors import CrosspanError
from tests.bench.test_standin import write_spec


@pytest.fixture()
def finished(tmp_path: Path):  # noqa: ANN201
    plan = build_plan(load_spec(write_spec(tmp_path, seeds=2, steps=1)))
    run_plan(plan, progress=False)
    return plan


def test_collect_tags_rows_and_drops_duplicates(finished) -> None:  # noqa: ANN001
    plan = finished
    job = plan.method_jobs[0]
    results = Path(job.info["results"])
    df = pd.read_csv(results)
    pd.concat([df, df.iloc[:2]]).to_csv(results, index=False)  # an evaluate that appended twice
    table, missing, path = collect_results(plan)
    assert missing == [] and len(table) == len(plan.method_jobs) * 3
    assert not table.duplicated(subset=KEY).any()
    row = table[table["job"] == job.id].iloc[0]
    assert (row["protocol"], row["split"], row["label_ratio"], row["run"]) == ("xseq", "split0", 1.0, job.id)
    first = path.read_text()
    collect_results(plan)
    assert path.read_text() == first  # collecting again changes nothing
    means = summary(table, ("dice", "nsd"))
    assert set(means["method"]) == {"erm", "zs"} and means["n"].sum() == len(table)
    expected = table.groupby("method")["dice"].mean()
    assert means.set_index("method")["dice"].to_dict() == pytest.approx(expected.to_dict())


def test_unfinished_jobs_are_not_collected(finished) -> None:  # noqa: ANN001
    plan = finished
    job = plan.method_jobs[1]
    (job.path / DONE).unlink()  # its results.csv exists but the job is not done: not trusted
    table, missing, _ = collect_results(plan)
    assert missing == [job.id] and job.id not in set(table["job"])


def test_unreadable_results_name_the_file_and_fix(finished) -> None:  # noqa: ANN001
    job = finished.method_jobs[0]
    Path(job.info["results"]).write_text("dice\n0.5\n")
    with pytest.raises(CrosspanError, match="no case_id column"):
        collect_results(finished)
